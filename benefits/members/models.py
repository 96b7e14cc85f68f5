from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..orgs.models import Organisation

CATEGORIES = ("ordinary", "hardship", "retiree", "model_worker")
CARD_STATUSES = ("active", "frozen", "lost", "cancelled")


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("status IN ('active','left')", name="status_known"),
        CheckConstraint(
            "category IN ('ordinary','hardship','retiree','model_worker')", name="category_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(16), default="ordinary")
    status: Mapped[str] = mapped_column(String(8), default="active")
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship()
    cards: Mapped[list[Card]] = relationship(back_populates="member", order_by="Card.id")

    @property
    def current_card(self) -> Card | None:
        live = [c for c in self.cards if c.status in ("active", "frozen")]
        return live[-1] if live else None


class Card(db.Model):
    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("status IN ('active','frozen','lost','cancelled')", name="status_known"),
        # A member holds at most one usable (active or frozen) card at a time.
        Index("uq_cards_one_live_per_member", "member_id", unique=True,
              postgresql_where=text("status IN ('active','frozen')")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    number: Mapped[str] = mapped_column(String(19), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="active")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    replaces_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))

    member: Mapped[Member] = relationship(back_populates="cards")


class ActivationCode(db.Model):
    """A one-time code an admin hands a member to activate their account (stored hashed)."""
    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
