"""Till confirmations fired all at once at real gunicorn workers (PostgreSQL + Redis gate):
the budget and the per-member daily limit hold exactly. The budget's end is met on one Redis
server and on a three-master Redis Cluster (`on_redis`)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.promotions import gate
from benefits.promotions.models import PromotionRule, PromotionUsage
from benefits.transactions.models import CardTransaction
from tests import factories, till_factories as tf
from tests.concurrency.till_crowd import fire, serve, station
from tests.redis_cluster import on_redis

pytestmark = [pytest.mark.concurrency, pytest.mark.services]


@on_redis("node", "cluster")
def test_220_confirmations_spend_exactly_the_budget(pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    # 满200减40 with a budget of 50 full discounts and 15 fen: 51 members get something, the 51st only 0.15.
    budget = 50 * 4000 + 15
    key, cards, rule_id = station(budget)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    bodies = [{"card_number": cards[i % len(cards)], "amount": "250.00"} for i in range(220)]
    responses = fire(server.url, key, bodies)

    assert [r.status_code for r in responses] == [201] * 220, {r.status_code: r.text for r in responses}
    discounts = [r.json()["discount_fen"] for r in responses]
    db.session.expire_all()
    used = db.session.get(PromotionRule, rule_id).budget_used_fen
    assert sum(discounts) == used == budget
    assert sorted(d for d in discounts if d)[:1] == [15] and len([d for d in discounts if d]) == 51
    for r in responses:
        body = r.json()
        assert body["pay_fen"] == 25000 - body["discount_fen"]
        assert sum(body["shares"].values()) == body["discount_fen"]
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 220
    assert db.session.scalar(select(func.sum(CardTransaction.discount_fen))) == budget
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))) == budget
    # The gate handed the budget out (nothing is left in Redis either) and never failed over to SQL.
    assert int(flush_redis.get(gate._keys(rule_id)[0])) == 0
    assert "redis gate unavailable" not in Path(server.log.name).read_text()


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


def test_the_end_of_a_budget_without_redis_is_exact_in_sql_alone(pg_app, postgres_url, gunicorn_factory):
    # No gate in front: 80 payments meet the rule row's conditional UPDATE directly; the last
    # discounts are clamped to what is left (30 full ones and 7 fen) and nothing more is given.
    budget = 30 * 4000 + 7
    key, cards, rule_id = station(budget)
    server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": "off"}, workers=4, threads=4)
    responses = fire(server.url, key, [{"card_number": cards[i % len(cards)], "amount": "250.00"} for i in range(80)])

    assert [r.status_code for r in responses] == [201] * 80, {r.status_code: r.text[:300] for r in responses}
    discounts = [r.json()["discount_fen"] for r in responses]
    assert sum(discounts) == budget and max(discounts) == 4000 and 7 in discounts
    db.session.expire_all()
    rule = db.session.get(PromotionRule, rule_id)
    assert (rule.budget_left_fen, rule.budget_used_fen, rule.uses_count) == (0, budget, 31)
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))) == budget


def test_the_same_idempotency_key_ten_times_at_once_pays_once_with_ten_identical_answers(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    key, cards, rule_id = station(10_000_000, members=1)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": cards[0], "amount": "250.00"}] * 10, idem="till-retry-1")

    assert [r.status_code for r in responses] == [201] * 10, [r.text[:200] for r in responses]
    assert len({r.content for r in responses}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
    assert db.session.get(PromotionRule, rule_id).uses_count == 1
