"""Quiz operations: the question bank, quiz settings, attempts (draw, save, submit, award),
the wrong-answer book and leaderboards. Services flush, never commit."""
from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
from datetime import date, datetime, timedelta

import psycopg
from flask import current_app
from sqlalchemy import Text, and_, bindparam, case, cast, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import selectinload

from .. import clock
from ..audit import service as audit
from ..auth.models import User
from ..errors import Conflict, Forbidden, LimitReached, NotFound, ValidationError
from ..database import is_postgres, run_rows
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..points import service as points
from . import grading
from .importers import normalise_question
from .models import (LATE_POLICIES, LETTERS, MAX_OPTIONS, QUIZ_MODES, Attempt, AttemptQuestion, JobType, Question,
                     Quiz, WrongBookEntry)

FAST_SECONDS_PER_QUESTION = 2   # quicker than this on average is flagged for admins
WRONG_BOOK_STREAK_TO_LEAVE = 2
WRONG_BOOK_PRACTICE_SIZE = 10
_rng = random.SystemRandom()


class QuizClosed(Conflict):
    code = "quiz_closed"


class TimeUp(Conflict):
    code = "time_up"


class AttemptSubmitted(Conflict):
    code = "attempt_submitted"


# ---- job types and questions ------------------------------------------------------------------

def require_bank_manager(actor) -> None:
    """The bank is shared by the whole programme: province and city admins manage it."""
    if actor is None or actor.role != "admin" or actor.org.level not in ("province", "city"):
        raise Forbidden("只有省、市级工会管理员可以管理题库。 Only province and city admins manage the bank.")


def job_types(enabled_only: bool = False) -> list[JobType]:
    stmt = select(JobType).order_by(JobType.id)
    if enabled_only:
        stmt = stmt.where(JobType.is_enabled.is_(True))
    return list(db.session.scalars(stmt))


def question_counts() -> dict[int, int]:
    rows = db.session.execute(select(Question.job_type_id, func.count()).where(Question.is_enabled.is_(True))
                              .group_by(Question.job_type_id))
    return {jt: n for jt, n in rows}


def create_job_type(actor, code: str, name: str) -> JobType:
    if actor is not None:
        require_bank_manager(actor)
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name or len(code) > 32 or len(name) > 64:
        raise ValidationError("job type code and name are required",
                              details={"fields": {"code": "required", "name": "required"}})
    if db.session.scalar(select(JobType.id).where(or_(JobType.code == code, JobType.name == name))):
        raise Conflict(f"工种 {name} 已存在 (job type exists)", code="job_type_exists")
    job_type = JobType(code=code, name=name, next_position=1, is_enabled=True)
    db.session.add(job_type)
    db.session.flush()
    if actor is not None:
        audit.record(actor, "quiz.job_type.create", "job_type", job_type.id, org_id=actor.org_id,
                     after={"code": code, "name": name})
    return job_type


def get_job_type(job_type_id: int) -> JobType:
    job_type = db.session.get(JobType, job_type_id)
    if job_type is None:
        raise NotFound("job type not found")
    return job_type


def resolve_job_types(names: set[str]) -> dict[str, JobType]:
    """Job types by name or code."""
    found = db.session.scalars(select(JobType).where(or_(JobType.name.in_(names), JobType.code.in_(names))))
    result = {}
    for jt in found:
        result[jt.name] = jt
        result[jt.code] = jt
    return result


def questions_page_stmt(job_type_id: int | None = None, enabled: bool | None = None, search: str = ""):
    stmt = select(Question).order_by(Question.id)
    if job_type_id:
        stmt = stmt.where(Question.job_type_id == job_type_id)
    if enabled is not None:
        stmt = stmt.where(Question.is_enabled.is_(enabled))
    if search:
        stmt = stmt.where(Question.stem.contains(search, autoescape=True))
    return stmt


def _question_values(clean: dict, job_type: JobType, position: int, at: datetime | None = None) -> dict:
    return {"job_type_id": job_type.id, "position": position, "kind": clean["kind"], "stem": clean["stem"],
            "options": clean["options"], "answer": clean["answer"], "explanation": clean["explanation"],
            "difficulty": clean["difficulty"], "score": clean["score"], "is_enabled": True,
            "tags": ("," + ",".join(clean["tags"]) + ",") if clean["tags"] else "",
            "created_at": at or clock.now()}


def _reserve_positions(job_type_id: int, count: int) -> int:
    """Take `count` consecutive positions for a job type (row-locked by the UPDATE)."""
    last = db.session.execute(
        update(JobType).where(JobType.id == job_type_id)
        .values(next_position=JobType.next_position + count)
        .returning(JobType.next_position).execution_options(synchronize_session=False)).scalar_one()
    return last - count


def create_question(actor, data: dict) -> Question:
    require_bank_manager(actor)
    job_type = get_job_type(int(data.get("job_type_id") or 0))
    clean, errors = normalise_question({**data, "job_type": job_type.name})
    if errors:
        raise ValidationError("question is invalid", details={"problems": errors})
    values = _question_values(clean, job_type, _reserve_positions(job_type.id, 1))
    question = Question(**values)
    db.session.add(question)
    db.session.flush()
    audit.record(actor, "quiz.question.create", "question", question.id, org_id=actor.org_id,
                 after={"job_type": job_type.name, "stem": clean["stem"][:80]})
    return question


def set_question_enabled(actor, question_id: int, enabled: bool) -> Question:
    """Disabling keeps the question (past attempts still show it); it is only no longer drawn."""
    require_bank_manager(actor)
    question = db.session.get(Question, question_id)
    if question is None:
        raise NotFound("question not found")
    before = question.is_enabled
    question.is_enabled = enabled
    db.session.flush()
    audit.record(actor, "quiz.question.enable" if enabled else "quiz.question.disable", "question",
                 question.id, org_id=actor.org_id, before={"is_enabled": before}, after={"is_enabled": enabled})
    return question


def import_questions(actor, questions: list[dict], problems: list[dict], *, skip_bad: bool,
                     progress=None, chunk: int = 2000) -> dict:
    """Insert parsed questions in bulk. Unknown job types are problems too. With any problem and
    no `skip_bad`, nothing is written and the problems are returned."""
    if actor is not None:
        require_bank_manager(actor)
    problems = list(problems)
    known = resolve_job_types({q["job_type"] for q in questions if q["job_type"]})
    for q in questions:
        if q["job_type"] and q["job_type"] not in known:
            problems.append({"line": q["line"], "message": f"未知工种“{q['job_type']}” (unknown job type)"})
    bad_lines = {p["line"] for p in problems}
    good = [q for q in questions if q["line"] not in bad_lines]
    problems.sort(key=lambda p: p["line"])
    if problems and not skip_bad:
        return {"imported": 0, "skipped": len(questions), "problems": problems}
    by_type: dict[int, list[dict]] = {}
    for q in good:
        by_type.setdefault(known[q["job_type"]].id, []).append(q)
    rows, at = [], clock.now()
    for jt_id, items in by_type.items():
        first = _reserve_positions(jt_id, len(items))
        job_type = db.session.get(JobType, jt_id)
        rows.extend(_question_values(q, job_type, first + i, at) for i, q in enumerate(items))
    _bulk_insert(rows, progress, chunk)
    if actor is not None:
        audit.record(actor, "quiz.question.import", "question", None, org_id=actor.org_id,
                     after={"imported": len(rows), "skipped": len(questions) - len(rows)})
    return {"imported": len(rows), "skipped": len(questions) - len(rows), "problems": problems}


