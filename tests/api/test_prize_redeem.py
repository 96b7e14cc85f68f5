"""The one redemption path through the API (no Redis here; test_prize_gate.py adds it): every row
it writes and the answer it gives, refusals that leave nothing behind at any step, delivery prizes
and prizes at several pickup points, and sessions Flask-Login would not accept."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from benefits import clock
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.idempotency import IdempotencyRecord, fingerprint
from benefits.orgs import service as orgs
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.prizes import schemas
from benefits.prizes import service as prizes
from benefits.prizes.models import Prize, PrizeCounter, PrizeStock, Redemption
from tests import factories
from tests.conftest import statements_sent
from tests.prize_factories import pickup_point, prize, world


def _client(app, user, user_agent="prize-redeem-test"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert client.post("/login", data={"username": user.username, "password": factories.PASSWORD}).status_code == 302
    return client


def _state(prize_id: int, member_id: int) -> dict:
    """Everything a redemption writes, to compare before and after a refusal."""
    db.session.expire_all()
    return {"balance": points.balance(member_id),
            "stock": db.session.scalar(select(Prize.stock).where(Prize.id == prize_id)),
            "point_stock": db.session.scalar(select(func.sum(PrizeStock.stock)).where(PrizeStock.prize_id == prize_id)),
            "counters": db.session.scalar(select(func.coalesce(func.sum(PrizeCounter.count), 0))),
            "redemptions": db.session.scalar(select(func.count(Redemption.id))),
            "entries": db.session.scalar(select(func.count(PointsEntry.id))),
            "idempotency": db.session.scalar(select(func.count(IdempotencyRecord.id)))}


def test_a_redemption_reads_the_user_once(app):
    """The redemption's own read brings the user with its rows; Flask-Login's loader then finds
    them in the unit of work's identity map instead of reading them again."""
    with unit_of_work():
        w = world(10_000)
        pid = prize(w["admin"], w["point"], stock=5, cost=300).id
    client = _client(app, w["member"])
    db.session.remove()        # as each request in production starts with a session of its own
    with statements_sent() as statements:
        resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 1}, headers={"Idempotency-Key": "once"})
    assert resp.status_code == 201, resp.get_json()
    reads_of_users = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM users" in s]
    assert len(reads_of_users) == 1, reads_of_users


@pytest.mark.parametrize("micro", [0, 123400, 999999])
def test_a_redemption_writes_every_row_and_answers_what_it_stored(app, micro):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=5, cost=300, per_day_limit=3, per_month_limit=5,
                  lifetime_limit=10, daily_quota=100)
        pid, point_id, member_id, user_id = p.id, w["point"].id, w["member"].member.id, w["member"].id
    client = _client(app, w["member"])
    at = datetime(2026, 11, 30, 16, 0, 1, micro, tzinfo=timezone.utc)  # 00:00:01 on 1 December in Shanghai
    with clock.freeze(at):
        resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 2}, headers={"Idempotency-Key": "k1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()

    r = db.session.get(Redemption, body["id"])
    stored = {**schemas.redemption_view(r, 10_000 - 600), "created_at": clock.as_utc(r.created_at),
              "pickup_deadline": clock.as_utc(r.pickup_deadline)}
    assert schemas.RedemptionOut().dump(stored) == body
    assert body["created_at"] == at.isoformat()
    assert body["pickup_deadline"] == (at + timedelta(days=r.prize.pickup_days)).isoformat()
    assert (r.quantity, r.points_spent, r.status, r.approval, r.fulfilment, r.pickup_point_id) == \
        (2, 600, "redeemed", "not_needed", "pickup", point_id)
    assert r.business_day.isoformat() == "2026-12-01" and r.idempotency_key == f"u{user_id}:k1"
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
    assert again.status_code == 201 and again.get_data() == resp.get_data()
    clash = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 1}, headers={"Idempotency-Key": "k1"})
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _state(pid, member_id) == before


def _drain_point(pid, member_id):
    db.session.execute(text("UPDATE prize_stocks SET stock = 0 WHERE prize_id = :p"), {"p": pid})


def _quota_used(pid, member_id):
    db.session.execute(text("INSERT INTO prize_counters (prize_id, subject, period, count) "
                            "VALUES (:p, 'all', :d, 2)"), {"p": pid, "d": f"d:{clock.business_day()}"})


def _life_used(pid, member_id):
    db.session.execute(text("INSERT INTO prize_counters (prize_id, subject, period, count) "
                            "VALUES (:p, :s, 'life', 1)"), {"p": pid, "s": f"m{member_id}"})


def _closed():
    return {"closes_at": clock.now() - timedelta(minutes=1)}


