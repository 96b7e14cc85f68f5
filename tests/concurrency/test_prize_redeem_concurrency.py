"""Flash crowds against real gunicorn workers on PostgreSQL + Redis: exact counts, no oversell,
no overspend, and Redis rebuilt to agree with SQL afterwards. The flash sale also runs on a
three-master Redis Cluster (`on_redis`); the other crowds on one Redis server (the gate's code is
the same, and test_redis_cluster.py checks every script's keys share a slot)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import devservers
import pytest
import requests
from flask import session
from flask_login import login_user
from sqlalchemy import func, select

from benefits import counters
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsAccount, PointsEntry
from benefits.prizes import gate
from benefits.prizes.models import Prize, PrizeCounter, Redemption
from tests.prize_factories import prize, rich_member, world
from tests.redis_cluster import on_redis

pytestmark = [pytest.mark.services, pytest.mark.concurrency]
UA = "prize-concurrency-test"


def session_cookie(app, user) -> str:
    """A signed session for `user`, as signing in sets it (Flask-Login's `login_user`), without
    checking a password hash for each of hundreds of members."""
    with app.test_request_context("/", headers={"User-Agent": UA}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        login_user(user)
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def fire(server, jobs: list[tuple[str, str, dict, dict]]) -> list[tuple[int, dict]]:
    """Send every (cookie, path, json, headers) at once (threads released by one barrier)."""
    barrier = threading.Barrier(len(jobs))

    def one(job):
        cookie, path, body, headers = job
        with requests.Session() as s:
            s.headers.update({"User-Agent": UA, **headers})
            s.cookies.set("session", cookie, domain="127.0.0.1")
            barrier.wait()
            resp = s.post(server.url + path, json=body, timeout=60)
            return resp.status_code, resp.json()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(one, jobs))


def codes(results) -> dict:
    out: dict = {}
    for status, body in results:
        key = status if status == 201 else (status, body["error"]["code"])
        out[key] = out.get(key, 0) + 1
    return out


def ledger_is_exact():
    assert points.reconcile() == []
    assert db.session.scalar(select(func.min(PointsAccount.balance))) >= 0


def redis_agrees_with_sql(app, r, prize_ids):
    """`flask counters reconcile` (the same function) then every gate key equals SQL."""
    db.session.expire_all()
    app.extensions["benefits_redis"] = r
    try:
        assert counters.reconcile_all()["prizes"]["prizes"] >= len(prize_ids)
    finally:
        app.extensions["benefits_redis"] = None
    for pid in prize_ids:
        p = db.session.get(Prize, pid)
        snap = gate.snapshot(r, p)
        assert snap["stock"] == p.stock
        assert snap["points"] == {s.pickup_point_id: s.stock for s in p.stocks}
        for c in db.session.scalars(select(PrizeCounter).where(PrizeCounter.prize_id == pid,
                                                               PrizeCounter.subject != "all")):
            user_id = db.session.scalar(select(User.id).where(User.member_id == int(c.subject[1:])))
            if c.period == "life":
                k = counters.key(gate.tag(pid), "u", user_id, "life")
            elif c.period.startswith("d:"):
                k = counters.key(gate.tag(pid), "u", user_id, "d", c.period[2:])
            else:
                k = counters.key(gate.tag(pid), "u", user_id, "m", c.period[2:])
            assert int(r.get(k) or 0) == c.count


def gate_answered_every_call(server) -> None:
    """The workers' log holds no Redis trouble: the gate (not SQL alone) answered the crowd."""
    text = Path(server.log.name).read_text()
    assert "redis gate unavailable" not in text and "prize gate not rebuilt" not in text, text[-2000:]


@pytest.fixture
def crowd(pg_app, flush_redis, redis_url, postgres_url, gunicorn_factory):
    def start(env_redis: str | None = None, workers: int = 4):
        server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": env_redis or redis_url,
                                   "BENEFITS_ENV": "testing"}, workers=workers)
        time.sleep(3)  # let every worker finish booting (each rebuilds the gate from SQL on start)
        return server
    return start


