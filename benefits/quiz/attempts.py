"""A member's attempts: start (or resume), save answers, submit (grade and award) and the
member's view of an attempt. The JSON API and the pages call these same functions.

Each runs: read (one statement, store.py) -> the rules (grading.py, plain values) -> one guarded
write -> the member's view. Times are the server's. Services flush, never commit: the request's
unit of work commits once.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from .. import clock
from ..errors import Conflict, LimitReached, NotFound, ValidationError
from ..extensions import db
from ..inputs import row_id
from ..points import service as points
from . import draw, grading, quizzes, store
from .models import Attempt


class QuizClosed(Conflict):
    code = "quiz_closed"


class TimeUp(Conflict):
    code = "time_up"


class AttemptSubmitted(Conflict):
    code = "attempt_submitted"


def _cutoff(deadline_at: datetime | None, grace_seconds: int) -> datetime | None:
    """Answers saved after the deadline plus grace do not count."""
    return None if deadline_at is None else deadline_at + timedelta(seconds=grace_seconds)


def _in_time(deadline_at: datetime | None, grace_seconds: int, at: datetime) -> bool:
    cutoff = _cutoff(deadline_at, grace_seconds)
    return cutoff is None or at <= cutoff


def start_attempt(member_id: int, quiz_id: int) -> dict:
    """Start an attempt, or resume the member's open one: the member's view of it (questions
    drawn and options shuffled, no answers).

    One read gives the quiz, the member's eligibility, their attempts at it today or still
    open, their latest start and the bank stamp. Limits are counted per China day, server-side.
    The attempt and its questions go in with one statement; its unique daily slot (quiz, member,
    day, n) makes attempts-per-day hold under concurrent starts: the one that loses is refused."""
    at = clock.now()
    day = clock.business_day(at)
    rows = store.start_rows(member_id, quiz_id, day)
    quiz = rows[0] if rows else None
    if quiz is None or quiz["org_id"] not in quizzes.eligible_org_ids(quiz["member_path"]):
        raise NotFound(_("没有这个答题活动。"))
    if not quizzes.is_open(quiz["is_enabled"], quiz["opens_at"], quiz["closes_at"], at):
        raise QuizClosed(_("本次答题未开放或已结束。"))
    mine = [r for r in rows if r["a_id"] is not None]
    # an open attempt past its time is still handed in (and graded on what was saved in time)
    # unless the quiz refuses late submissions: then the member may start afresh
    resumable = [r["a_id"] for r in mine if r["a_status"] == "open" and (
        quiz["late_policy"] == "grade_saved" or _in_time(r["a_deadline_at"], quiz["grace_seconds"], at))]
    if resumable:
        return attempt_view(member_id, max(resumable))
    taken = sum(1 for r in mine if r["a_day"] == day)
    _refuse_over_limits(quiz, taken, at)
    rng = draw.draw_rng()
    questions = draw.draw(list(quiz["job_type_ids"]), list(quiz["tags"] or []), quiz["question_count"],
                          (quiz["bank_positions"], quiz["bank_job_types"]), rng)
    deadline = at + timedelta(seconds=quiz["time_limit_seconds"]) if quiz["time_limit_seconds"] else None
    return begin({"quiz_id": quiz_id, "member_id": member_id, "day": day, "day_seq": taken + 1, "started_at": at,
                  "deadline_at": deadline}, questions, rng, quiz)


def _refuse_over_limits(quiz, taken_today: int, at: datetime) -> None:
    """Attempts per China day, and the minimum delay since the member's latest start."""
    if quiz["attempts_per_day"] is not None and taken_today >= quiz["attempts_per_day"]:
        raise LimitReached(_("今天的答题次数已用完。"), code="attempts_per_day",
                           details={"attempts_per_day": quiz["attempts_per_day"]})
    if quiz["min_delay_seconds"] and quiz["latest_start"] is not None:
        wait = (quiz["latest_start"] + timedelta(seconds=quiz["min_delay_seconds"]) - at).total_seconds()
        if wait > 0:
            raise LimitReached(_("请稍后再试。"), code="too_soon",
                               details={"retry_after_seconds": int(wait) + 1})