_COPY_COLUMNS = ("job_type_id", "position", "kind", "stem", "options", "answer", "explanation", "difficulty",
                 "score", "tags", "is_enabled", "created_at")


def _bulk_insert(rows: list[dict], progress, chunk: int) -> None:
    """PostgreSQL: COPY in the session's own transaction (the fastest bulk path); elsewhere a
    multi-row INSERT per chunk."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        import json
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                f"COPY quiz_questions ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
            for n, row in enumerate(rows, start=1):
                copy.write_row([json.dumps(row[c], ensure_ascii=False) if c == "options" else row[c]
                                for c in _COPY_COLUMNS])
                if progress is not None and n % chunk == 0:
                    progress(chunk)
        if progress is not None and len(rows) % chunk:
            progress(len(rows) % chunk)
        return
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        db.session.execute(insert(Question), part)
        if progress is not None:
            progress(len(part))


def export_questions(job_type_id: int | None = None):
    stmt = (select(JobType.name, Question).join(JobType, JobType.id == Question.job_type_id)
            .order_by(Question.job_type_id, Question.position))
    if job_type_id:
        stmt = stmt.where(Question.job_type_id == job_type_id)
    return db.session.execute(stmt).yield_per(2000)


# ---- quizzes ----------------------------------------------------------------------------------

QUIZ_FIELDS = ("title", "job_type_ids", "tags", "question_count", "mode", "time_limit_seconds",
               "grace_seconds", "late_policy", "attempts_per_day", "min_delay_seconds",
               "points_per_correct", "partial_credit", "pass_percent", "pass_bonus", "daily_points_cap",
               "opens_at", "closes_at", "is_enabled", "org_id")


def _check_quiz(values: dict) -> None:
    errors = {}
    if not values.get("title"):
        errors["title"] = "required"
    ids = values.get("job_type_ids") or []
    if not ids or len(ids) != len(db.session.scalars(select(JobType.id).where(JobType.id.in_(ids))).all()):
        errors["job_type_ids"] = "choose one or more existing job types"
    if values.get("mode") not in QUIZ_MODES:
        errors["mode"] = "practice or scored"
    if values.get("late_policy") not in LATE_POLICIES:
        errors["late_policy"] = "grade_saved or refuse"
    if values.get("opens_at") and values.get("closes_at") and values["closes_at"] <= values["opens_at"]:
        errors["closes_at"] = "must be after opens_at"
    if errors:
        raise ValidationError("quiz settings are invalid", details={"fields": errors})


def create_quiz(actor, scope: Organisation, data: dict) -> Quiz:
    values = {"tags": [], "question_count": 20, "mode": "scored", "grace_seconds": 30,
              "late_policy": "grade_saved", "min_delay_seconds": 0, "points_per_correct": 1,
              "partial_credit": False, "pass_bonus": 0, "is_enabled": True, "org_id": scope.id}
    values.update({k: v for k, v in data.items() if k in QUIZ_FIELDS and v is not None})
    org = db.session.get(Organisation, values["org_id"])
    if org is None or not scope.contains(org):
        raise NotFound("organisation not found")
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
        org = db.session.get(Organisation, changes["org_id"])
        if org is None or not scope.contains(org):
            raise NotFound("organisation not found")
    merged = {**{k: getattr(quiz, k) for k in QUIZ_FIELDS}, **changes}
    _check_quiz(merged)
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
        raise NotFound("quiz not found")
    return quiz


def _eligible_org_ids(member: Member) -> list[int]:
    return [int(p) for p in member.org.path.strip("/").split("/") if p]


def is_open(quiz: Quiz, at: datetime | None = None) -> bool:
    at = at or clock.now()
    return (quiz.is_enabled and (quiz.opens_at is None or clock.as_utc(quiz.opens_at) <= at)
            and (quiz.closes_at is None or at < clock.as_utc(quiz.closes_at)))


def quizzes_for_member(member: Member) -> list[Quiz]:
    """Quizzes the member's union (or a union above it) set, that are open now."""
    found = db.session.scalars(select(Quiz).where(Quiz.org_id.in_(_eligible_org_ids(member)),
                                                  Quiz.is_enabled.is_(True)).order_by(Quiz.id))
    return [q for q in found if is_open(q)]


