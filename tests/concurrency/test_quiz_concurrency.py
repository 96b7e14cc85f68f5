"""Double submits and double starts against real gunicorn workers on PostgreSQL."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz.models import Attempt
from tests import factories
from tests.services import quiz_world as qw

pytestmark = [pytest.mark.services, pytest.mark.concurrency]


def login(server, username: str) -> requests.Session:
    s = requests.Session()
    response = s.post(server.url + "/api/v1/auth/login", json={"username": username, "password": factories.PASSWORD},
                      timeout=30)
    assert response.status_code == 200, response.text
    return s


def fire(session: requests.Session, method: str, url: str, times: int, body=None) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(times)
    cookies = session.cookies.get_dict()

    def one(_):
        with requests.Session() as s:
            s.cookies.update(cookies)
            barrier.wait()
            # always JSON: a call with the session cookie must be (benefits/security.py)
            response = s.request(method, url, json={} if body is None else body, timeout=60)
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(one, range(times)))


@pytest.fixture
def served(pg_app, postgres_url, redis_url, gunicorn_factory):
    with unit_of_work():
        tree = factories.org_tree()
        jt = qw.bank("电工", 60, kinds=("single",))
        quiz = qw.quiz(tree["bozhou"], [jt], question_count=10, points_per_correct=3, pass_percent=60, pass_bonus=5,
                       attempts_per_day=1)
        user = factories.member_user(tree["gujing"])
    server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}, workers=4)
    return server, quiz.id, user


def test_forty_simultaneous_submits_of_one_attempt_award_once(served):
    server, quiz_id, user = served
    session = login(server, user.username)
    attempt_id = session.post(f"{server.url}/api/v1/quiz/quizzes/{quiz_id}/attempts", json={}, timeout=30).json()["id"]
    saved = session.put(f"{server.url}/api/v1/quiz/attempts/{attempt_id}/answers",
                        json={"answers": qw.right_answers(attempt_id)}, timeout=30)
    assert saved.status_code == 200

    results = fire(session, "POST", f"{server.url}/api/v1/quiz/attempts/{attempt_id}/submit", 40)

    assert {status for status, _ in results} == {200}
    # every one answers the one result: 10 × 3 + pass bonus 5, handed in at one instant
    assert {(body["status"], body["points_awarded"], datetime.fromisoformat(body["submitted_at"]))
            for _, body in results} == {("submitted", 35, datetime.fromisoformat(results[0][1]["submitted_at"]))}
    db.session.expire_all()
    entries = db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == user.member_id)).all()
    assert [(e.source_key, e.amount) for e in entries] == [(f"quiz-attempt:{attempt_id}", 35)]
    assert points.balance(user.member_id) == 35 and points.reconcile() == []


def test_thirty_simultaneous_starts_with_one_attempt_a_day_make_one_attempt(served):
    server, quiz_id, user = served
    session = login(server, user.username)

    results = fire(session, "POST", f"{server.url}/api/v1/quiz/quizzes/{quiz_id}/attempts", 30)

    made = {body["id"] for status, body in results if status == 201}
    refused = [body["error"]["code"] for status, body in results if status != 201]
    assert len(made) == 1
    assert set(refused) <= {"attempt_in_progress"}
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1
