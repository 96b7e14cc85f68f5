"""Notices to members (the outbox) and the kinds a member has turned off.

A notice is written in the same transaction as the change that causes it (`outbox.enqueue`), so
it exists exactly when that change does. `flask notices send` delivers the pending ones through
the configured channel (sender.py). The member's phone is read when the notice is sent, never
stored here: a notice carries its kind and the values its template needs (`params`), and the
text is rendered from the kinds registry (kinds.py) whenever it is shown or sent.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import db

NOTICE_STATUSES = ("pending", "sent", "failed", "skipped")


class Notice(db.Model):
    """One notice. `dedupe_key` names the event that caused it (`voucher_issued:<voucher id>`):
    unique, so the same event never gives two notices, and the channel gets it with every try
    so the gateway can drop a repeat. `next_attempt_at` is when a sender may take it next: the
    sender's lease while it delivers (`claim` names that sender's run), and the backoff after
    a failed try."""
    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sent','failed','skipped')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # the member's 消息 list, newest first
        Index("ix_notices_member_id_id", "member_id", "id"),
        # the senders' queue: only pending notices, by when they are due
        Index("ix_notices_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    claim: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NoticeOptOut(db.Model):
    """A kind of notice the member does not want by SMS (only optional kinds). The notice is
    still written and listed at 消息; the sender marks it skipped instead of sending it."""
    __tablename__ = "notice_opt_outs"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
