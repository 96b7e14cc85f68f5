"""The attempts' SQL, built with SQLAlchemy Core: reads into plain values and guarded writes.

The services (attempts.py, wrong_book.py) decide; these statements read and write. Statements
are built once, at import: SQLAlchemy caches their compiled SQL and psycopg prepares the ones a
connection runs repeatedly.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (ARRAY, Boolean, DateTime, Integer, String, and_, any_, bindparam, case, delete, exists, func,
                        insert, literal, or_, select, true, update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from .draw import bank_stamp_columns
from .models import Attempt, AttemptQuestion, Question, Quiz, WrongBookEntry

_A, _AQ, _Q, _QZ, _WB = (Attempt.__table__, AttemptQuestion.__table__, Question.__table__, Quiz.__table__,
                         WrongBookEntry.__table__)
_ORG, _MEMBER = Organisation.__table__, Member.__table__

START_QUIZ_COLUMNS = ("id", "org_id", "title", "job_type_ids", "tags", "question_count", "mode", "time_limit_seconds",
                      "grace_seconds", "late_policy", "attempts_per_day", "min_delay_seconds", "opens_at",
                      "closes_at", "is_enabled")
QUIZ_RULES = ("title", "mode", "grace_seconds", "late_policy", "points_per_correct", "partial_credit", "pass_percent",
              "pass_bonus", "daily_points_cap")
ATTEMPT_COLUMNS = ("id", "quiz_id", "member_id", "status", "started_at", "deadline_at", "submitted_at",
                   "correct_count", "question_count", "score_percent", "points_awarded", "passed", "late")
TOTALS = ("correct_count", "score_percent", "passed", "points_awarded", "late", "flagged_fast")
DAILY_SLOT = "uq_quiz_attempts_daily_slot"


def _start_read():
    member_id, quiz_id = bindparam("member_id", type_=Integer), bindparam("quiz_id", type_=Integer)
    member_path = (select(_ORG.c.path).join(_MEMBER, _MEMBER.c.org_id == _ORG.c.id)
                   .where(_MEMBER.c.id == member_id).scalar_subquery())
    earlier = _A.alias("earlier")
    latest_start = (select(func.max(earlier.c.started_at))
                    .where(earlier.c.quiz_id == quiz_id, earlier.c.member_id == member_id).scalar_subquery())
    mine = and_(_A.c.quiz_id == _QZ.c.id, _A.c.member_id == member_id,
                or_(_A.c.day == bindparam("day"), _A.c.status == "open"))
    return (select(*[_QZ.c[c] for c in START_QUIZ_COLUMNS], member_path.label("member_path"),
                   latest_start.label("latest_start"), *bank_stamp_columns(), _A.c.id.label("a_id"),
                   _A.c.status.label("a_status"), _A.c.day.label("a_day"), _A.c.deadline_at.label("a_deadline_at"))
            .select_from(_QZ.outerjoin(_A, mine)).where(_QZ.c.id == quiz_id))


# The quiz, the member's organisation path (eligibility), the member's attempts at it today or
# still open, the latest start (the delay between attempts) and the bank stamp: one row per
# such attempt, or one with a_id NULL; none when there is no such quiz.
_START_READ = _start_read()


def start_rows(member_id: int, quiz_id: int, day: date) -> list:
    return db.session.execute(_START_READ, {"member_id": member_id, "quiz_id": quiz_id, "day": day}).mappings().all()


# The attempt (only the member's own), its quiz's rules (none for wrong-book practice), its items
# with their questions, and each question's streak in the member's wrong-answer book.
_ATTEMPT_READ = (
    select(*[_A.c[c] for c in ATTEMPT_COLUMNS], *[_QZ.c[c] for c in QUIZ_RULES],
           _AQ.c.position, _AQ.c.question_id, _AQ.c.option_order, _AQ.c.chosen, _AQ.c.answered_at, _AQ.c.is_correct,
           _AQ.c.points, _Q.c.kind, _Q.c.stem, _Q.c.options, _Q.c.answer, _Q.c.explanation, _Q.c.score,
           _WB.c.streak.label("book_streak"))
    .select_from(_A.outerjoin(_QZ, _QZ.c.id == _A.c.quiz_id)
                 .join(_AQ, _AQ.c.attempt_id == _A.c.id)
                 .join(_Q, _Q.c.id == _AQ.c.question_id)
                 .outerjoin(_WB, and_(_WB.c.member_id == _A.c.member_id, _WB.c.question_id == _AQ.c.question_id)))
    .where(_A.c.id == bindparam("attempt_id"), _A.c.member_id == bindparam("member_id"))
    .order_by(_AQ.c.position))


def attempt_rows(member_id: int, attempt_id: int) -> list:
    """One row per item; none when the attempt is not the member's (or does not exist)."""
    return db.session.execute(_ATTEMPT_READ, {"member_id": member_id, "attempt_id": attempt_id}).mappings().all()


