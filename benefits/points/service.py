"""The points ledger. Every change is a new entry with a unique source key; the balance row is
updated in the same transaction with a conditional UPDATE, so it never goes below zero and a
second award or debit with the same source key is refused by the unique index.

Callers (quiz awards, prize redemptions, refunds, admin adjustments) pick a source key that
names the event, e.g. `quiz-attempt:123`, `redeem:456`, `redeem-cancel:456`.
"""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, LimitReached, ValidationError
from ..extensions import db
from .models import ENTRY_KINDS, PointsAccount, PointsEntry


class DuplicateEntry(Conflict):
    code = "duplicate_points_entry"


class InsufficientPoints(LimitReached):
    code = "insufficient_points"


def balance(member_id: int) -> int:
    return db.session.scalar(select(PointsAccount.balance).where(PointsAccount.member_id == member_id)) or 0


def _insert_for_dialect():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ensure_account(member_id: int) -> None:
    db.session.execute(_insert_for_dialect()(PointsAccount).values(member_id=member_id, balance=0)
                       .on_conflict_do_nothing(index_elements=["member_id"]))


_ACCOUNTS = PointsAccount.__table__


def _check_post(amount: int, kind: str, source_key: str) -> None:
    if kind not in ENTRY_KINDS:
        raise ValidationError(f"unknown ledger entry kind {kind!r}")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValidationError("points amount must be a non-zero integer")
    if not source_key or len(source_key) > 128:
        raise ValidationError("source key is required (at most 128 characters)")


_ENTRY_COLUMNS = ("id", "member_id", "amount", "kind", "source_key", "reason", "actor_user_id", "balance_after",
                  "expires_on", "created_at")
# PostgreSQL: the balance move and the entry in one statement (one round trip, atomic by itself).
# The entry reads the moved balance from `moved`, so no balance means no entry; a source key
# already posted makes `entry` empty while `moved` is not (see `_post_row`).
_PG_ENTRY = """, entry AS (
    INSERT INTO points_entries (member_id, amount, kind, source_key, reason, actor_user_id, balance_after,
                                expires_on, created_at)
    SELECT :member_id, :amount, :kind, :source_key, :reason, CAST(:actor_user_id AS integer), moved.balance,
           CAST(:expires_on AS date), :at
    FROM moved
    ON CONFLICT (source_key) DO NOTHING
    RETURNING """ + ", ".join(_ENTRY_COLUMNS) + """
)
SELECT moved.balance AS moved_balance, entry.* FROM (SELECT 1) AS one
LEFT JOIN moved ON true LEFT JOIN entry ON true"""
_PG_POST = {
    "credit": text("""WITH moved AS (
    INSERT INTO points_accounts (member_id, balance, updated_at) VALUES (:member_id, :amount, :at)
    ON CONFLICT (member_id) DO UPDATE SET balance = points_accounts.balance + :amount, updated_at = :at
    RETURNING balance
)""" + _PG_ENTRY),
    "debit": text("""WITH moved AS (
    UPDATE points_accounts SET balance = balance + :amount, updated_at = :at
    WHERE member_id = :member_id AND balance + :amount >= 0
    RETURNING balance
)""" + _PG_ENTRY),
}
_UNDO_MOVE = text("UPDATE points_accounts SET balance = balance - :amount WHERE member_id = :member_id")


def _post_row(member_id: int, amount: int, kind: str, source_key: str, reason: str,
              actor_user_id: int | None, expires_on: date | None):
    """Post one entry; returns the new entry's columns (a Row).

    PostgreSQL: one statement moves the balance (the row lock orders concurrent posts for one
    member) and adds the entry carrying that balance. Elsewhere the same two steps run as two
    statements. Either way, a source key already posted inserts nothing: the balance move is
    undone under the same lock and DuplicateEntry is raised; a debit the balance can't cover
    moves nothing and raises InsufficientPoints."""
    _check_post(amount, kind, source_key)
    at = clock.now()
    values = {"member_id": member_id, "amount": amount, "kind": kind, "source_key": source_key,
              "reason": reason[:255], "actor_user_id": actor_user_id, "expires_on": expires_on, "at": at}
    if db.session.get_bind().dialect.name == "postgresql":
        row = db.session.execute(_PG_POST["credit" if amount > 0 else "debit"], values).one()
        moved = row.moved_balance
        entry = row if row.id is not None else None
    else:
        moved, entry = _post_portable(values)
    if moved is None:
        raise InsufficientPoints("积分不足。 Not enough points.",
                                 details={"needed": -amount, "balance": balance(member_id)})
    if entry is None:
        db.session.execute(_UNDO_MOVE, {"amount": amount, "member_id": member_id})
        raise DuplicateEntry(f"ledger entry {source_key} already exists", details={"source_key": source_key})
    return entry


