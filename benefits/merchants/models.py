from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..orgs.models import Organisation

CATEGORIES = ("fuel", "supermarket", "dining", "transport", "retail", "other")
STATUSES = ("active", "suspended", "ended")


class Merchant(db.Model):
    """A partner merchant (普惠商家), owned by the union whose programme it belongs to."""
    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("category IN ('fuel','supermarket','dining','transport','retail','other')",
                        name="category_known"),
        CheckConstraint("status IN ('active','suspended','ended')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    # Tills that cannot scan may take the plain card number when this is on.
    accepts_card_number: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship()
    stores: Mapped[list[Store]] = relationship(back_populates="merchant", order_by="Store.id")


class Store(db.Model):
    """A branch / store / petrol station of a merchant."""
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(255), default="")
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    merchant: Mapped[Merchant] = relationship(back_populates="stores")


class MerchantStaff(db.Model):
    """Links a `merchant_staff` user to their merchant (and store, for a cashier at one store)."""
    __tablename__ = "merchant_staff"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))

    merchant: Mapped[Merchant] = relationship()
    store: Mapped[Store | None] = relationship()


class TerminalKey(db.Model):
    """A till's API key for one store. Only the SHA-256 of the key is kept; it is shown once."""
    __tablename__ = "terminal_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, so a cashier can tell keys apart without seeing them.
    key_prefix: Mapped[str] = mapped_column(String(12))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    store: Mapped[Store] = relationship()
