"""The points ledger. Every change is a new entry with a unique source key; the balance row is
updated in the same transaction with a conditional UPDATE, so it never goes below zero and a
second award or debit with the same source key is refused by the unique index.

Callers (quiz awards, prize redemptions, refunds, admin adjustments) pick a source key that
names the event, e.g. `quiz-attempt:123`, `redeem:456`, `redeem-cancel:456`.
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import Date, DateTime, Integer, String, bindparam, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import make_transient_to_detached

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, LimitReached, ValidationError
from ..extensions import db
from ..notices import outbox
from ..notices.models import Notice
from .models import ENTRY_KINDS, PointsAccount, PointsEntry


class DuplicateEntry(Conflict):
    code = "duplicate_points_entry"


class InsufficientPoints(LimitReached):
    code = "insufficient_points"


def balance(member_id: int) -> int:
    return db.session.scalar(select(PointsAccount.balance).where(PointsAccount.member_id == member_id)) or 0


_ACCOUNTS = PointsAccount.__table__


def _check_post(amount: int, kind: str, source_key: str) -> None:
    if kind not in ENTRY_KINDS:
        raise ValidationError(_("不认识的积分记录类型：%(kind)s", kind=kind))
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValidationError(_("积分数须为不为零的整数。"))
    if not source_key or len(source_key) > 128:
        raise ValidationError(_("缺少来源标识（最多 128 个字符）。"))


_AMOUNT = bindparam("b_amount", type_=Integer)
_MEMBER = bindparam("b_member", type_=Integer)
_AT = bindparam("b_at", type_=DateTime(timezone=True))
_ENTRIES = PointsEntry.__table__
_ENTRY_VALUES = {"member_id": _MEMBER, "amount": _AMOUNT, "kind": bindparam("b_kind", type_=String),
                 "source_key": bindparam("b_source", type_=String), "reason": bindparam("b_reason", type_=String),
                 "actor_user_id": bindparam("b_actor", type_=Integer), "expires_on": bindparam("b_expires", type_=Date),
                 "created_at": _AT}


def _post_statement(moving):
    """One statement: `moving` moves the balance (RETURNING it); the entry goes in carrying the
    moved balance, only if it moved, and only if its source key is new. The answer is one row:
    the moved balance (NULL: nothing moved) and the entry's columns (NULL: the key was taken)."""
    moved = moving.cte("moved")
    entry = (insert(_ENTRIES)
             .from_select([*_ENTRY_VALUES, "balance_after"],
                          select(*_ENTRY_VALUES.values(), moved.c.balance).select_from(moved))
             .on_conflict_do_nothing(index_elements=[_ENTRIES.c.source_key])
             .returning(*_ENTRIES.c).cte("entry"))
    one = select(literal(1).label("one")).subquery("one")
    return (select(moved.c.balance.label("moved_balance"), *entry.c)
            .select_from(one.outerjoin(moved, true()).outerjoin(entry, true())))


# A credit creates the account or adds to it; a debit moves only a balance that covers it. Either
# way the account row stays locked until commit, which orders concurrent posts for one member.
_CREDIT = _post_statement(
    insert(_ACCOUNTS).values(member_id=_MEMBER, balance=_AMOUNT, updated_at=_AT)
    .on_conflict_do_update(index_elements=[_ACCOUNTS.c.member_id],
                           set_={"balance": _ACCOUNTS.c.balance + _AMOUNT, "updated_at": _AT})
    .returning(_ACCOUNTS.c.balance))
_DEBIT = _post_statement(
    update(_ACCOUNTS).where(_ACCOUNTS.c.member_id == _MEMBER, _ACCOUNTS.c.balance + _AMOUNT >= 0)
    .values(balance=_ACCOUNTS.c.balance + _AMOUNT, updated_at=_AT).returning(_ACCOUNTS.c.balance))
_UNDO_MOVE = (update(_ACCOUNTS).where(_ACCOUNTS.c.member_id == _MEMBER)
              .values(balance=_ACCOUNTS.c.balance - _AMOUNT))
_ENTRY_COLUMNS = tuple(c.name for c in _ENTRIES.c)


