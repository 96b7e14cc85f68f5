"""The points ledger. Every change is a new entry with a unique source key; the balance row is
updated in the same transaction with a conditional UPDATE, so it never goes below zero and a
second award or debit with the same source key is refused by the unique index.

Callers (quiz awards, prize redemptions, refunds, admin adjustments) pick a source key that
names the event, e.g. `quiz-attempt:123`, `redeem:456`, `redeem-cancel:456`.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, LimitReached, ValidationError
from ..extensions import db
from .models import ENTRY_KINDS, PointsAccount, PointsEntry


class DuplicateEntry(Conflict):
    code = "duplicate_points_entry"


class InsufficientPoints(LimitReached):
    code = "insufficient_points"


def balance(member_id: int) -> int:
    return db.session.scalar(select(PointsAccount.balance).where(PointsAccount.member_id == member_id)) or 0


def _ensure_account(member_id: int) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(PointsAccount).values(member_id=member_id, balance=0)
                       .on_conflict_do_nothing(index_elements=["member_id"]))


def _post(member_id: int, amount: int, kind: str, source_key: str, reason: str,
          actor_user_id: int | None, expires_on: date | None) -> PointsEntry:
    if kind not in ENTRY_KINDS:
        raise ValidationError(f"unknown ledger entry kind {kind!r}")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValidationError("points amount must be a non-zero integer")
    if not source_key or len(source_key) > 128:
        raise ValidationError("source key is required (at most 128 characters)")
    _ensure_account(member_id)
    entry = PointsEntry(member_id=member_id, amount=amount, kind=kind, source_key=source_key,
                        reason=reason[:255], actor_user_id=actor_user_id, balance_after=0,
                        expires_on=expires_on)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        raise DuplicateEntry(f"ledger entry {source_key} already exists",
                             details={"source_key": source_key}) from None
    new_balance = db.session.execute(
        update(PointsAccount)
        .where(PointsAccount.member_id == member_id, PointsAccount.balance + amount >= 0)
        .values(balance=PointsAccount.balance + amount)
        .returning(PointsAccount.balance)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if new_balance is None:
        raise InsufficientPoints("积分不足。 Not enough points.",
                                 details={"needed": -amount, "balance": balance(member_id)})
    entry.balance_after = new_balance
    db.session.flush()
    return entry


def credit(member_id: int, amount: int, *, kind: str = "earn", source_key: str, reason: str,
           actor_user_id: int | None = None, expires_on: date | None = None) -> PointsEntry:
    """Add points. Raises DuplicateEntry if `source_key` was already posted."""
    if amount <= 0:
        raise ValidationError("credit amount must be positive")
    return _post(member_id, amount, kind, source_key, reason, actor_user_id, expires_on)


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
