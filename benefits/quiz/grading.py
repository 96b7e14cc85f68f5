"""Pure quiz rules over plain values: option shuffling maps, grading, the daily points cap, the
wrong-answer book's moves and what a member may see of an attempt. No app, model or database.

An item is a dict with the question's `kind`, `answer` (original letters), `options`, `score`,
`explanation`, the attempt's `position`, `option_order`, `chosen` (original letters or None),
`answered_at`, `is_correct`, `points`, and `book_streak` (None when the question is not in the
member's wrong-answer book).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

MAX_OPTIONS = 6
LETTERS = "ABCDEF"
FAST_SECONDS_PER_QUESTION = 2   # quicker than this on average is flagged for admins
WRONG_BOOK_STREAK_TO_LEAVE = 2


def shuffled_order(option_count: int, rng: random.Random) -> str:
    """A per-attempt option order: shown letter i is original letter order[i]."""
    letters = list(LETTERS[:option_count])
    rng.shuffle(letters)
    return "".join(letters)


def to_original(order: str, shown: str) -> str:
    return "".join(sorted(order[LETTERS.index(s)] for s in shown))


def to_shown(order: str, original: str) -> str:
    if len(original) == 1:  # most answers: no sort needed (a view maps two per question)
        return LETTERS[order.index(original)]
    return "".join(sorted(LETTERS[order.index(o)] for o in original))


def item_points(kind: str, answer: str, chosen: str | None, points: int, partial_credit: bool) -> tuple[bool, int]:
    """(exactly right?, points earned). Partial credit: a multiple-choice answer with no wrong
    option earns its share of the right options, rounded down; any wrong option earns nothing."""
    if not chosen:
        return False, 0
    if chosen == answer:
        return True, points
    if kind == "multiple" and partial_credit and set(chosen) <= set(answer):
        return False, points * len(chosen) // len(answer)
    return False, 0


def percent(correct: int, total: int) -> int:
    return 0 if total == 0 else correct * 100 // total


@dataclass(frozen=True)
class Scoring:
    """A quiz's scoring rules; wrong-answer-book practice scores with the defaults (no points)."""
    points_per_correct: int = 0
    partial_credit: bool = False
    pass_percent: int | None = None
    pass_bonus: int = 0


@dataclass(frozen=True)
class Grade:
    correct_count: int
    score_percent: int
    passed: bool
    points_awarded: int
    late: bool
    flagged_fast: bool


def grade(items: list[dict], scoring: Scoring, *, started_at: datetime, cutoff: datetime | None,
          at: datetime) -> Grade:
    """Grade the items in place (`is_correct`, `points`) and the attempt as a whole. Only answers
    saved by `cutoff` (deadline + grace) count; an attempt answered faster than
    FAST_SECONDS_PER_QUESTION per answer is flagged for admins."""
    correct = earned = answered = 0
    for item in items:
        in_time = item["answered_at"] is not None and (cutoff is None or item["answered_at"] <= cutoff)
        item["is_correct"], item["points"] = item_points(
            item["kind"], item["answer"], item["chosen"] if in_time else None,
            scoring.points_per_correct * item["score"], scoring.partial_credit)
        correct += item["is_correct"]
        earned += item["points"]
        answered += bool(item["chosen"])
    score = percent(correct, len(items))
    passed = scoring.pass_percent is not None and score >= scoring.pass_percent
    seconds = (at - started_at).total_seconds()
    return Grade(correct_count=correct, score_percent=score, passed=passed,
                 points_awarded=earned + (scoring.pass_bonus if passed else 0),
                 late=cutoff is not None and at > cutoff,
                 flagged_fast=answered > 0 and seconds < FAST_SECONDS_PER_QUESTION * answered)


def capped(earned: int, daily_cap: int | None, already_today: int) -> int:
    """What may still be awarded today under a quiz's daily points cap."""
    if daily_cap is None:
        return earned
    return max(0, min(earned, daily_cap - already_today))


def book_moves(items: list[dict]) -> tuple[list[int], list[int], list[int]]:
    """Question ids to file as wrong, to take out of the book (answered right often enough) and
    to move up a streak. A wrong answer puts the question in the book (or resets its streak); a
    right answer to a question in the book adds to its streak, and it leaves after
    WRONG_BOOK_STREAK_TO_LEAVE."""
    wrong = [i["question_id"] for i in items if not i["is_correct"]]
    in_book = [i for i in items if i["is_correct"] and i["book_streak"] is not None]
    leaving = [i["question_id"] for i in in_book if i["book_streak"] + 1 >= WRONG_BOOK_STREAK_TO_LEAVE]
    staying = [i["question_id"] for i in in_book if i["book_streak"] + 1 < WRONG_BOOK_STREAK_TO_LEAVE]
    return wrong, leaving, staying


def gives_feedback(quiz: dict | None) -> bool:
    """Practice (a practice-mode quiz, or wrong-answer-book practice) shows whether an answer is
    right as soon as it is saved; so an answer once given there cannot be changed."""
    return quiz is None or quiz["mode"] == "practice"


def member_view(attempt: dict, quiz: dict | None, items: list[dict], at: datetime) -> dict:
    """The attempt as the member may see it: answers, correct flags and explanations only once
    submitted (or, in practice mode, for a question already answered). `attempt` has the
    attempt's columns; `quiz` its title and mode (None for wrong-book practice)."""
    done = attempt["status"] == "submitted"
    feedback = gives_feedback(quiz)
    remaining = None
    if attempt["deadline_at"] is not None and not done:
        remaining = max(0, math.ceil((attempt["deadline_at"] - at).total_seconds()))
    views = []
    for item in items:
        order, chosen, options = item["option_order"], item["chosen"], item["options"]
        view = {"position": item["position"], "kind": item["kind"], "stem": item["stem"],
                "options": [options[LETTERS.index(o)] for o in order],
                "chosen": to_shown(order, chosen) if chosen else None}
        if done or (feedback and chosen):
            view.update(correct=to_shown(order, item["answer"]), explanation=item["explanation"],
                        is_correct=item["is_correct"] if done else chosen == item["answer"],
                        points=item["points"] if done else None)
        views.append(view)
    result = {"id": attempt["id"], "quiz_id": attempt["quiz_id"], "title": quiz["title"] if quiz else "错题练习",
              "mode": quiz["mode"] if quiz else "practice", "status": attempt["status"],
              "started_at": attempt["started_at"], "deadline_at": attempt["deadline_at"],
              "remaining_seconds": remaining, "submitted_at": attempt["submitted_at"], "items": views}
    if done:
        result.update({k: attempt[k] for k in ("correct_count", "question_count", "score_percent",
                                                "points_awarded", "passed", "late")})
        result["pass_percent"] = quiz["pass_percent"] if quiz else None
    return result