def post(member_id: int, amount: int, *, kind: str, source_key: str, reason: str,
         actor_user_id: int | None = None, expires_on: date | None = None) -> PointsEntry:
    """THE posting: every change of a balance goes through here, as one statement. The balance
    moves (a debit only if it stays >= 0, else InsufficientPoints and nothing moved) and the entry
    is added carrying the balance after it. A source key already posted adds no entry: the move
    is undone under the same row lock and DuplicateEntry raised, so a caller that carries on
    commits nothing half."""
    _check_post(amount, kind, source_key)
    params = {"b_member": member_id, "b_amount": amount, "b_at": clock.now(), "b_kind": kind,
              "b_source": source_key, "b_reason": reason[:255], "b_actor": actor_user_id, "b_expires": expires_on}
    row = db.session.execute(_CREDIT if amount > 0 else _DEBIT, params).one()
    if row.moved_balance is None:
        raise InsufficientPoints(_("积分不足。"),
                                 details={"needed": -amount, "balance": balance(member_id)})
    if row.id is None:
        db.session.execute(_UNDO_MOVE, params)
        raise DuplicateEntry(_("这笔积分已经记过。"), details={"source_key": source_key})
    # the row as the session would have loaded it: no second query
    entry = PointsEntry(**{name: getattr(row, name) for name in _ENTRY_COLUMNS})
    make_transient_to_detached(entry)
    db.session.add(entry)
    return entry


def credit(member_id: int, amount: int, *, kind: str = "earn", source_key: str, reason: str,
           actor_user_id: int | None = None, expires_on: date | None = None) -> PointsEntry:
    """Add points. Raises DuplicateEntry if `source_key` was already posted."""
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError(_("增加的积分须大于零。"))
    return post(member_id, amount, kind=kind, source_key=source_key, reason=reason,
                actor_user_id=actor_user_id, expires_on=expires_on)


def earn(member_id: int, amount: int, *, source_key: str, reason: str, expires_on: date | None = None) -> int:
    """`credit(kind="earn")`, answering the balance after it."""
    return credit(member_id, amount, source_key=source_key, reason=reason, expires_on=expires_on).balance_after


def debit(member_id: int, amount: int, *, kind: str = "spend", source_key: str, reason: str,
          actor_user_id: int | None = None) -> PointsEntry:
    """Take points; raises InsufficientPoints (nothing written) if the balance would go negative."""
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError(_("扣减的积分须大于零。"))
    return post(member_id, -amount, kind=kind, source_key=source_key, reason=reason, actor_user_id=actor_user_id)


def entry_by_source(source_key: str) -> PointsEntry | None:
    return db.session.scalar(select(PointsEntry).where(PointsEntry.source_key == source_key))


def history(member_id: int):
    return select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id.desc())


def reconcile() -> list[dict]:
    """Every account whose stored balance differs from the sum of its entries."""
    sums = (select(PointsEntry.member_id, func.sum(PointsEntry.amount).label("total"))
            .group_by(PointsEntry.member_id).subquery())
    rows = db.session.execute(
        select(PointsAccount.member_id, PointsAccount.balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.member_id == PointsAccount.member_id)
        .where(PointsAccount.balance != func.coalesce(sums.c.total, 0)))
    return [{"member_id": m, "balance": b, "ledger_sum": int(s)} for m, b, s in rows]


def lock_account(member_id: int) -> None:
    """Hold the member's balance row until commit so read-then-award decisions such as a daily
    cap can't interleave."""
    db.session.execute(insert(_ACCOUNTS).values(member_id=member_id, balance=0)
                       .on_conflict_do_nothing(index_elements=["member_id"]))
    db.session.execute(select(PointsAccount.member_id).where(PointsAccount.member_id == member_id)
                       .with_for_update())


def default_expiry(earned_on: date) -> date:
    """Points earned in a year expire at the end of the following year."""
    return date(earned_on.year + 1, 12, 31)


