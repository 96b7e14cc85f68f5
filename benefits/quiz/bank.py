"""The question bank: job types, questions, bulk import and export. The bank is shared by the
whole programme; province and city admins manage it, and every change is audited. Services
flush, never commit."""
from __future__ import annotations

import json
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from .importers import normalise_question
from .models import JobType, Question


# The bank is shared by the whole programme: province and city admins manage it. The pages and
# the API refuse everyone else before reading a form (auth.access.admin_required_at); the
# service checks again for its other callers.
MANAGER_LEVELS = ("province", "city")


def require_bank_manager(actor) -> None:
    if actor is None or actor.role != "admin" or actor.org.level not in MANAGER_LEVELS:
        raise Forbidden(_("只有省、市级工会管理员可以管理题库。"))


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
    """`actor` None: the command line and demo data (no audit entry)."""
    if actor is not None:
        require_bank_manager(actor)
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name or len(code) > 32 or len(name) > 64:
        raise ValidationError(_("请填写工种代码（最多 32 位）和名称（最多 64 个字）。"),
                              details={"fields": {"code": _("必填"), "name": _("必填")}})
    if db.session.scalar(select(JobType.id).where(or_(JobType.code == code, JobType.name == name))):
        raise Conflict(_("工种 %(name)s 已存在", name=name), code="job_type_exists")
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
        raise NotFound(_("没有这个工种。"))
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


def question_values(clean: dict, job_type: JobType, position: int, at: datetime | None = None) -> dict:
    """The stored row of a checked question (see importers.normalise_question)."""
    return {"job_type_id": job_type.id, "position": position, "kind": clean["kind"], "stem": clean["stem"],
            "options": clean["options"], "answer": clean["answer"], "explanation": clean["explanation"],
            "difficulty": clean["difficulty"], "score": clean["score"], "is_enabled": True,
            "tags": ("," + ",".join(clean["tags"]) + ",") if clean["tags"] else "",
            "created_at": at or clock.now()}


def _reserve_positions(job_type_id: int, count: int) -> int:
    """Take `count` consecutive positions for a job type (row-locked by the UPDATE): questions
    are numbered 1..n per job type so a draw can sample positions (see draw.py)."""
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
        raise ValidationError(_("题目有误。"), details={"problems": errors})
    question = Question(**question_values(clean, job_type, _reserve_positions(job_type.id, 1)))
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
        raise NotFound(_("没有这道题。"))
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
            problems.append({"line": q["line"], "message": _("未知工种“%(name)s”", name=q["job_type"])})
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
        rows.extend(question_values(q, job_type, first + i, at) for i, q in enumerate(items))
    _copy_in(rows, progress, chunk)
    if actor is not None:
        audit.record(actor, "quiz.question.import", "question", None, org_id=actor.org_id,
                     after={"imported": len(rows), "skipped": len(questions) - len(rows)})
    return {"imported": len(rows), "skipped": len(questions) - len(rows), "problems": problems}


_COPY_COLUMNS = ("job_type_id", "position", "kind", "stem", "options", "answer", "explanation", "difficulty",
                 "score", "tags", "is_enabled", "created_at")


def _copy_in(rows: list[dict], progress, chunk: int) -> None:
    """COPY on the session's own connection, in its transaction: the fastest way PostgreSQL
    takes a whole bank (bench/quiz_import.py measures it beside plain INSERTs). SQLAlchemy has no
    COPY, so this is psycopg's."""
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(
            f"COPY quiz_questions ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for n, row in enumerate(rows, start=1):
            copy.write_row([json.dumps(row[c], ensure_ascii=False) if c == "options" else row[c]
                            for c in _COPY_COLUMNS])
            if progress is not None and n % chunk == 0:
                progress(chunk)
    if progress is not None and len(rows) % chunk:
        progress(len(rows) % chunk)


def export_questions(job_type_id: int | None = None):
    stmt = (select(JobType.name, Question).join(JobType, JobType.id == Question.job_type_id)
            .order_by(Question.job_type_id, Question.position))
    if job_type_id:
        stmt = stmt.where(Question.job_type_id == job_type_id)
    return db.session.execute(stmt).yield_per(2000)
