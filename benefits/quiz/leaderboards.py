"""Leaderboards: members by points earned in a quiz, or on one job type's questions, this week,
this month or all time, in the member's union or the whole programme."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import clock
from ..auth.models import User
from ..errors import ValidationError
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from .models import Attempt, AttemptQuestion

PERIODS = ("week", "month", "all")


def period_start(period: str, at: datetime | None = None) -> datetime | None:
    """Weeks start on Monday and months on the 1st, in China time; None for all time."""
    today = clock.business_day(at)
    if period == "week":
        first = today - timedelta(days=today.weekday())
    elif period == "month":
        first = date(today.year, today.month, 1)
    else:
        return None
    return clock.china_day_bounds_utc(first)[0]


def leaderboard(*, quiz_id: int | None = None, job_type_id: int | None = None, period: str = "week",
                org: Organisation | None = None, limit: int = 50) -> list[dict]:
    """Members by points earned in the period; ties go to whoever reached the total first.
    Members who left, or whose login is disabled, are not listed."""
    if period not in PERIODS:
        raise ValidationError(_("时段须为本周、本月或全部。"), details={"fields": {"period": _("格式不对")}})
    start = period_start(period)
    if quiz_id is not None:
        total = func.sum(Attempt.points_awarded)
        stmt = select(Attempt.member_id, total.label("total"), func.max(Attempt.submitted_at).label("reached")) \
            .where(Attempt.quiz_id == quiz_id, Attempt.points_awarded > 0)
    elif job_type_id is not None:
        total = func.sum(AttemptQuestion.points)
        stmt = select(Attempt.member_id, total.label("total"), func.max(Attempt.submitted_at).label("reached")) \
            .join(AttemptQuestion, AttemptQuestion.attempt_id == Attempt.id) \
            .where(AttemptQuestion.job_type_id == job_type_id, AttemptQuestion.points > 0, Attempt.quiz_id.is_not(None))
    else:
        raise ValidationError(_("请选择答题活动或工种。"), details={"fields": {"quiz_id": _("必填")}})
    stmt = stmt.where(Attempt.status == "submitted")
    if start is not None:
        stmt = stmt.where(Attempt.submitted_at >= start)
    sums = stmt.group_by(Attempt.member_id).subquery()
    ranked = (select(Member.id, Member.name, Organisation.name, sums.c.total, sums.c.reached)
              .join(sums, sums.c.member_id == Member.id)
              .join(Organisation, Organisation.id == Member.org_id)
              .join(User, User.member_id == Member.id)
              .where(Member.status == "active", User.is_enabled.is_(True))
              .order_by(sums.c.total.desc(), sums.c.reached.asc(), Member.id.asc()).limit(limit))
    if org is not None:
        ranked = ranked.where(Member.org_id.in_(subtree_ids_select(org)))
    return [{"rank": n, "member_id": mid, "name": mask_name(name), "org": org_name, "points": int(total)}
            for n, (mid, name, org_name, total, _reached) in enumerate(db.session.execute(ranked), start=1)]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)