def get_quiz_for_member(member: Member, quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or quiz.org_id not in _eligible_org_ids(member):
        raise NotFound("quiz not found")
    return quiz


# ---- drawing ----------------------------------------------------------------------------------

_JT, _Q, _QZ = JobType.__table__, Question.__table__, Quiz.__table__
_A, _AQ, _WB = Attempt.__table__, AttemptQuestion.__table__, WrongBookEntry.__table__
_ORG, _MEMBER, _USER = Organisation.__table__, Member.__table__, User.__table__


def _bank_stamp_columns():
    """Two scalar subqueries over the small job type table that change whenever a job type or
    question is added: every new question reserves its position from `next_position`."""
    return (select(func.coalesce(func.sum(_JT.c.next_position), 0)).scalar_subquery().label("bank_positions"),
            select(func.count(_JT.c.id)).scalar_subquery().label("bank_job_types"))


class _Bank:
    """What a draw needs to know about the bank, cached per process and app while the stamp is
    unchanged: each job type's question count n (its questions hold positions 1..n) and, loaded
    on first use, its question ids by position. Questions are never deleted or moved, so a
    position's id never changes; whether a question is enabled is checked by the draw's own
    query, so a disabled question is never drawn and a re-enabled one is drawn again at once."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.spans = {jt: n for jt, n in db.session.execute(select(_JT.c.id, _JT.c.next_position - 1))}
        self._ids: dict[int, list] = {}

    def ids(self, job_type_ids) -> dict[int, list]:
        missing = [jt for jt in job_type_ids if jt not in self._ids]
        if missing:
            loaded = {jt: [None] * self.spans.get(jt, 0) for jt in missing}
            for jt, position, qid in db.session.execute(
                    select(_Q.c.job_type_id, _Q.c.position, _Q.c.id).where(_Q.c.job_type_id.in_(missing))):
                if 0 < position <= len(loaded[jt]):
                    loaded[jt][position - 1] = qid
            self._ids.update(loaded)
        return self._ids


def _bank(stamp: tuple | None = None) -> _Bank:
    if stamp is None:
        stamp = tuple(db.session.execute(select(*_bank_stamp_columns())).one())
    bank = current_app.extensions.get("quiz_bank")
    if bank is None or bank.stamp != stamp:
        bank = current_app.extensions["quiz_bank"] = _Bank(stamp)
    return bank


def _sample_slots(job_type_ids: list[int], count: int, spans: dict[int, int], rng) -> tuple[list, int]:
    """A random sample of (job type, position) slots, a few more than `count` in case some are
    disabled, and the number of slots there are; O(count), no scan or sort of the bank."""
    starts, types, total = [], [], 0
    for jt in sorted(set(job_type_ids)):
        n = spans.get(jt, 0)
        if n > 0:
            starts.append(total)
            types.append(jt)
            total += n
    picks = rng.sample(range(total), min(total, count + count // 2 + 2)) if total else []
    slots = []
    for pick in picks:
        k = bisect.bisect_right(starts, pick) - 1
        slots.append((types[k], pick - starts[k] + 1))
    return slots, total


def _draw_from_id_list(job_type_ids, tags, count, rng, fetch) -> list:
    """With tags, or when too many sampled slots were disabled: sample the matching ids."""
    stmt = select(_Q.c.id).where(_Q.c.job_type_id.in_(job_type_ids), _Q.c.is_enabled.is_(True))
    if tags:
        stmt = stmt.where(or_(*[_Q.c.tags.contains(f",{t},", autoescape=True) for t in tags]))
    ids = list(db.session.scalars(stmt))
    chosen = rng.sample(ids, min(count, len(ids)))
    by_id = {q.id: q for q in fetch(_Q.c.id.in_(chosen))}
    return [by_id[i] for i in chosen]


def draw_questions(job_type_ids: list[int], tags: list[str], count: int, rng=_rng) -> list[Question]:
    """`count` distinct enabled questions at random, as ORM objects. Without tags it samples
    positions of those job types and looks them up by (job type, position) (O(count) index
    lookups, no scan or sort of the bank); with tags, or when too many sampled questions are
    disabled, it samples from the matching id list of those job types only."""
    fetch = lambda where: db.session.scalars(select(Question).where(where))  # noqa: E731
    if not tags:
        slots, total = _sample_slots(job_type_ids, count, _bank().spans, rng)
        pairs: dict[int, list[int]] = {}
        for jt, position in slots:
            pairs.setdefault(jt, []).append(position)
        if pairs:
            found = {(q.job_type_id, q.position): q for q in fetch(and_(_Q.c.is_enabled.is_(True), or_(*[
                (_Q.c.job_type_id == jt) & _Q.c.position.in_(pos) for jt, pos in pairs.items()])))}
            order = [found[slot] for slot in slots if slot in found]
            if len(order) >= count or len(order) == len(found) == total:
                return order[:count]
    return _draw_from_id_list(job_type_ids, tags, count, rng, fetch)


_DRAW_COLUMNS = (_Q.c.id, _Q.c.job_type_id, _Q.c.kind, _Q.c.stem, _Q.c.options)
_DRAW_BY_ID = select(*_DRAW_COLUMNS).where(_Q.c.id.in_(bindparam("ids", expanding=True)), _Q.c.is_enabled.is_(True))


def _draw_rows(job_type_ids: list[int], tags: list[str], count: int, bank: _Bank) -> list:
    """The same draw for the hot path: the sampled slots become ids through the bank cache and
    one `id IN (...) AND is_enabled` query fetches only what a member may see (no answers)."""
    fetch = lambda where: db.session.execute(select(*_DRAW_COLUMNS).where(where)).all()  # noqa: E731
    if not tags:
        slots, total = _sample_slots(job_type_ids, count, bank.spans, _rng)
        by_type = bank.ids({jt for jt, _ in slots})
        ids = [qid for qid in (by_type[jt][p - 1] if p <= len(by_type[jt]) else None for jt, p in slots)
               if qid is not None]
        if ids:
            found = {r.id: r for r in db.session.execute(_DRAW_BY_ID, {"ids": ids})}
            order = [found[i] for i in ids if i in found]
            if len(order) >= count or len(order) == len(found) == total:
                return order[:count]
    return _draw_from_id_list(job_type_ids, tags, count, _rng, fetch)


# ---- attempts ---------------------------------------------------------------------------------

def _expired(attempt, quiz, at: datetime) -> bool:
    if attempt.deadline_at is None or quiz is None:
        return False
    return at > clock.as_utc(attempt.deadline_at) + timedelta(seconds=quiz.grace_seconds)


def _open_attempt(member: Member, quiz: Quiz | None, at: datetime) -> Attempt | None:
    stmt = select(Attempt).where(Attempt.member_id == member.id, Attempt.status == "open")
    stmt = stmt.where(Attempt.quiz_id == quiz.id) if quiz else stmt.where(Attempt.quiz_id.is_(None))
    for attempt in db.session.scalars(stmt.order_by(Attempt.id.desc())):
        if not _expired(attempt, quiz, at) or (quiz and quiz.late_policy == "grade_saved"):
            return attempt
    return None


_START_QUIZ_COLUMNS = ("id", "org_id", "title", "job_type_ids", "tags", "question_count", "mode",
                       "time_limit_seconds", "grace_seconds", "late_policy", "attempts_per_day",
                       "min_delay_seconds", "opens_at", "closes_at", "is_enabled")


def _start_read(session_user: bool = False):
    """The quiz, the member's organisation path (eligibility), today's and open attempts, the
    latest start (the delay) and the bank stamp. `session_user`: the member comes from the
    signed session's user, checked as `auth.service.load_user` checks it (id, session token,
    enabled) and as `member_required` does (role); no row when any check fails."""
    quiz_id = bindparam("quiz_id")
    if session_user:
        member_id = _USER.c.member_id
        path = _ORG.c.path.label("member_path")
        extra = (_USER.c.member_id,)
        base = (_USER.join(_MEMBER, _MEMBER.c.id == _USER.c.member_id).join(_ORG, _ORG.c.id == _MEMBER.c.org_id)
                .outerjoin(_QZ, _QZ.c.id == quiz_id))
        where = _session_user_checks()
    else:
        member_id = bindparam("member_id")
        path = (select(_ORG.c.path).join(_MEMBER, _MEMBER.c.org_id == _ORG.c.id)
                .where(_MEMBER.c.id == member_id).scalar_subquery().label("member_path"))
        base, where, extra = _QZ, (_QZ.c.id == quiz_id,), ()
    earlier = _A.alias("earlier")
    latest = (select(func.max(earlier.c.started_at)).where(earlier.c.quiz_id == quiz_id, earlier.c.member_id == member_id)
              .scalar_subquery().label("latest_start"))
    return (select(*[_QZ.c[c] for c in _START_QUIZ_COLUMNS], *extra, path, latest,
                   *_bank_stamp_columns(), _A.c.id.label("a_id"), _A.c.status.label("a_status"),
                   _A.c.day.label("a_day"), _A.c.deadline_at.label("deadline_at"))
            .select_from(base.outerjoin(_A, and_(_A.c.quiz_id == _QZ.c.id, _A.c.member_id == member_id,
                                                  or_(_A.c.day == bindparam("day"), _A.c.status == "open"))))
            .where(*where))


def _session_user_checks() -> tuple:
    """`load_user`'s checks and `member_required`'s role, as SQL over the users table."""
    return (_USER.c.id == bindparam("user_id"), _USER.c.session_token == bindparam("token"),
            _USER.c.is_enabled.is_(True), _USER.c.role == "member")


_START_READ = _start_read()
_START_READ_AS_USER = _start_read(session_user=True)
_INSERT_ATTEMPT = insert(_A).returning(_A.c.id)
_INSERT_ITEMS = insert(_AQ)


def _start(member_id: int | None, quiz_id: int, session_user: tuple[int, str] | None = None) -> tuple[int, dict] | None:
    """Start (or resume the open) attempt; returns (attempt id, the member's view of it).

    One read gives the quiz, the member's organisation path (eligibility), today's and open
    attempts, the latest start (the delay) and the bank stamp; then, on PostgreSQL, one statement
    draws and inserts (`_pg_draw_and_insert`), elsewhere a draw query and two inserts. Limits
    are counted per China day, server-side; the unique daily slot makes the attempts-per-day
    limit hold under concurrent starts.

    `session_user` (user id, session token), for `start_attempt_as`: the read also checks the
    signed-in user, and each statement must stand on its own (the caller may run them in
    autocommit), so None is returned — nothing written — when the user check fails or the draw
    needs the general path; the caller then runs the portable path."""
    at = clock.now()
    day = clock.business_day(at)
    if session_user is None:
        rows = _rows(_START_READ, {"member_id": member_id, "quiz_id": quiz_id, "day": day})
    else:
        rows = _rows(_START_READ_AS_USER, {"user_id": session_user[0], "token": session_user[1], "quiz_id": quiz_id,
                                          "day": day})
        if not rows:
            return None
        member_id = rows[0].member_id
    quiz = rows[0] if rows else None
    if (quiz is None or quiz.id is None
            or quiz.org_id not in [int(p) for p in (quiz.member_path or "").strip("/").split("/") if p]):
        raise NotFound("quiz not found")
    if not is_open(quiz, at):
        raise QuizClosed("本次答题未开放或已结束。 This quiz is not open.")
    mine = [r for r in rows if r.a_id is not None]
    resumable = [r.a_id for r in mine if r.a_status == "open"
                 and (not _expired(r, quiz, at) or quiz.late_policy == "grade_saved")]
    if resumable:
        attempt_id = max(resumable)
        return attempt_id, _load_view(attempt_id)
    taken = sum(1 for r in mine if r.a_day == day)
    if quiz.attempts_per_day is not None and taken >= quiz.attempts_per_day:
        raise LimitReached("今天的答题次数已用完。 No attempts left today.", code="attempts_per_day",
                           details={"attempts_per_day": quiz.attempts_per_day})
    if quiz.min_delay_seconds and quiz.latest_start is not None:
        wait = clock.as_utc(quiz.latest_start) + timedelta(seconds=quiz.min_delay_seconds) - at
        if wait.total_seconds() > 0:
            raise LimitReached("请稍后再试。 Please wait before the next attempt.", code="too_soon",
                               details={"retry_after_seconds": int(wait.total_seconds()) + 1})
    deadline = at + timedelta(seconds=quiz.time_limit_seconds) if quiz.time_limit_seconds else None
    values = {"quiz_id": quiz.id, "member_id": member_id, "day": day, "day_seq": taken + 1, "started_at": at,
              "deadline_at": deadline}
    bank = _bank((quiz.bank_positions, quiz.bank_job_types))
    try:
        drawn = _pg_draw_and_insert(quiz, bank, values) if is_postgres() and not quiz.tags else None
        if drawn is None:
            if session_user is not None:
                return None  # the general draw is several statements: the portable path's
            drawn = _draw_and_insert(quiz, bank, values)
    except IntegrityError:
        # the daily slot was taken by a concurrent start; the request's transaction is rolled back
        raise LimitReached("另一场答题刚刚开始。 Another attempt just started.", code="attempt_in_progress") from None
    attempt_id, items = drawn
    attempt = {"id": attempt_id, "quiz_id": quiz.id, "status": "open", "started_at": at, "deadline_at": deadline,
               "submitted_at": None}
    return attempt_id, _view(attempt, quiz, items, at)


def _draw_and_insert(quiz, bank: _Bank, values: dict) -> tuple[int, list[dict]]:
    """Draw (see `_draw_rows`), then insert the attempt and its questions; returns the attempt id
    and the drawn items as `_view` wants them."""
    questions = _draw_rows(list(quiz.job_type_ids), list(quiz.tags or []), quiz.question_count, bank)
    if not questions:
        raise Conflict("题库中没有可用的题目。 There are no questions to draw.", code="no_questions")
    orders = [grading.shuffled_order(len(q.options), _rng) for q in questions]
    values = {**values, "question_count": len(questions)}
    if is_postgres():
        attempt_id = db.session.execute(_PG_START_WRITES, {
            **values, "positions": list(range(1, len(questions) + 1)), "question_ids": [q.id for q in questions],
            "job_type_ids": [q.job_type_id for q in questions], "orders": orders}).scalar_one()
    else:
        attempt_id = db.session.execute(_INSERT_ATTEMPT, {
            **values, "status": "open", "correct_count": 0, "score_percent": 0, "points_awarded": 0,
            "passed": False, "late": False, "flagged_fast": False}).scalar_one()
        db.session.execute(_INSERT_ITEMS, [
            {"attempt_id": attempt_id, "position": position, "question_id": q.id, "job_type_id": q.job_type_id,
             "option_order": order, "points": 0}
            for position, (q, order) in enumerate(zip(questions, orders), start=1)])
    return attempt_id, [{"position": position, "kind": q.kind, "stem": q.stem, "options": q.options,
                         "option_order": order, "chosen": None}
                        for position, (q, order) in enumerate(zip(questions, orders), start=1)]


def _draw_rng() -> random.Random:
    """A generator for one draw, seeded afresh with 256 bits from the OS, so nothing seen of one
    draw tells anything about another; unlike `_rng` it makes no system call for each of the
    draw's eighty-odd random numbers."""
    return random.Random(os.urandom(32))


_SIX_LETTER_ORDERS = ["".join(p) for p in itertools.permutations(LETTERS[:MAX_OPTIONS])]


def _pg_draw_and_insert(quiz, bank: _Bank, values: dict) -> tuple[int, list[dict]] | None:
    """PostgreSQL, quizzes without tags: the draw and both inserts in one statement. The sampled
    positions become candidate ids through the bank cache (a few more than needed, in random
    order); the statement keeps the first `question_count` enabled ones and inserts the attempt
    only if it found enough. None when it did not (many sampled questions disabled, or an empty
    bank): the caller then draws the general way."""
    count, rng = quiz.question_count, _draw_rng()
    slots, total = _sample_slots(list(quiz.job_type_ids), count, bank.spans, rng)
    by_type = bank.ids({jt for jt, _ in slots})
    ids = [qid for qid in (by_type[jt][p - 1] if p <= len(by_type[jt]) else None for jt, p in slots)
           if qid is not None]
    if not ids:
        return None
    # the whole bank was sampled: whatever is enabled is the draw; else exactly `count` are needed
    needed = 1 if len(slots) == total and len(ids) == len(slots) else count
    params = {**values, "ids": _pg_array(ids),
              "perms": "{" + ",".join([rng.choice(_SIX_LETTER_ORDERS) for _ in ids]) + "}", "count": count,
              "needed": needed}
    rows = _rows(_PG_DRAW_AND_START, params)
    if not rows or rows[0].attempt_id is None:
        return None
    return rows[0].attempt_id, [{"position": r.position, "kind": r.kind, "stem": r.stem, "options": options,
                                 "option_order": r.option_order, "chosen": None}
                                for r, options in zip(rows, _parse_options(rows))]


def start_attempt(member: Member, quiz_id: int) -> Attempt:
    """Start (or resume the open) attempt. Limits are counted per China day, server-side."""
    db.session.flush()
    attempt_id, _ = _start(member.id, quiz_id)
    return _reloaded(attempt_id)


def start_attempt_view(member_id: int, quiz_id: int) -> dict:
    """`start_attempt` for the API: the member's view, without loading ORM objects."""
    return _start(member_id, quiz_id)[1]


def start_attempt_as(user_id: int, token: str, quiz_id: int) -> dict | None:
    """`start_attempt_view` for the signed session's user, checked inside the read (see
    `_start`); PostgreSQL only. None when the caller must run the portable path."""
    started = _start(None, quiz_id, session_user=(user_id, token))
    return None if started is None else started[1]


def _reloaded(attempt_id: int) -> Attempt:
    """The attempt as ORM objects after plain-SQL writes: objects already in the session are
    refreshed, not served stale."""
    db.session.expire_all()
    return db.session.get(Attempt, attempt_id, options=[
        selectinload(Attempt.items).selectinload(AttemptQuestion.question)])


def _create_attempt(member, quiz, questions, at, day, day_seq, deadline) -> Attempt:
    attempt = Attempt(quiz_id=quiz.id if quiz else None, member_id=member.id, status="open", day=day,
                      day_seq=day_seq, started_at=at, deadline_at=deadline, question_count=len(questions))
    attempt.items = [AttemptQuestion(position=position, question=q, job_type_id=q.job_type_id,
                                     option_order=grading.shuffled_order(len(q.options), _rng))
                     for position, q in enumerate(questions, start=1)]
    db.session.add(attempt)
    try:
        db.session.flush()
    except IntegrityError:
        # the daily slot was taken by a concurrent start; the request's transaction is rolled back
        raise LimitReached("另一场答题刚刚开始。 Another attempt just started.", code="attempt_in_progress") from None
    return attempt


def get_own_attempt(member: Member, attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id, options=[
        selectinload(Attempt.items).selectinload(AttemptQuestion.question)])
    if attempt is None or attempt.member_id != member.id:
        raise NotFound("attempt not found")
    return attempt


def _parse_choice(item: AttemptQuestion, shown) -> str:
    letters = "".join(sorted(set(str(s).upper() for s in (shown or []))))
    allowed = LETTERS[:len(item.option_order)]
    if any(ch not in allowed for ch in letters) or not letters:
        raise ValidationError("answer is not one of the options", details={"fields": {str(item.position): "invalid"}})
    if item.question.kind != "multiple" and len(letters) != 1:
        raise ValidationError("choose exactly one option", details={"fields": {str(item.position): "one option"}})
    return grading.to_original(item.option_order, letters)


def save_answers(member: Member, attempt_id: int, answers: dict) -> Attempt:
    """Record answers with the server's time. Practice mode locks an answer once given."""
    attempt = get_own_attempt(member, attempt_id)
    if attempt.status != "open":
        raise AttemptSubmitted("这次答题已经交卷。 This attempt was already submitted.")
    at = clock.now()
    if _expired(attempt, attempt.quiz, at):
        raise TimeUp("答题时间已到，答案未保存。 Time is up; the answer was not saved.")
    items = {str(i.position): i for i in attempt.items}
    for position, shown in answers.items():
        item = items.get(str(position))
        if item is None:
            raise ValidationError("no such question in this attempt", details={"fields": {str(position): "unknown"}})
        if practice_feedback(attempt) and item.chosen is not None:
            continue
        item.chosen = _parse_choice(item, shown)
        item.answered_at = at
    db.session.flush()
    return attempt


def practice_feedback(attempt) -> bool:
    return attempt.quiz is None or attempt.quiz.mode == "practice"


_SUBMIT_QUIZ_COLUMNS = ("title", "mode", "grace_seconds", "late_policy", "points_per_correct", "partial_credit",
                        "pass_percent", "pass_bonus", "daily_points_cap")
_SUBMIT_ATTEMPT_COLUMNS = ("id", "quiz_id", "member_id", "status", "started_at", "deadline_at", "submitted_at",
                           "correct_count", "question_count", "score_percent", "points_awarded", "passed", "late")


def _submit_read(session_user: bool = False):
    """One query: the attempt, its quiz's rules, its items with their questions, and whether each
    question is in the member's wrong-answer book (and its streak). `session_user`: only an
    attempt of the signed session's user, checked as in `_start_read`."""
    attempt = _A
    if session_user:
        attempt = _A.join(_USER, and_(_USER.c.member_id == _A.c.member_id, *_session_user_checks()))
    return (select(*[_A.c[c] for c in _SUBMIT_ATTEMPT_COLUMNS], *[_QZ.c[c] for c in _SUBMIT_QUIZ_COLUMNS],
                   _AQ.c.position, _AQ.c.question_id, _AQ.c.option_order, _AQ.c.chosen, _AQ.c.answered_at,
                   _AQ.c.is_correct, _AQ.c.points, _Q.c.kind, _Q.c.stem, cast(_Q.c.options, Text).label("options"),
                   _Q.c.answer,
                   _Q.c.explanation, _Q.c.score, _WB.c.streak.label("book_streak"))
            .select_from(attempt.outerjoin(_QZ, _QZ.c.id == _A.c.quiz_id)
                         .outerjoin(_AQ, _AQ.c.attempt_id == _A.c.id)
                         .outerjoin(_Q, _Q.c.id == _AQ.c.question_id)
                         .outerjoin(_WB, and_(_WB.c.member_id == _A.c.member_id,
                                              _WB.c.question_id == _AQ.c.question_id)))
            .where(_A.c.id == bindparam("attempt_id")).order_by(_AQ.c.position))


_SUBMIT_READ = _submit_read()
_SUBMIT_READ_AS_USER = _submit_read(session_user=True)
_CLAIM = (update(_A).where(_A.c.id == bindparam("attempt_id"), _A.c.status == "open")
          .values({c: bindparam(f"new_{c}") for c in ("status", "submitted_at", "correct_count", "score_percent",
                                                       "passed", "points_awarded", "late", "flagged_fast")}))
# PostgreSQL: the claim, the items' grades, the wrong-answer book and the points award in one
# statement. Each later part reads `claimed`, so it writes nothing when the claim matched no
# open attempt (a concurrent submit got there first).
_PG_SUBMIT_WRITES = text("""
WITH claimed AS (
    UPDATE quiz_attempts SET status = :new_status, submitted_at = :new_submitted_at,
        correct_count = :new_correct_count, score_percent = :new_score_percent, passed = :new_passed,
        points_awarded = :new_points_awarded, late = :new_late, flagged_fast = :new_flagged_fast
    WHERE id = :attempt_id AND status = 'open'
    RETURNING id
), graded AS (
    UPDATE quiz_attempt_questions AS q SET is_correct = g.is_correct, points = g.points
    FROM claimed, unnest(CAST(:positions AS integer[]), CAST(:correct AS boolean[]), CAST(:points AS integer[]))
        AS g(position, is_correct, points)
    WHERE q.attempt_id = claimed.id AND q.position = g.position
    RETURNING q.id
), filed AS (
    INSERT INTO quiz_wrong_book (member_id, question_id, streak, wrong_count, updated_at)
    SELECT :member_id, w.question_id, 0, 1, :new_submitted_at
    FROM claimed, unnest(CAST(:wrong AS integer[])) AS w(question_id)
    ON CONFLICT (member_id, question_id) DO UPDATE
        SET streak = 0, wrong_count = quiz_wrong_book.wrong_count + 1, updated_at = EXCLUDED.updated_at
    RETURNING id
), left_book AS (
    DELETE FROM quiz_wrong_book
    WHERE member_id = :member_id AND question_id = ANY(CAST(:leaving AS integer[])) AND EXISTS (SELECT FROM claimed)
    RETURNING id
), stayed AS (
    UPDATE quiz_wrong_book SET streak = streak + 1, updated_at = :new_submitted_at
    WHERE member_id = :member_id AND question_id = ANY(CAST(:staying AS integer[])) AND EXISTS (SELECT FROM claimed)
    RETURNING id
)""" + points.pg_earn_ctes("claimed") + """
SELECT (SELECT count(*) FROM claimed) AS claimed, (SELECT balance FROM earn_moved) AS earn_moved,
       (SELECT count(*) FROM earn_entry) AS earn_posted,
       -- a balance moved without its entry (the source key was taken): fail the whole statement
       CASE WHEN (SELECT balance FROM earn_moved) IS NOT NULL THEN 1 / (SELECT count(*) FROM earn_entry) END
           AS earn_guard
""")

# PostgreSQL: the attempt and its drawn questions in one statement.
_PG_START_WRITES = text("""
WITH attempt AS (
    INSERT INTO quiz_attempts (quiz_id, member_id, status, day, day_seq, started_at, deadline_at, question_count,
                               correct_count, score_percent, points_awarded, passed, late, flagged_fast)
    VALUES (:quiz_id, :member_id, 'open', :day, :day_seq, :started_at, :deadline_at, :question_count,
            0, 0, 0, false, false, false)
    RETURNING id
), items AS (
    INSERT INTO quiz_attempt_questions (attempt_id, position, question_id, job_type_id, option_order, points)
    SELECT attempt.id, d.position, d.question_id, d.job_type_id, d.option_order, 0
    FROM attempt, unnest(CAST(:positions AS integer[]), CAST(:question_ids AS integer[]),
                         CAST(:job_type_ids AS integer[]), CAST(:orders AS varchar[]))
        AS d(position, question_id, job_type_id, option_order)
    RETURNING attempt_id
)
SELECT id FROM attempt
""")


# PostgreSQL: draw and start in one statement. `perms` holds a random order of all six letters
# per candidate; dropping the letters a question has no option for leaves a uniformly random
# order of its own letters. Candidates are kept in their (random) sampled order.
_PG_DRAW_AND_START_CTES = """
WITH drawn AS (
    SELECT row_number() OVER (ORDER BY c.ord) AS position, q.id, q.job_type_id, q.kind, q.stem, q.options,
           translate(c.perm, substr('ABCDEF', json_array_length(q.options) + 1), '') AS option_order
    FROM unnest(CAST(:ids AS integer[]), CAST(:perms AS varchar[])) WITH ORDINALITY AS c(id, perm, ord)
    JOIN quiz_questions AS q ON q.id = c.id
    WHERE q.is_enabled
    ORDER BY c.ord
    LIMIT :count
), attempt AS (
    INSERT INTO quiz_attempts (quiz_id, member_id, status, day, day_seq, started_at, deadline_at, question_count,
                               correct_count, score_percent, points_awarded, passed, late, flagged_fast)
    SELECT :quiz_id, :member_id, 'open', CAST(:day AS date), :day_seq, CAST(:started_at AS timestamptz),
           CAST(:deadline_at AS timestamptz), (SELECT count(*) FROM drawn), 0, 0, 0, false, false, false
    WHERE (SELECT count(*) FROM drawn) >= :needed
    RETURNING id
), items AS (
    INSERT INTO quiz_attempt_questions (attempt_id, position, question_id, job_type_id, option_order, points)
    SELECT attempt.id, drawn.position, drawn.id, drawn.job_type_id, drawn.option_order, 0
    FROM attempt, drawn
    RETURNING attempt_id
)
"""
_PG_DRAW_AND_START = text(_PG_DRAW_AND_START_CTES + """
SELECT attempt.id AS attempt_id, drawn.position, drawn.kind, drawn.stem, CAST(drawn.options AS text) AS options,
       drawn.option_order
FROM drawn LEFT JOIN attempt ON true
ORDER BY drawn.position
""")
def _parse_options(rows) -> list[list]:
    """Each row's `options`, selected as JSON text, parsed in one `json.loads` (the driver would
    parse each row's on its own: on the hot paths twenty calls cost more than one)."""
    texts = [r.options for r in rows]
    if texts and not isinstance(texts[0], str):  # already parsed (a JSON-typed column)
        return texts
    return json.loads("[" + ",".join(texts) + "]")


def _pg_array(values: list) -> str:
    """Whole numbers or booleans as a PostgreSQL array literal, for a `CAST(:x AS integer[])`
    (or boolean[]): psycopg would dump a list element by element, which on the hot paths cost
    more than the server's parsing of one text value."""
    return "{" + ",".join([("t" if v else "f") if isinstance(v, bool) else str(int(v)) for v in values]) + "}"


def _rows(stmt, params: dict) -> list:
    """All rows of one of the hot paths' statements, with attribute access (`database.run_rows`:
    on PostgreSQL compiled once and sent straight to psycopg, inside the session's transaction)."""
    return run_rows(stmt, params, named=True)


def _read_for_submit(attempt_id: int) -> list:
    return _rows(_SUBMIT_READ, {"attempt_id": attempt_id})


def _items(rows) -> list[dict]:
    """The attempt's items from `_SUBMIT_READ` rows, options parsed in one go."""
    rows = [r for r in rows if r.position is not None]
    items = [r._asdict() for r in rows]
    for item, options in zip(items, _parse_options(rows)):
        item["options"] = options
    return items


def _rows_view(rows, at: datetime) -> dict:
    head = rows[0]
    attempt = {c: getattr(head, c) for c in _SUBMIT_ATTEMPT_COLUMNS}
    quiz = head if head.quiz_id is not None else None
    items = _items(rows)
    return _view(attempt, quiz, items, at)


def _submit(member_id: int | None, attempt_id: int, session_user: tuple[int, str] | None = None) -> dict | None:
    """Grade once and award once (see `submit_attempt`); returns the member's view.

    `session_user` (user id, session token), for `submit_attempt_as`: the read takes only an
    attempt of the signed-in user, checked as `load_user` checks it, and each statement must
    stand on its own (autocommit), so None is returned — nothing written — when no such attempt
    is found (another member's, none, or the user check failed) or the award needs the daily
    cap's separate statements; the caller then runs the portable path."""
    if session_user is None:
        rows = _read_for_submit(attempt_id)
    else:
        rows = _rows(_SUBMIT_READ_AS_USER, {"attempt_id": attempt_id, "user_id": session_user[0],
                                            "token": session_user[1]})
        if not rows:
            return None
        member_id = rows[0].member_id
    if not rows or rows[0].member_id != member_id:
        raise NotFound("attempt not found")
    head = rows[0]
    quiz = head if head.quiz_id is not None else None
    at = clock.now()
    if head.status != "open":
        return _rows_view(rows, at)
    if session_user is not None and quiz is not None and quiz.daily_points_cap is not None:
        return None  # the capped award reads and writes under the account lock: one transaction
    if quiz is not None and _expired(head, quiz, at) and quiz.late_policy == "refuse":
        raise TimeUp("已超过答题时限，不能交卷。 The time limit has passed; the attempt is refused.")
    cutoff = (clock.as_utc(head.deadline_at) + timedelta(seconds=quiz.grace_seconds)
              if head.deadline_at is not None and quiz is not None else None)
    per_correct = quiz.points_per_correct if quiz else 0
    partial = quiz.partial_credit if quiz else False
    items = _items(rows)
    correct = earned = answered = 0
    for item in items:
        in_time = item["answered_at"] is not None and (cutoff is None or clock.as_utc(item["answered_at"]) <= cutoff)
        item["is_correct"], item["points"] = grading.item_points(
            item["kind"], item["answer"], item["chosen"] if in_time else None, per_correct * item["score"], partial)
        correct += item["is_correct"]
        earned += item["points"]
        answered += bool(item["chosen"])
    score_percent = grading.percent(correct, len(items))
    passed = quiz is not None and quiz.pass_percent is not None and score_percent >= quiz.pass_percent
    duration = (at - clock.as_utc(head.started_at)).total_seconds()
    attempt = {c: getattr(head, c) for c in _SUBMIT_ATTEMPT_COLUMNS}
    attempt.update(status="submitted", submitted_at=at, correct_count=correct, score_percent=score_percent,
                   passed=passed, points_awarded=earned + (quiz.pass_bonus if passed else 0),
                   late=cutoff is not None and at > cutoff)
    # The conditional UPDATE lets one submit through; a concurrent second one waits for the row,
    # then matches nothing and returns what the first one wrote.
    claim = {"attempt_id": attempt_id, "new_status": "submitted", "new_submitted_at": at,
             "new_correct_count": correct, "new_score_percent": score_percent, "new_passed": passed,
             "new_points_awarded": attempt["points_awarded"], "new_late": attempt["late"],
             "new_flagged_fast": answered > 0 and duration < FAST_SECONDS_PER_QUESTION * answered}
    if is_postgres():
        if not _pg_submit_writes(member_id, attempt_id, claim, items, attempt, quiz, at):
            return _rows_view(_read_for_submit(attempt_id), at)
    else:
        if not db.session.execute(_CLAIM, claim).rowcount:
            return _rows_view(_read_for_submit(attempt_id), at)
        right = [i["position"] for i in items if i["is_correct"]]
        scored = {i["position"]: i["points"] for i in items if i["points"]}
        db.session.execute(update(_AQ).where(_AQ.c.attempt_id == attempt_id).values(
            is_correct=_AQ.c.position.in_(right),
            points=case(scored, value=_AQ.c.position, else_=0) if scored else 0))
        _update_wrong_book(member_id, items, at)
        if quiz is not None:
            _award(member_id, attempt_id, attempt, quiz, at)
    return _view(attempt, quiz, items, at)


def _pg_submit_writes(member_id: int, attempt_id: int, claim: dict, items: list[dict], attempt: dict, quiz,
                      at: datetime) -> bool:
    """PostgreSQL: claim, grade the items, update the wrong-answer book and (without a daily cap)
    award the points in one statement; False if a concurrent submit claimed the attempt first
    (then nothing but the claim's own UPDATE ran). With a daily cap the award follows under the
    account lock (`_award`)."""
    capped = quiz is not None and quiz.daily_points_cap is not None
    earn = points.earn_params(
        member_id, attempt["points_awarded"] if quiz is not None and not capped else 0,
        source_key=_award_key(attempt_id), reason=_award_reason(quiz), expires_on=_award_expiry(at))
    wrong, leaving, staying = _book_moves(items)
    try:
        result = _rows(_PG_SUBMIT_WRITES, {
            **claim, **earn, "positions": _pg_array([i["position"] for i in items]),
            "correct": _pg_array([bool(i["is_correct"]) for i in items]),
            "points": _pg_array([i["points"] for i in items]), "member_id": member_id,
            "wrong": _pg_array(wrong), "leaving": _pg_array(leaving), "staying": _pg_array(staying)})[0]
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.errors.DivisionByZero):
            raise
        # the statement's earn guard: nothing was written
        raise points.DuplicateEntry(f"ledger entry {earn['earn_source_key']} already exists",
                                    details={"source_key": earn["earn_source_key"]}) from None
    if not result.claimed:
        return False
    points.check_earned(earn, result.earn_moved, result.earn_posted)
    if capped:
        _award(member_id, attempt_id, attempt, quiz, at)
    return True


