"""The opening crowd of a festival campaign against real gunicorn workers on PostgreSQL + Redis:
2,000 presses from 600 members, many pressing again (some retrying with the same
Idempotency-Key), for 150 gifts at two pickup points and by post. Exactly the stock is claimed,
nobody twice, every claim was answered to its member, and Redis agrees with SQL, before and
after `flask counters reconcile`. The same holds with Redis off, and with Redis flushed in the
middle of the crowd."""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import session
from flask_login import login_user
from sqlalchemy import select

from benefits import counters
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.festival import gate
from benefits.festival.models import FestivalCampaign
from benefits.notices.models import Notice
from benefits.prizes.models import Redemption
from tests.festival_factories import campaign, world
from tests.prize_factories import member_user, pickup_point

pytestmark = [pytest.mark.services, pytest.mark.concurrency]
UA = "festival-concurrency-test"
CLIENTS = 200  # connections in flight at once
ADDRESS = "安徽省亳州市谯城区光明路66号"


def session_cookie(app, user) -> str:
    """A signed session for `user`, as signing in sets it, without a password check for each."""
    with app.test_request_context("/", headers={"User-Agent": UA}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        login_user(user)
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def fire(server, jobs: list[tuple]) -> list[tuple]:
    """Every (member index, cookie, path, body, headers) job, CLIENTS at a time, the first CLIENTS
    released together: (member index, status, body) each."""
    barrier = threading.Barrier(min(CLIENTS, len(jobs)))
    local = threading.local()

    def one(n_job):
        n, (who, cookie, path, body, headers) = n_job
        if not hasattr(local, "s"):
            local.s = requests.Session()
            local.s.headers["User-Agent"] = UA
        if n < CLIENTS:
            barrier.wait()
        local.s.cookies.clear()
        local.s.cookies.set("session", cookie, domain="127.0.0.1")
        resp = local.s.post(server.url + path, json=body, headers=headers, timeout=120)
        return who, resp.status_code, resp.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(one, enumerate(jobs)))


def outcome(status: int, body: dict):
    return status if status == 201 else (status, body["error"]["code"])


def the_crowd(app, n_members: int, presses: int, stocks: tuple[int, int, int], seed: int = 15):
    """A campaign with (rice at 古井, rice at 谯城, pears by post) stock and `n_members` members
    pressing `presses` times in all: each member presses for one gift, again and again; about
    one repeat in three retries with the first press's Idempotency-Key."""
    rng = random.Random(seed)
    with unit_of_work():
        w = world()
        county_point = pickup_point(w["admin"], w["tree"]["qiaocheng"], name="谯城区总工会")
        c = campaign(w["admin"], [(w["rice"], w["point"], stocks[0]), (w["rice"], county_point, stocks[1]),
                                  (w["pears"], None, stocks[2])])
        members = [w["member"]] + [member_user(w["tree"]["gujing"], name=f"会员{i}", phone=None)
                                   for i in range(n_members - 1)]
        cookies = [session_cookie(app, u) for u in members]
        gift_ids = [g.id for g in c.gifts]
        cid = c.id
    path = f"/api/v1/festival/campaigns/{cid}/claim"
    first_keys = [uuid.uuid4().hex for _ in members]
    jobs = []
    for n in range(presses):
        who = n if n < len(members) else rng.randrange(len(members))
        gift = gift_ids[who % 3]
        body = {"gift_id": gift, **({"delivery_address": ADDRESS} if gift == gift_ids[2] else {})}
        key = first_keys[who] if n < len(members) or rng.random() < 0.35 else uuid.uuid4().hex
        jobs.append((who, cookies[who], path, body, {"Idempotency-Key": key}))
    rng.shuffle(jobs)
    return cid, jobs, [u.id for u in members]


