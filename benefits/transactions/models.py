"""Card transactions at the till, their refunds, merchant statements and dynamic pay QR tokens."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..members.models import Card, Member
from ..merchants.models import Merchant, Store

FUNDERS = ("union", "bank", "merchant")


class Statement(db.Model):
    """A merchant's closed settlement period. Totals are frozen when it closes."""
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("merchant_id", "period_start", name="uq_statements_merchant_start"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What the union and the bank owe the merchant for this period, net of refunds and adjustments.
    union_owes_fen: Mapped[int] = mapped_column(Integer)
    bank_owes_fen: Mapped[int] = mapped_column(Integer)
    totals: Mapped[dict] = mapped_column(JSON)

    merchant: Mapped[Merchant] = relationship()


class CardTransaction(db.Model):
    """One payment with the member card. `applied` snapshots the rule versions that gave the
    discount (name, version, terms, shares), so editing a rule later never changes history."""
    __tablename__ = "card_transactions"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("discount_fen >= 0 AND discount_fen <= amount_fen", name="discount_in_range"),
        CheckConstraint("pay_fen = amount_fen - discount_fen - voucher_fen", name="pay_is_amount_less_discount"),
        CheckConstraint("voucher_union_fen >= 0 AND voucher_bank_fen >= 0 AND voucher_topup_fen >= 0 "
                        "AND voucher_union_fen + voucher_bank_fen + voucher_topup_fen = voucher_fen",
                        name="voucher_parts_sum"),
        CheckConstraint("refunded_voucher_fen >= 0 AND refunded_voucher_fen <= voucher_fen",
                        name="refund_voucher_bounded"),
        CheckConstraint("union_fen >= 0 AND bank_fen >= 0 AND merchant_fen >= 0", name="shares_positive"),
        CheckConstraint("union_fen + bank_fen + merchant_fen = discount_fen", name="shares_sum"),
        CheckConstraint("refunded_pay_fen >= 0 AND refunded_pay_fen <= pay_fen", name="refund_pay_bounded"),
        CheckConstraint("refunded_discount_fen >= 0 AND refunded_discount_fen <= discount_fen",
                        name="refund_discount_bounded"),
        CheckConstraint("channel IN ('card_number','qr')", name="channel_known"),
        Index("ix_card_transactions_merchant_day", "merchant_id", "business_day"),
        Index("ix_card_transactions_member_day", "member_id", "business_day"),
        # Only settled rows: a payment is written with no statement, and every index it does not
        # enter is one write less per payment; "the open period" reads by merchant and day.
        Index("ix_card_transactions_statement_id", "statement_id",
              postgresql_where=text("statement_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer)
    pay_fen: Mapped[int] = mapped_column(Integer)
    union_fen: Mapped[int] = mapped_column(Integer, default=0)
    bank_fen: Mapped[int] = mapped_column(Integer, default=0)
    merchant_fen: Mapped[int] = mapped_column(Integer, default=0)
    # paid with vouchers: the face value's union and bank parts, and the merchant's own top-up
    voucher_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_union_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_bank_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_topup_fen: Mapped[int] = mapped_column(Integer, default=0)
    vouchers: Mapped[list] = mapped_column(JSON, default=list)
    refunded_pay_fen: Mapped[int] = mapped_column(Integer, default=0)
    refunded_discount_fen: Mapped[int] = mapped_column(Integer, default=0)
    refunded_voucher_fen: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(12))
    usage_key: Mapped[str] = mapped_column(String(64), unique=True)
    applied: Mapped[list] = mapped_column(JSON)
    cashier_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    terminal_key_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_keys.id"))
    business_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))

    merchant: Mapped[Merchant] = relationship()
    store: Mapped[Store] = relationship()
    card: Mapped[Card] = relationship()
    member: Mapped[Member] = relationship()
    refunds: Mapped[list[Refund]] = relationship(back_populates="transaction", order_by="Refund.id")

    @property
    def refundable_pay_fen(self) -> int:
        return self.pay_fen - self.refunded_pay_fen

    @property
    def status(self) -> str:
        if self.refunded_pay_fen == 0 and self.refunded_discount_fen == 0 and self.refunded_voucher_fen == 0:
            return "completed"
        if (self.refunded_pay_fen == self.pay_fen and self.refunded_discount_fen == self.discount_fen
                and self.refunded_voucher_fen == self.voucher_fen):
            return "refunded"
        return "partially_refunded"


class Refund(db.Model):
    """A full or partial refund: the member's pay, the discount and each funder's share reversed
    pro rata. `by_rule` is the discount given back to each rule's budget ({rule_id: fen})."""
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("pay_fen >= 0 AND discount_fen >= 0 AND voucher_fen >= 0 "
                        "AND pay_fen + discount_fen + voucher_fen > 0", name="positive"),
        CheckConstraint("union_fen + bank_fen + merchant_fen = discount_fen", name="shares_sum"),
        CheckConstraint("voucher_union_fen + voucher_bank_fen + voucher_topup_fen = voucher_fen",
                        name="voucher_parts_sum"),
        Index("ix_refunds_merchant_day", "merchant_id", "business_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("card_transactions.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    pay_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer)
    union_fen: Mapped[int] = mapped_column(Integer)
    bank_fen: Mapped[int] = mapped_column(Integer)
    merchant_fen: Mapped[int] = mapped_column(Integer)
    voucher_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_union_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_bank_fen: Mapped[int] = mapped_column(Integer, default=0)
    voucher_topup_fen: Mapped[int] = mapped_column(Integer, default=0)
    by_rule: Mapped[dict] = mapped_column(JSON)
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(255), default="")
    cashier_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    terminal_key_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_keys.id"))
    business_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"), index=True)

    transaction: Mapped[CardTransaction] = relationship(back_populates="refunds")

    @property
    def amount_fen(self) -> int:
        """The part of the price taken back: what the member gets back, the discount reversed and
        what goes back onto the vouchers."""
        return self.pay_fen + self.discount_fen + self.voucher_fen


class PayToken(db.Model):
    """A dynamic pay QR token (hash only): accepted once, refused after its expiry."""
    __tablename__ = "pay_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
