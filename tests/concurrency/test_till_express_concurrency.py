"""Confirmations fired all at once at real gunicorn workers (PostgreSQL + Redis gate) while the
express path (benefits/transactions/express.py) takes most of them: budgets, limits and
Idempotency-Keys stay exact when express statements and portable units of work interleave.

Which path wrote a transaction is read from its rows: the express statement writes the
Idempotency-Key record and the transaction with one timestamp, while the portable path claims
the key before it reads the clock for the transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.promotions import service as promotions
from benefits.promotions.models import PromotionBudgetSlice, PromotionMemberUse, PromotionRule, PromotionUsage
from benefits.transactions.models import CardTransaction
from tests import factories, till_factories as tf
from tests.concurrency.till_crowd import fire, serve, station

pytestmark = [pytest.mark.concurrency, pytest.mark.services]


def express_written() -> int:
    return db.session.scalar(text(
        "SELECT count(*) FROM card_transactions t JOIN idempotency_records r"
        " ON r.scope = 'till.confirm:' || t.merchant_id AND (r.response ->> 'id')::int = t.id"
        " WHERE r.created_at = t.created_at"))


def test_220_confirmations_mostly_express_spend_exactly_the_budget(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    per_slice = [5 * 4000] * 15 + [5 * 4000 + 15]           # 80 full discounts and 15 fen
    budget = 1_000_000 + sum(per_slice)
    key, cards, rule_id = station(budget, per_slice=per_slice)
    assert promotions.SLICES == len(per_slice)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": cards[i % 40], "amount": "250.00"} for i in range(220)])

    assert [r.status_code for r in responses] == [201] * 220, {r.status_code: r.text[:300] for r in responses}
    discounts = [r.json()["discount_fen"] for r in responses]
    given = [d for d in discounts if d]
    db.session.expire_all()
    rule = db.session.get(PromotionRule, rule_id)
    # every fen given was taken from the budget, and never a fen beyond it (what a slice busy at
    # the very end still holds may stay unspent: that is not given away either)
    assert sum(discounts) == rule.budget_spent_fen - (budget - sum(per_slice))
    assert rule.budget_spent_fen <= budget and rule.budget_left_fen == budget - rule.budget_spent_fen
    assert max(discounts) == 4000 and sum(discounts) > sum(per_slice) // 2
    assert rule.total_uses - 16 == len(given)
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 220
    assert db.session.scalar(select(func.sum(CardTransaction.discount_fen))) == sum(discounts)
    assert db.session.scalar(select(func.sum(PromotionUsage.discount_fen))) == sum(discounts)
    assert db.session.scalar(select(func.count(PromotionUsage.id))) == len(given)
    for r in responses:
        body = r.json()
        assert body["pay_fen"] == 25000 - body["discount_fen"]
        assert sum(body["shares"].values()) == body["discount_fen"]
    express = express_written()
    print(f"express path wrote {express} of 220")
    assert express >= 60


def test_same_member_20_at_once_with_a_daily_limit_of_one_through_the_express_path(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    with unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"])
        rule = tf.rule(tree["bozhou"], budget_fen=10_000_000, per_member={"day": 1, "month": 3})
        tf.rule(tree["bozhou"], name="满200减10", off_fen=1000)      # the next best, no budget
        key = tf.terminal_key(merchant)
        card = factories.member(tree["gujing"]).current_card.number
        tf.allot_slices(rule.id, [100_000] * promotions.SLICES)
        db.session.execute(PromotionRule.__table__.update().values(budget_fen=PromotionRule.__table__.c.budget_fen
                                                                   + 10_000_000))
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": card, "amount": "250.00"}] * 20)

    assert [r.status_code for r in responses] == [201] * 20, [r.text[:300] for r in responses]
    assert sorted(r.json()["discount_fen"] for r in responses) == [1000] * 19 + [4000]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(PromotionUsage.id)).where(PromotionUsage.discount_fen == 4000)) == 1
    uses = db.session.execute(select(PromotionMemberUse.period, PromotionMemberUse.uses)
                              .where(PromotionMemberUse.rule_id == rule.id)).all()
    assert sorted(p[0] for p, _u in uses) == ["d", "m"] and [u for _p, u in uses] == [1, 1]   # day and month
    assert db.session.scalar(select(func.sum(CardTransaction.discount_fen))) == 4000 + 19 * 1000
    express = express_written()
    print(f"express path wrote {express} of 20")
    assert express >= 1


def test_one_key_fired_20_times_at_once_records_one_transaction(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    with unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"])
        rule = tf.rule(tree["bozhou"], budget_fen=10_000_000)
        key = tf.terminal_key(merchant)
        card = factories.member(tree["gujing"]).current_card.number
        tf.allot_slices(rule.id, [100_000] * promotions.SLICES)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    responses = fire(server.url, key, [{"card_number": card, "amount": "250.00"}] * 20, idem="one-key")

    assert [r.status_code for r in responses] == [201] * 20, [r.text[:300] for r in responses]
    assert all(r.json() == responses[0].json() for r in responses)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
    assert db.session.scalar(select(func.count(PromotionUsage.id))) == 1
    assert db.session.scalar(select(func.sum(PromotionBudgetSlice.uses))) == 16 + 1
    assert express_written() == 1