def _post_portable(values: dict):
    """The two statements of `_post_row` for SQLite (and any other database)."""
    insert, amount, at = _insert_for_dialect(), values["amount"], values["at"]
    if amount > 0:
        # create the account with this credit, or add to it
        stmt = insert(_ACCOUNTS).values(member_id=values["member_id"], balance=amount, updated_at=at)
        moved = db.session.execute(stmt.on_conflict_do_update(
            index_elements=[_ACCOUNTS.c.member_id],
            set_={"balance": _ACCOUNTS.c.balance + amount, "updated_at": at}).returning(_ACCOUNTS.c.balance)).scalar_one()
    else:
        moved = db.session.execute(
            update(_ACCOUNTS).where(_ACCOUNTS.c.member_id == values["member_id"], _ACCOUNTS.c.balance + amount >= 0)
            .values(balance=_ACCOUNTS.c.balance + amount, updated_at=at)
            .returning(_ACCOUNTS.c.balance)).scalar_one_or_none()
        if moved is None:
            return None, None
    entries = PointsEntry.__table__
    entry = db.session.execute(
        insert(entries).values(member_id=values["member_id"], amount=amount, kind=values["kind"],
                               source_key=values["source_key"], reason=values["reason"],
                               actor_user_id=values["actor_user_id"], balance_after=moved,
                               expires_on=values["expires_on"], created_at=at)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(*[entries.c[c] for c in _ENTRY_COLUMNS])).one_or_none()
    return moved, entry


def _post(member_id: int, amount: int, kind: str, source_key: str, reason: str,
          actor_user_id: int | None, expires_on: date | None) -> PointsEntry:
    """`_post_row` as a PointsEntry in the session, without a second query."""
    row = _post_row(member_id, amount, kind, source_key, reason, actor_user_id, expires_on)
    values = {c: getattr(row, c) for c in _ENTRY_COLUMNS}
    entry = db.session.identity_map.get(identity_key(PointsEntry, row.id))
    if entry is not None:
        # an entry rolled back with its savepoint leaves its object behind, and SQLite hands
        # the id out again: the object becomes the new row (as a loaded row would overwrite it)
        for column, value in values.items():
            set_committed_value(entry, column, value)
        return entry
    entry = PointsEntry(**values)
    make_transient_to_detached(entry)
    db.session.add(entry)
    return entry


def credit(member_id: int, amount: int, *, kind: str = "earn", source_key: str, reason: str,
           actor_user_id: int | None = None, expires_on: date | None = None) -> PointsEntry:
    """Add points. Raises DuplicateEntry if `source_key` was already posted."""
    if amount <= 0:
        raise ValidationError("credit amount must be positive")
    return _post(member_id, amount, kind, source_key, reason, actor_user_id, expires_on)


def earn(member_id: int, amount: int, *, source_key: str, reason: str, expires_on: date | None = None) -> int:
    """`credit(kind="earn")` for hot paths (quiz awards): the same posting, but it returns only
    the balance after and builds no PointsEntry object. Raises DuplicateEntry likewise."""
    if amount <= 0:
        raise ValidationError("credit amount must be positive")
    return _post_row(member_id, amount, "earn", source_key, reason, None, expires_on).balance_after