def _members(w, n, amount):
    return [rich_member(w["tree"]["gujing"], amount, name=f"会员{i}", phone=None) for i in range(n)]


@on_redis("node", "cluster")
def test_flash_sale_sells_exactly_the_stock(pg_app, crowd, flush_redis):
    with unit_of_work():
        w = world(0)
        fridge = prize(w["admin"], w["point"], stock=10, cost=100, name="冰箱")
        users = _members(w, 300, 1000)
        jobs = [(session_cookie(pg_app, u), f"/api/v1/prizes/{fridge.id}/redeem", {}, {}) for u in users]
        pid = fridge.id
    server = crowd()
    results = fire(server, jobs)
    assert codes(results) == {201: 10, (409, "sold_out"): 290}
    gate_answered_every_call(server)
    db.session.expire_all()
    assert db.session.get(Prize, pid).stock == 0
    assert db.session.scalar(select(func.count(Redemption.id))) == 10
    assert db.session.scalar(select(func.sum(PointsEntry.amount)).where(PointsEntry.kind == "spend")) == -1000
    ledger_is_exact()
    redis_agrees_with_sql(pg_app, flush_redis, [pid])


def test_one_member_thirty_times_with_daily_limit_two(pg_app, crowd, flush_redis):
    with unit_of_work():
        w = world(0)
        umbrella = prize(w["admin"], w["point"], stock=100, cost=100, per_day_limit=2, name="雨伞")
        member = rich_member(w["tree"]["gujing"], 500, name="抢购者")
        cookie = session_cookie(pg_app, member)
        pid, mid = umbrella.id, member.member.id
    server = crowd()
    results = fire(server, [(cookie, f"/api/v1/prizes/{pid}/redeem", {}, {}) for _ in range(30)])
    assert codes(results) == {201: 2, (409, "member_limit_reached"): 28}
    db.session.expire_all()
    assert points.balance(mid) == 300 and db.session.get(Prize, pid).stock == 98
    ledger_is_exact()
    redis_agrees_with_sql(pg_app, flush_redis, [pid])


def test_points_for_one_prize_fired_at_two_prizes(pg_app, crowd, flush_redis):
    with unit_of_work():
        w = world(0)
        a = prize(w["admin"], w["point"], stock=100, cost=300, name="电视")
        b = prize(w["admin"], w["point"], stock=100, cost=300, name="洗衣机")
        users = _members(w, 20, 300)
        jobs = [job for u in users for job in (
            (session_cookie(pg_app, u), f"/api/v1/prizes/{a.id}/redeem", {}, {}),
            (session_cookie(pg_app, u), f"/api/v1/prizes/{b.id}/redeem", {}, {}))]
        ids = [u.member.id for u in users]
    server = crowd()
    results = fire(server, jobs)
    assert codes(results) == {201: 20, (409, "insufficient_points"): 20}
    db.session.expire_all()
    for mid in ids:
        assert points.balance(mid) == 0
        assert db.session.scalar(select(func.count(Redemption.id)).where(Redemption.member_id == mid)) == 1
    assert db.session.scalar(select(func.sum(Prize.stock))) == 200 - 20
    ledger_is_exact()


def test_same_idempotency_key_ten_times_gives_one_redemption(pg_app, crowd):
    with unit_of_work():
        w = world(0)
        tv = prize(w["admin"], w["point"], stock=5, cost=100, name="电视")
        member = rich_member(w["tree"]["gujing"], 1000, name="重试者")
        cookie, pid, mid = session_cookie(pg_app, member), tv.id, member.member.id
    server = crowd()
    results = fire(server, [(cookie, f"/api/v1/prizes/{pid}/redeem", {"quantity": 2},
                             {"Idempotency-Key": "tap-once"}) for _ in range(10)])
    assert {status for status, _ in results} == {201}
    assert all(body == results[0][1] for _, body in results)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Redemption.id))) == 1
    assert points.balance(mid) == 800 and db.session.get(Prize, pid).stock == 3


