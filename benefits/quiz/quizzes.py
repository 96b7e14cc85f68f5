"""Quiz settings (admins, within their union's subtree), which quizzes a member may take, and the
attempts flagged for admins. Services flush, never commit."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from .. import clock
from ..audit import service as audit
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from .models import LATE_POLICIES, QUIZ_MODES, Attempt, JobType, Quiz

QUIZ_FIELDS = ("title", "job_type_ids", "tags", "question_count", "mode", "time_limit_seconds",
               "grace_seconds", "late_policy", "attempts_per_day", "min_delay_seconds",
               "points_per_correct", "partial_credit", "pass_percent", "pass_bonus", "daily_points_cap",
               "opens_at", "closes_at", "is_enabled", "org_id")


def _check_quiz(values: dict) -> None:
    errors = {}
    if not values.get("title"):
        errors["title"] = _("必填")
    ids = values.get("job_type_ids") or []
    if not ids or len(ids) != len(db.session.scalars(select(JobType.id).where(JobType.id.in_(ids))).all()):
        errors["job_type_ids"] = _("请选择一个或多个已有工种")
    if values.get("mode") not in QUIZ_MODES:
        errors["mode"] = _("须为练习或计分")
    if values.get("late_policy") not in LATE_POLICIES:
        errors["late_policy"] = _("须为按已保存的答案评分或不予受理")
    if values.get("opens_at") and values.get("closes_at") and values["closes_at"] <= values["opens_at"]:
        errors["closes_at"] = _("须晚于开始时间")
    if errors:
        raise ValidationError(_("答题活动设置有误。"), details={"fields": errors})


def _org_in_scope(scope: Organisation, org_id: int) -> None:
    org = db.session.get(Organisation, org_id)
    if org is None or not scope.contains(org):
        raise NotFound(_("没有这个组织。"))


def create_quiz(actor, scope: Organisation, data: dict) -> Quiz:
    values = {"tags": [], "question_count": 20, "mode": "scored", "grace_seconds": 30,
              "late_policy": "grade_saved", "min_delay_seconds": 0, "points_per_correct": 1,
              "partial_credit": False, "pass_bonus": 0, "is_enabled": True, "org_id": scope.id}
    values.update({k: v for k, v in data.items() if k in QUIZ_FIELDS and v is not None})
    _org_in_scope(scope, values["org_id"])
    _check_quiz(values)
    quiz = Quiz(**values)
    db.session.add(quiz)
    db.session.flush()
    audit.record(actor, "quiz.create", "quiz", quiz.id, org_id=quiz.org_id, after=_quiz_snapshot(quiz))
    return quiz


def update_quiz(actor, scope: Organisation, quiz_id: int, data: dict) -> Quiz:
    quiz = get_quiz_in_scope(scope, quiz_id)
    before = _quiz_snapshot(quiz)
    changes = {k: v for k, v in data.items() if k in QUIZ_FIELDS}
    if "org_id" in changes:
        _org_in_scope(scope, changes["org_id"])
    _check_quiz({**{k: getattr(quiz, k) for k in QUIZ_FIELDS}, **changes})
    for k, v in changes.items():
        setattr(quiz, k, v)
    db.session.flush()
    audit.record(actor, "quiz.update", "quiz", quiz.id, org_id=quiz.org_id, before=before, after=_quiz_snapshot(quiz))
    return quiz


def _quiz_snapshot(quiz: Quiz) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in ((k, getattr(quiz, k)) for k in QUIZ_FIELDS)}


def quizzes_in_scope(scope: Organisation):
    return select(Quiz).where(Quiz.org_id.in_(subtree_ids_select(scope))).order_by(Quiz.id.desc())


def get_quiz_in_scope(scope: Organisation, quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or not scope.contains(db.session.get(Organisation, quiz.org_id)):
        raise NotFound(_("没有这个答题活动。"))
    return quiz


def flagged_attempts(scope: Organisation):
    """Attempts answered suspiciously fast (see grading.FAST_SECONDS_PER_QUESTION), in the subtree."""
    return (select(Attempt).join(Member, Member.id == Attempt.member_id)
            .where(Attempt.flagged_fast.is_(True), Member.org_id.in_(subtree_ids_select(scope)))
            .order_by(Attempt.id.desc()))


# ---- who may take which quiz --------------------------------------------------------------------

def eligible_org_ids(member_org_path: str) -> list[int]:
    """A quiz set by the member's union or any union above it is open to them: the ids on the
    path of the member's organisation ('/1/7/93/')."""
    return [int(p) for p in (member_org_path or "").strip("/").split("/") if p]


def is_open(enabled: bool, opens_at: datetime | None, closes_at: datetime | None, at: datetime) -> bool:
    return enabled and (opens_at is None or opens_at <= at) and (closes_at is None or at < closes_at)


def quizzes_for_member(member: Member) -> list[Quiz]:
    """Quizzes the member's union (or a union above it) set, that are open now."""
    at = clock.now()
    found = db.session.scalars(select(Quiz).where(Quiz.org_id.in_(eligible_org_ids(member.org.path)),
                                                  Quiz.is_enabled.is_(True)).order_by(Quiz.id))
    return [q for q in found if is_open(q.is_enabled, q.opens_at, q.closes_at, at)]


def get_quiz_for_member(member: Member, quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or quiz.org_id not in eligible_org_ids(member.org.path):
        raise NotFound(_("没有这个答题活动。"))
    return quiz
