"""Members and their cards: joining, leaving, issuing, freezing, loss and reissue."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..audit import service as audit
from ..audit.labels import STATUSES
from ..errors import Conflict, DomainError, NotFound, ValidationError
from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..pii import InvalidIdNumber, mask_id_number, mask_phone, normalise_id_number, normalise_phone
from ..auth.models import User, new_session_token
from .models import CATEGORIES, ActivationCode, Card, Member

CARD_PREFIX = "6231"
ACTIVATION_CODE_DAYS = 14


class CardRefused(DomainError):
    status = 409
    code = "card_refused"


_REFUSALS = {
    "frozen": ("card_frozen", _l("此卡已冻结，请联系工会。")),
    "lost": ("card_lost", _l("此卡已挂失，不能使用。")),
    "cancelled": ("card_cancelled", _l("此卡已注销，不能使用。")),
}


def luhn_digit(digits: str) -> str:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def new_card_number() -> str:
    body = CARD_PREFIX + "".join(secrets.choice("0123456789") for _ in range(11))
    return body + luhn_digit(body)


def member_snapshot(member: Member) -> dict:
    """What the audit log keeps of a member: PII masked."""
    return {"name": member.name, "id_number": mask_id_number(member.id_number),
            "phone": mask_phone(member.phone), "category": member.category,
            "status": member.status, "org_id": member.org_id}


def validate_member_fields(name: str, id_number: str, phone: str | None, category: str) -> tuple[str, str, str | None]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name or len(name) > 64:
        errors["name"] = _("请填写姓名（最多 64 个字）。")
    try:
        id_number = normalise_id_number(id_number or "")
    except InvalidIdNumber as exc:
        errors["id_number"] = str(exc)
    try:
        phone = normalise_phone(phone)
    except ValueError as exc:
        errors["phone"] = str(exc)
    if category not in CATEGORIES:
        errors["category"] = _("会员类别不对。")
    if errors:
        raise ValidationError(_("会员信息有误。"), details={"fields": errors})
    return name, id_number, phone


def create_member(actor, org: Organisation, *, name: str, id_number: str, phone: str | None = None,
                  category: str = "ordinary", joined_on: date | None = None) -> Member:
    """Record a member joining (入会)."""
    name, id_number, phone = validate_member_fields(name, id_number, phone, category)
    if db.session.scalar(select(Member.id).where(Member.id_number == id_number)):
        raise Conflict(_("此身份证号已是会员。"), code="duplicate_member")
    member = Member(org_id=org.id, name=name, id_number=id_number, phone=phone, category=category,
                    status="active", joined_on=joined_on or clock.business_day())
    db.session.add(member)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("此身份证号已是会员。"), code="duplicate_member") from None
    audit.record(actor, "member.join", "member", member.id, org_id=org.id, after=member_snapshot(member))
    return member


def get_member_in_scope(scope: Organisation, member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or not scope.contains(member.org):
        raise NotFound(_("没有这个会员。"))
    return member


def get_card_in_scope(scope: Organisation, card_id: int) -> Card:
    card = db.session.get(Card, card_id)
    if card is None or not scope.contains(card.member.org):
        raise NotFound(_("没有这张会员卡。"))
    return card


def search_members(scope: Organisation, q: str | None = None, status: str | None = None,
                   category: str | None = None, org_id: int | None = None):
    """Members inside `scope`, newest first, matching name, card number or (part of) ID number."""
    stmt = select(Member).where(Member.org_id.in_(subtree_ids_select(scope)))
    if org_id is not None:
        stmt = stmt.where(Member.org_id == org_id)
    if status:
        stmt = stmt.where(Member.status == status)
    if category:
        stmt = stmt.where(Member.category == category)
    q = (q or "").strip()
    if q:
        conditions = [Member.name.contains(q, autoescape=True)]
        compact = q.upper().replace("*", "")
        if compact.isalnum():
            if len(q) == 18:
                conditions.append(Member.id_number == compact)
            elif q.startswith(CARD_PREFIX) or len(compact) >= 12:
                conditions.append(Member.id.in_(select(Card.member_id).where(Card.number == q)))
            if "*" in q and len(q) >= 8:
                # masked form 3401**********1234: match the visible ends
                conditions.append(Member.id_number.startswith(q[:4]) & Member.id_number.endswith(q[-4:]))
            elif 4 <= len(compact) <= 6:
                conditions.append(Member.id_number.endswith(compact, autoescape=True))
        stmt = stmt.where(or_(*conditions))
    return stmt.order_by(Member.id.desc())


def with_cards(stmt):
    """Load each listed member's organisation and cards in two extra queries, not one per row."""
    return stmt.options(selectinload(Member.org), selectinload(Member.cards))


def member_profile(member: Member) -> dict:
    """A member's own masked profile and usable card, as loaded with the signed-in user
    (`auth.service.load_user`: the member, their union and their cards): no statement of its own."""
    card = member.current_card
    return {"id": member.id, "name": member.name, "org_id": member.org_id, "org_name": member.org.name,
            "id_number_masked": mask_id_number(member.id_number), "phone_masked": mask_phone(member.phone),
            "category": member.category, "status": member.status, "joined_on": member.joined_on,
            "card": None if card is None else {"id": card.id, "number": card.number, "status": card.status}}


def _card_snapshot(card: Card) -> dict:
    return {"number": card.number, "status": card.status}