def assert_exact(cid: int, results: list[tuple], user_ids: list[int]) -> dict:
    """Exactly the stock claimed, nobody twice, and each claim answered (201) to its member,
    with the same answer however often they pressed."""
    db.session.expire_all()
    c = db.session.get(FestivalCampaign, cid)
    claims = db.session.execute(select(Redemption.id, Redemption.member_id, Redemption.prize_id,
                                       Redemption.pickup_point_id).where(Redemption.campaign_id == cid)).all()
    assert len(claims) == sum(g.allocated for g in c.gifts)
    assert all(g.stock == 0 for g in c.gifts)
    by_gift = Counter((p, pt) for _id, _m, p, pt in claims)
    assert {(g.prize_id, g.pickup_point_id): g.allocated for g in c.gifts} == dict(by_gift)
    assert len({m for _id, m, _p, _pt in claims}) == len(claims)  # nobody twice
    answered = defaultdict(set)
    for who, status, body in results:
        assert outcome(status, body) in {201, (409, "sold_out"), (409, "already_claimed"),
                                         (409, "claim_in_progress")}, (status, body)
        if status == 201:
            answered[who].add(body["id"])
    assert all(len(ids) == 1 for ids in answered.values())
    member_of_user = dict(db.session.execute(select(User.id, User.member_id).where(User.id.in_(user_ids))).all())
    claimed_by = {m: rid for rid, m, _p, _pt in claims}
    assert {claimed_by[member_of_user[user_ids[who]]] for who in answered} == set(claimed_by.values())
    # one pickup notice per pickup claim, none for the post
    pickup = [rid for rid, _m, _p, pt in claims if pt is not None]
    keys = set(db.session.scalars(select(Notice.dedupe_key).where(Notice.kind == "pickup_ready")))
    assert keys == {f"festival-claim:{rid}" for rid in pickup}
    return {"claims": claims, "member_of_user": member_of_user}


def assert_redis_agrees(app, r, cid: int) -> None:
    """The gate's keys equal SQL: as the crowd left them, and after `flask counters reconcile`."""
    db.session.expire_all()
    c = db.session.get(FestivalCampaign, cid)
    claimed = {user_id: key.rsplit(":", 1)[1] for user_id, key in db.session.execute(
        select(User.id, Redemption.idempotency_key).join(Redemption, Redemption.member_id == User.member_id)
        .where(Redemption.campaign_id == cid))}
    expected = {"gifts": {g.id: g.stock for g in c.gifts}, "claimed": claimed}
    assert gate.snapshot(r, c) == expected
    r.set(counters.key(gate.tag(cid), "gift", c.gifts[0].id), 7)   # drift, which reconcile repairs
    app.extensions["benefits_redis"] = r
    try:
        assert counters.reconcile_all()["festival"]["campaigns"] >= 1
    finally:
        app.extensions["benefits_redis"] = None
    assert gate.snapshot(r, c) == expected


def gates_rebuilt(r, workers: int, timeout: float = 60) -> None:
    """Wait until every worker has rebuilt the festival gate at start-up (its Redis connection's
    last command is the rebuild's EXEC). A rebuild during the crowd would be safe, but it would
    leave the gate more permissive than SQL, and these tests want it exactly equal."""
    own, db_number = str(r.client_id()), str(r.connection_pool.connection_kwargs.get("db", 0))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [c for c in r.client_list() if c["id"] != own and c["db"] == db_number and c["cmd"] == "exec"]
        if len(done) >= workers:
            return
        time.sleep(0.2)
    raise AssertionError("the workers did not rebuild the gate in time")


@pytest.fixture
def serve(pg_app, flush_redis, redis_url, postgres_url, gunicorn_factory):
    def start(redis: str | None = None, workers: int = 4):
        server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis or redis_url,
                                   "BENEFITS_ENV": "testing"}, workers=workers)
        if redis == "off":
            time.sleep(3)  # let every worker boot
        else:
            gates_rebuilt(flush_redis, workers)
        return server
    return start


def test_two_thousand_presses_claim_exactly_the_stock_and_nobody_twice(pg_app, serve, flush_redis):
    cid, jobs, user_ids = the_crowd(pg_app, 600, 2000, (70, 50, 30))
    server = serve()
    started = time.monotonic()
    results = fire(server, jobs)
    took = time.monotonic() - started
    counts = Counter(outcome(status, body) for _who, status, body in results)
    print(f"\n2,000 presses in {took:.1f} s: {dict(counts)}")
    assert counts[(409, "sold_out")] > 0 and counts[(409, "already_claimed")] > 0
    assert_exact(cid, results, user_ids)
    assert_redis_agrees(pg_app, flush_redis, cid)


def test_with_redis_off_sql_alone_is_exact(pg_app, serve):
    cid, jobs, user_ids = the_crowd(pg_app, 120, 400, (20, 15, 10), seed=16)
    server = serve(redis="off")
    results = fire(server, jobs)
    assert_exact(cid, results, user_ids)


def test_redis_flushed_mid_crowd_still_exact_and_rebuilt(pg_app, serve, flush_redis):
    cid, jobs, user_ids = the_crowd(pg_app, 150, 500, (25, 20, 10), seed=17)
    server = serve()
    first = fire(server, jobs[:200])
    flush_redis.flushdb()
    second = fire(server, jobs[200:])
    assert_exact(cid, first + second, user_ids)
    assert_redis_agrees(pg_app, flush_redis, cid)
