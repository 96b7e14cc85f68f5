"""Budget slices (SQLite and PostgreSQL): a rule's budget and uses spread over slice rows so
concurrent payments don't queue on the rule row, with the budget still exact to the fen."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.promotions import service
from benefits.promotions.models import PromotionBudgetSlice, PromotionRule
from tests.services.test_promotion_service import new_rule, pay, shop  # noqa: F401  (fixture)


def slices(rule_id: int) -> dict[int, tuple]:
    rows = db.session.execute(select(PromotionBudgetSlice.slice, PromotionBudgetSlice.allot_fen,
                                     PromotionBudgetSlice.used_fen, PromotionBudgetSlice.uses)
                              .where(PromotionBudgetSlice.rule_id == rule_id)).all()
    return {n: (a, u, k) for n, a, u, k in rows}


def rule_now(rule_id: int) -> PromotionRule:
    db.session.expire_all()
    return db.session.get(PromotionRule, rule_id)


def test_a_payment_takes_from_a_slice_allotted_a_chunk_of_the_budget(shop):
    rule = new_rule(shop, budget_fen=6_400_000)
    assert pay(shop, 25000, "a").discount_fen == 4000
    r = rule_now(rule.id)
    (allot, used, uses), = slices(rule.id).values()
    assert (allot, used, uses) == (6_400_000 // service.CHUNK_PARTS, 4000, 1)
    assert r.budget_used_fen == allot                      # allotted from the rule row
    assert (r.budget_spent_fen, r.budget_left_fen, r.total_uses) == (4000, 6_400_000 - 4000, 1)
    # the quote sees the same budget left (the clamp reads unspent allotments too)
    assert service.report(r).budget_left_fen == 6_400_000 - 4000


def test_the_last_payments_get_exactly_what_remains_across_slices(shop):
    rule = new_rule(shop, budget_fen=10_000)
    with unit_of_work():
        # 3 slices each hold an unspent allotment; the rule row has nothing unallotted left
        for number, allot in ((1, 3000), (2, 3000), (3, 4000)):
            db.session.add(PromotionBudgetSlice(rule_id=rule.id, slice=number, allot_fen=allot, used_fen=0, uses=0))
        db.session.execute(PromotionRule.__table__.update().values(budget_used_fen=10_000)
                           .where(PromotionRule.__table__.c.id == rule.id))
    with unit_of_work():
        # slice 1 cannot cover 4000 and the rule row has none unallotted: fold back and grant
        assert service._take_from_slice(rule.id, 1, 4000, budgeted=True) == (4000, "rule")
    with unit_of_work():
        assert service._take_from_slice(rule.id, 2, 4000, budgeted=True) == (4000, "slice")
    with unit_of_work():
        assert service._take_from_slice(rule.id, 3, 4000, budgeted=True) == (2000, "rule")   # the clamp
    with unit_of_work():
        assert service._take_from_slice(rule.id, 0, 4000, budgeted=True) == (0, "spent")
    r = rule_now(rule.id)
    assert (r.budget_spent_fen, r.budget_left_fen, r.total_uses) == (10_000, 0, 3)
    assert r.budget_used_fen <= r.budget_fen
    assert sum(a - u for a, u, _k in slices(rule.id).values()) == 0


def test_a_paused_rule_takes_nothing_from_its_slices(shop):
    rule = new_rule(shop, budget_fen=1_000_000)
    assert pay(shop, 25000, "a").discount_fen == 4000
    with unit_of_work():
        service.set_status(shop.admin, db.session.get(PromotionRule, rule.id), "paused")
    number = next(iter(slices(rule.id)))
    with unit_of_work():
        assert service._take_from_slice(rule.id, number, 4000, budgeted=True) == (0, "spent")
    assert rule_now(rule.id).budget_spent_fen == 4000


def test_an_unbudgeted_rule_counts_uses_on_slices(shop):
    rule = new_rule(shop)
    for key in "abc":
        assert pay(shop, 25000, key).discount_fen == 4000
    r = rule_now(rule.id)
    assert r.total_uses == 3 and r.budget_left_fen is None and r.budget_spent_fen == 12000
    assert all(a is None for a, _u, _k in slices(rule.id).values())


def test_refunds_give_uses_and_budget_back_through_the_slices(shop):
    rule = new_rule(shop, budget_fen=1_000_000)
    quote = pay(shop, 25000, "a")
    with unit_of_work():
        service.give_back(usage_key="a", discount_back_by_rule={rule.id: quote.discount_fen}, full_refund=True)
    r = rule_now(rule.id)
    assert (r.budget_spent_fen, r.budget_left_fen, r.total_uses) == (0, 1_000_000, 0)


def test_an_edit_folds_the_slices_back_onto_the_rule_row(shop):
    rule = new_rule(shop, budget_fen=1_000_000)
    pay(shop, 25000, "a")
    pay(shop, 25000, "b")
    with unit_of_work():
        r = db.session.get(PromotionRule, rule.id)
        with pytest.raises(Exception):   # below what was spent: refused, and nothing changes
            with db.session.begin_nested():
                service.edit_rule(shop.admin, shop.tree["bozhou"], r, {
                    "name": "加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
                    "split": {"union": 50, "bank": 30, "merchant": 20}, "budget_fen": 7000, "global_limit": 5})
    with unit_of_work():
        r = db.session.get(PromotionRule, rule.id)
        service.edit_rule(shop.admin, shop.tree["bozhou"], r, {
            "name": "加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "split": {"union": 50, "bank": 30, "merchant": 20}, "budget_fen": 9000, "global_limit": 3})
    r = rule_now(rule.id)
    assert slices(rule.id) == {}
    assert (r.budget_used_fen, r.uses_count, r.budget_left_fen) == (8000, 2, 1000)
    # now with a global limit: uses count on the rule row; the budget left clamps the next one
    assert pay(shop, 25000, "c").discount_fen == 1000
    assert pay(shop, 25000, "d").discount_fen == 0
    r = rule_now(rule.id)
    assert (r.total_uses, r.budget_spent_fen) == (3, 9000)
    assert db.session.scalar(select(func.count()).select_from(PromotionBudgetSlice)) == 0
