"""Festival gift campaigns (节日福利) and the gifts they offer.

A campaign offers prize-catalogue items (`prizes.Prize`) as gifts, each with stock of the
campaign's own at one pickup point (or, for a delivery item, without one). A member's claim is a
prize redemption (`prizes.Redemption`) that cost no points and names its campaign: the pickup
code, its check at the counter and the hand-over are the prize mall's, in one place. UNIQUE
(campaign_id, member_id) on those redemptions and the guarded stock UPDATE of the gift row are
the SQL truth; the Redis gate (gate.py) only sheds the opening crowd in front of them.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..orgs.models import Organisation
from ..prizes.models import PickupPoint, Prize


class FestivalCampaign(db.Model):
    __tablename__ = "festival_campaigns"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    eligible_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # Comma-separated member categories; empty means every category.
    eligible_categories: Mapped[str] = mapped_column(String(128), default="")
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The last day (in China) a pickup code is good for.
    pickup_until: Mapped[date] = mapped_column(Date)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    eligible_org: Mapped[Organisation] = relationship(foreign_keys=[eligible_org_id])
    gifts: Mapped[list[FestivalGift]] = relationship(back_populates="campaign", order_by="FestivalGift.id")

    @property
    def categories(self) -> list[str]:
        return [c for c in self.eligible_categories.split(",") if c]


class FestivalGift(db.Model):
    """One choice a member has: a catalogue item at one pickup point (none for delivery), with the
    campaign's stock of it there. `allocated` is every unit ever put in, `stock` what is left."""
    __tablename__ = "festival_gifts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "prize_id", "pickup_point_id", name="uq_festival_gifts_choice",
                         postgresql_nulls_not_distinct=True),
        CheckConstraint("stock >= 0 AND stock <= allocated", name="stock_within_allocated"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("festival_campaigns.id"))
    prize_id: Mapped[int] = mapped_column(ForeignKey("prizes.id"))
    pickup_point_id: Mapped[int | None] = mapped_column(ForeignKey("pickup_points.id"))
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    stock: Mapped[int] = mapped_column(Integer, default=0)

    campaign: Mapped[FestivalCampaign] = relationship(back_populates="gifts")
    prize: Mapped[Prize] = relationship()
    pickup_point: Mapped[PickupPoint | None] = relationship()

    @property
    def fulfilment(self) -> str:
        return "pickup" if self.pickup_point_id is not None else "delivery"