def _insert_attempt():
    new = (insert(_A).values(
        quiz_id=bindparam("quiz_id"), member_id=bindparam("member_id"), status="open", day=bindparam("day"),
        day_seq=bindparam("day_seq"), started_at=bindparam("started_at"), deadline_at=bindparam("deadline_at"),
        question_count=bindparam("question_count"), correct_count=0, score_percent=0, points_awarded=0,
        passed=False, late=False, flagged_fast=False).returning(_A.c.id).cte("new_attempt"))
    drawn = func.unnest(bindparam("positions", type_=ARRAY(Integer)), bindparam("question_ids", type_=ARRAY(Integer)),
                        bindparam("job_type_ids", type_=ARRAY(Integer)), bindparam("orders", type_=ARRAY(String))
                        ).table_valued("position", "question_id", "job_type_id", "option_order").render_derived("drawn")
    items = (insert(_AQ).from_select(
        ["attempt_id", "position", "question_id", "job_type_id", "option_order", "points"],
        select(new.c.id, drawn.c.position, drawn.c.question_id, drawn.c.job_type_id, drawn.c.option_order,
               literal(0)).select_from(new.join(drawn, true()))).cte("items"))
    return select(new.c.id).add_cte(items)


# The attempt and its drawn questions in one statement.
_INSERT_ATTEMPT = _insert_attempt()


def insert_attempt(values: dict, questions: list, orders: list[str]) -> int | None:
    """The new attempt's id; None when its daily slot (quiz, member, China day, n) is taken: a
    concurrent start got there first (the transaction is then aborted: the caller refuses)."""
    try:
        return db.session.scalar(_INSERT_ATTEMPT, {
            **values, "question_count": len(questions), "positions": list(range(1, len(questions) + 1)),
            "question_ids": [q.id for q in questions], "job_type_ids": [q.job_type_id for q in questions],
            "orders": orders})
    except IntegrityError as exc:
        if exc.orig.diag.constraint_name != DAILY_SLOT:
            raise
        return None


_ANSWERS = func.unnest(bindparam("positions", type_=ARRAY(Integer)), bindparam("letters", type_=ARRAY(String))
                       ).table_valued("position", "letters").render_derived("answer")
_KEEP = and_(bindparam("keep_given", type_=Boolean), _AQ.c.chosen.is_not(None))
# Only ungraded items take an answer: a save that meets an attempt graded since it was read
# changes nothing. With keep_given (practice mode) an answer once given stays. (Parameters are
# not named after the table's columns: an UPDATE's parameters of those names would be SET.)
_SAVE_ANSWERS = (
    update(_AQ).where(_AQ.c.attempt_id == bindparam("attempt"), _AQ.c.position == _ANSWERS.c.position,
                      _AQ.c.is_correct.is_(None))
    .values(chosen=case((_KEEP, _AQ.c.chosen), else_=_ANSWERS.c.letters),
            answered_at=case((_KEEP, _AQ.c.answered_at), else_=bindparam("at", type_=DateTime(timezone=True))))
    .returning(_AQ.c.position, _AQ.c.chosen, _AQ.c.answered_at))


def save_answers(attempt_id: int, chosen: dict[int, str], at: datetime, keep_given: bool) -> dict[int, tuple] | None:
    """Store answers (position -> original letters); returns each position's stored (chosen,
    answered_at), or None if the attempt was graded meanwhile (nothing stored)."""
    rows = db.session.execute(_SAVE_ANSWERS, {"attempt": attempt_id, "positions": list(chosen),
                                              "letters": list(chosen.values()), "at": at,
                                              "keep_given": keep_given}).all()
    if len(rows) < len(chosen):
        return None
    return {position: (stored, answered_at) for position, stored, answered_at in rows}


