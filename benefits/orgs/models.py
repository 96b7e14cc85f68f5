from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db

LEVELS = ("province", "city", "county", "grassroots")


class Organisation(db.Model):
    """A union in the province → city → county → grassroots tree.

    `path` is the materialised chain of ids ('/1/7/93/'), so a whole subtree is one indexed
    prefix query, fast with thousands of organisations.
    """
    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("level IN ('province','city','county','grassroots')", name="level_known"),
        Index("ix_organisations_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])

    def contains(self, other: Organisation) -> bool:
        return other.path.startswith(self.path)
