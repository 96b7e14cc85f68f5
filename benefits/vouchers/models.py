"""Voucher programmes (券活动), the batches that issue them, the vouchers, their uses at the till
and the member's message list (消息) that tells them about it.

Money is fen. A voucher's value is its face value (funded by the union and the bank in the
programme's split) plus the merchant's top-up (funded by the merchant where it is spent).
`face_left_fen` is the part of the balance that is still face value: it goes down in proportion
as the balance is spent and is exactly zero when the balance is.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer,
                        String, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation

SPEND_MODES = ("single", "balance")
VOUCHER_STATUSES = ("active", "spent", "expired", "voided")
VOUCHER_FUNDERS = ("union", "bank")


class VoucherProgramme(db.Model):
    __tablename__ = "voucher_programmes"
    __table_args__ = (
        CheckConstraint("face_fen > 0 AND topup_fen >= 0 AND value_fen = face_fen + topup_fen", name="value_sum"),
        CheckConstraint("issued_fen >= 0 AND issued_fen <= budget_fen", name="issued_within_budget"),
        CheckConstraint("spend_mode IN ('single','balance')", name="spend_mode_known"),
        CheckConstraint("status IN ('active','closed')", name="status_known"),
        CheckConstraint("per_member >= 1", name="per_member_positive"),
        CheckConstraint("valid_until >= valid_from", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    face_fen: Mapped[int] = mapped_column(Integer)
    topup_bp: Mapped[int | None] = mapped_column(Integer)   # set when the top-up is a percentage
    topup_fen: Mapped[int] = mapped_column(Integer, default=0)
    value_fen: Mapped[int] = mapped_column(Integer)
    split: Mapped[dict] = mapped_column(JSON)               # {"union": 60, "bank": 40} of the face value
    scope: Mapped[str] = mapped_column(String(16), default="programme")
    categories: Mapped[list] = mapped_column(JSON, default=list)
    merchant_ids: Mapped[list] = mapped_column(JSON, default=list)
    store_ids: Mapped[list] = mapped_column(JSON, default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    spend_mode: Mapped[str] = mapped_column(String(8), default="balance")
    combinable: Mapped[bool] = mapped_column(Boolean, default=True)
    min_spend_fen: Mapped[int] = mapped_column(Integer, default=0)
    per_member: Mapped[int] = mapped_column(Integer, default=1)
    budget_fen: Mapped[int] = mapped_column(BigInteger)      # cap on the face value issued
    issued_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship()

    @property
    def budget_left_fen(self) -> int:
        return self.budget_fen - self.issued_fen


class VoucherBatch(db.Model):
    """One issue of a programme to a target. The same target (and round) is the same batch:
    running it again continues it and issues nobody twice."""
    __tablename__ = "voucher_batches"
    __table_args__ = (
        UniqueConstraint("programme_id", "fingerprint", name="uq_voucher_batches_target"),
        CheckConstraint("kind IN ('target','list')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("voucher_programmes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    fingerprint: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=1)
    member_categories: Mapped[list] = mapped_column(JSON, default=list)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    source_name: Mapped[str] = mapped_column(String(255), default="")
    member_ids: Mapped[list] = mapped_column(JSON, default=list)   # a list batch's members
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    issued_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    programme: Mapped[VoucherProgramme] = relationship()
    org: Mapped[Organisation | None] = relationship()


class Voucher(db.Model):
    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("batch_id", "member_id", name="uq_vouchers_batch_member"),
        UniqueConstraint("programme_id", "member_id", "seq", name="uq_vouchers_programme_member_seq"),
        CheckConstraint("balance_fen >= 0 AND balance_fen <= value_fen", name="balance_within_value"),
        CheckConstraint("face_left_fen >= 0 AND face_left_fen <= balance_fen AND face_left_fen <= face_fen",
                        name="face_left_within_balance"),
        CheckConstraint("status IN ('active','spent','expired','voided')", name="status_known"),
        # the till reads a member's usable vouchers; expiry reads the active ones by date
        Index("ix_vouchers_member_active", "member_id", postgresql_where=text("status = 'active'")),
        Index("ix_vouchers_active_until", "valid_until", postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("voucher_programmes.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    face_fen: Mapped[int] = mapped_column(Integer)
    value_fen: Mapped[int] = mapped_column(Integer)
    balance_fen: Mapped[int] = mapped_column(Integer)
    face_left_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="active")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(255))
    expiry_noticed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    programme: Mapped[VoucherProgramme] = relationship()
    member: Mapped[Member] = relationship()


class VoucherUse(db.Model):
    """What one voucher paid of one card transaction (`usage_key` is the transaction's). The
    parts are fixed when it is spent; a refund returns them pro rata, the last refund exactly."""
    __tablename__ = "voucher_uses"
    __table_args__ = (
        UniqueConstraint("usage_key", "voucher_id", name="uq_voucher_uses_key_voucher"),
        CheckConstraint("amount_fen > 0 AND face_fen + topup_fen = amount_fen", name="parts_sum"),
        CheckConstraint("union_fen + bank_fen = face_fen", name="funders_sum"),
        CheckConstraint("returned_fen >= 0 AND returned_fen <= amount_fen", name="returned_within"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    usage_key: Mapped[str] = mapped_column(String(100))
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("voucher_programmes.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    face_fen: Mapped[int] = mapped_column(Integer)
    topup_fen: Mapped[int] = mapped_column(Integer)
    union_fen: Mapped[int] = mapped_column(Integer)
    bank_fen: Mapped[int] = mapped_column(Integer)
    # a single-payment voucher's value beyond the price: lost to the member unless the whole
    # payment is refunded
    forfeited_fen: Mapped[int] = mapped_column(Integer, default=0)
    forfeited_face_fen: Mapped[int] = mapped_column(Integer, default=0)
    returned_fen: Mapped[int] = mapped_column(Integer, default=0)
    returned_union_fen: Mapped[int] = mapped_column(Integer, default=0)
    returned_bank_fen: Mapped[int] = mapped_column(Integer, default=0)
    returned_topup_fen: Mapped[int] = mapped_column(Integer, default=0)
    business_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    voucher: Mapped[Voucher] = relationship()

