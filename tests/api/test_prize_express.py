"""The PostgreSQL express redemption (benefits/prizes/express.py): one autocommit statement with
every effect of the portable unit of work, the same answer, and a clean fallback — nothing
written — whenever any step says no. Plain-body parsing is checked on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, text

from benefits import clock
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.idempotency import IdempotencyRecord, fingerprint
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.prizes import express, flow, schemas
from benefits.prizes.models import Prize, PrizeCounter, PrizeStock, Redemption
from tests import factories
from tests.prize_factories import pickup_point, prize, rich_member, world


# --- plain bodies: the schema's answer without running it (SQLite and PostgreSQL) ---------------

@pytest.mark.parametrize("body", [{}, {"quantity": 3}, {"pickup_point_id": 7}, {"quantity": 20, "pickup_point_id": None},
                                  {"quantity": 1, "pickup_point_id": 2**31 - 1}])
def test_plain_args_are_what_the_schema_loads(app, body):
    assert flow.plain_args(body) == schemas.RedeemArgs().load(body)


@pytest.mark.parametrize("body", [None, [], "x", {"quantity": True}, {"quantity": "2"}, {"quantity": 0},
                                  {"quantity": 21}, {"quantity": 1.0}, {"pickup_point_id": "3"},
                                  {"pickup_point_id": False}, {"delivery_address": "亳州市"},
                                  {"delivery_phone": None}, {"other": 1}])
def test_other_bodies_are_not_plain(app, body):
    assert flow.plain_args(body) is None


# --- PostgreSQL ---------------------------------------------------------------------------------

@pytest.fixture
def spy(monkeypatch):
    """What each express attempt returned (a body, or None when it declined)."""
    seen: list = []
    real = express.try_redeem

    def wrapped(*args, **kwargs):
        body = real(*args, **kwargs)
        seen.append(body)
        return body
    monkeypatch.setattr(express, "try_redeem", wrapped)
    return seen


@pytest.fixture
def orm_statements(pg_app):
    """Statements through SQLAlchemy (the portable path); the express statement bypasses it."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(db.engine, "before_cursor_execute", count)


def _client(app, user, user_agent="prize-express-test"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert client.post("/login", data={"username": user.username, "password": "password-123"}).status_code == 302
    return client


def _state(prize_id: int, member_id: int) -> dict:
    db.session.expire_all()
    return {"balance": points.balance(member_id),
            "stock": db.session.scalar(select(Prize.stock).where(Prize.id == prize_id)),
            "point_stock": db.session.scalar(select(func.sum(PrizeStock.stock)).where(PrizeStock.prize_id == prize_id)),
            "counters": db.session.scalar(select(func.coalesce(func.sum(PrizeCounter.count), 0))),
            "redemptions": db.session.scalar(select(func.count(Redemption.id))),
            "entries": db.session.scalar(select(func.count(PointsEntry.id))),
            "idempotency": db.session.scalar(select(func.count(IdempotencyRecord.id)))}


@pytest.mark.parametrize("micro", [0, 123400, 999999])
def test_express_is_one_statement_with_every_effect(pg_app, spy, orm_statements, micro):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=5, cost=300, per_day_limit=3, per_month_limit=5,
                  lifetime_limit=10, daily_quota=100)
        pid, point_id, member_id, user_id = p.id, w["point"].id, w["member"].member.id, w["member"].id
    client = _client(pg_app, w["member"])
    at = datetime(2026, 11, 30, 16, 0, 1, micro, tzinfo=timezone.utc)  # 00:00:01 on 1 December in Shanghai
    orm_statements.clear()
    with clock.freeze(at):
        resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 2}, headers={"Idempotency-Key": "k1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert spy == [body] and orm_statements == []  # the portable unit of work never ran

    r = db.session.get(Redemption, body["id"])
    view = {**schemas.redemption_view(r, 10_000 - 600), "created_at": clock.as_utc(r.created_at),
            "pickup_deadline": clock.as_utc(r.pickup_deadline)}
    assert schemas.RedemptionOut().dump(view) == body
    assert body["created_at"] == at.isoformat()
    assert body["pickup_deadline"] == (at + timedelta(days=r.prize.pickup_days)).isoformat()
    assert (r.quantity, r.points_spent, r.status, r.approval, r.fulfilment, r.pickup_point_id) == \
        (2, 600, "redeemed", "not_needed", "pickup", point_id)
    assert r.business_day.isoformat() == "2026-12-01" and r.idempotency_key == f"u{user_id}:k1"
    assert clock.as_utc(r.pickup_deadline) == at + timedelta(days=r.prize.pickup_days)
    entry = points.entry_by_source(f"prize-redeem:{r.id}")
    assert (entry.member_id, entry.amount, entry.kind, entry.balance_after, entry.actor_user_id, entry.reason) == \
        (member_id, -600, "spend", 9_400, user_id, "兑换奖品 雨伞 ×2")
    assert points.reconcile() == []
    assert sorted(db.session.execute(select(PrizeCounter.subject, PrizeCounter.period, PrizeCounter.count))) == \
        sorted([("all", "d:2026-12-01", 2), (f"m{member_id}", "d:2026-12-01", 2),
                (f"m{member_id}", "m:2026-12", 2), (f"m{member_id}", "life", 2)])
    assert _state(pid, member_id)["stock"] == 3 and _state(pid, member_id)["point_stock"] == 3
    record = db.session.scalar(select(IdempotencyRecord))
    assert (record.scope, record.key, record.status_code, record.response) == \
        (f"prizes.redeem:{user_id}", "k1", 201, body)
    assert record.fingerprint == fingerprint({"prize_id": pid, "quantity": 2, "pickup_point_id": None,
                                              "delivery_address": None, "delivery_phone": None})

    before = _state(pid, member_id)
    again = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 2}, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.get_json() == body  # replayed by the portable path
    assert spy[1] is None and _state(pid, member_id) == before
    clash = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 1}, headers={"Idempotency-Key": "k1"})
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _state(pid, member_id) == before


