"""A member's attempt over HTTP, API and pages alike: the draw keeps up with the bank (a question
disabled is never dealt, one added is dealt at once), what start and submit answer is what the
attempt shows afterwards, the page's submit grades the answers on its form, and a session that is
not a signed-in member writes nothing."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points.models import PointsEntry
from benefits.quiz import bank
from benefits.quiz.models import Attempt, AttemptQuestion, Question
from tests.api.conftest import api_login, error_code
from tests.conftest import AuthActions
from tests.services import quiz_world as qw

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)


def _dealt(client, quiz_id) -> set[int]:
    """Start an attempt over the API, hand it in (so the next start draws afresh), return its questions."""
    response = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts")
    assert response.status_code == 201, response.get_json()
    attempt_id = response.get_json()["id"]
    assert client.post(f"/api/v1/quiz/attempts/{attempt_id}/submit").status_code == 200
    return set(db.session.scalars(select(AttemptQuestion.question_id).where(AttemptQuestion.attempt_id == attempt_id)))


def test_a_question_disabled_after_the_bank_is_cached_is_never_drawn(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 12)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=6)
    api_login(client, world.li.username)
    ids = set(db.session.scalars(select(Question.id).where(Question.job_type_id == jt.id)))
    assert _dealt(client, quiz.id) <= ids  # the process's bank index is now loaded
    disabled = sorted(ids)[:6]
    with unit_of_work():
        for qid in disabled:
            bank.set_question_enabled(world.bozhou_admin, qid, False)
    for _ in range(5):
        assert _dealt(client, quiz.id) == ids - set(disabled)  # exactly the six still enabled
    with unit_of_work():
        bank.set_question_enabled(world.bozhou_admin, disabled[0], True)
    assert any(disabled[0] in _dealt(client, quiz.id) for _ in range(5))  # re-enabled: drawn again at once


def test_questions_added_after_the_bank_is_cached_are_drawn(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 6)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=6)
    api_login(client, world.li.username)
    first = _dealt(client, quiz.id)
    with unit_of_work():
        for q in db.session.scalars(select(Question).where(Question.id.in_(first))):
            q.is_enabled = False
        bank.import_questions(None, [
            {"job_type": "电工", "kind": "single", "stem": f"新题{n}", "options": ["甲", "乙"], "answer": "A",
             "score": 1, "difficulty": 2, "tags": [], "explanation": "", "line": n + 2} for n in range(6)],
            [], skip_bad=False)
    added = set(db.session.scalars(select(Question.id).where(Question.stem.like("新题%"))))
    assert _dealt(client, quiz.id) == added


def test_start_and_submit_answer_what_the_attempt_then_shows(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 20)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=5, time_limit_seconds=600, points_per_correct=2,
                       pass_percent=60, pass_bonus=3)
    api_login(client, world.li.username)
    with clock.freeze(T0):
        started = client.post(f"/api/v1/quiz/quizzes/{quiz.id}/attempts")
        assert started.status_code == 201
        body = started.get_json()
        assert body == client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json()
        answers = qw.right_answers(body["id"])
        answers["1"] = qw.wrong_answers(body["id"])["1"]
        saved = client.put(f"/api/v1/quiz/attempts/{body['id']}/answers", json={"answers": answers})
        assert saved.status_code == 200 and saved.get_json() == client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json()
    with clock.freeze(T0.replace(minute=5)):
        submitted = client.post(f"/api/v1/quiz/attempts/{body['id']}/submit")
        assert submitted.status_code == 200
        result = submitted.get_json()
        assert result == client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json()
    assert result["correct_count"] == 4 and result["points_awarded"] == 8 + 3 and result["passed"]
    assert result["items"][0]["is_correct"] is False and result["items"][0]["correct"] != result["items"][0]["chosen"]


def test_the_page_grades_the_answers_on_its_form_and_a_second_start_is_refused(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 20, kinds=("single",))
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=4, points_per_correct=5, attempts_per_day=1,
                       pass_percent=80)
    AuthActions(client).login(world.li.username)
    started = client.post(f"/quiz/{quiz.id}/start")
    attempt_id = int(started.headers["Location"].rsplit("/", 1)[1])
    form = {f"q{position}": letters for position, letters in qw.right_answers(attempt_id).items()}
    form["q2"] = qw.wrong_answers(attempt_id)["2"]
    done = client.post(f"/quiz/attempts/{attempt_id}/submit", data=form)
    assert done.status_code == 302
    page = client.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-testid="score">3/4<' in page and 'data-testid="points-awarded">15<' in page
    assert "未及格</span> 得分率 75%，及格线 80%。" in page
    refused = client.post(f"/quiz/{quiz.id}/start", follow_redirects=True).get_data(as_text=True)
    assert "今天的答题次数已用完" in refused
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1


def test_a_session_that_is_not_a_signed_in_member_starts_and_submits_nothing(app, client, world):
    with unit_of_work():
        quiz_id = qw.quiz(world.tree["bozhou"], [qw.bank("电工", 10)], question_count=3).id
    api_login(client, world.li.username)
    attempt_id = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts").get_json()["id"]
    paths = (f"/api/v1/quiz/quizzes/{quiz_id}/attempts", f"/api/v1/quiz/attempts/{attempt_id}/submit")
    for path in paths:
        assert error_code(app.test_client().post(path)) == "not_authenticated"
    with unit_of_work():
        db.session.get(User, world.li.id).is_enabled = False
    for path in paths:
        assert error_code(client.post(path)) == "not_authenticated"
    admin = app.test_client()
    api_login(admin, "bozhou_admin")
    for path in paths:
        assert error_code(admin.post(path)) == "forbidden"
    db.session.expire_all()
    assert db.session.scalars(select(Attempt.status)).all() == ["open"]
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 0


@pytest.mark.parametrize("late_policy, status", [("grade_saved", 200), ("refuse", 409)])
def test_a_late_submit_is_graded_on_saved_answers_or_refused(client, world, late_policy, status):
    with unit_of_work():
        quiz = qw.quiz(world.tree["bozhou"], [qw.bank("电工", 10, kinds=("single",))], question_count=2,
                       time_limit_seconds=60, grace_seconds=0, late_policy=late_policy)
    api_login(client, world.li.username)
    with clock.freeze(T0):
        attempt_id = client.post(f"/api/v1/quiz/quizzes/{quiz.id}/attempts").get_json()["id"]
        client.put(f"/api/v1/quiz/attempts/{attempt_id}/answers",
                   json={"answers": {"1": qw.right_answers(attempt_id)["1"]}})
    with clock.freeze(T0.replace(minute=5)):
        late_save = client.put(f"/api/v1/quiz/attempts/{attempt_id}/answers",
                               json={"answers": {"2": qw.right_answers(attempt_id)["2"]}})
        assert error_code(late_save) == "time_up"
        response = client.post(f"/api/v1/quiz/attempts/{attempt_id}/submit")
    assert response.status_code == status
    if status == 200:
        assert (response.get_json()["correct_count"], response.get_json()["late"]) == (1, True)
    else:
        assert error_code(response) == "time_up"
