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

    # Uses and budget of a rule without a global limit are taken from its slices (see
    # PromotionBudgetSlice): `budget_used_fen` counts what the slices were allotted, so what was
    # really spent, what is left and how often it was used are read with the slices.
    def _slice_totals(self) -> tuple[int, int, int]:
        """(unspent allotments, money spent by slices without allotment, uses) of the slices."""
        from sqlalchemy import case, func, select
        s = PromotionBudgetSlice
        if self.id is None:
            return 0, 0, 0
        free, spent, uses = db.session.execute(
            select(func.coalesce(func.sum(case((s.allot_fen.is_not(None), s.allot_fen - s.used_fen), else_=0)), 0),
                   func.coalesce(func.sum(case((s.allot_fen.is_(None), s.used_fen), else_=0)), 0),
                   func.coalesce(func.sum(s.uses), 0)).where(s.rule_id == self.id)).one()
        return int(free), int(spent), int(uses)

    @property
    def budget_left_fen(self) -> int | None:
        if self.budget_fen is None:
            return None
        return self.budget_fen - self.budget_spent_fen

    @property
    def budget_spent_fen(self) -> int:
        free, spent, _uses = self._slice_totals()
        return self.budget_used_fen - free + spent

    @property
    def total_uses(self) -> int:
        return self.uses_count + self._slice_totals()[2]


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


class PromotionBudgetSlice(db.Model):
    """A rule's budget and use count, split so that concurrent payments do not queue on one row.

    A payment takes its discount from one slice (picked at random) with a conditional UPDATE of
    that slice alone. A slice spends only what it was allotted from the rule (`allot_fen`, moved
    from the rule's budget in chunks by a conditional UPDATE of the rule row); near the end of
    the budget, the slices' unspent allotments are folded back into the rule under its row lock,
    so the last payments get exactly what remains. NULL `allot_fen`: the rule has no budget and
    the slice only counts uses. Rules with a global use limit count on the rule row instead.
    """
    __tablename__ = "promotion_budget_slices"
    __table_args__ = (
        CheckConstraint("used_fen >= 0 AND (allot_fen IS NULL OR used_fen <= allot_fen)", name="within_allotment"),
        CheckConstraint("uses >= 0", name="uses_not_negative"),
    )

    rule_id: Mapped[int] = mapped_column(ForeignKey("promotion_rules.id"), primary_key=True)
    slice: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    allot_fen: Mapped[int | None] = mapped_column(BigInteger)
    used_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    uses: Mapped[int] = mapped_column(Integer, default=0)


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
