"""The fast start/submit paths: the per-process bank cache never serves a disabled question and
sees new ones, and the hand-built JSON is exactly what the schema would dump."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.quiz import service
from benefits.quiz.models import Attempt, AttemptQuestion, Question
from benefits.quiz.schemas import AttemptSchema
from tests.api.conftest import api_login
from tests.services import quiz_world as qw

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)


def _drawn(client, quiz_id) -> set[int]:
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
    assert _drawn(client, quiz.id) <= ids  # the cache is now warm
    disabled = sorted(ids)[:6]
    with unit_of_work():
        for qid in disabled:
            service.set_question_enabled(world.bozhou_admin, qid, False)
    for _ in range(5):
        drawn = _drawn(client, quiz.id)
        assert drawn == ids - set(disabled)  # exactly the six still enabled, never a disabled one
    with unit_of_work():
        service.set_question_enabled(world.bozhou_admin, disabled[0], True)
    assert any(disabled[0] in _drawn(client, quiz.id) for _ in range(5))  # re-enabled: drawn again at once


def test_questions_added_after_the_bank_is_cached_are_drawn(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 6)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=6)
    api_login(client, world.li.username)
    first = _drawn(client, quiz.id)
    with unit_of_work():
        for q in db.session.scalars(select(Question).where(Question.id.in_(first))):
            q.is_enabled = False
        service.import_questions(None, [
            {"job_type": "电工", "kind": "single", "stem": f"新题{n}", "options": ["甲", "乙"], "answer": "A",
             "score": 1, "difficulty": 2, "tags": [], "explanation": "", "line": n + 2} for n in range(6)],
            [], skip_bad=False)
    added = set(db.session.scalars(select(Question.id).where(Question.stem.like("新题%"))))
    assert _drawn(client, quiz.id) == added


def _comparable(body: dict) -> dict:
    """SQLite hands stored datetimes back without their zone (stored as UTC): compare instants."""
    return {k: (clock.as_utc(datetime.fromisoformat(v)) if k.endswith("_at") and v else v) for k, v in body.items()}


def test_start_and_submit_answer_exactly_what_the_schema_dumps(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 20)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=5, time_limit_seconds=600, points_per_correct=2,
                       pass_percent=60, pass_bonus=3)
    api_login(client, world.li.username)
    with clock.freeze(T0):
        started = client.post(f"/api/v1/quiz/quizzes/{quiz.id}/attempts")
        assert started.status_code == 201
        body = started.get_json()
        assert _comparable(body) == _comparable(client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json())
        attempt = db.session.get(Attempt, body["id"])
        answers = qw.right_answers(attempt)
        answers["1"] = qw.wrong_answers(attempt)["1"]
        assert client.put(f"/api/v1/quiz/attempts/{body['id']}/answers", json={"answers": answers}).status_code == 200
    with clock.freeze(T0.replace(minute=5)):
        submitted = client.post(f"/api/v1/quiz/attempts/{body['id']}/submit")
        assert submitted.status_code == 200
        result = submitted.get_json()
        assert _comparable(result) == _comparable(client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json())
        db.session.expire_all()
        dumped = AttemptSchema().dump(service.attempt_view(db.session.get(Attempt, body["id"])))
        assert _comparable(result) == _comparable(dumped)
    assert result["correct_count"] == 4 and result["points_awarded"] == 8 + 3 and result["passed"]
    assert result["items"][0]["is_correct"] is False and result["items"][0]["correct"] != result["items"][0]["chosen"]
