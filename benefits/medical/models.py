"""The medical benefit (医疗普惠): a union's programme for a year, the social-insurance records
imported for it, the batches of consolation payments (慰问金) a second admin approves, each
member's award, and the payouts sent to the card's bank and reconciled from its return file.

Money is fen. Exactness lives here as constraints:
- one programme per union per year, and one award per member per programme (UNIQUE): nobody is
  paid twice in a programme year, however often a batch is built, approved or a file imported;
- at most one payout of an award in flight or paid (a partial UNIQUE index): a failed payout is
  issued again as a new payout with a new reference, never beside a live one;
- the budget: `committed_fen ≤ budget_fen` (CHECK), taken by a guarded UPDATE at approval;
- four eyes: an approved batch was decided by someone other than its creator (CHECK).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..members.models import Card, Member
from ..orgs.models import Organisation

BATCH_STATUSES = ("pending", "approved", "rejected")
AWARD_STATUSES = ("proposed", "approved", "paid")
PAYOUT_STATUSES = ("sent", "paid", "failed")
FILE_KINDS = ("approval", "reissue")


class MedicalProgramme(db.Model):
    __tablename__ = "medical_programmes"
    __table_args__ = (
        UniqueConstraint("org_id", "year", name="uq_medical_programmes_org_year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint("threshold_fen >= 0", name="threshold_not_negative"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("budget_fen >= amount_fen", name="budget_covers_one"),
        CheckConstraint("committed_fen >= 0 AND committed_fen <= budget_fen", name="committed_within_budget"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)   # the owning union
    eligible_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))      # whose members qualify
    name: Mapped[str] = mapped_column(String(128))
    year: Mapped[int] = mapped_column(Integer)
    threshold_fen: Mapped[int] = mapped_column(BigInteger)    # out-of-pocket costs must exceed this
    amount_fen: Mapped[int] = mapped_column(Integer)          # the one unified payment
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger, default=0)   # approved awards
    member_categories: Mapped[list] = mapped_column(JSON, default=list)   # empty: every category
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    eligible_org: Mapped[Organisation] = relationship(foreign_keys=[eligible_org_id])

    @property
    def budget_left_fen(self) -> int:
        return self.budget_fen - self.committed_fen


class InsuranceImport(db.Model):
    """One social-insurance file that changed a programme's records (a file that changed nothing
    leaves no row)."""
    __tablename__ = "medical_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    total_rows: Mapped[int] = mapped_column(Integer)
    bad_rows: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class InsuranceClaim(db.Model):
    """A person's out-of-pocket medical costs in the programme's year, as the social-insurance
    data says. Matched to members by national ID number only (never by name), when read."""
    __tablename__ = "medical_claims"
    __table_args__ = (
        UniqueConstraint("programme_id", "id_number", name="uq_medical_claims_programme_id_number"),
        CheckConstraint("out_of_pocket_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("medical_imports.id"), index=True)
    id_number: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(64))
    out_of_pocket_fen: Mapped[int] = mapped_column(BigInteger)


class MedicalBatch(db.Model):
    """The members who qualified when an admin built it; a second admin approves (or anyone in
    scope rejects) it."""
    __tablename__ = "medical_batches"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','rejected')", name="status_known"),
        CheckConstraint("status <> 'approved' OR (decided_by_user_id IS NOT NULL "
                        "AND decided_by_user_id IS DISTINCT FROM created_by_user_id)", name="four_eyes"),
        CheckConstraint("member_count > 0 AND total_fen > 0", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    member_count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    programme: Mapped[MedicalProgramme] = relationship()


class MedicalAward(db.Model):
    """A member's consolation payment in a programme: proposed in a batch, approved with it, paid
    when the bank's return file says the money is on the card."""
    __tablename__ = "medical_awards"
    __table_args__ = (
        UniqueConstraint("programme_id", "member_id", name="uq_medical_awards_programme_member"),
        CheckConstraint("status IN ('proposed','approved','paid')", name="status_known"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("medical_batches.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    out_of_pocket_fen: Mapped[int] = mapped_column(BigInteger)   # what qualified them
    status: Mapped[str] = mapped_column(String(8), default="proposed")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    programme: Mapped[MedicalProgramme] = relationship()
    batch: Mapped[MedicalBatch] = relationship()
    member: Mapped[Member] = relationship()


class PayoutFile(db.Model):
    """A file for the card's bank: the payouts of an approved batch, or payouts issued again."""
    __tablename__ = "medical_payout_files"
    __table_args__ = (
        CheckConstraint("kind IN ('approval','reissue')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("medical_batches.id"))
    kind: Mapped[str] = mapped_column(String(8))
    payout_count: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    programme: Mapped[MedicalProgramme] = relationship()


class ReturnFile(db.Model):
    """A bank return file that changed payouts (one that changed nothing leaves no row)."""
    __tablename__ = "medical_return_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    total_rows: Mapped[int] = mapped_column(Integer)
    paid: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class MedicalPayout(db.Model):
    """One attempt to put an award on a card: sent in a payout file under its reference, then paid
    or failed (with the bank's reason) by a return file."""
    __tablename__ = "medical_payouts"
    __table_args__ = (
        CheckConstraint("status IN ('sent','paid','failed')", name="status_known"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("status <> 'failed' OR failure_reason IS NOT NULL", name="failure_has_reason"),
        Index("uq_medical_payouts_one_live_per_award", "award_id", unique=True,
              postgresql_where=text("status IN ('sent','paid')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("medical_awards.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("medical_programmes.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("medical_payout_files.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    card_number: Mapped[str] = mapped_column(String(19))
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="sent")
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_file_id: Mapped[int | None] = mapped_column(ForeignKey("medical_return_files.id"))

    award: Mapped[MedicalAward] = relationship()
    card: Mapped[Card] = relationship()