@pytest.mark.parametrize("fields, body", [
    ({}, {}),
    ({"high_value": True}, {"quantity": 3}),
    ({"per_month_limit": 4, "eligible_categories": ["ordinary"]}, {"quantity": 1, "pickup_point_id": "POINT"}),
])
def test_express_and_portable_paths_give_the_same_answer_and_rows(pg_app, spy, monkeypatch, fields, body):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=50, cost=120, **fields)
        other = rich_member(w["tree"]["gujing"], 10_000, name="李四")
        pid, point_id = p.id, w["point"].id
    body = {k: (point_id if v == "POINT" else v) for k, v in body.items()}
    at = datetime(2026, 11, 24, 8, 0, 0, 500000, tzinfo=timezone.utc)
    answers, rows = [], []
    for user, express_on in ((w["member"], True), (other, False)):
        if not express_on:
            monkeypatch.setattr(express, "try_redeem", lambda *a, **k: None)
        client = _client(pg_app, user)
        with clock.freeze(at):
            resp = client.post(f"/api/v1/prizes/{pid}/redeem", json=body, headers={"Idempotency-Key": "same"})
        assert resp.status_code == 201, resp.get_json()
        answer = resp.get_json()
        db.session.expire_all()
        r = db.session.get(Redemption, answer["id"])
        entry = points.entry_by_source(f"prize-redeem:{r.id}")
        record = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "same",
                                                                   IdempotencyRecord.scope == f"prizes.redeem:{user.id}"))
        assert record.response == answer and record.status_code == 201
        assert len(answer["pickup_code"]) == 10 and answer["pickup_code"] == r.pickup_code
        answers.append({k: v for k, v in answer.items() if k not in ("id", "pickup_code")})
        counters = sorted((c.subject.replace(f"m{user.member.id}", "M"), c.period, c.count)
                          for c in db.session.scalars(select(PrizeCounter).where(PrizeCounter.subject != "all")
                                                      .where(PrizeCounter.subject == f"m{user.member.id}")))
        rows.append({"redemption": {c: getattr(r, c) for c in ("prize_id", "quantity", "points_spent", "fulfilment",
                                                              "pickup_point_id", "pickup_deadline", "status", "approval",
                                                              "business_day", "created_at", "closed_at",
                                                              "delivery_address", "delivery_phone")},
                     "key": r.idempotency_key.split(":", 1)[1], "fingerprint": record.fingerprint,
                     "entry": {c: getattr(entry, c) for c in ("amount", "kind", "reason", "balance_after",
                                                              "expires_on", "created_at")},
                     "actor_is_user": entry.actor_user_id == user.id, "counters": counters})
    assert spy == [spy[0]] and spy[0] is not None  # the first member went the express way
    assert answers[0] == answers[1]
    assert rows[0] == rows[1]
    assert points.reconcile() == []
    assert db.session.get(Prize, pid).stock == 50 - 2 * rows[0]["redemption"]["quantity"]