def _award_key(attempt_id: int) -> str:
    return f"quiz-attempt:{attempt_id}"


def _award_reason(quiz) -> str:
    return f"答题得分：{quiz.title}" if quiz is not None else ""


def _award_expiry(at: datetime) -> date:
    return points.default_expiry(clock.business_day(at))


def submit_attempt(member: Member, attempt_id: int) -> Attempt:
    """Grade once and award once. The conditional UPDATE lets one submit through; a concurrent
    second one waits, then finds it submitted and gets the same result. The ledger's unique
    source key `quiz-attempt:<id>` is the last guard against a double award."""
    db.session.flush()
    _submit(member.id, attempt_id)
    return _reloaded(attempt_id)


def submit_attempt_view(member_id: int, attempt_id: int) -> dict:
    """`submit_attempt` for the API: the member's view, without loading ORM objects."""
    return _submit(member_id, attempt_id)


def submit_attempt_as(user_id: int, token: str, attempt_id: int) -> dict | None:
    """`submit_attempt_view` for the signed session's user, checked inside the read (see
    `_submit`); PostgreSQL only. None when the caller must run the portable path."""
    return _submit(None, attempt_id, session_user=(user_id, token))


def _award(member_id: int, attempt_id: int, attempt: dict, quiz, at: datetime) -> None:
    earned = attempt["points_awarded"]
    if earned <= 0:
        return
    if quiz.daily_points_cap is not None:
        # Serialise this member's awards so two attempts submitted at once can't both fit the cap.
        points.lock_account(member_id)
        start, end = clock.china_day_bounds_utc(clock.business_day(at))
        already = db.session.scalar(select(func.coalesce(func.sum(_A.c.points_awarded), 0)).where(
            _A.c.quiz_id == attempt["quiz_id"], _A.c.member_id == member_id, _A.c.id != attempt_id,
            _A.c.status == "submitted", _A.c.submitted_at >= start, _A.c.submitted_at < end)) or 0
        capped = max(0, min(earned, quiz.daily_points_cap - int(already)))
        if capped != earned:
            db.session.execute(update(_A).where(_A.c.id == attempt_id).values(points_awarded=capped))
            attempt["points_awarded"] = earned = capped
    if earned > 0:
        points.earn(member_id, earned, source_key=_award_key(attempt_id), reason=_award_reason(quiz),
                    expires_on=_award_expiry(at))


