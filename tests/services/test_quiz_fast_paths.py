"""The one-statement start and submit (PostgreSQL) and what they share with the portable path:
draws never hold a disabled question, option orders are shuffles of each question's own letters,
a whole-bank draw takes what is enabled, and an award whose source key is taken writes nothing."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from benefits import clock
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz import service
from benefits.quiz.models import LETTERS, Attempt, AttemptQuestion, Question
from tests import factories
from tests.services import quiz_world as w


@pytest.fixture
def tree(app):
    return factories.org_tree()


@pytest.fixture
def fast_draws(monkeypatch):
    """Records what each one-statement draw returned (None: it fell back to the general draw)."""
    results = []
    real = service._pg_draw_and_insert

    def spy(*args, **kwargs):
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(service, "_pg_draw_and_insert", spy)
    return results


def _stored(attempt_id: int) -> list[tuple[int, str, int]]:
    return db.session.execute(
        select(AttemptQuestion.question_id, AttemptQuestion.option_order, AttemptQuestion.position)
        .where(AttemptQuestion.attempt_id == attempt_id).order_by(AttemptQuestion.position)).all()


def test_one_statement_draw_shuffles_each_questions_own_letters_uniformly(app, tree, fast_draws):
    jt = w.bank("电工", 90)  # four options (single, multiple) and two (true/false)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=12)
    options = dict(db.session.execute(select(Question.id, Question.options)).all())
    seen: dict[int, set[str]] = {2: set(), 4: set()}
    for _ in range(40):
        member = factories.member(tree["gujing"])
        view = service.start_attempt_view(member.id, quiz.id)
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
    if db.engine.dialect.name == "postgresql":
        assert fast_draws and all(r is not None for r in fast_draws)  # every start took one statement


def test_draw_with_most_sampled_questions_disabled_still_draws_only_enabled_ones(app, tree, fast_draws):
    jt = w.bank("电工", 60)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=8)
    ids = list(db.session.scalars(select(Question.id).where(Question.job_type_id == jt.id).order_by(Question.id)))
    enabled = set(ids[::6])  # 10 of 60 stay enabled
    for q in db.session.scalars(select(Question).where(Question.id.not_in(enabled))):
        q.is_enabled = False
    db.session.flush()
    for _ in range(10):
        member = factories.member(tree["gujing"])
        drawn = {q for q, _o, _p in _stored(service.start_attempt_view(member.id, quiz.id)["id"])}
        assert len(drawn) == 8 and drawn <= enabled
    if db.engine.dialect.name == "postgresql":
        assert None in fast_draws  # the one statement found too few and the general draw took over


def test_a_draw_that_samples_the_whole_bank_takes_what_is_enabled(app, tree, fast_draws):
    jt = w.bank("电工", 10)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    off = db.session.scalars(select(Question).where(Question.job_type_id == jt.id).limit(3)).all()
    for q in off:
        q.is_enabled = False
    db.session.flush()
    member = factories.member(tree["gujing"])
    view = service.start_attempt_view(member.id, quiz.id)
    drawn = {q for q, _o, _p in _stored(view["id"])}
    assert len(view["items"]) == len(drawn) == 7 and not drawn & {q.id for q in off}
    assert db.session.get(Attempt, view["id"]).question_count == 7
    if db.engine.dialect.name == "postgresql":
        assert fast_draws[-1] is not None


def test_an_award_whose_source_key_is_taken_writes_nothing_and_the_attempt_stays_open(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    service.save_answers(m, attempt.id, w.right_answers(attempt))
    points.credit(m.id, 1, source_key=f"quiz-attempt:{attempt.id}", reason="已存在")
    db.session.commit()
    with pytest.raises(points.DuplicateEntry):
        service.submit_attempt_view(m.id, attempt.id)
    db.session.rollback()  # what the request's unit of work does
    assert db.session.get(Attempt, attempt.id).status == "open"
    assert points.balance(m.id) == 1 and points.reconcile() == []
    assert db.session.scalar(select(PointsEntry.amount).where(PointsEntry.member_id == m.id)) == 1


def test_one_statement_submit_grades_files_wrong_answers_and_awards(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2, pass_percent=60, pass_bonus=4)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    answers = w.right_answers(attempt)
    answers["2"] = w.wrong_answers(attempt)["2"]
    service.save_answers(m, attempt.id, answers)
    view = service.submit_attempt_view(m.id, attempt.id)
    assert (view["correct_count"], view["points_awarded"], view["passed"]) == (4, 8 + 4, True)
    assert [i["points"] for i in view["items"]] == [2, 0, 2, 2, 2]
    db.session.expire_all()
    stored = db.session.scalars(select(AttemptQuestion).where(AttemptQuestion.attempt_id == attempt.id)
                                .order_by(AttemptQuestion.position)).all()
    assert [(i.is_correct, i.points) for i in stored] == [(True, 2), (False, 0), (True, 2), (True, 2), (True, 2)]
    assert [e.question_id for e in service.wrong_book(m)] == [stored[1].question_id]
    entry = points.entry_by_source(f"quiz-attempt:{attempt.id}")
    assert (entry.kind, entry.amount, entry.balance_after, entry.reason) == ("earn", 12, 12, "答题得分：安全知识竞赛")
    assert entry.expires_on == points.default_expiry(clock.business_day())
    assert points.balance(m.id) == 12 and points.reconcile() == []