def _drain_point(pid, point_id):
    db.session.execute(text("UPDATE prize_stocks SET stock = 0 WHERE prize_id = :p AND pickup_point_id = :pt"),
                       {"p": pid, "pt": point_id})


def _quota_used(pid, point_id):
    db.session.execute(text("INSERT INTO prize_counters (prize_id, subject, period, count) "
                            "VALUES (:p, 'all', :d, 2)"), {"p": pid, "d": f"d:{clock.business_day()}"})


def _life_used(pid, member_id):
    db.session.execute(text("INSERT INTO prize_counters (prize_id, subject, period, count) "
                            "VALUES (:p, :s, 'life', 1)"), {"p": pid, "s": f"m{member_id}"})


@pytest.mark.parametrize("fields, cost, tamper, code", [
    ({}, 100, _drain_point, "pickup_point_sold_out"),   # fails after the debit, counters and prize stock
    ({"daily_quota": 2}, 100, _quota_used, "daily_quota_reached"),
    ({"lifetime_limit": 1}, 100, "member", "member_limit_reached"),
    ({}, 100, "sold", "sold_out"),
    ({}, 20_000, None, "insufficient_points"),
    ({"closes_at": "past"}, 100, None, "prize_closed"),
    ({"eligible_categories": ["retiree"]}, 100, None, "not_eligible"),
])
def test_express_refusals_roll_back_everything_and_answer_as_the_portable_path(
        pg_app, spy, fields, cost, tamper, code):
    if fields.get("closes_at") == "past":
        fields = {"closes_at": clock.now() - timedelta(minutes=1)}
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=0 if tamper == "sold" else 5, cost=cost, **fields)
        pid, point_id, member_id = p.id, w["point"].id, w["member"].member.id
        if callable(tamper):
            tamper(pid, point_id)
        elif tamper == "member":
            _life_used(pid, member_id)
    client = _client(pg_app, w["member"])
    before = _state(pid, member_id)
    resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={}, headers={"Idempotency-Key": "x"})
    assert resp.get_json()["error"]["code"] == code, resp.get_json()
    assert spy == [None] and _state(pid, member_id) == before
    assert points.reconcile() == []


def test_delivery_prizes_and_several_points_take_the_portable_way(pg_app, spy):
    with unit_of_work():
        w = world(10_000)
        parcel = prize(w["admin"], None, stock=5, cost=100, name="快递礼包", fulfilment="delivery")
        second = pickup_point(w["admin"], w["tree"]["gujing"], name="第二领取点")
        two = prize(w["admin"], w["point"], stock=5, cost=100, name="两处领取")
        from benefits.prizes import service
        service.restock(w["admin"], w["admin"].org, two, 3, second.id)
        ids = parcel.id, two.id, second.id
    client = _client(pg_app, w["member"])
    resp = client.post(f"/api/v1/prizes/{ids[0]}/redeem", json={})
    assert resp.status_code == 400 and "delivery_address" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post(f"/api/v1/prizes/{ids[0]}/redeem",
                       json={"delivery_address": "亳州市谯城区魏武大道1号", "delivery_phone": "13800138000"})
    assert resp.status_code == 201 and resp.get_json()["delivery_phone"] == "138****8000"
    resp = client.post(f"/api/v1/prizes/{ids[1]}/redeem", json={})  # which of two points?
    assert resp.status_code == 400 and "pickup_point_id" in resp.get_json()["error"]["details"]["fields"]
    assert spy == [None, None]  # tried for the plain bodies, declined; the address body never tried
    resp = client.post(f"/api/v1/prizes/{ids[1]}/redeem", json={"pickup_point_id": ids[2]})
    assert resp.status_code == 201 and resp.get_json()["pickup_point"]["name"] == "第二领取点"
    assert spy[-1] == resp.get_json()
    assert points.reconcile() == []


