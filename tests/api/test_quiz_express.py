"""The express start and submit (benefits/quiz/express.py): on PostgreSQL two autocommit statements
each, the signed-in user checked inside the first one; every session Flask-Login or
`member_required` would refuse is refused exactly as before, with nothing written. The HTTP
answers are checked on SQLite too (where the portable path answers)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, select

from benefits import clock, database
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points.models import PointsEntry
from benefits.quiz import service
from benefits.quiz.models import Attempt
from tests import factories
from tests.api.conftest import error_code
from tests.services import quiz_world as qw

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)
UA = "quiz-express-test"


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def spy(monkeypatch):
    """What each express attempt returned (a view, or None when it declined)."""
    seen: dict[str, list] = {"start": [], "submit": []}
    for name, kind in (("start_attempt_as", "start"), ("submit_attempt_as", "submit")):
        def wrapped(*args, _real=getattr(service, name), _kind=kind):
            view = _real(*args)
            seen[_kind].append(view)
            return view
        monkeypatch.setattr(service, name, wrapped)
    return seen


@pytest.fixture
def statements(app, monkeypatch):
    """Each statement a request sends: (SQL, autocommit?) for those sent straight to psycopg, and
    ("orm", SQL) for those through SQLAlchemy (BEGIN is implicit there: any of them means one)."""
    seen: list[tuple] = []
    real = database._driver_execute

    def driver(conn, stmt, params, row_factory=None):
        seen.append((database._compile(stmt)[0], conn.autocommit))
        return real(conn, stmt, params, row_factory)
    monkeypatch.setattr(database, "_driver_execute", driver)

    def orm(conn, cursor, statement, *args):
        seen.append(("orm", statement))
    event.listen(db.engine, "before_cursor_execute", orm)
    yield seen
    event.remove(db.engine, "before_cursor_execute", orm)


def _client(app, user, user_agent=UA):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    response = client.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 200
    return client


def _quiz(world, **settings) -> int:
    """A quiz's id (the tests read no ORM attribute between `_fresh()` and a request)."""
    with unit_of_work():
        jt = qw.bank("电工", 30)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=6, points_per_correct=2, **settings)
        # the process's bank cache warm, as after any first draw (loading it reads through the session)
        service._bank().ids(quiz.job_type_ids)
        return quiz.id


def _fresh():
    """As in production, a request starts with no transaction in the session (the tests share
    one app context with the requests; a test's own reads would otherwise hold one open)."""
    db.session.rollback()
    assert not db.session().in_transaction()


def _comparable(body: dict) -> dict:
    """SQLite hands stored datetimes back without their zone (stored as UTC): compare instants."""
    return {k: (clock.as_utc(datetime.fromisoformat(v)) if k.endswith("_at") and v else v) for k, v in body.items()}


def _written(member_id) -> dict:
    _fresh()
    attempts = db.session.execute(select(Attempt.id, Attempt.status).where(Attempt.member_id == member_id)
                                  .order_by(Attempt.id)).all()
    entries = db.session.scalar(select(func.count(PointsEntry.id)).where(PointsEntry.member_id == member_id))
    _fresh()
    return {"attempts": [tuple(a) for a in attempts], "entries": entries}


def test_express_start_and_submit_are_two_autocommit_statements_with_every_effect(app, world, spy, statements):
    quiz_id = _quiz(world, time_limit_seconds=600)
    member_id = world.li_member.id
    client = _client(app, world.li)
    _fresh()
    statements.clear()
    with clock.freeze(T0):
        started = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts")
    assert started.status_code == 201
    body = started.get_json()
    if _postgres():
        assert [view["id"] for view in spy["start"]] == [body["id"]]
        assert [auto for _sql, auto in statements] == [True, True]  # no BEGIN, no user row, no COMMIT
        assert "users.session_token" in statements[0][0] and "INSERT INTO quiz_attempts" in statements[1][0]
    else:
        assert spy["start"] == []  # the portable path answered
    assert all("answer" not in item and "correct" not in item for item in body["items"])
    # the express answer is what the schema dumps for the attempt
    _fresh()
    with clock.freeze(T0):
        shown = client.get(f"/api/v1/quiz/attempts/{body['id']}").get_json()
    assert _comparable(body) == _comparable(shown) and len(body["items"]) == 6
    _fresh()
    attempt = db.session.get(Attempt, body["id"])  # committed: another connection sees it
    assert (attempt.member_id, attempt.status, len(attempt.items)) == (member_id, "open", 6)
    answers = qw.right_answers(attempt)
    _fresh()
    with clock.freeze(T0.replace(minute=3)):
        assert client.put(f"/api/v1/quiz/attempts/{body['id']}/answers", json={"answers": answers}).status_code == 200
    _fresh()
    statements.clear()
    with clock.freeze(T0.replace(minute=5)):
        submitted = client.post(f"/api/v1/quiz/attempts/{body['id']}/submit")
    assert submitted.status_code == 200
    result = submitted.get_json()
    assert (result["status"], result["correct_count"], result["points_awarded"]) == ("submitted", 6, 12)
    if _postgres():
        assert [view["id"] for view in spy["submit"]] == [body["id"]]
        assert [auto for _sql, auto in statements] == [True, True]  # no BEGIN, no user row, no COMMIT
        assert "users.session_token" in statements[0][0] and "UPDATE quiz_attempts" in statements[1][0]
    _fresh()
    entry = db.session.scalar(select(PointsEntry).where(PointsEntry.source_key == f"quiz-attempt:{body['id']}"))
    assert (entry.member_id, entry.amount, entry.kind) == (member_id, 12, "earn")
    _fresh()
    # a repeat is the same answer (one read, nothing written) and awards nothing more
    statements.clear()
    with clock.freeze(T0.replace(minute=6)):
        again = client.post(f"/api/v1/quiz/attempts/{body['id']}/submit")
    assert again.status_code == 200 and _comparable(again.get_json()) == _comparable(result)
    if _postgres():
        assert len(statements) == 1 and statements[0][1] is True
    assert _written(member_id) == {"attempts": [(body["id"], "submitted")], "entries": 1}