def issue_card(actor, member: Member) -> Card:
    if member.status != "active":
        raise Conflict(_("已退会的会员不能办卡。"), code="member_left")
    if member.current_card is not None:
        raise Conflict(_("此会员已有会员卡。"), code="card_exists")
    card = _new_card(member)
    audit.record(actor, "card.issue", "card", card.id, org_id=member.org_id, after=_card_snapshot(card))
    return card


def _new_card(member: Member, replaces: Card | None = None) -> Card:
    for _ in range(5):
        card = Card(member=member, number=new_card_number(), status="active",
                    issued_at=clock.now(), status_changed_at=clock.now(),
                    replaces_card_id=replaces.id if replaces else None)
        db.session.add(card)
        try:
            with db.session.begin_nested():
                db.session.flush()
            return card
        except IntegrityError:
            db.session.expunge(card)
    raise Conflict(_("没能分配卡号，请重试。"))


def _change_status(actor, card: Card, allowed_from: tuple[str, ...], to: str, action: str) -> Card:
    # Lock the card and read its status again before deciding. Two changes of one card at once
    # (a freeze and a report-lost, two report-losts) would otherwise both decide on the status
    # they had read: the second would revive the lost card beside its replacement, or issue a
    # second replacement, and the unique index on live cards refused it with an error (a 500).
    # The second now waits for the first, then is applied after it or refused with a 409.
    db.session.refresh(card, with_for_update=True)
    if card.status not in allowed_from:
        names = STATUSES["card"]
        raise Conflict(_("此卡状态为“%(status)s”，不能改为“%(to)s”。", status=names[card.status], to=names[to]),
                       code="card_status")
    before = _card_snapshot(card)
    card.status, card.status_changed_at = to, clock.now()
    db.session.flush()
    audit.record(actor, action, "card", card.id, org_id=card.member.org_id, before=before,
                 after=_card_snapshot(card))
    return card


def freeze_card(actor, card: Card) -> Card:
    return _change_status(actor, card, ("active",), "frozen", "card.freeze")


def unfreeze_card(actor, card: Card) -> Card:
    return _change_status(actor, card, ("frozen",), "active", "card.unfreeze")


def report_lost_and_reissue(actor, card: Card) -> Card:
    """The old number stops working in this transaction; the member gets a new number."""
    _change_status(actor, card, ("active", "frozen"), "lost", "card.lost")
    new = _new_card(card.member, replaces=card)
    audit.record(actor, "card.reissue", "card", new.id, org_id=card.member.org_id,
                 before=_card_snapshot(card), after=_card_snapshot(new))
    return new


def record_leave(actor, member: Member) -> Member:
    """退会: history stays, live cards are cancelled, sign-in is disabled."""
    if member.status == "left":
        raise Conflict(_("此会员已经退会。"), code="member_left")
    before = member_snapshot(member)
    for card in member.cards:
        if card.status in ("active", "frozen"):
            _change_status(actor, card, ("active", "frozen"), "cancelled", "card.cancel")
    member.status, member.left_on = "left", clock.business_day()
    _set_login_enabled(member, False)
    db.session.flush()
    audit.record(actor, "member.leave", "member", member.id, org_id=member.org_id, before=before,
                 after=member_snapshot(member))
    return member


def record_rejoin(actor, member: Member) -> Member:
    if member.status == "active":
        raise Conflict(_("此会员已在会。"), code="member_active")
    before = member_snapshot(member)
    member.status, member.left_on = "active", None
    _set_login_enabled(member, True)
    db.session.flush()
    audit.record(actor, "member.rejoin", "member", member.id, org_id=member.org_id, before=before,
                 after=member_snapshot(member))
    return member


def _set_login_enabled(member: Member, enabled: bool) -> None:
    """A member who leaves can no longer sign in (every session of theirs ends); one who rejoins can."""
    user = db.session.scalar(select(User).where(User.member_id == member.id))
    if user is not None:
        user.is_enabled = enabled
        if not enabled:
            user.session_token = new_session_token()


def check_payable(card_status: str, member_status: str) -> None:
    """Refuse a frozen, lost or cancelled card, or a member who has left, with a sentence the
    cashier can read out."""
    if card_status != "active":
        code, message = _REFUSALS[card_status]
        raise CardRefused(message, code=code)
    if member_status != "active":
        raise CardRefused(_REFUSALS["cancelled"][1], code="card_cancelled")


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_activation_code(actor, member: Member) -> str:
    """A one-time code (shown once) that lets the member activate without their card number."""
    if member.status != "active":
        raise Conflict(_("已退会的会员不能激活。"), code="member_left")
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))
    db.session.add(ActivationCode(member_id=member.id, code_hash=_hash_code(code),
                                  expires_at=clock.now() + timedelta(days=ACTIVATION_CODE_DAYS),
                                  created_by_user_id=getattr(actor, "id", None)))
    db.session.flush()
    audit.record(actor, "member.activation_code", "member", member.id, org_id=member.org_id)
    return code


def consume_activation_code(member: Member, code: str) -> bool:
    row = db.session.scalar(select(ActivationCode).where(
        ActivationCode.code_hash == _hash_code((code or "").strip().upper()),
        ActivationCode.member_id == member.id))
    if row is None or row.used_at is not None or clock.as_utc(row.expires_at) < clock.now():
        return False
    row.used_at = clock.now()
    db.session.flush()
    return True
