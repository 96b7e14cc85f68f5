from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (CheckConstraint, Date, DateTime, ForeignKey, Integer, String)
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import db

ENTRY_KINDS = ("earn", "spend", "refund", "adjust", "expire")


class PointsAccount(db.Model):
    """The member's balance; always equals the sum of their entries and never goes below zero."""
    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class PointsEntry(db.Model):
    """Append-only ledger line. `source_key` is unique: the same award or debit can't happen twice."""
    __tablename__ = "points_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("kind IN ('earn','spend','refund','adjust','expire')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    source_key: Mapped[str] = mapped_column(String(128), unique=True)
    reason: Mapped[str] = mapped_column(String(255))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    balance_after: Mapped[int] = mapped_column(Integer)
    expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
