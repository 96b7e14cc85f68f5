"""The Redis gate in front of apply(): reservations kept on commit, released on rollback, rebuilt
by reconcile; and the demo promotions."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from benefits import counters
from benefits.cli.demo import DemoContext
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, Store
from benefits.promotions import demo, gate, rules
from benefits.promotions.models import PromotionRule
from tests import factories, till_factories as tf


@pytest.fixture
def shop(app):
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "admin_bozhou")
        fuel = Merchant(org=tree["qiaocheng"], name="中石化", category="fuel")
        station = Store(merchant=fuel, name="一号站")
        db.session.add_all([fuel, station])
        member = factories.member(tree["gujing"])
    return tree, admin, fuel, station, member


def test_gate_keeps_reservations_on_commit_releases_on_rollback_and_reconciles(app, shop, flush_redis, redis_url):
    tree, admin, fuel, station, member = shop
    app.config["REDIS_URL"] = redis_url
    counters.init_app(app)
    with unit_of_work():
        rule = rules.create_rule(admin, tree["bozhou"], {
            "name": "满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "budget_fen": 10000, "global_limit": 5, "split": {"union": 100}})
    budget_key, uses_key = gate._keys(rule.id)

    def pay(key):
        return tf.apply(member=member, card=member.current_card, merchant=fuel, store=station,
                             amount_fen=25000, usage_key=key)

    with unit_of_work():
        assert pay("a").discount_fen == 4000
    assert (int(flush_redis.get(budget_key)), int(flush_redis.get(uses_key))) == (6000, 4)
    with pytest.raises(RuntimeError), unit_of_work():
        assert pay("b").discount_fen == 4000
        raise RuntimeError("the till's transaction failed after apply")
    assert (int(flush_redis.get(budget_key)), int(flush_redis.get(uses_key))) == (6000, 4)
    with unit_of_work():
        pay("c")
        assert pay("d").discount_fen == 2000        # clamp: only 20.00 left
    assert int(flush_redis.get(budget_key)) == 0
    with unit_of_work():
        shed = pay("e")
    assert shed.discount_fen == 0 and shed.rejected[0].reason == "budget_spent"
    flush_redis.set(budget_key, 12345)
    assert counters.reconcile_all()["promotions"] == {"rules": 1}
    assert int(flush_redis.get(budget_key)) == 0 and int(flush_redis.get(uses_key)) == 2
    assert db.session.get(PromotionRule, rule.id).budget_used_fen == 10000


def test_demo_creates_the_report_offers_when_merchants_exist(app, shop):
    tree = shop[0]
    ctx = DemoContext(rng=random.Random(1), orgs={"3416": tree["bozhou"]})
    with unit_of_work():
        for name, category in (("华联超市", "supermarket"), ("古井大酒店", "dining")):
            db.session.add(Merchant(org=tree["qiaocheng"], name=name, category=category))
        db.session.flush()
        demo.load(ctx)
    names = set(db.session.scalars(select(PromotionRule.name)))
    assert names == {rule["name"] for rule in demo.RULES}
    weekend = db.session.scalar(select(PromotionRule).where(PromotionRule.name == "周末加油满200减40"))
    assert weekend.current_version.terms["split"] == {"union": 50, "bank": 30, "merchant": 20}


def test_demo_skips_with_a_note_without_merchants(app):
    with unit_of_work():
        tree = factories.org_tree()
    ctx = DemoContext(rng=random.Random(1), orgs={"3416": tree["bozhou"]})
    demo.load(ctx)
    assert db.session.scalar(select(func.count(PromotionRule.id))) == 0
    assert "no merchants" in ctx.notes[0]