_WRONG_BOOK_UPSERTS: dict[str, object] = {}


def _wrong_book_upsert():
    """INSERT … ON CONFLICT for the dialect, built once (run with many rows in one round trip)."""
    dialect = db.session.get_bind().dialect.name
    stmt = _WRONG_BOOK_UPSERTS.get(dialect)
    if stmt is None:
        base = (pg_insert if dialect == "postgresql" else sqlite_insert)(_WB)
        stmt = _WRONG_BOOK_UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=[_WB.c.member_id, _WB.c.question_id],
            set_={"streak": 0, "wrong_count": _WB.c.wrong_count + 1, "updated_at": base.excluded.updated_at})
    return stmt


def _book_moves(items: list[dict]) -> tuple[list[int], list[int], list[int]]:
    """Question ids to file as wrong, to take out of the book (answered right often enough) and
    to move up a streak. A wrong answer puts the question in the book (or resets its streak); a
    right answer to a question in the book adds to its streak, and it leaves after
    WRONG_BOOK_STREAK_TO_LEAVE."""
    wrong = [i["question_id"] for i in items if not i["is_correct"]]
    in_book = [i for i in items if i["is_correct"] and i["book_streak"] is not None]
    leaving = [i["question_id"] for i in in_book if i["book_streak"] + 1 >= WRONG_BOOK_STREAK_TO_LEAVE]
    staying = [i["question_id"] for i in in_book if i["book_streak"] + 1 < WRONG_BOOK_STREAK_TO_LEAVE]
    return wrong, leaving, staying


