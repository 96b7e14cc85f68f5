"""The Redis gate in front of the SQL path (real Redis, SQLite and PostgreSQL): refusals without
touching the database, reservations released on failure, reconcile agreeing with SQL."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event, func, select

from benefits import clock, counters
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.prizes import gate
from benefits.prizes.models import Prize, Redemption
from tests.conftest import make_app, wipe
from tests.prize_factories import prize, rich_member, world


def counters_client(app):
    return app.extensions["_test_redis"]


@pytest.fixture
def redis_app(database_url, flush_redis, redis_url):
    app = make_app(database_url, REDIS_URL=redis_url)
    app.extensions["_test_redis"] = app.extensions["benefits_redis"]
    with app.app_context():
        yield app
        db.session.remove()
    clock.set_frozen(None)
    wipe(app)


@pytest.fixture
def statements(redis_app):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def _setup(stock=1, **fields):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=stock, cost=100, **fields)
        gate.sync_one(p)
        w["pid"] = p.id
    return w


def test_sold_out_is_refused_by_redis_without_sql(redis_app, statements, flush_redis):
    w = _setup(stock=1)
    client = redis_app.test_client()
    client.post("/login", data={"username": w["member"].username, "password": "password-123"})
    assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
    assert int(flush_redis.get(counters.key(gate.tag(w["pid"]), "stock"))) == 0
    statements.clear()
    resp = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sold_out"
    assert statements == []


def test_member_limit_refused_by_redis_and_reservation_released_on_sql_failure(redis_app, statements, flush_redis):
    w = _setup(stock=10, per_day_limit=1)
    with unit_of_work():
        poor = rich_member(w["tree"]["gujing"], 50, name="穷会员")
    client = redis_app.test_client()
    client.post("/login", data={"username": poor.username, "password": "password-123"})
    resp = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    assert resp.get_json()["error"]["code"] == "insufficient_points"
    key = counters.key(gate.tag(w["pid"]), "stock")
    assert int(flush_redis.get(key)) == 10  # released
    client.post("/logout")
    client.post("/login", data={"username": w["member"].username, "password": "password-123"})
    assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
    statements.clear()
    again = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    assert again.get_json()["error"]["code"] == "member_limit_reached" and statements == []
    assert int(flush_redis.get(key)) == 9


def test_cancel_gives_back_in_redis_and_reconcile_matches_sql(redis_app, flush_redis):
    w = _setup(stock=3, per_month_limit=5)
    client = redis_app.test_client()
    client.post("/login", data={"username": w["member"].username, "password": "password-123"})
    rid = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={"quantity": 2}).get_json()["id"]
    key = counters.key(gate.tag(w["pid"]), "stock")
    assert int(flush_redis.get(key)) == 1
    client.post(f"/api/v1/prizes/redemptions/{rid}/cancel")
    assert int(flush_redis.get(key)) == 3
    flush_redis.set(key, 99)  # drift (e.g. a process died mid-redemption)
    assert counters.reconcile_all()["prizes"] == {"prizes": 1}
    assert gate.snapshot(flush_redis, db.session.get(Prize, w["pid"])) == {"stock": 3, "points": {w["point"].id: 3}}


def test_flushed_redis_falls_back_to_sql_and_rewarms(redis_app, flush_redis):
    w = _setup(stock=2)
    flush_redis.flushdb()
    client = redis_app.test_client()
    client.post("/login", data={"username": w["member"].username, "password": "password-123"})
    assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
    assert int(flush_redis.get(counters.key(gate.tag(w["pid"]), "stock"))) == 1  # re-warmed from SQL
    assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
    third = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    assert third.get_json()["error"]["code"] == "sold_out"
    assert db.session.scalar(select(func.count(Redemption.id))) == 2
    assert points.balance(w["member"].member.id) == 10_000 - 200


def test_unreachable_redis_keeps_the_same_answers(database_url, flush_redis):
    app = make_app(database_url, REDIS_URL="redis://127.0.0.1:1/6")
    try:
        with app.app_context():
            w = _setup(stock=1)
            client = app.test_client()
            client.post("/login", data={"username": w["member"].username, "password": "password-123"})
            assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
            resp = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
            assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sold_out"
            db.session.remove()
    finally:
        wipe(app)


def test_gate_keys_are_the_counters_keys(redis_app):
    day = clock.business_day()
    t = gate.tag(42)
    for key, idem in ((None, hashlib.sha256(b"").hexdigest()[:32]), ("r-1", hashlib.sha256(b"r-1").hexdigest()[:32])):
        assert gate.gate_keys(42, 7, None if key else 3, day, key) == [
            counters.key(t, "cfg"), counters.key(t, "stock"), counters.key(t, "pt", 0 if key else 3),
            counters.key(t, "all", day.isoformat()), counters.key(t, "u", 7, "d", day.isoformat()),
            counters.key(t, "u", 7, "m", day.strftime("%Y-%m")), counters.key(t, "u", 7, "life"),
            counters.key(t, "idem", 7, idem)]


def test_gate_call_answers_as_redis_pys_script_and_recovers(redis_app, flush_redis):
    """`counters.Gate.call` (EVALSHA on a connection the thread keeps) against redis-py's own
    registered script, then after Redis lost its scripts and after the kept connection was cut."""
    import redis as redis_lib
    from benefits import counters
    args = ("EVALSHA", gate._RESERVE.sha, 8, "benefits:{prize:1}:cfg", "兑换", 15, 0, 172800)
    packed = redis_lib.Redis().connection_pool.make_connection().pack_command(*args)
    assert counters._resp(*args) == b"".join(packed)
    w = _setup(stock=0)
    day = clock.business_day()
    sold = gate.gate_keys(w["pid"], 5, None, day, None)
    missing = gate.gate_keys(w["pid"] + 1, 5, None, day, "k")
    argv = [1, int(clock.now().timestamp()), 0, gate.DAY_TTL, gate.MONTH_TTL, gate.IDEMPOTENCY_TTL, 0]
    reference = flush_redis.register_script(gate._RESERVE.source)
    for keys in (sold, missing):
        assert gate._RESERVE.call(keys, argv) == reference(keys=keys, args=argv)
    assert gate._RESERVE.call(sold, argv)[0] == b"sold_out"
    flush_redis.script_flush()  # Redis restarted: the script is loaded again
    assert gate._RESERVE.call(sold, argv)[0] == b"sold_out"
    flush_redis.client_kill_filter(_type="normal", skipme=True)  # the kept connection is cut
    first = gate._RESERVE.call(sold, argv)
    assert first is None or first[0] == b"sold_out"  # None: this one request goes to SQL
    assert gate._RESERVE.call(sold, argv)[0] == b"sold_out"


@pytest.mark.parametrize("fields, code", [({}, "sold_out"), ({"per_day_limit": 1}, "member_limit_reached")])
def test_a_redis_refusal_is_the_same_response_as_the_sql_refusal(redis_app, statements, fields, code):
    w = _setup(stock=1 if not fields else 5, **fields)
    client = redis_app.test_client()
    client.post("/login", data={"username": w["member"].username, "password": "password-123"})
    assert client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).status_code == 201
    statements.clear()
    by_redis = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    assert statements == []
    redis_app.extensions["benefits_redis"] = None
    try:
        by_sql = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    finally:
        redis_app.extensions["benefits_redis"] = counters_client(redis_app)
    assert statements  # SQL decided this one
    assert by_redis.get_json()["error"]["code"] == code
    assert (by_redis.status_code, by_redis.mimetype, by_redis.get_data()) == \
        (by_sql.status_code, by_sql.mimetype, by_sql.get_data())
