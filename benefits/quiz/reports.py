"""Quiz participation for admins: how many quizzes the members of a union's subtree handed in,
and how many of those members took part, per day and per quiz of a period, and at a glance for
the console. Counted from handed-in attempts of quizzes (not wrong-answer practice), by the
China day they were handed in; a member counts once per period however often they sat.

The members' own union decides the scope (as for the flagged attempts): a county admin sees
their members taking the province's quiz, and no one else's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from .. import clock
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter
from ..periods import Period, last_days, month_to_date
from .models import Attempt, Quiz

# the China day an attempt was handed in on
_DAY = func.date(func.timezone(clock.CHINA.key, Attempt.submitted_at))


def _handed_in(scope: Organisation, period: Period):
    """The FROM and WHERE every figure here shares: handed-in quiz attempts of the subtree's
    members within the period."""
    start, end = period.utc_bounds()
    return (select().select_from(Attempt)
            .join(Member, Member.id == Attempt.member_id)
            .join(Organisation, Organisation.id == Member.org_id)
            .where(subtree_filter(scope), Attempt.quiz_id.is_not(None), Attempt.status == "submitted",
                   Attempt.submitted_at >= start, Attempt.submitted_at < end))


@dataclass(frozen=True)
class Participation:
    attempts: int       # quizzes handed in
    members: int        # distinct members who handed one in


def at_a_glance(scope: Organisation, today: date | None = None) -> dict[str, Participation]:
    """Today, the last 7 days (today included) and this month so far, in one statement."""
    today = today or clock.business_day()
    windows = {"today": Period(today, today), "week": last_days(7, today), "month": month_to_date(today)}
    columns = []
    for period in windows.values():
        since = period.utc_bounds()[0]
        columns += [func.count().filter(Attempt.submitted_at >= since),
                    func.count(Attempt.member_id.distinct()).filter(Attempt.submitted_at >= since)]
    widest = Period(min(p.start for p in windows.values()), today)
    row = db.session.execute(_handed_in(scope, widest).add_columns(*columns)).one()
    return {name: Participation(int(row[2 * n]), int(row[2 * n + 1])) for n, name in enumerate(windows)}


def daily(scope: Organisation, period: Period) -> list[dict]:
    """Each day of the period (zeros included): attempts handed in and distinct members."""
    found = {day: (int(a), int(m)) for day, a, m in db.session.execute(
        _handed_in(scope, period).add_columns(_DAY, func.count(), func.count(Attempt.member_id.distinct()))
        .group_by(_DAY))}
    return [{"day": day, "attempts": found.get(day, (0, 0))[0], "members": found.get(day, (0, 0))[1]}
            for day in period.days]


def by_quiz(scope: Organisation, period: Period) -> list[dict]:
    """Per quiz the subtree's members handed in during the period, the most attempts first:
    attempts, distinct members, attempts passed, the average score and the points awarded."""
    rows = db.session.execute(
        _handed_in(scope, period).join(Quiz, Quiz.id == Attempt.quiz_id)
        .add_columns(Quiz.id, Quiz.title, func.count(), func.count(Attempt.member_id.distinct()),
                     func.count().filter(Attempt.passed.is_(True)),
                     func.coalesce(func.round(func.avg(Attempt.score_percent)), 0),
                     func.coalesce(func.sum(Attempt.points_awarded), 0))
        .group_by(Quiz.id, Quiz.title).order_by(func.count().desc(), Quiz.id))
    return [{"quiz_id": qid, "title": title, "attempts": int(a), "members": int(m), "passed": int(p),
             "average_score": int(avg), "points": int(pts)} for qid, title, a, m, p, avg, pts in rows]


def totals(scope: Organisation, period: Period) -> Participation:
    """The whole period: attempts, and members counted once however many days they sat."""
    attempts, members = db.session.execute(
        _handed_in(scope, period).add_columns(func.count(), func.count(Attempt.member_id.distinct()))).one()
    return Participation(int(attempts), int(members))
