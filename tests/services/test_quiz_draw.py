"""What a member is dealt and what a submit writes: draws never hold a disabled question, option
orders are shuffles of each question's own letters, a draw that samples the whole bank takes what
is enabled, a submit grades, files wrong answers and awards, and an award whose source key is
taken writes nothing."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from benefits import clock
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz import attempts, store, wrong_book
from benefits.quiz.grading import LETTERS
from benefits.quiz.models import Attempt, AttemptQuestion, Question
from tests import factories
from tests.services import quiz_world as w


@pytest.fixture
def tree(app):
    return factories.org_tree()


def _stored(attempt_id: int) -> list[tuple[int, str, int]]:
    return db.session.execute(
        select(AttemptQuestion.question_id, AttemptQuestion.option_order, AttemptQuestion.position)
        .where(AttemptQuestion.attempt_id == attempt_id).order_by(AttemptQuestion.position)).all()


def test_each_question_is_shown_with_a_uniform_shuffle_of_its_own_options(app, tree):
    jt = w.bank("电工", 90)  # four options (single, multiple) and two (true/false)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=12)
    options = dict(db.session.execute(select(Question.id, Question.options)).all())
    seen: dict[int, set[str]] = {2: set(), 4: set()}
    for _ in range(40):
        member = factories.member(tree["gujing"])
        view = attempts.start_attempt(member.id, quiz.id)
        stored = _stored(view["id"])
        assert [p for _q, _o, p in stored] == list(range(1, 13)) and len({q for q, _o, _p in stored}) == 12
        for (question_id, order, _p), item in zip(stored, view["items"]):
            n = len(options[question_id])
            assert sorted(order) == list(LETTERS[:n])
            assert item["options"] == [options[question_id][LETTERS.index(o)] for o in order]
            assert "correct" not in item and "explanation" not in item
            seen[n].add(order)
    assert seen[2] == {"AB", "BA"}
    assert seen[4] == {"".join(p) for p in itertools.permutations("ABCD")}  # all 24 orders turn up


def test_draw_with_most_sampled_questions_disabled_still_draws_only_enabled_ones(app, tree):
    jt = w.bank("电工", 60)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=8)
    ids = list(db.session.scalars(select(Question.id).where(Question.job_type_id == jt.id).order_by(Question.id)))
    enabled = set(ids[::6])  # 10 of 60 stay enabled
    for q in db.session.scalars(select(Question).where(Question.id.not_in(enabled))):
        q.is_enabled = False
    db.session.flush()
    for _ in range(10):
        member = factories.member(tree["gujing"])
        drawn = {q for q, _o, _p in _stored(attempts.start_attempt(member.id, quiz.id)["id"])}
        assert len(drawn) == 8 and drawn <= enabled


def test_a_draw_that_samples_the_whole_bank_takes_what_is_enabled(app, tree):
    jt = w.bank("电工", 10)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    off = db.session.scalars(select(Question).where(Question.job_type_id == jt.id).limit(3)).all()
    for q in off:
        q.is_enabled = False
    db.session.flush()
    member = factories.member(tree["gujing"])
    view = attempts.start_attempt(member.id, quiz.id)
    drawn = {q for q, _o, _p in _stored(view["id"])}
    assert len(view["items"]) == len(drawn) == 7 and not drawn & {q.id for q in off}
    assert db.session.get(Attempt, view["id"]).question_count == 7


def test_an_award_whose_source_key_is_taken_writes_nothing_and_the_attempt_stays_open(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2)
    m = w.member(tree["gujing"])
    attempt_id = attempts.start_attempt(m.id, quiz.id)["id"]
    attempts.save_answers(m.id, attempt_id, w.right_answers(attempt_id))
    points.credit(m.id, 1, source_key=f"quiz-attempt:{attempt_id}", reason="已存在")
    db.session.commit()
    with pytest.raises(attempts.AttemptSubmitted):
        attempts.submit_attempt(m.id, attempt_id)
    db.session.rollback()  # what the request's unit of work does
    assert db.session.get(Attempt, attempt_id).status == "open"
    assert points.balance(m.id) == 1 and points.reconcile() == []
    assert db.session.scalar(select(PointsEntry.amount).where(PointsEntry.member_id == m.id)) == 1


def test_submit_grades_files_wrong_answers_and_awards(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2, pass_percent=60, pass_bonus=4)
    m = w.member(tree["gujing"])
    attempt_id = attempts.start_attempt(m.id, quiz.id)["id"]
    answers = w.right_answers(attempt_id)
    answers["2"] = w.wrong_answers(attempt_id)["2"]
    attempts.save_answers(m.id, attempt_id, answers)
    view = attempts.submit_attempt(m.id, attempt_id)
    assert (view["correct_count"], view["points_awarded"], view["passed"]) == (4, 8 + 4, True)
    assert [i["points"] for i in view["items"]] == [2, 0, 2, 2, 2]
    db.session.expire_all()
    stored = db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt_id)
                                .order_by(AttemptQuestion.position)).all()
    assert [(i.is_correct, i.points) for i in stored] == [(True, 2), (False, 0), (True, 2), (True, 2), (True, 2)]
    assert [e.question_id for e in wrong_book.entries(m.id)] == [stored[1].question_id]
    entry = points.entry_by_source(f"quiz-attempt:{attempt_id}")
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == ("earn", 12, 12, "答题得分：安全知识竞赛")
    assert entry.expires_on == points.default_expiry(clock.business_day())
    assert points.balance(m.id) == 12 and points.reconcile() == []
    assert attempts.attempt_view(m.id, attempt_id) == view


def test_a_save_that_meets_a_graded_attempt_stores_nothing(app, tree, monkeypatch):
    """The save read the attempt open; a submit graded it before the save wrote: refused."""
    jt = w.bank("电工", 10, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3)
    m = w.member(tree["gujing"])
    attempt_id = attempts.start_attempt(m.id, quiz.id)["id"]
    read_while_open = store.attempt_rows(m.id, attempt_id)
    attempts.submit_attempt(m.id, attempt_id)
    monkeypatch.setattr(store, "attempt_rows", lambda *_: read_while_open)
    with pytest.raises(attempts.AttemptSubmitted):
        attempts.save_answers(m.id, attempt_id, w.right_answers(attempt_id))
    chosen = db.session.scalars(select(AttemptQuestion.chosen).where(AttemptQuestion.attempt_id == attempt_id))
    assert list(chosen) == [None, None, None]
