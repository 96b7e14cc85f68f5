"""Till confirmations fired all at once at real gunicorn workers (PostgreSQL + Redis gate):
the budget and the per-member daily limit hold exactly."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.promotions.models import PromotionRule, PromotionUsage
from benefits.transactions.models import CardTransaction
from tests import factories, till_factories as tf

pytestmark = [pytest.mark.concurrency, pytest.mark.services]


def fire(url: str, key: str, bodies: list[dict]) -> list[requests.Response]:
    start = threading.Barrier(len(bodies))

    def one(body):
        session = requests.Session()
        start.wait()
        return session.post(url + "/api/v1/till/transactions", json=body, timeout=60,
                            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex})

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))


def serve(gunicorn_factory, postgres_url, redis_url):
    return gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}, workers=4, threads=4)


def test_220_confirmations_spend_exactly_the_budget(pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    # 满200减40 with a budget of 50 full discounts and 15 fen: 51 members get something, the 51st only 0.15.
    budget = 50 * 4000 + 15
    with unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"])
        rule = tf.rule(tree["bozhou"], budget_fen=budget)
        key = tf.terminal_key(merchant)
        cards = [factories.member(tree["gujing"], name=f"会员{i}").current_card.number for i in range(40)]
        rule_id = rule.id
    server = serve(gunicorn_factory, postgres_url, redis_url)
    bodies = [{"card_number": cards[i % len(cards)], "amount": "250.00"} for i in range(220)]
    responses = fire(server.url, key, bodies)

    assert [r.status_code for r in responses] == [201] * 220, {r.status_code: r.text for r in responses}
    discounts = [r.json()["discount_fen"] for r in responses]
    db.session.expire_all()
    used = db.session.get(PromotionRule, rule_id).budget_spent_fen   # spent across its budget slices
    assert sum(discounts) == used == budget
    assert sorted(d for d in discounts if d)[:1] == [15] and len([d for d in discounts if d]) == 51
    for r in responses:
        body = r.json()
        assert body["pay_fen"] == 25000 - body["discount_fen"]
        assert sum(body["shares"].values()) == body["discount_fen"]
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 220
    assert db.session.scalar(select(func.sum(CardTransaction.discount_fen))) == budget
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))) == budget


def test_same_member_20_at_once_with_a_daily_limit_of_one_gets_one_discount(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    with unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"])
        tf.rule(tree["bozhou"], budget_fen=10_000_000, per_member={"day": 1})
        key = tf.terminal_key(merchant)
        card = factories.member(tree["gujing"]).current_card.number
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": card, "amount": "250.00"}] * 20)

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    discounts = sorted(r.json()["discount_fen"] for r in responses)
    assert discounts == [0] * 19 + [4000]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(PromotionUsage.id))) == 1
    assert db.session.scalar(select(func.sum(CardTransaction.discount_fen))) == 4000