@pytest.mark.parametrize("fields, cost, tamper, code", [
    ({}, 100, _drain_point, "pickup_point_sold_out"),   # after the debit, the counters and the prize's stock
    ({"daily_quota": 2}, 100, _quota_used, "daily_quota_reached"),
    ({"lifetime_limit": 1}, 100, _life_used, "member_limit_reached"),
    ({"stock": 0}, 100, None, "sold_out"),
    ({}, 20_000, None, "insufficient_points"),
    (_closed, 100, None, "prize_closed"),
    ({"eligible_categories": ["retiree"]}, 100, None, "not_eligible"),
])
def test_a_refusal_at_any_step_leaves_nothing_behind(app, fields, cost, tamper, code):
    fields = fields() if callable(fields) else dict(fields)
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=fields.pop("stock", 5), cost=cost, **fields)
        pid, member_id = p.id, w["member"].member.id
        if tamper:
            tamper(pid, member_id)
    client = _client(app, w["member"])
    before = _state(pid, member_id)
    resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={}, headers={"Idempotency-Key": "x"})
    assert resp.get_json()["error"]["code"] == code, resp.get_json()
    assert _state(pid, member_id) == before
    assert points.reconcile() == []


def test_delivery_prizes_and_prizes_at_several_points(app):
    with unit_of_work():
        w = world(10_000)
        parcel = prize(w["admin"], None, stock=5, cost=100, name="快递礼包", fulfilment="delivery")
        second = pickup_point(w["admin"], w["tree"]["gujing"], name="第二领取点")
        two = prize(w["admin"], w["point"], stock=5, cost=100, name="两处领取")
        prizes.restock(w["admin"], w["admin"].org, two, 3, second.id)
        ids = parcel.id, two.id, second.id
    client = _client(app, w["member"])
    resp = client.post(f"/api/v1/prizes/{ids[0]}/redeem", json={})
    assert resp.status_code == 400 and "delivery_address" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post(f"/api/v1/prizes/{ids[0]}/redeem",
                       json={"delivery_address": "亳州市谯城区魏武大道1号", "delivery_phone": "13800138000"})
    assert resp.status_code == 201 and resp.get_json()["delivery_phone"] == "138****8000"
    assert resp.get_json()["pickup_code"] is None and resp.get_json()["pickup_point"] is None
    resp = client.post(f"/api/v1/prizes/{ids[1]}/redeem", json={})  # which of two points?
    assert resp.status_code == 400 and "pickup_point_id" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post(f"/api/v1/prizes/{ids[1]}/redeem", json={"pickup_point_id": ids[2]})
    assert resp.status_code == 201 and resp.get_json()["pickup_point"]["name"] == "第二领取点"
    db.session.expire_all()
    assert db.session.get(PrizeStock, (ids[1], ids[2])).stock == 2 and db.session.get(Prize, ids[1]).stock == 7
    assert points.reconcile() == []


def test_a_session_flask_login_would_refuse_never_redeems(app):
    with unit_of_work():
        w = world(10_000)
        pid = prize(w["admin"], w["point"], stock=5, cost=100).id
        admin_user = factories.admin(w["tree"]["gujing"], username="gujing_admin")
    member_id = w["member"].member.id
    client = _client(app, w["member"])
    before = _state(pid, member_id)
    # another browser presenting the same cookie: Flask-Login's strong session protection
    stolen = app.test_client()
    stolen.environ_base["HTTP_USER_AGENT"] = "someone-else"
    stolen.set_cookie("session", client.get_cookie("session").value)
    assert stolen.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 401
    with unit_of_work():
        db.session.get(User, w["member"].id).is_enabled = False
    assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 401
    with unit_of_work():
        user = db.session.get(User, w["member"].id)
        user.is_enabled, user.session_token = True, "rotated0000000000000000000000000"
    assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 401
    assert _client(app, admin_user).post(f"/api/v1/prizes/{pid}/redeem", json={}).status_code == 403
    assert _state(pid, member_id) == before


def test_a_member_who_left_or_another_subtree_is_refused(app):
    with unit_of_work():
        w = world(10_000)
        guoyang = orgs.create_org("341621", "涡阳县总工会", "county", w["tree"]["bozhou"])
        elsewhere = prize(w["admin"], w["point"], name="涡阳专属", eligible_org_id=guoyang.id).id
        unlisted = prize(w["admin"], w["point"], name="下架", is_listed=False).id
        open_later = prize(w["admin"], w["point"], name="未开始", opens_at=clock.now() + timedelta(days=1)).id
    client = _client(app, w["member"])
    member_id = w["member"].member.id
    before = _state(elsewhere, member_id)
    # an id beyond 32 bits matches no route at all (benefits/inputs.py): a plain not_found
    for pid, code in ((elsewhere, "prize_not_found"), (unlisted, "prize_not_found"), (open_later, "prize_not_open"),
                      (2**40, "not_found")):
        assert client.post(f"/api/v1/prizes/{pid}/redeem", json={}).get_json()["error"]["code"] == code
    assert client.get(f"/api/v1/prizes/{2**40}").status_code == 404
    assert client.get(f"/api/v1/prizes/redemptions/{2**40}").status_code == 404
    with unit_of_work():
        db.session.get(User, w["member"].id).member.status = "left"
    resp = client.post(f"/api/v1/prizes/{open_later}/redeem", json={})
    assert resp.get_json()["error"]["code"] == "not_eligible"
    assert _state(elsewhere, member_id) == before
