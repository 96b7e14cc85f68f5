from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation

# pickup_staff: an account at a union office's prize counter (its org is that office); it hands
# prizes out at that office's pickup points and reaches nothing else (auth/access.py).
ROLES = ("member", "merchant_staff", "pickup_staff", "admin")


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(UserMixin, db.Model):
    """A sign-in account. Members sign in with their national ID number as username.

    `session_token` is part of the session id: rotating it (logout, disable, password change)
    invalidates every session of the account at once.
    """
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('member','merchant_staff','pickup_staff','admin')", name="role_known"),
        CheckConstraint("role <> 'admin' OR org_id IS NOT NULL", name="admin_has_scope"),
        CheckConstraint("role <> 'pickup_staff' OR org_id IS NOT NULL", name="pickup_staff_has_office"),
        CheckConstraint("role <> 'member' OR member_id IS NOT NULL", name="member_has_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    org: Mapped[Organisation | None] = relationship()
    member: Mapped[Member | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.is_enabled

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_member(self) -> bool:
        return self.role == "member"