def _update_wrong_book(member_id: int, items: list[dict], at: datetime) -> None:
    """The wrong-answer book moves of `_book_moves` as separate statements (the portable path)."""
    wrong, leaving, staying = _book_moves(items)
    if wrong:
        db.session.execute(_wrong_book_upsert(), [
            {"member_id": member_id, "question_id": q, "streak": 0, "wrong_count": 1, "updated_at": at} for q in wrong])
    if leaving:
        db.session.execute(delete(_WB).where(_WB.c.member_id == member_id, _WB.c.question_id.in_(leaving)))
    if staying:
        db.session.execute(update(_WB).where(_WB.c.member_id == member_id, _WB.c.question_id.in_(staying))
                           .values(streak=_WB.c.streak + 1, updated_at=at))


def wrong_book(member: Member) -> list[WrongBookEntry]:
    return list(db.session.scalars(select(WrongBookEntry).where(WrongBookEntry.member_id == member.id)
                                   .order_by(WrongBookEntry.updated_at.desc())))


def start_wrong_book_practice(member: Member) -> Attempt:
    """Practise questions from the wrong-answer book (no points, immediate feedback)."""
    at = clock.now()
    existing = _open_attempt(member, None, at)
    if existing is not None:
        return existing
    ids = list(db.session.scalars(select(WrongBookEntry.question_id).where(WrongBookEntry.member_id == member.id)))
    if not ids:
        raise Conflict("错题本是空的。 The wrong-answer book is empty.", code="wrong_book_empty")
    chosen = _rng.sample(ids, min(WRONG_BOOK_PRACTICE_SIZE, len(ids)))
    questions = list(db.session.scalars(select(Question).where(Question.id.in_(chosen))))
    _rng.shuffle(questions)
    day = clock.business_day(at)
    seq = (db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.quiz_id.is_(None), Attempt.member_id == member.id, Attempt.day == day)) or 0) + 1
    return _create_attempt(member, None, questions, at, day, seq, None)