def begin(attempt: dict, questions: list, rng: random.Random, quiz) -> dict:
    """Insert a new attempt with its drawn questions (rows with id, job_type_id, kind, stem and
    options), each with its own shuffle of its options; the member's view of it. `quiz` has the
    quiz's title and mode (None for wrong-book practice)."""
    if not questions:
        raise Conflict(_("题库中没有可用的题目。"), code="no_questions")
    orders = [grading.shuffled_order(len(q.options), rng) for q in questions]
    attempt_id = store.insert_attempt(attempt, questions, orders)
    if attempt_id is None:
        raise LimitReached(_("另一场答题刚刚开始。"), code="attempt_in_progress")
    items = [{"position": n, "kind": q.kind, "stem": q.stem, "options": q.options, "option_order": order,
              "chosen": None} for n, (q, order) in enumerate(zip(questions, orders), start=1)]
    return grading.member_view({**attempt, "id": attempt_id, "status": "open", "submitted_at": None}, quiz, items,
                               attempt["started_at"])


def _read(member_id: int, attempt_id: int) -> tuple[dict, dict | None, list[dict]]:
    """The member's own attempt as (attempt, its quiz's rules or None for practice, items)."""
    rows = store.attempt_rows(member_id, attempt_id)
    if not rows:
        raise NotFound(_("没有这次答题。"))
    head = rows[0]
    attempt = {c: head[c] for c in store.ATTEMPT_COLUMNS}
    quiz = {c: head[c] for c in store.QUIZ_RULES} if head["quiz_id"] is not None else None
    return attempt, quiz, [dict(row) for row in rows]


def attempt_view(member_id: int, attempt_id: int) -> dict:
    """The member's view of their attempt (grading.member_view: nothing about answers before
    it is submitted, except feedback on answered questions in practice mode)."""
    attempt, quiz, items = _read(member_id, attempt_id)
    return grading.member_view(attempt, quiz, items, clock.now())


def _choices(items: list[dict], answers: dict) -> dict[int, str]:
    """Shown letters by position (`{"3": ["A", "C"]}`) as original letters by position."""
    by_position = {item["position"]: item for item in items}
    chosen = {}
    for key, shown in answers.items():
        item = by_position.get(row_id(str(key)))
        if item is None:
            raise ValidationError(_("这次答题没有这道题。"), details={"fields": {str(key): _("没有这道题")}})
        letters = "".join(sorted({str(s).upper() for s in shown or []}))
        if not letters or any(ch not in grading.LETTERS[:len(item["option_order"])] for ch in letters):
            raise ValidationError(_("答案不是这道题的选项。"), details={"fields": {str(key): _("不是选项")}})
        if item["kind"] != "multiple" and len(letters) != 1:
            raise ValidationError(_("请只选一个选项。"), details={"fields": {str(key): _("只能选一个")}})
        chosen[item["position"]] = grading.to_original(item["option_order"], letters)
    return chosen


def save_answers(member_id: int, attempt_id: int, answers: dict) -> dict:
    """Record answers (shown letters by position) with the server's time; the member's view.
    Refused once submitted, or after the time limit and grace. In practice mode an answer once
    given stays (its feedback was shown)."""
    attempt, quiz, items = _read(member_id, attempt_id)
    if attempt["status"] != "open":
        raise AttemptSubmitted(_("这次答题已经交卷。"))
    at = clock.now()
    if quiz is not None and not _in_time(attempt["deadline_at"], quiz["grace_seconds"], at):
        raise TimeUp(_("答题时间已到，答案未保存。"))
    stored = store.save_answers(attempt_id, _choices(items, answers), at, keep_given=grading.gives_feedback(quiz))
    if stored is None:
        raise AttemptSubmitted(_("这次答题已经交卷。"))
    for item in items:
        item["chosen"], item["answered_at"] = stored.get(item["position"], (item["chosen"], item["answered_at"]))
    return grading.member_view(attempt, quiz, items, at)


