"""Prizes, their stock per pickup point, redemptions and the per-period counters.

Every limit lives in SQL as a row that a conditional UPDATE (or a conditional upsert) changes,
so the database alone is exact; Redis (gate.py) only sheds the crowd in front of it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Integer, LargeBinary,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..members.models import Member
from ..merchants.models import Store
from ..orgs.models import Organisation
from .categories import CATEGORIES, DEFAULT_CATEGORY

FULFILMENTS = ("pickup", "delivery")
REDEMPTION_STATUSES = ("redeemed", "handed_over", "cancelled", "expired")
APPROVAL_STATUSES = ("not_needed", "pending", "approved")


class PrizeImage(db.Model):
    """An uploaded picture, kept in the database so any app host can serve it."""
    __tablename__ = "prize_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class PickupPoint(db.Model):
    """Where prizes are handed out: a union office (an organisation) or a partner merchant's store."""
    __tablename__ = "pickup_points"
    __table_args__ = (
        CheckConstraint("(office_org_id IS NULL) <> (store_id IS NULL)", name="office_or_store"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    office_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    owner_org: Mapped[Organisation] = relationship(foreign_keys=[owner_org_id])
    office_org: Mapped[Organisation | None] = relationship(foreign_keys=[office_org_id])
    store: Mapped[Store | None] = relationship()

    @property
    def kind(self) -> str:
        return "office" if self.office_org_id is not None else "store"


class Prize(db.Model):
    __tablename__ = "prizes"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("cost_points > 0", name="cost_positive"),
        CheckConstraint("fulfilment IN ('pickup','delivery')", name="fulfilment_known"),
        CheckConstraint("pickup_days > 0", name="pickup_days_positive"),
        CheckConstraint("category IN (%s)" % ",".join(f"'{c}'" for c in CATEGORIES), name="category_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    # 品类 (categories.py): picks the placeholder picture while no picture is uploaded
    category: Mapped[str] = mapped_column(String(16), default=DEFAULT_CATEGORY, server_default=DEFAULT_CATEGORY)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("prize_images.id"))
    cost_points: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    per_day_limit: Mapped[int | None] = mapped_column(Integer)
    per_month_limit: Mapped[int | None] = mapped_column(Integer)
    lifetime_limit: Mapped[int | None] = mapped_column(Integer)
    daily_quota: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    eligible_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # Comma-separated member categories; empty means every category.
    eligible_categories: Mapped[str] = mapped_column(String(128), default="")
    fulfilment: Mapped[str] = mapped_column(String(8), default="pickup")
    high_value: Mapped[bool] = mapped_column(Boolean, default=False)
    pickup_days: Mapped[int] = mapped_column(Integer, default=14)
    is_listed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    eligible_org: Mapped[Organisation] = relationship(foreign_keys=[eligible_org_id])
    stocks: Mapped[list[PrizeStock]] = relationship(back_populates="prize", order_by="PrizeStock.pickup_point_id")

    @property
    def categories(self) -> list[str]:
        return [c for c in self.eligible_categories.split(",") if c]


class PrizeStock(db.Model):
    """Stock left at one pickup point; for pickup prizes the rows sum to `Prize.stock`."""
    __tablename__ = "prize_stocks"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),)

    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"), primary_key=True)
    pickup_point_id: Mapped[int] = mapped_column(ForeignKey("pickup_points.id"), primary_key=True)
    stock: Mapped[int] = mapped_column(Integer, default=0)

    prize: Mapped[Prize] = relationship(back_populates="stocks")
    pickup_point: Mapped[PickupPoint] = relationship()


class StockChange(db.Model):
    """An admin stock change (initial stock, restock). Redemptions, cancellations and expiries
    are the other changes; the history page merges them from the redemption rows."""
    __tablename__ = "prize_stock_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"), index=True)
    pickup_point_id: Mapped[int | None] = mapped_column(ForeignKey("pickup_points.id"))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(255), default="")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    pickup_point: Mapped[PickupPoint | None] = relationship()


class PrizeCounter(db.Model):
    """How many units were redeemed per prize and subject ('all' or 'm<member id>') and period
    ('d:2026-11-24', 'm:2026-11', 'life'). Raised by a conditional upsert, so a limit holds
    under any concurrency."""
    __tablename__ = "prize_counters"
    __table_args__ = (
        UniqueConstraint("prize_id", "subject", "period", name="uq_prize_counters_slot"),
        CheckConstraint("count >= 0", name="count_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"))
    subject: Mapped[str] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(db.Model):
    __tablename__ = "prize_redemptions"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('redeemed','handed_over','cancelled','expired')", name="status_known"),
        CheckConstraint("approval IN ('not_needed','pending','approved')", name="approval_known"),
        CheckConstraint("fulfilment IN ('pickup','delivery')", name="fulfilment_known"),
        # a festival gift (benefits/festival): one per member per campaign
        UniqueConstraint("campaign_id", "member_id", name="uq_prize_redemptions_campaign_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    # Set for a festival gift: it cost no points, counts against no prize limit and took its
    # stock from the campaign's gift row, not the prize's (see `_close`).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("festival_campaigns.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    points_spent: Mapped[int] = mapped_column(Integer)
    fulfilment: Mapped[str] = mapped_column(String(8))
    pickup_point_id: Mapped[int | None] = mapped_column(ForeignKey("pickup_points.id"))
    pickup_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    pickup_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery_address: Mapped[str | None] = mapped_column(String(255))
    delivery_phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="redeemed", index=True)
    approval: Mapped[str] = mapped_column(String(12), default="not_needed")
    approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    business_day: Mapped[date] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_over_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    prize: Mapped[Prize] = relationship()
    member: Mapped[Member] = relationship()
    pickup_point: Mapped[PickupPoint | None] = relationship()
