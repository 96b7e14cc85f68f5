"""Accounts, sign-in and activation."""
from __future__ import annotations

from flask import current_app, session
from sqlalchemy import bindparam, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..audit import service as audit
from ..database import run_rows
from ..errors import Conflict, DomainError, TooManyRequests, ValidationError
from ..extensions import db
from ..members import service as members
from ..members.models import Card, Member
from ..orgs.models import Organisation
from ..pii import InvalidIdNumber, normalise_id_number
from . import throttle
from .models import User, new_session_token

MIN_PASSWORD = 8
# Checked against when the account is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


GENERIC_LOGIN_ERROR = "账号或密码错误。 Wrong account or password."


def _canonical_username(username: str) -> str:
    username = (username or "").strip()
    try:
        return normalise_id_number(username)
    except InvalidIdNumber:
        return username


def authenticate(username: str, password: str, address: str) -> User:
    username = _canonical_username(username)
    if not throttle.hit(username, address):
        raise TooManyRequests("尝试次数过多，请稍后再试。 Too many attempts; try again later.")
    user = db.session.scalar(select(User).where(User.username == username))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not valid or not user.is_enabled:
        raise InvalidCredentials(GENERIC_LOGIN_ERROR)
    throttle.clear_account(username)
    user.last_login_at = clock.now()
    db.session.flush()
    return user


def check_password_rules(password: str) -> None:
    if not password or len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must have at least {MIN_PASSWORD} characters",
                              details={"fields": {"password": f"at least {MIN_PASSWORD} characters"}})


def create_staff_user(actor, *, username: str, display_name: str, password: str, role: str,
                      org: Organisation | None = None) -> User:
    check_password_rules(password)
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise Conflict("this username is taken", code="username_taken")
    user = User(username=username, display_name=display_name, role=role,
                password_hash=generate_password_hash(password), org_id=org.id if org else None)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, org_id=user.org_id,
                 after={"username": username, "role": role})
    return user


_ACTIVATION_ERROR = "身份证号与卡号或激活码不匹配。 The ID number does not match the card number or activation code."


def activate_member(*, id_number: str, password: str, address: str, card_number: str | None = None,
                    activation_code: str | None = None) -> User:
    """Once per member: prove who you are with card number or activation code, choose a password."""
    check_password_rules(password)
    try:
        id_number = normalise_id_number(id_number)
    except InvalidIdNumber as exc:
        raise ValidationError(str(exc), details={"fields": {"id_number": str(exc)}}) from None
    if not throttle.hit("activate:" + id_number, address):
        raise TooManyRequests("尝试次数过多，请稍后再试。 Too many attempts; try again later.")
    member = db.session.scalar(select(Member).where(Member.id_number == id_number))
    if member is None or member.status != "active":
        raise InvalidCredentials(_ACTIVATION_ERROR, code="activation_failed")
    proven = False
    if card_number:
        proven = db.session.scalar(select(Card.id).where(
            Card.member_id == member.id, Card.number == card_number.strip(), Card.status.in_(("active", "frozen")))) is not None
    elif activation_code:
        proven = members.consume_activation_code(member, activation_code)
    if not proven:
        raise InvalidCredentials(_ACTIVATION_ERROR, code="activation_failed")
    if db.session.scalar(select(User.id).where(User.member_id == member.id)):
        raise Conflict("此账号已激活，请直接登录。 This account is already activated; please sign in.",
                       code="already_activated")
    user = User(username=id_number, display_name=member.name, role="member",
                password_hash=generate_password_hash(password), member_id=member.id)
    db.session.add(user)
    db.session.flush()
    throttle.clear_account("activate:" + id_number)
    return user


def rotate_sessions(user: User) -> None:
    """Invalidate every session of this account (logout everywhere, disable, password change)."""
    user.session_token = new_session_token()
    db.session.flush()


def disable_member_login(member: Member) -> None:
    user = db.session.scalar(select(User).where(User.member_id == member.id))
    if user is not None:
        user.is_enabled = False
        rotate_sessions(user)


def enable_member_login(member: Member) -> None:
    user = db.session.scalar(select(User).where(User.member_id == member.id))
    if user is not None:
        user.is_enabled = True
        db.session.flush()


def set_enabled(actor, user: User, enabled: bool) -> User:
    before = {"enabled": user.is_enabled}
    user.is_enabled = enabled
    if not enabled:
        rotate_sessions(user)
    db.session.flush()
    audit.record(actor, "user.enable" if enabled else "user.disable", "user", user.id,
                 org_id=user.org_id or (user.member.org_id if user.member else None),
                 before=before, after={"enabled": enabled})
    return user


_USER_ROW = None


_USER_COLUMNS = tuple(c.name for c in User.__table__.c)


def _user_row_statement():
    global _USER_ROW
    if _USER_ROW is None:
        t = User.__table__
        _USER_ROW = select(*(t.c[name] for name in _USER_COLUMNS)).where(t.c.id == bindparam("id"))
    return _USER_ROW


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session token, so rotated sessions stop here.

    Runs on every signed-in request, so it reads the row with a Core statement and attaches it to
    the session as a persistent User (`make_transient_to_detached` + `add`: no second query, and
    relationships load lazily as usual) instead of paying for an ORM entity load.
    """
    try:
        user_id, token = session_id.split(":", 1)
        uid = int(user_id)
    except (ValueError, TypeError, AttributeError):
        return None
    user = db.session.identity_map.get(identity_key(User, uid))
    if user is None:
        rows = run_rows(_user_row_statement(), {"id": uid})
        if not rows:
            return None
        user = User(**dict(zip(_USER_COLUMNS, rows[0])))
        make_transient_to_detached(user)
        db.session.add(user)
    if user.session_token != token or not user.is_enabled:
        return None
    return user


def session_identity() -> tuple[int, str] | None:
    """(user id, session token) as the signed session names them; no database round trip.

    For one-statement hot paths (prize redemption, quiz start and submit) that repeat
    `load_user`'s checks (token, enabled) inside their own SQL instead of loading the user."""
    raw = session.get("_user_id")
    if not raw:
        return None
    user_id, _, token = str(raw).partition(":")
    try:
        return int(user_id), token
    except ValueError:
        return None


def session_as_flask_login_takes_it() -> bool:
    """True when Flask-Login would load the session's user id as it is (its session protection
    passes); otherwise a hot path leaves the request to Flask-Login's own checks."""
    manager = current_app.login_manager
    mode = current_app.config.get("SESSION_PROTECTION", manager.session_protection)
    if not mode or mode not in ("basic", "strong"):
        return True
    return session.get("_id") == manager._session_identifier_generator()