def submit_attempt(member_id: int, attempt_id: int, answers: dict | None = None) -> dict:
    """Grade once and award once; the member's view of the result. A repeat answers the same.
    `answers` (the page's form) are taken first when they are still in time, as `save_answers`
    takes them; late ones are left out (the attempt is graded on what was saved in time).

    The write claims the attempt with a conditional UPDATE (status still open), so one submit
    goes through; a concurrent one waits for the row, matches nothing, writes nothing and answers
    what the first one wrote. The ledger's unique source key `quiz-attempt:<id>` is the last
    guard against a double award."""
    attempt, quiz, items = _read(member_id, attempt_id)
    at = clock.now()
    if attempt["status"] != "open":
        return grading.member_view(attempt, quiz, items, at)
    cutoff = _cutoff(attempt["deadline_at"], quiz["grace_seconds"]) if quiz else None
    late = cutoff is not None and at > cutoff
    if late and quiz["late_policy"] == "refuse":
        raise TimeUp(_("已超过答题时限，不能交卷。"))
    if answers and not late:
        keep_given = grading.gives_feedback(quiz)
        for position, chosen in _choices(items, answers).items():
            item = items[position - 1]  # items are read in position order, 1..n
            if not (keep_given and item["chosen"]):
                item["chosen"], item["answered_at"] = chosen, at
    grade = grading.grade(items, _scoring(quiz), started_at=attempt["started_at"], cutoff=cutoff, at=at)
    totals = {"correct_count": grade.correct_count, "score_percent": grade.score_percent, "passed": grade.passed,
              "points_awarded": _within_daily_cap(member_id, attempt, quiz, grade.points_awarded, at),
              "late": grade.late, "flagged_fast": grade.flagged_fast}
    if not store.submit(attempt_id, member_id, at, totals, items, grading.book_moves(items)):
        return attempt_view(member_id, attempt_id)
    if totals["points_awarded"]:
        try:
            points.earn(member_id, totals["points_awarded"], source_key=f"quiz-attempt:{attempt_id}",
                        reason=f"答题得分：{quiz['title']}", expires_on=points.default_expiry(clock.business_day(at)))
        except points.DuplicateEntry:
            # the award is in the ledger already, so the attempt was handed in: the request's unit
            # of work rolls this claim back
            raise AttemptSubmitted(_("这次答题已经交卷。")) from None
    attempt.update(totals, status="submitted", submitted_at=at)
    return grading.member_view(attempt, quiz, items, at)


def _scoring(quiz: dict | None) -> grading.Scoring:
    if quiz is None:
        return grading.Scoring()  # wrong-book practice earns nothing
    return grading.Scoring(points_per_correct=quiz["points_per_correct"], partial_credit=quiz["partial_credit"],
                           pass_percent=quiz["pass_percent"], pass_bonus=quiz["pass_bonus"])


def _within_daily_cap(member_id: int, attempt: dict, quiz: dict | None, earned: int, at: datetime) -> int:
    """What of `earned` the quiz's daily points cap still allows today. The member's points
    account is locked first (until commit), so two attempts handed in at once are counted one
    after the other and can't both fit under the cap."""
    if not earned or quiz["daily_points_cap"] is None:
        return earned
    points.lock_account(member_id)
    bounds = clock.china_day_bounds_utc(clock.business_day(at))
    return grading.capped(earned, quiz["daily_points_cap"],
                          store.awarded_today(attempt["quiz_id"], member_id, attempt["id"], bounds))


def attempts_of(member_id: int, limit: int = 20) -> list[Attempt]:
    """The member's latest attempts, newest first (their quiz page lists them)."""
    return list(db.session.scalars(select(Attempt).where(Attempt.member_id == member_id)
                                   .order_by(Attempt.id.desc()).limit(limit)))
