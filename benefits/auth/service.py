"""Accounts, sign-in and activation."""
from __future__ import annotations

import re

from flask import session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import user_logged_in, user_logged_out
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.util import identity_key

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, DomainError, TooManyRequests, ValidationError
from ..extensions import db
from ..members import service as members
from ..members.models import Card, Member
from ..orgs.models import Organisation
from ..pii import InvalidIdNumber, is_valid_id_number, normalise_id_number
from . import passwords, throttle
from .models import User, new_session_token
from .throttle import KnownDevice

MIN_PASSWORD = passwords.MIN_LENGTH


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


GENERIC_LOGIN_ERROR = _l("账号或密码错误。")


def _canonical_username(username: str) -> str:
    username = (username or "").strip()
    try:
        return normalise_id_number(username)
    except InvalidIdNumber:
        return username


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)s 秒", "%(num)s 秒", seconds)
    minutes = -(-seconds // 60)
    return ngettext("%(num)s 分钟", "%(num)s 分钟", minutes)


def too_many_attempts(retry_after: int) -> TooManyRequests:
    return TooManyRequests(_("尝试次数过多，请在 %(wait)s后再试。", wait=_wait_text(retry_after)),
                           retry_after=retry_after)


def authenticate(username: str, password: str, address: str, device: KnownDevice | None = None) -> User:
    """Failures count against the account (or, on a browser where it signed in before, against
    that browser alone) and the address; a success gives its count back (throttle.py)."""
    username = _canonical_username(username)
    try:
        throttle.reserve(username, address, device)
    except throttle.Refused as refused:
        raise too_many_attempts(refused.retry_after) from None
    user = db.session.scalar(select(User).where(User.username == username))
    valid = passwords.check(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_enabled:
        raise InvalidCredentials(GENERIC_LOGIN_ERROR)
    throttle.release(username, address, device)
    user.last_login_at = clock.now()
    db.session.flush()
    return user


_PASSWORD_PROBLEMS = {
    "too_short": (_l("密码至少需要 %(n)s 位。", n=MIN_PASSWORD), _l("至少 %(n)s 位", n=MIN_PASSWORD)),
    "common": (_l("这个密码太常见，很容易被猜中，请换一个。"), _l("太常见")),
    "like_account": (_l("密码不能取自账号或身份证号。"), _l("取自账号或身份证号")),
}


def check_password_rules(password: str, account: str = "") -> None:
    """Every place that sets a password calls this first."""
    problem = passwords.problem(password, account)
    if problem is not None:
        message, field = _PASSWORD_PROBLEMS[problem]
        raise ValidationError(message, code="weak_password" if problem != "too_short" else None,
                              details={"fields": {"password": field}})


_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{2,64}")


def check_staff_names(username: str, display_name: str) -> None:
    """A staff account name is 2-64 letters, digits and _ . @ - (typed on a till's keyboard), never
    an ID number (members sign in with theirs); the display name is 1-64 printable characters."""
    errors = {}
    if not _USERNAME.fullmatch(username or ""):
        errors["username"] = _("账号须为 2–64 位字母、数字或 _ . @ -")
    elif is_valid_id_number(username):
        errors["username"] = _("账号不能是身份证号（会员用身份证号登录）")
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 64 or not display_name.isprintable():
        errors["display_name"] = _("姓名须为 1–64 个字，不含控制字符")
    if errors:
        raise ValidationError(_("账号信息有误。"), details={"fields": errors})


def create_staff_user(actor, *, username: str, display_name: str, password: str, role: str,
                      org: Organisation | None = None) -> User:
    check_staff_names(username, display_name)
    display_name = display_name.strip()
    check_password_rules(password, username)
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(_("这个账号已被使用，请换一个。"), code="username_taken")
    user = User(username=username, display_name=display_name, role=role,
                password_hash=passwords.make_hash(password), org_id=org.id if org else None)
    try:
        with db.session.begin_nested():   # the same name sent twice at once: the second is told
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("这个账号已被使用，请换一个。"), code="username_taken") from None
    audit.record(actor, "user.create", "user", user.id, org_id=user.org_id,
                 after={"username": username, "role": role})
    return user


_ACTIVATION_ERROR = _l("身份证号与卡号或激活码不匹配。")


def activate_member(*, id_number: str, password: str, address: str, card_number: str | None = None,
                    activation_code: str | None = None) -> User:
    """Once per member: prove who you are with card number or activation code, choose a password."""
    try:
        id_number = normalise_id_number(id_number)
    except InvalidIdNumber as exc:
        raise ValidationError(str(exc), details={"fields": {"id_number": str(exc)}}) from None
    check_password_rules(password, id_number)
    try:
        throttle.reserve("activate:" + id_number, address)
    except throttle.Refused as refused:
        raise too_many_attempts(refused.retry_after) from None
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
        raise Conflict(_("此账号已激活，请直接登录。"),
                       code="already_activated")
    user = User(username=id_number, display_name=member.name, role="member",
                password_hash=passwords.make_hash(password), member_id=member.id)
    db.session.add(user)
    db.session.flush()
    throttle.release("activate:" + id_number, address)
    return user


def rotate_sessions(user: User) -> None:
    """Invalidate every session of this account (logout everywhere, disable, password change)."""
    user.session_token = new_session_token()
    db.session.flush()


def set_enabled(actor, user: User, enabled: bool, *, org_id: int | None = None) -> User:
    """Disabling signs the account out everywhere. `org_id`: the union whose log holds the entry
    (a cashier has no organisation of its own: its merchant's)."""
    before = {"enabled": user.is_enabled}
    user.is_enabled = enabled
    if not enabled:
        rotate_sessions(user)
    db.session.flush()
    audit.record(actor, "user.enable" if enabled else "user.disable", "user", user.id,
                 org_id=org_id or user.org_id or (user.member.org_id if user.member else None),
                 before=before, after={"enabled": enabled})
    return user


def load_user(session_id: str) -> User | None:
    """Flask-Login loader: the id carries the session token, so rotated sessions stop here."""
    try:
        user_id, token = session_id.split(":", 1)
        uid = int(user_id)
    except (ValueError, TypeError, AttributeError):
        return None
    if not 0 < uid <= MAX_ID:
        return None
    # a unit of work that read the user already (a redemption reads them with its own rows) has
    # them in its identity map, as `Session.get` would find them; else the statement built once
    user = (db.session.identity_map.get(identity_key(User, uid))
            or db.session.execute(_USER_WITH_HOME, {"uid": uid}).unique().scalar_one_or_none())
    if user is None or user.session_token != token or not user.is_enabled:
        return None
    return user


MAX_ID = 2**31 - 1
# Nearly every request asks who the user is and where they belong (a member's union decides what
# they may see, their card what they pay with; an admin's union is their scope): loaded with the
# user, in its one statement.
_WITH_HOME = (joinedload(User.org), joinedload(User.member).joinedload(Member.org),
              joinedload(User.member).joinedload(Member.cards))
_USER_WITH_HOME = select(User).where(User.id == bindparam("uid")).options(*_WITH_HOME)  # built once
SESSION_USER_KEY = "uid"


@user_logged_in.connect
def _remember_user_id(_app, user) -> None:
    session[SESSION_USER_KEY] = user.id


@user_logged_out.connect
def _forget_user_id(_app, user) -> None:
    session.pop(SESSION_USER_KEY, None)


def signed_user_id() -> int | None:
    """The user id the signed session cookie names, read without touching the database.

    Only for answers that anyone signed in may see and that change nothing (a sold-out prize
    refused by the Redis gate): anything that writes loads the user through Flask-Login
    (`load_user`: session token, enabled) inside its unit of work."""
    value = session.get(SESSION_USER_KEY)
    return value if type(value) is int else None