def _submit_writes():
    """Claim, grade, wrong-answer book. Every part hangs on `claimed`, so nothing is written when
    the conditional claim matched no open attempt (a concurrent submit got there first).
    Parameters are not named after the tables' columns: an UPDATE's parameters of those names
    would be SET."""
    claimed = (update(_A).where(_A.c.id == bindparam("attempt"), _A.c.status == "open")
               .values({**{c: bindparam(f"new_{c}") for c in TOTALS}, "status": "submitted",
                        "submitted_at": bindparam("at")})
               .returning(_A.c.id).cte("claimed"))
    grades = func.unnest(
        bindparam("item_positions", type_=ARRAY(Integer)), bindparam("item_correct", type_=ARRAY(Boolean)),
        bindparam("item_points", type_=ARRAY(Integer)), bindparam("item_letters", type_=ARRAY(String)),
        bindparam("item_answered_at", type_=ARRAY(DateTime(timezone=True)))
    ).table_valued("position", "is_correct", "points", "chosen", "answered_at").render_derived("g")
    # the answers graded are the answers stored: one saved while this submit graded is replaced
    graded = (update(_AQ).where(_AQ.c.attempt_id == claimed.c.id, _AQ.c.position == grades.c.position)
              .values(is_correct=grades.c.is_correct, points=grades.c.points, chosen=grades.c.chosen,
                      answered_at=grades.c.answered_at).cte("graded"))
    member, at = bindparam("member", type_=Integer), bindparam("at", type_=DateTime(timezone=True))
    wrong = func.unnest(bindparam("wrong", type_=ARRAY(Integer))).table_valued("question_id").render_derived("w")
    filing = pg_insert(_WB).from_select(
        ["member_id", "question_id", "streak", "wrong_count", "updated_at"],
        select(member, wrong.c.question_id, literal(0), literal(1), at).select_from(claimed.join(wrong, true())))
    filed = filing.on_conflict_do_update(
        index_elements=[_WB.c.member_id, _WB.c.question_id],
        set_={"streak": 0, "wrong_count": _WB.c.wrong_count + 1, "updated_at": filing.excluded.updated_at}).cte("filed")
    mine, was_claimed = _WB.c.member_id == member, exists(select(claimed.c.id))
    left = delete(_WB).where(mine, _WB.c.question_id == any_(bindparam("leaving", type_=ARRAY(Integer))),
                             was_claimed).cte("left_book")
    stayed = (update(_WB).where(mine, _WB.c.question_id == any_(bindparam("staying", type_=ARRAY(Integer))),
                                was_claimed)
              .values(streak=_WB.c.streak + 1, updated_at=at).cte("stayed"))
    return select(select(func.count()).select_from(claimed).scalar_subquery()).add_cte(graded, filed, left, stayed)


_SUBMIT_WRITES = _submit_writes()


def submit(attempt_id: int, member_id: int, at: datetime, totals: dict, items: list[dict],
           moves: tuple[list[int], list[int], list[int]]) -> bool:
    """Claim the open attempt with its totals, store each item's grade and file the wrong-answer
    book's moves (wrong, leaving, staying), in one statement; False (nothing written) if the
    attempt was no longer open."""
    wrong, leaving, staying = moves
    return bool(db.session.scalar(_SUBMIT_WRITES, {
        **{f"new_{c}": totals[c] for c in TOTALS}, "attempt": attempt_id, "member": member_id, "at": at,
        "item_positions": [i["position"] for i in items], "item_correct": [i["is_correct"] for i in items],
        "item_points": [i["points"] for i in items], "item_letters": [i["chosen"] for i in items],
        "item_answered_at": [i["answered_at"] for i in items], "wrong": wrong, "leaving": leaving,
        "staying": staying}))


_AWARDED_TODAY = select(func.coalesce(func.sum(_A.c.points_awarded), 0)).where(
    _A.c.quiz_id == bindparam("quiz_id"), _A.c.member_id == bindparam("member_id"),
    _A.c.id != bindparam("attempt_id"), _A.c.status == "submitted",
    _A.c.submitted_at >= bindparam("start"), _A.c.submitted_at < bindparam("end"))


def awarded_today(quiz_id: int, member_id: int, attempt_id: int, bounds: tuple[datetime, datetime]) -> int:
    """Points the member's other attempts at the quiz were awarded in the China day `bounds`."""
    return db.session.scalar(_AWARDED_TODAY, {"quiz_id": quiz_id, "member_id": member_id, "attempt_id": attempt_id,
                                              "start": bounds[0], "end": bounds[1]})


_PRACTICE = and_(_A.c.member_id == bindparam("member_id"), _A.c.quiz_id.is_(None))
_PRACTICE_STATE = select(
    select(func.max(_A.c.id)).where(_PRACTICE, _A.c.status == "open").scalar_subquery(),
    select(func.count()).where(_PRACTICE, _A.c.day == bindparam("day")).scalar_subquery(),
    select(func.array_agg(_WB.c.question_id)).where(_WB.c.member_id == bindparam("member_id")).scalar_subquery())


def practice_state(member_id: int, day: date) -> tuple[int | None, int, list[int]]:
    """The member's open wrong-book practice (if any), practices started on `day`, and the
    question ids in their wrong-answer book."""
    open_id, taken, book = db.session.execute(_PRACTICE_STATE, {"member_id": member_id, "day": day}).one()
    return open_id, taken, book or []