def attempts_of(member: Member, limit: int = 20) -> list[Attempt]:
    return list(db.session.scalars(select(Attempt).where(Attempt.member_id == member.id)
                                   .order_by(Attempt.id.desc()).limit(limit)))


def flagged_attempts(scope: Organisation):
    return (select(Attempt).join(Member, Member.id == Attempt.member_id)
            .where(Attempt.flagged_fast.is_(True), Member.org_id.in_(subtree_ids_select(scope)))
            .order_by(Attempt.id.desc()))


# ---- what the member may see ------------------------------------------------------------------

def _view(attempt: dict, quiz, items: list[dict], at: datetime | None = None) -> dict:
    """The attempt as the member may see it: answers, correct flags and explanations only once
    submitted (or, in practice mode, for a question already answered). `quiz` has title and mode
    (None for wrong-book practice); each item has position, kind, stem, options, option_order and
    chosen, plus answer, explanation, is_correct and points where they may be shown."""
    done = attempt["status"] == "submitted"
    feedback = quiz is None or quiz.mode == "practice"
    remaining = None
    if attempt["deadline_at"] is not None and not done:
        at = at or clock.now()
        remaining = max(0, math.ceil((clock.as_utc(attempt["deadline_at"]) - at).total_seconds()))
    views = []
    for item in items:
        order, chosen, options = item["option_order"], item["chosen"], item["options"]
        view = {"position": item["position"], "kind": item["kind"], "stem": item["stem"],
                "options": [options[LETTERS.index(o)] for o in order],
                "chosen": grading.to_shown(order, chosen) if chosen else None}
        if done or (feedback and chosen):
            view.update(correct=grading.to_shown(order, item["answer"]), explanation=item["explanation"],
                        is_correct=item["is_correct"] if done else chosen == item["answer"],
                        points=item["points"] if done else None)
        views.append(view)
    result = {"id": attempt["id"], "quiz_id": attempt["quiz_id"], "title": quiz.title if quiz else "错题练习",
              "mode": quiz.mode if quiz else "practice", "status": attempt["status"],
              "started_at": attempt["started_at"], "deadline_at": attempt["deadline_at"],
              "remaining_seconds": remaining, "submitted_at": attempt["submitted_at"], "items": views}
    if done:
        result.update(correct_count=attempt["correct_count"], question_count=attempt["question_count"],
                      score_percent=attempt["score_percent"], points_awarded=attempt["points_awarded"],
                      passed=attempt["passed"], late=attempt["late"])
    return result


