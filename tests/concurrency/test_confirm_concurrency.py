"""Till confirmations fired all at once at real gunicorn workers (PostgreSQL + Redis gate):
the budget and the per-member daily limit hold exactly."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.promotions.models import PromotionRule, PromotionUsage
from benefits.transactions.models import CardTransaction
from tests import factories, till_factories as tf
from tests.concurrency.till_crowd import fire, serve, station

pytestmark = [pytest.mark.concurrency, pytest.mark.services]


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


def test_the_end_of_a_budget_spread_over_slices_is_exact_and_never_deadlocks(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    # The budget's last 30 discounts sit as unspent allotments on 16 slices and nothing is left
    # unallotted on the rule row, so most payments must fold the slices back under the rule
    # row's lock while others, holding a slice, check their rows' foreign keys to that rule.
    from benefits.promotions import service as promotions
    per_slice = [2 * 4000] * 14 + [1 * 4000, 1 * 4000 + 7]       # 30 discounts and 7 fen
    budget = 1_000_000 + sum(per_slice)
    key, cards, rule_id = station(budget, per_slice=per_slice)
    assert promotions.SLICES == len(per_slice)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": cards[i % len(cards)], "amount": "250.00"} for i in range(80)])

    assert [r.status_code for r in responses] == [201] * 80, {r.status_code: r.text[:300] for r in responses}
    discounts = [r.json()["discount_fen"] for r in responses]
    assert sum(discounts) == sum(per_slice) and max(discounts) == 4000   # all of it, never more
    db.session.expire_all()
    rule = db.session.get(PromotionRule, rule_id)
    assert (rule.budget_left_fen, rule.budget_spent_fen) == (0, budget)
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))) == sum(per_slice)
