"""Redis Cluster: the URL chooses the client, every gate script's keys share one slot, the
sign-in throttle and `flask counters reconcile` work across the cluster's nodes, and an app
whose cluster is down still starts and leaves the decisions to SQL. (The crowds themselves run
on the cluster in test_prize_redeem_concurrency.py, test_confirm_concurrency.py and
test_promotion_apply.py; the festival gate's keys are checked here, its crowd runs on one node.)"""
from __future__ import annotations

import json
from datetime import date

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from benefits import counters
from benefits.auth import throttle
from benefits.database import unit_of_work
from benefits.festival import gate as festival_gate
from benefits.extensions import db
from benefits.prizes import gate as prize_gate
from benefits.prizes.models import Prize
from benefits.promotions import gate as promo_gate
from tests import factories
from tests.conftest import make_app
from tests.prize_factories import prize, world
from tests.redis_cluster import SLOTS, on_redis

pytestmark = [pytest.mark.services, pytest.mark.concurrency]


def _master(slot: int) -> int:
    """Which of the test cluster's three masters serves `slot` (tests/redis_cluster.py)."""
    return slot * 3 // SLOTS


def test_each_gate_script_touches_one_slot_and_gates_spread_over_the_masters():
    device = throttle.KnownDevice("d1", (throttle.account_digest("bozhou_admin"),))
    scripts = [prize_gate.gate_keys(7, 42, 3, date(2026, 11, 24), "tap-once"),
               prize_gate.gate_keys(7, 42, None, date(2026, 11, 24), None),
               promo_gate._keys(12),
               festival_gate.gate_keys(5, 17),
               throttle._keys("bozhou_admin", "10.0.0.1", None),
               throttle._keys("bozhou_admin", "10.0.0.1", device)]
    for keys in scripts:
        assert all(k.startswith("benefits:{") for k in keys)
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys
    # one prize or rule per slot, not all of them on one node
    assert {_master(key_slot(counters.key(prize_gate.tag(pid), "stock").encode())) for pid in range(1, 7)} == {0, 1, 2}
    assert len({_master(key_slot(promo_gate._keys(rid)[0].encode())) for rid in range(1, 7)}) >= 2


def test_the_url_chooses_the_client(redis_cluster, redis_url):
    cluster = counters.connect(redis_cluster.url)
    try:
        assert isinstance(cluster, RedisCluster) and len(cluster.get_primaries()) == 3
        assert cluster.set(counters.key("probe", "x"), 1) and cluster.delete(counters.key("probe", "x")) == 1
    finally:
        cluster.close()
    node = counters.connect(redis_url)
    assert type(node) is redis.Redis and node.ping()
    node.close()
    for wrong in ("redis+cluster://", "redis+cluster://127.0.0.1:notaport", "redis+cluster://127.0.0.1:7000/3"):
        with pytest.raises(ValueError, match="REDIS_URL"):
            counters.cluster_settings(wrong)


def test_an_app_starts_while_its_cluster_is_down_and_sql_decides(database_url, caplog):
    with pytest.raises(ValueError, match="database 0 only"):  # a wrong URL stops the start
        make_app(database_url, REDIS_URL="redis+cluster://127.0.0.1:1/2")
    app = make_app(database_url, REDIS_URL="redis+cluster://127.0.0.1:1,127.0.0.1:2")
    with app.app_context():
        assert counters.client() is None
        assert promo_gate.reserve(1, 500, {"budget_fen": 1000}) == (500, None, None)  # SQL decides
        with pytest.raises(redis.ConnectionError):
            counters.reconcile_all()
        db.engine.dispose()
    assert "redis gate unavailable, SQL decides alone" in caplog.text


@on_redis("cluster")
def test_sign_in_throttle_holds_across_two_hosts_sharing_the_cluster(pg_app, redis_url, flush_redis):
    with unit_of_work():
        factories.admin(factories.org_tree()["bozhou"], "bozhou_admin")
    hosts = [make_app(pg_app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url) for _ in range(2)]
    try:
        for app, tries in zip(hosts, (3, 2)):
            for _ in range(tries):
                with app.app_context():
                    wrong = app.test_client().post("/api/v1/auth/login",
                                                   json={"username": "bozhou_admin", "password": "wrong-password"})
                    assert wrong.status_code == 401
            throttle.reset_local()  # nothing kept in this process: only the cluster remembers
        with hosts[1].app_context():
            right = hosts[1].test_client().post("/api/v1/auth/login",
                                                json={"username": "bozhou_admin", "password": factories.PASSWORD})
            assert right.status_code == 429 and right.get_json()["error"]["code"] == "too_many_requests"
        keys = list(flush_redis.scan_iter(match=counters.key("login", "*")))
        assert keys and len({key_slot(k) for k in keys}) == 1
    finally:
        for app in hosts:
            with app.app_context():
                counters.client().close()
                db.session.remove()
                db.engine.dispose()


@on_redis("cluster")
def test_reconcile_rebuilds_every_prize_gate_across_the_masters(pg_app, redis_url, flush_redis, redis_cluster):
    with unit_of_work():
        w = world(0)
        point_id = w["point"].id
        pids = [prize(w["admin"], w["point"], stock=5 + i, cost=100, name=f"奖品{i}").id for i in range(6)]
    app = make_app(pg_app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url)  # rebuilds at start-up
    nodes = [redis_cluster.node(i) for i in range(3)]
    with app.app_context():
        try:
            for pid in pids:  # drift: the stock, and a member counter SQL never had
                flush_redis.set(counters.key(prize_gate.tag(pid), "stock"), 99)
                flush_redis.set(counters.key(prize_gate.tag(pid), "u", 999, "life"), 3)
            assert all(node.dbsize() for node in nodes)  # the six prizes' keys are on every master
            out = app.test_cli_runner().invoke(args=["counters", "reconcile"])
            assert out.exit_code == 0 and json.loads(out.output)["prizes"] == {"prizes": 6}
            assert not list(flush_redis.scan_iter(match=counters.key(prize_gate.tag("*"), "u", "*")))
            for pid in pids:
                p = db.session.get(Prize, pid)
                assert prize_gate.snapshot(flush_redis, p) == {"stock": p.stock, "points": {point_id: p.stock}}
        finally:
            for node in nodes:
                node.close()
            counters.client().close()
            db.session.remove()
            db.engine.dispose()