_VIEW_ATTEMPT_FIELDS = ("id", "quiz_id", "status", "started_at", "deadline_at", "submitted_at", "correct_count",
                        "question_count", "score_percent", "points_awarded", "passed", "late")


def attempt_view(attempt: Attempt) -> dict:
    """The member's view of an attempt held as ORM objects (see `_view`)."""
    items = [{"position": i.position, "kind": i.question.kind, "stem": i.question.stem, "options": i.question.options,
              "option_order": i.option_order, "chosen": i.chosen, "answer": i.question.answer,
              "explanation": i.question.explanation, "is_correct": i.is_correct, "points": i.points}
             for i in attempt.items]
    return _view({f: getattr(attempt, f) for f in _VIEW_ATTEMPT_FIELDS}, attempt.quiz, items)


def _load_view(attempt_id: int) -> dict:
    return _rows_view(_read_for_submit(attempt_id), clock.now())


# ---- leaderboards -----------------------------------------------------------------------------

PERIODS = ("week", "month", "all")


def period_start(period: str, at: datetime | None = None) -> datetime | None:
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
        raise ValidationError("period must be week, month or all", details={"fields": {"period": "invalid"}})
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
        raise ValidationError("choose a quiz or a job type", details={"fields": {"quiz_id": "required"}})
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