def adjust(actor, member, amount: int, reason: str, *, source_key: str | None = None) -> PointsEntry:
    """An admin's correction, with a reason, written to the audit log. A negative amount can't
    take the balance below zero."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("请填写调整原因。"), details={"fields": {"reason": _("必填")}})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > 1_000_000:
        raise ValidationError(_("调整的积分须为不为零的整数（最多 1000000）。"),
                              details={"fields": {"amount": _("格式不对")}})
    key = source_key or f"adjust:{uuid.uuid4().hex}"
    text = f"管理员调整：{reason}"
    entry = post(member.id, amount, kind="adjust", source_key=key, reason=text, actor_user_id=getattr(actor, "id", None))
    audit.record(actor, "points.adjust", "member", member.id, org_id=member.org_id,
                 after={"amount": amount, "reason": reason, "balance_after": entry.balance_after})
    return entry


def _expiring_members(today: date):
    return db.session.scalars(select(PointsEntry.member_id).where(
        PointsEntry.expires_on < today, PointsEntry.amount > 0).distinct())


def expiring_by(member_id: int, day: date) -> int:
    """The member's points that expire on or before `day` and are not yet expired: what was earned
    with an expiry ≤ day, less every point used so far (spent, adjusted down, already expired, less
    refunds), at most the balance. Spending uses the points that expire soonest first."""
    granted = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
        PointsEntry.member_id == member_id, PointsEntry.amount > 0, PointsEntry.expires_on <= day)) or 0
    used = db.session.scalar(select(func.coalesce(func.sum(-PointsEntry.amount), 0)).where(
        PointsEntry.member_id == member_id, PointsEntry.amount < 0)) or 0
    refunded = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
        PointsEntry.member_id == member_id, PointsEntry.kind == "refund")) or 0
    return max(0, min(int(granted) - max(0, int(used) - int(refunded)), balance(member_id)))


def expire_member(member_id: int, today: date) -> list[PointsEntry]:
    """Post one `expire` entry per passed expiry date. Spending uses the points that expire
    soonest first, so what expires on date D is what was earned with expiry <= D minus all
    points used so far (spent, adjusted down, already expired, less refunds). The source key
    `expire:<member>:<D>` makes a re-run (or a concurrent run) post nothing new."""
    dates = list(db.session.scalars(select(PointsEntry.expires_on).where(
        PointsEntry.member_id == member_id, PointsEntry.expires_on < today, PointsEntry.amount > 0)
        .distinct().order_by(PointsEntry.expires_on)))
    posted = []
    for day in dates:
        key = f"expire:{member_id}:{day.isoformat()}"
        if entry_by_source(key) is not None:
            continue
        amount = expiring_by(member_id, day)
        if amount > 0:
            try:
                posted.append(post(member_id, -amount, kind="expire", source_key=key,
                                   reason=f"积分到期：{day.isoformat()} 到期的积分"))
            except DuplicateEntry:
                continue
    return posted


def expire(today: date) -> list[PointsEntry]:
    return [e for member_id in list(_expiring_members(today)) for e in expire_member(member_id, today)]


EXPIRY_NOTICE_DAYS = 30


def remind_expiring(today: date) -> int:
    """A `points_expiring` notice per member and expiry date within EXPIRY_NOTICE_DAYS, saying
    how many points go on that date (`expiring_by` it, less what goes earlier), once each (its
    dedupe key `points_expiring:<member>:<date>`). Returns how many were written."""
    last = today + timedelta(days=EXPIRY_NOTICE_DAYS)
    e = PointsEntry
    rows = db.session.execute(select(e.member_id, e.expires_on).where(
        e.amount > 0, e.expires_on >= today, e.expires_on <= last)
        .distinct().order_by(e.member_id, e.expires_on)).all()
    count = 0
    before: dict[int, int] = {}
    for member_id, day in rows:
        dedupe_key = f"points_expiring:{member_id}:{day.isoformat()}"
        if member_id not in before:
            before[member_id] = expiring_by(member_id, today - timedelta(days=1))
        total = expiring_by(member_id, day)
        amount, before[member_id] = total - before[member_id], total
        if amount > 0 and db.session.scalar(select(Notice.id).where(Notice.dedupe_key == dedupe_key)) is None:
            outbox.enqueue(member_id, "points_expiring", {"points": amount, "date": day}, dedupe_key)
            count += 1
    return count