def test_redis_flushed_mid_run_still_exact_and_reconcile_restores(pg_app, crowd, flush_redis):
    with unit_of_work():
        w = world(0)
        washer = prize(w["admin"], w["point"], stock=20, cost=100, per_day_limit=1, name="洗衣机")
        users = _members(w, 120, 1000)
        jobs = [(session_cookie(pg_app, u), f"/api/v1/prizes/{washer.id}/redeem", {}, {}) for u in users]
        pid = washer.id
    server = crowd()
    # half the crowd, flush Redis, then the other half and a second wave from the same members
    first = fire(server, jobs[:60])
    flush_redis.flushdb()
    second = fire(server, jobs[60:] + jobs[:20])
    results = first + second
    assert codes(results).get(201) == 20
    assert set(codes(results)) <= {201, (409, "sold_out"), (409, "member_limit_reached")}
    db.session.expire_all()
    assert db.session.get(Prize, pid).stock == 0
    assert db.session.scalar(select(func.count(Redemption.id))) == 20
    ledger_is_exact()
    redis_agrees_with_sql(pg_app, flush_redis, [pid])


def test_redis_unreachable_for_one_host_still_exact(pg_app, crowd, flush_redis, redis_url):
    with unit_of_work():
        w = world(0)
        p = prize(w["admin"], w["point"], stock=10, cost=100, name="消毒液")
        users = _members(w, 100, 1000)
        cookies = [session_cookie(pg_app, u) for u in users]
        pid = p.id
    with_redis = crowd()
    dead = "redis+cluster://127.0.0.1:1" if counters.is_cluster(redis_url) else "redis://127.0.0.1:1/6"
    without = crowd(env_redis=dead, workers=2)
    path = f"/api/v1/prizes/{pid}/redeem"
    barrier_jobs = [(c, path, {}, {}) for c in cookies]
    half = len(barrier_jobs) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(fire, with_redis, barrier_jobs[:half])
        b = pool.submit(fire, without, barrier_jobs[half:])
        results = a.result() + b.result()
    assert codes(results) == {201: 10, (409, "sold_out"): 90}
    # both hosts answer in the same shape
    refused_without = [body for status, body in b.result() if status == 409]
    assert refused_without and set(refused_without[0]["error"]) == {"code", "message", "details"}
    db.session.expire_all()
    assert db.session.get(Prize, pid).stock == 0
    ledger_is_exact()


def send(server, job: tuple[str, str, dict, dict]) -> tuple[int, dict]:
    cookie, path, body, headers = job
    with requests.Session() as s:
        s.headers.update({"User-Agent": UA, **headers})
        s.cookies.set("session", cookie, domain="127.0.0.1")
        resp = s.post(server.url + path, json=body, timeout=60)
        return resp.status_code, resp.json()


def test_redis_going_away_mid_run_still_exact(pg_app, crowd, tmp_path):
    """The hosts' Redis stops while a crowd is in flight: requests that reserved commit, or give
    back into nothing; the rest find Redis unreachable and SQL alone decides."""
    own_redis = devservers.redis_url(tmp_path)  # a Redis of this test's own, to stop
    with unit_of_work():
        w = world(0)
        p = prize(w["admin"], w["point"], stock=10, cost=100, per_day_limit=1, name="电饭煲")
        users = _members(w, 100, 1000)
        jobs = [(session_cookie(pg_app, u), f"/api/v1/prizes/{p.id}/redeem", {}, {}) for u in users]
        pid = p.id
    server = crowd(env_redis=own_redis)
    first = fire(server, jobs[:4])
    assert codes(first) == {201: 4}
    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = [pool.submit(send, server, job) for job in jobs[4:] + jobs[:4]]  # the first four again, last
        for answered, _future in enumerate(as_completed(pending)):
            if answered == 6:  # 8 requests in flight
                assert devservers.stop(tmp_path) == ["redis"]
        second = [future.result() for future in pending]
    assert codes(first + second).get(201) == 10
    assert set(codes(second)) <= {201, (409, "sold_out"), (409, "member_limit_reached")}
    assert all(status == 409 for status, _ in second[-4:])
    db.session.expire_all()
    assert db.session.get(Prize, pid).stock == 0
    assert db.session.scalar(select(func.count(Redemption.id))) == 10
    ledger_is_exact()
