from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer,
                        String, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..orgs.models import Organisation


class PromotionRule(db.Model):
    """A discount rule. Its terms live in versions; this row holds the live counters (budget
    used, uses) that conditional UPDATEs consume."""
    __tablename__ = "promotion_rules"
    __table_args__ = (
        CheckConstraint("status IN ('active','paused')", name="status_known"),
        CheckConstraint("budget_used_fen >= 0 AND (budget_fen IS NULL OR budget_used_fen <= budget_fen)",
                        name="budget_within"),
        CheckConstraint("uses_count >= 0 AND (global_limit IS NULL OR uses_count <= global_limit)",
                        name="uses_within"),
        # a till asks for the few rules whose counters could bind (nearly spent, out of uses)
        # without naming its candidates: these answer that by index, however many rules there are
        Index("ix_promotion_rules_budget_left", text("(budget_fen - budget_used_fen)")),
        Index("ix_promotion_rules_uses_left", text("(global_limit - uses_count)")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(8), default="active")
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    budget_used_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    global_limit: Mapped[int | None] = mapped_column(Integer)
    uses_count: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on every change of terms or status, so each process knows when to rebuild its index.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship()
    versions: Mapped[list[PromotionRuleVersion]] = relationship(
        back_populates="rule", order_by="PromotionRuleVersion.number")

    @property
    def current_version(self) -> PromotionRuleVersion | None:
        return next((v for v in self.versions if v.id == self.current_version_id), None)

    @property
    def budget_left_fen(self) -> int | None:
        return None if self.budget_fen is None else self.budget_fen - self.budget_used_fen


class PromotionRuleVersion(db.Model):
    """One edit of a rule's terms. Never updated: an edit adds the next version."""
    __tablename__ = "promotion_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "number", name="uq_promotion_rule_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("promotion_rules.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    terms: Mapped[dict] = mapped_column(JSON)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    rule: Mapped[PromotionRule] = relationship(back_populates="versions")


class PromotionMemberUse(db.Model):
    """Uses of a rule by one member in one period ('d2026-11-24', 'w2026-48', 'm2026-11', 'all')."""
    __tablename__ = "promotion_member_uses"
    __table_args__ = (CheckConstraint("uses >= 0", name="uses_not_negative"),
                      Index("ix_promotion_member_uses_member_period", "member_id", "period"))

    rule_id: Mapped[int] = mapped_column(ForeignKey("promotion_rules.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)


class PromotionUsage(db.Model):
    """One rule applied to one card transaction (`usage_key` is the till side's key)."""
    __tablename__ = "promotion_usages"
    __table_args__ = (
        UniqueConstraint("usage_key", "rule_id", name="uq_promotion_usages_key_rule"),
        CheckConstraint("returned_fen >= 0 AND returned_fen <= discount_fen", name="returned_within"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # looked up by usage_key through the unique (usage_key, rule_id) index: no index of its own
    usage_key: Mapped[str] = mapped_column(String(100))
    rule_id: Mapped[int] = mapped_column(ForeignKey("promotion_rules.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("promotion_rule_versions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    business_day: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    union_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    bank_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    merchant_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_union_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_bank_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_merchant_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    use_returned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class PromotionBookStamp(db.Model):
    """One row (id 1) whose `version` moves with every committed change of a rule's terms or
    status (create, edit, pause, resume): each process compares it with the stamp its compiled
    rule book was built under. Tills read it by primary key in the same statement as the live
    counters, so a quote never uses a book older than those counters."""
    __tablename__ = "promotion_book_stamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # set when the row is (re)created, so a table emptied and refilled never repeats a stamp
    nonce: Mapped[str] = mapped_column(String(32))
