import random
from datetime import datetime, timedelta, timezone

from benefits.quiz import grading


def test_option_order_maps_shown_letters_back_and_forth():
    rng = random.Random(7)
    orders = {grading.shuffled_order(4, rng) for _ in range(50)}
    assert len(orders) > 5 and all(sorted(o) == list("ABCD") for o in orders)
    order = "CADB"  # shown A is original C
    assert grading.to_original(order, "A") == "C"
    assert grading.to_original(order, "BD") == "AB"
    assert grading.to_shown(order, "AB") == "BD"


def test_all_or_nothing_and_partial_credit_for_multiple_choice():
    assert grading.item_points("multiple", "ABD", "ABD", 6, False) == (True, 6)
    assert grading.item_points("multiple", "ABD", "AB", 6, False) == (False, 0)
    assert grading.item_points("multiple", "ABD", "AB", 6, True) == (False, 4)
    assert grading.item_points("multiple", "ABD", "ABC", 6, True) == (False, 0)  # a wrong option: nothing
    assert grading.item_points("single", "B", None, 2, True) == (False, 0)
    assert grading.item_points("truefalse", "A", "B", 2, True) == (False, 0)


def test_percent_rounds_down():
    assert grading.percent(2, 3) == 66
    assert grading.percent(0, 0) == 0


T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)


def _item(position, chosen, answered_after=None, *, kind="single", answer="B", book_streak=None):
    return {"position": position, "question_id": 100 + position, "kind": kind, "answer": answer, "score": 1,
            "chosen": chosen, "answered_at": None if answered_after is None else T0 + timedelta(seconds=answered_after),
            "book_streak": book_streak, "stem": f"题{position}", "options": ["甲", "乙", "丙"], "option_order": "CAB",
            "explanation": "解析", "is_correct": None, "points": 0}


def test_grade_counts_only_answers_saved_by_the_cutoff_and_flags_fast_attempts():
    items = [_item(1, "B", 10), _item(2, "B", 70), _item(3, "A", 20), _item(4, None)]
    scoring = grading.Scoring(points_per_correct=3, pass_percent=25, pass_bonus=5)
    slow = grading.grade(items, scoring, started_at=T0, cutoff=T0 + timedelta(seconds=60), at=T0 + timedelta(seconds=90))
    assert [(i["is_correct"], i["points"]) for i in items] == [(True, 3), (False, 0), (False, 0), (False, 0)]
    assert slow == grading.Grade(correct_count=1, score_percent=25, passed=True, points_awarded=3 + 5, late=True,
                                 flagged_fast=False)
    fast = grading.grade(items, scoring, started_at=T0, cutoff=None, at=T0 + timedelta(seconds=5))
    assert (fast.correct_count, fast.late, fast.flagged_fast) == (2, False, True)  # 3 answers in 5 s


def test_daily_cap_and_the_wrong_answer_books_moves():
    assert grading.capped(13, None, 100) == 13
    assert grading.capped(13, 20, 13) == 7 and grading.capped(13, 20, 25) == 0
    items = [_item(1, "B", 1, book_streak=0), _item(2, "B", 1, book_streak=1), _item(3, "A", 1, book_streak=1),
             _item(4, "B", 1)]
    grading.grade(items, grading.Scoring(), started_at=T0, cutoff=None, at=T0)
    assert grading.book_moves(items) == ([103], [102], [101])  # filed, leaving (right twice), one more right


def test_a_member_sees_answers_only_once_submitted_or_in_practice():
    attempt = {"id": 1, "quiz_id": 2, "status": "open", "started_at": T0, "deadline_at": T0 + timedelta(seconds=60),
               "submitted_at": None}
    items = [_item(1, "C", 1, answer="C"), _item(2, None)]
    scored = grading.member_view(attempt, {"title": "竞赛", "mode": "scored"}, items, T0 + timedelta(seconds=15.5))
    assert scored["remaining_seconds"] == 45 and scored["items"][0] == {
        "position": 1, "kind": "single", "stem": "题1", "options": ["丙", "甲", "乙"], "chosen": "A"}
    practice = grading.member_view(attempt, None, items, T0)
    assert (practice["title"], practice["mode"]) == ("错题练习", "practice")
    assert (practice["items"][0]["correct"], practice["items"][0]["is_correct"]) == ("A", True)
    assert "correct" not in practice["items"][1]
