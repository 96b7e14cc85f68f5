"""Budget and per-member limits hold exactly when real parallel processes call `apply()` on
PostgreSQL at once (without the Redis gate, and with it on one server or a Redis Cluster)."""
from __future__ import annotations

import multiprocessing as mp

import pytest
from sqlalchemy import func, select

from benefits import counters
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, Store
from benefits.members.models import Member
from benefits.promotions import gate, rules
from benefits.promotions.models import PromotionMemberUse, PromotionRule, PromotionUsage
from tests import factories, till_factories as tf
from tests.redis_cluster import on_redis

PROCESSES = 8
PER_PROCESS = 25          # 200 confirmations in all
BUDGET = 4000 * 30 + 1500  # covers 30 full 满200减40 discounts and one partial one


def _worker(database_url, redis_url, jobs, barrier, results):
    from benefits import create_app
    from benefits.database import unit_of_work
    from benefits.extensions import db
    from benefits.merchants.models import Merchant, Store
    from config import TestingConfig

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url})
    out = []
    with app.app_context():
        db.session.execute(select(1))
        barrier.wait(timeout=60)
        for member_id, merchant_id, store_id, key in jobs:
            with unit_of_work():
                member = db.session.get(Member, member_id)
                q = tf.apply(member=member, card=member.current_card, merchant=db.session.get(Merchant, merchant_id),
                                  store=db.session.get(Store, store_id), amount_fen=25000, usage_key=key)
                out.append((key, q.discount_fen, sum(sum(a.shares.values()) for a in q.applied)))
            db.session.remove()
    results.put(out)


def _run(database_url, redis_url, jobs):
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    chunks = [jobs[i::PROCESSES] for i in range(PROCESSES)]
    procs = [ctx.Process(target=_worker, args=(database_url, redis_url, chunk, barrier, results)) for chunk in chunks]
    for p in procs:
        p.start()
    collected = []
    for _ in procs:
        collected.extend(results.get(timeout=300))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return collected


@pytest.fixture
def world(pg_app):
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "bz")
        fuel = Merchant(org=tree["qiaocheng"], name="中石化", category="fuel")
        mart = Merchant(org=tree["qiaocheng"], name="超市", category="supermarket")
        db.session.add_all([fuel, mart])
        db.session.flush()
        station, shop = Store(merchant=fuel, name="一号站"), Store(merchant=mart, name="总店")
        db.session.add_all([station, shop])
        members = [factories.member(tree["gujing"], name=f"会员{i}") for i in range(40)]
        budget_rule = rules.create_rule(admin, tree["bozhou"], {
            "name": "加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "scope": "merchants", "merchant_ids": [fuel.id], "budget_fen": BUDGET,
            "split": {"union": 50, "bank": 30, "merchant": 20}})
        daily_rule = rules.create_rule(admin, tree["bozhou"], {
            "name": "超市满100减30", "kind": "threshold", "threshold_fen": 10000, "off_fen": 3000,
            "scope": "merchants", "merchant_ids": [mart.id], "per_member": {"day": 1},
            "split": {"union": 100, "bank": 0, "merchant": 0}})
    return dict(members=[m.id for m in members], fuel=(fuel.id, station.id), mart=(mart.id, shop.id),
                budget_rule=budget_rule.id, daily_rule=daily_rule.id)


@on_redis("off", "node")
def test_parallel_applies_never_overspend_budget_nor_per_member_limit(pg_app, world, request, redis_url):
    with_redis = redis_url is not None
    if with_redis:
        request.getfixturevalue("flush_redis")
    database_url = pg_app.config["SQLALCHEMY_DATABASE_URI"]
    fuel, station = world["fuel"]
    mart, shop = world["mart"]
    jobs = [(world["members"][i % len(world["members"])], fuel, station, f"fuel-{i}") for i in range(180)]
    jobs += [(world["members"][0], mart, shop, f"mart-{i}") for i in range(20)]  # one member, 20 at once
    results = _run(database_url, redis_url, jobs)
    assert len(results) == 200

    fuel_results = [d for key, d, _s in results if key.startswith("fuel")]
    assert sum(fuel_results) == BUDGET
    assert sorted(d for d in fuel_results if d) == [1500] + [4000] * 30
    assert all(d == shares for _k, d, shares in results)
    db.session.expire_all()
    rule = db.session.get(PromotionRule, world["budget_rule"])
    assert (rule.budget_used_fen, rule.uses_count, rule.budget_left_fen) == (BUDGET, 31, 0)
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))
                             .where(PromotionUsage.rule_id == rule.id)) == BUDGET

    mart_results = [d for key, d, _s in results if key.startswith("mart")]
    assert sorted(mart_results) == [0] * 19 + [3000]
    assert db.session.scalar(select(func.count(PromotionUsage.id))
                             .where(PromotionUsage.rule_id == world["daily_rule"])) == 1
    assert db.session.scalar(select(PromotionMemberUse.uses)
                             .where(PromotionMemberUse.rule_id == world["daily_rule"])) == 1

    if with_redis:
        pg_app.config["REDIS_URL"] = redis_url
        counters.init_app(pg_app)
        budget_key = gate._keys(rule.id)[0]
        assert int(counters.client().get(budget_key)) == 0   # exhausted: further requests are shed in Redis
        counters.client().set(budget_key, 999_999)
        counters.reconcile_all()
        assert int(counters.client().get(budget_key)) == 0   # rebuilt from SQL