def test_a_session_flask_login_or_member_required_would_refuse_is_refused_with_nothing_written(app, world, spy):
    quiz_id = _quiz(world)
    member_id, user_id = world.li_member.id, world.li.id
    client = _client(app, world.li)
    _fresh()
    opened = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts").get_json()["id"]
    spy["start"].clear()
    before = _written(member_id)
    submit = f"/api/v1/quiz/attempts/{opened}/submit"
    start = f"/api/v1/quiz/quizzes/{quiz_id}/attempts"

    # another browser presenting the same cookie: Flask-Login's strong session protection
    stolen = app.test_client()
    stolen.environ_base["HTTP_USER_AGENT"] = "someone-else"
    stolen.set_cookie("session", client.get_cookie("session").value)
    _fresh()
    assert stolen.post(start).status_code == 401
    _fresh()
    assert stolen.post(submit).status_code == 401
    assert spy == {"start": [], "submit": []}  # not even tried

    with unit_of_work():
        db.session.get(User, user_id).is_enabled = False
    for path in (start, submit):
        _fresh()
        response = client.post(path)
        assert response.status_code == 401 and error_code(response) == "not_authenticated"
    assert spy == ({"start": [None], "submit": [None]} if _postgres() else {"start": [], "submit": []})

    with unit_of_work():
        user = db.session.get(User, user_id)
        user.is_enabled, user.session_token = True, "rotated0000000000000000000000000"
    for path in (start, submit):
        _fresh()
        assert client.post(path).status_code == 401
    assert _written(member_id) == before

    # an admin is no member: 403, as member_required answers (even one tied to a member's row)
    with unit_of_work():
        db.session.get(User, world.bozhou_admin.id).member_id = world.zhao.id
    admin = _client(app, world.bozhou_admin)
    for path in (start, submit):
        _fresh()
        response = admin.post(path)
        assert response.status_code == 403 and error_code(response) == "forbidden"
    if _postgres():
        assert spy == {"start": [None, None, None], "submit": [None, None, None]}
    assert _written(member_id) == before


def test_another_members_attempt_is_not_found_and_stays_open(app, world, spy):
    quiz_id = _quiz(world)
    with unit_of_work():
        other = factories.member_user(world.tree["gujing"], name="周杰")
    other_member_id = other.member.id
    owner = _client(app, other)
    _fresh()
    attempt_id = owner.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts").get_json()["id"]
    thief = _client(app, world.li)
    _fresh()
    response = thief.post(f"/api/v1/quiz/attempts/{attempt_id}/submit")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert spy["submit"] == ([None] if _postgres() else [])
    assert _written(other_member_id)["attempts"] == [(attempt_id, "open")]


def test_limits_are_refused_on_the_express_path_as_on_the_portable_one(app, world, spy, statements):
    quiz_id = _quiz(world, attempts_per_day=1)
    member_id = world.li_member.id
    client = _client(app, world.li)
    _fresh()
    with clock.freeze(T0):
        first = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts").get_json()["id"]
        _fresh()
        assert client.post(f"/api/v1/quiz/attempts/{first}/submit").status_code == 200
        _fresh()
        statements.clear()
        response = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts")
    assert response.status_code == 409 and error_code(response) == "attempts_per_day"
    if _postgres():
        assert [auto for _sql, auto in statements] == [True]  # the read refused: nothing written
    assert _written(member_id)["attempts"] == [(first, "submitted")]


def test_a_daily_points_cap_takes_the_portable_path_and_holds(app, world, spy):
    quiz_id = _quiz(world, daily_points_cap=5)
    client = _client(app, world.li)
    _fresh()
    with clock.freeze(T0):
        attempt_id = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts").get_json()["id"]
        _fresh()
        answers = qw.right_answers(db.session.get(Attempt, attempt_id))
        _fresh()
        assert client.put(f"/api/v1/quiz/attempts/{attempt_id}/answers", json={"answers": answers}).status_code == 200
        _fresh()
        result = client.post(f"/api/v1/quiz/attempts/{attempt_id}/submit").get_json()
    assert (result["correct_count"], result["points_awarded"]) == (6, 5)
    assert spy["submit"] == ([None] if _postgres() else [])  # declined before writing anything
    _fresh()
    entry = db.session.scalar(select(PointsEntry).where(PointsEntry.source_key == f"quiz-attempt:{attempt_id}"))
    assert entry.amount == 5