# PostgreSQL: `earn` as two more CTEs of a caller's own data-modifying statement, so an award
# costs no round trip of its own (the quiz's submit carries it). It posts only when the caller's
# CTE named by `gate` returns a row and :earn_amount > 0: the balance moves (created if need be)
# and the entry carries the moved balance, as in `_post_row`. The statement must select
# `(SELECT balance FROM earn_moved)` and `(SELECT count(*) FROM earn_entry)` and hand both to
# `check_earned`, which undoes the move and raises DuplicateEntry if the source key was taken.
_PG_EARN_CTES = """, earn_moved AS (
    INSERT INTO points_accounts (member_id, balance, updated_at)
    SELECT :earn_member_id, :earn_amount, :earn_at FROM {gate} WHERE :earn_amount > 0
    ON CONFLICT (member_id) DO UPDATE
        SET balance = points_accounts.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at
    RETURNING balance
), earn_entry AS (
    INSERT INTO points_entries (member_id, amount, kind, source_key, reason, actor_user_id, balance_after,
                                expires_on, created_at)
    SELECT :earn_member_id, :earn_amount, 'earn', :earn_source_key, :earn_reason, NULL, earn_moved.balance,
           CAST(:earn_expires_on AS date), :earn_at
    FROM earn_moved
    ON CONFLICT (source_key) DO NOTHING
    RETURNING id
)"""


def pg_earn_ctes(gate: str) -> str:
    """The CTEs above for a statement whose CTE `gate` decides whether anything is earned."""
    return _PG_EARN_CTES.format(gate=gate)


def earn_params(member_id: int, amount: int, *, source_key: str, reason: str,
                expires_on: date | None = None) -> dict:
    """Parameters for `pg_earn_ctes`; an amount of 0 posts nothing."""
    if amount:
        _check_post(amount, "earn", source_key)
        if amount < 0:
            raise ValidationError("credit amount must be positive")
    return {"earn_member_id": member_id, "earn_amount": amount, "earn_source_key": source_key,
            "earn_reason": reason[:255], "earn_expires_on": expires_on, "earn_at": clock.now()}


def check_earned(params: dict, moved: int | None, posted: int) -> None:
    """After a statement carrying `pg_earn_ctes`: a move without an entry means the source key
    was already posted, so the move is undone and DuplicateEntry raised (as `_post_row` does)."""
    if moved is not None and not posted:
        db.session.execute(_UNDO_MOVE, {"amount": params["earn_amount"], "member_id": params["earn_member_id"]})
        raise DuplicateEntry(f"ledger entry {params['earn_source_key']} already exists",
                             details={"source_key": params["earn_source_key"]})


def debit(member_id: int, amount: int, *, kind: str = "spend", source_key: str, reason: str,
          actor_user_id: int | None = None) -> PointsEntry:
    """Take points; raises InsufficientPoints (nothing written) if the balance would go negative.

    Must run inside a transaction the caller rolls back on error: the entry insert and the
    balance update succeed or fail together.
    """
    if amount <= 0:
        raise ValidationError("debit amount must be positive")
    return _post(member_id, -amount, kind, source_key, reason, actor_user_id, None)


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
    """Hold the member's balance row until commit (PostgreSQL row lock; SQLite serialises writes)
    so read-then-award decisions such as a daily cap can't interleave."""
    _ensure_account(member_id)
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
        raise ValidationError("a reason is required", details={"fields": {"reason": "required"}})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0 or abs(amount) > 1_000_000:
        raise ValidationError("amount must be a non-zero whole number of points",
                              details={"fields": {"amount": "invalid"}})
    key = source_key or f"adjust:{uuid.uuid4().hex}"
    text = f"管理员调整：{reason}"
    entry = _post(member.id, amount, "adjust", key, text, getattr(actor, "id", None), None)
    audit.record(actor, "points.adjust", "member", member.id, org_id=member.org_id,
                 after={"amount": amount, "reason": reason, "balance_after": entry.balance_after})
    return entry


def _expiring_members(today: date):
    return db.session.scalars(select(PointsEntry.member_id).where(
        PointsEntry.expires_on < today, PointsEntry.amount > 0).distinct())


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
        granted = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.member_id == member_id, PointsEntry.amount > 0, PointsEntry.expires_on <= day)) or 0
        used = db.session.scalar(select(func.coalesce(func.sum(-PointsEntry.amount), 0)).where(
            PointsEntry.member_id == member_id, PointsEntry.amount < 0)) or 0
        refunded = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.member_id == member_id, PointsEntry.kind == "refund")) or 0
        amount = min(int(granted) - max(0, int(used) - int(refunded)), balance(member_id))
        if amount > 0:
            try:
                posted.append(_post(member_id, -amount, "expire", key,
                                    f"积分到期：{day.isoformat()} 到期的积分", None, None))
            except DuplicateEntry:
                continue
    return posted


def expire(today: date) -> list[PointsEntry]:
    return [e for member_id in list(_expiring_members(today)) for e in expire_member(member_id, today)]
