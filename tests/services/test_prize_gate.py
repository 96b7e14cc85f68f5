"""The Redis gate in front of the SQL path (real Redis and PostgreSQL): refusals without
touching the database, reservations given back by the unit of work that rolls back (and not kept
by a replay), stock given back once a cancellation commits, cold keys rebuilt, reconcile
agreeing with SQL."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benefits import clock, counters
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.prizes import gate
from benefits.prizes import service as prizes
from benefits.prizes.models import Prize, Redemption
from tests.conftest import make_app, statements_sent, wipe
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
    with statements_sent() as seen:
        yield seen


def _setup(stock=1, **fields):
    """A member with points and a prize; creating it fills the gate once it commits."""
    with unit_of_work():
        w = world(10_000)
        w["pid"] = prize(w["admin"], w["point"], stock=stock, cost=100, **fields).id
    return w


def _stock_key(w) -> str:
    return counters.key(gate.tag(w["pid"]), "stock")


def _login(app, user):
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": "password-123"})
    return client


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
    client = _login(redis_app, w["member"])
    rid = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={"quantity": 2}).get_json()["id"]
    key = _stock_key(w)
    assert int(flush_redis.get(key)) == 1
    assert client.post(f"/api/v1/prizes/redemptions/{rid}/cancel").status_code == 200
    assert int(flush_redis.get(key)) == 3
    assert client.post(f"/api/v1/prizes/redemptions/{rid}/cancel").status_code == 409
    assert int(flush_redis.get(key)) == 3  # nothing was cancelled, nothing comes back
    flush_redis.set(key, 99)  # drift (e.g. a process died mid-redemption)
    assert counters.reconcile_all()["prizes"] == {"prizes": 1}
    assert gate.snapshot(flush_redis, db.session.get(Prize, w["pid"])) == {"stock": 3, "points": {w["point"].id: 3}}


def test_stock_comes_back_to_the_gate_only_when_the_closing_commits(redis_app, flush_redis):
    w = _setup(stock=3, per_day_limit=3)
    client = _login(redis_app, w["member"])
    rid = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).get_json()["id"]
    key = _stock_key(w)
    assert int(flush_redis.get(key)) == 2
    with pytest.raises(RuntimeError), unit_of_work():
        prizes.cancel(w["member"].member, rid, w["member"].id)
        raise RuntimeError("the request fails after the cancellation")
    assert int(flush_redis.get(key)) == 2
    assert db.session.get(Redemption, rid).status == "redeemed"
    with unit_of_work():
        prizes.cancel(w["member"].member, rid, w["member"].id)
    assert int(flush_redis.get(key)) == 3


def test_reject_and_expiry_give_stock_back_to_the_gate(redis_app, flush_redis):
    w = _setup(stock=4, high_value=True, pickup_days=1, lifetime_limit=4)
    client = _login(redis_app, w["member"])
    first = client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={}).get_json()["id"]
    client.post(f"/api/v1/prizes/{w['pid']}/redeem", json={})
    key = _stock_key(w)
    life = counters.key(gate.tag(w["pid"]), "u", w["member"].id, "life")
    assert (int(flush_redis.get(key)), int(flush_redis.get(life))) == (2, 2)
    admin = _login(redis_app, w["second"])
    assert admin.post(f"/api/v1/prizes/admin/redemptions/{first}/reject").get_json()["status"] == "cancelled"
    assert (int(flush_redis.get(key)), int(flush_redis.get(life))) == (3, 1)
    with clock.freeze(clock.now() + timedelta(days=2)):
        assert "expired 1 redemption(s)" in redis_app.test_cli_runner().invoke(args=["prizes", "expire"]).output
    assert (int(flush_redis.get(key)), int(flush_redis.get(life))) == (4, 0)
    assert db.session.get(Prize, w["pid"]).stock == 4


def test_an_admin_restock_reaches_the_gate_when_it_commits(redis_app, flush_redis):
    w = _setup(stock=1)
    admin = _login(redis_app, w["admin"])
    resp = admin.post(f"/api/v1/prizes/admin/prizes/{w['pid']}/restock",
                      json={"quantity": 5, "pickup_point_id": w["point"].id})
    assert resp.status_code == 200
    assert gate.snapshot(flush_redis, db.session.get(Prize, w["pid"])) == {"stock": 6, "points": {w["point"].id: 6}}


def test_a_replay_keeps_no_second_reservation(redis_app, flush_redis):
    w = _setup(stock=5)
    client = _login(redis_app, w["member"])
    url, key = f"/api/v1/prizes/{w['pid']}/redeem", _stock_key(w)
    first = client.post(url, json={}, headers={"Idempotency-Key": "tap"})
    assert first.status_code == 201 and int(flush_redis.get(key)) == 4

    def replay_and_clash():
        again = client.post(url, json={}, headers={"Idempotency-Key": "tap"})
        assert again.status_code == 201 and again.get_data() == first.get_data()
        assert int(flush_redis.get(key)) == 4
        clash = client.post(url, json={"quantity": 2}, headers={"Idempotency-Key": "tap"})
        assert clash.get_json()["error"]["code"] == "idempotency_key_reused"
        assert int(flush_redis.get(key)) == 4

    replay_and_clash()  # the gate remembers the key: it reserves nothing and SQL replays
    remembered = flush_redis.keys(counters.key(gate.tag(w["pid"]), "idem", "*"))
    assert len(remembered) == 1
    flush_redis.delete(*remembered)
    replay_and_clash()  # forgotten (expired): the gate reserves again, the replay and the 409 give it back
    assert db.session.scalar(select(func.count(Redemption.id))) == 1
    assert db.session.get(Prize, w["pid"]).stock == 4


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


def test_the_gate_answers_again_after_redis_lost_its_scripts_or_the_connection(redis_app, flush_redis):
    w = _setup(stock=0)

    def outcome():
        with unit_of_work():
            return gate.reserve(w["pid"], w["member"].id, 1, None, None).outcome

    assert outcome() == "sold_out"
    flush_redis.script_flush()  # Redis restarted: the script is loaded again
    assert outcome() == "sold_out"
    flush_redis.client_kill_filter(_type="normal", skipme=True)  # every other connection is cut
    assert outcome() in (None, "sold_out")  # None: this one request lets SQL decide
    assert outcome() == "sold_out"


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