def test_a_session_flask_login_would_refuse_never_redeems(pg_app, spy):
    with unit_of_work():
        w = world(10_000)
        pid = prize(w["admin"], w["point"], stock=5, cost=100).id
        admin_user = factories.admin(w["tree"]["gujing"], username="gujing_admin")
    member_id = w["member"].member.id
    client = _client(pg_app, w["member"])
    before = _state(pid, member_id)
    # another browser presenting the same cookie: Flask-Login's strong session protection
    stolen = pg_app.test_client()
    stolen.environ_base["HTTP_USER_AGENT"] = "someone-else"
    stolen.set_cookie("session", client.get_cookie("session").value)
    assert stolen.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 401
    assert spy == []  # not even tried
    with unit_of_work():
        db.session.get(User, w["member"].id).is_enabled = False
    resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={})
    assert resp.status_code == 401 and spy == [None]
    with unit_of_work():
        user = db.session.get(User, w["member"].id)
        user.is_enabled, user.session_token = True, "rotated0000000000000000000000000"
    assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 401 and spy == [None, None]
    assert _client(pg_app, admin_user).post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 403
    assert spy == [None, None, None] and _state(pid, member_id) == before


def test_a_left_member_or_another_subtree_is_refused(pg_app, spy):
    with unit_of_work():
        w = world(10_000)
        from benefits.orgs import service as orgs
        guoyang = orgs.create_org("341621", "涡阳县总工会", "county", w["tree"]["bozhou"])
        elsewhere = prize(w["admin"], w["point"], name="涡阳专属", eligible_org_id=guoyang.id).id
        unlisted = prize(w["admin"], w["point"], name="下架", is_listed=False).id
        open_later = prize(w["admin"], w["point"], name="未开始", opens_at=clock.now() + timedelta(days=1)).id
    client = _client(pg_app, w["member"])
    member_id = w["member"].member.id
    before = _state(elsewhere, member_id)
    for pid, code in ((elsewhere, "prize_not_found"), (unlisted, "prize_not_found"), (open_later, "prize_not_open")):
        assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).get_json()["error"]["code"] == code
    with unit_of_work():
        db.session.get(User, w["member"].id).member.status = "left"
    assert client.post(f"/api/v1/prizes/{open_later - 2}/redeem", json={}).get_json()["error"]["code"] == "prize_not_found"
    resp = client.post(f"/api/v1/prizes/{open_later}/redeem", json={})
    assert resp.get_json()["error"]["code"] == "not_eligible"
    assert spy and all(b is None for b in spy) and _state(elsewhere, member_id) == before


def test_with_redis_the_reservation_stands_and_a_retry_is_replayed_without_an_attempt(
        postgres_url, redis_url, flush_redis, spy):
    from benefits import counters
    from benefits.prizes import gate
    from tests.conftest import make_app, wipe
    app = make_app(postgres_url, REDIS_URL=redis_url)
    try:
        with app.app_context():
            with unit_of_work():
                w = world(10_000)
                p = prize(w["admin"], w["point"], stock=3, cost=100, per_day_limit=2)
                gate.sync_one(p)
                pid = p.id
            client = _client(app, w["member"])
            stock_key = counters.key(gate.tag(pid), "stock")
            first = client.post(f"/api/v1/prizes/{pid}/redeem", json={}, headers={"Idempotency-Key": "r"})
            assert first.status_code == 201 and spy == [first.get_json()]
            assert int(flush_redis.get(stock_key)) == 2  # reserved, confirmed by the commit
            again = client.post(f"/api/v1/prizes/{pid}/redeem", json={}, headers={"Idempotency-Key": "r"})
            assert again.get_json() == first.get_json() and len(spy) == 1  # Redis said 'retry'
            assert int(flush_redis.get(stock_key)) == 2
            assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 201
            limit = client.post(f"/api/v1/prizes/{pid}/redeem", json={})
            assert limit.get_json()["error"]["code"] == "member_limit_reached" and len(spy) == 2
            assert int(flush_redis.get(stock_key)) == 1 == db.session.get(Prize, pid).stock
            db.session.remove()
    finally:
        clock.set_frozen(None)
        wipe(app)
