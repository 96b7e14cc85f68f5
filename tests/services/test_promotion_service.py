"""Promotions service: versions, validation, limits, give-back, report."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.errors import NotFound, ValidationError
from benefits.extensions import db
from benefits.merchants.models import Merchant, Store
from benefits.promotions import rules, service
from benefits.promotions.models import PromotionRule, PromotionRuleVersion, PromotionUsage
from tests import factories, till_factories as tf

TUESDAY_NOON = datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc)
SPLIT = {"union": 50, "bank": 30, "merchant": 20}


def rule_data(**kw):
    data = {"name": "加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000, "split": SPLIT}
    data.update(kw)
    return data


@pytest.fixture
def shop(app):
    clock.set_frozen(TUESDAY_NOON)
    with unit_of_work():
        tree = factories.org_tree()
        w = SimpleNamespace(tree=tree, admin=factories.admin(tree["bozhou"], "bz"))
        w.fuel = Merchant(org=tree["qiaocheng"], name="中石化谯城站", category="fuel")
        w.mart = Merchant(org=tree["maanshan"], name="马鞍山超市", category="supermarket")
        db.session.add_all([w.fuel, w.mart])
        db.session.flush()
        w.station = Store(merchant=w.fuel, name="一号站", address="谯城区")
        db.session.add(w.station)
        w.member = factories.member(tree["gujing"], name="李娜")
        w.other = factories.member(tree["gujing"], name="王强")
    return w


def new_rule(w, **kw):
    with unit_of_work():
        return rules.create_rule(w.admin, w.tree["bozhou"], rule_data(**kw))


def pay(w, amount, key, member=None):
    member = member or w.member
    with unit_of_work():
        return tf.apply(member=member, card=member.current_card, merchant=w.fuel, store=w.station,
                             amount_fen=amount, usage_key=key)


def test_quote_applies_the_report_offer_and_names_rules_that_did_not(shop):
    new_rule(shop)
    new_rule(shop, name="9折", kind="percent", pay_bp=9000)
    q = tf.quote(member=shop.member, card=shop.member.current_card, merchant=shop.fuel, store=shop.station,
                      amount_fen=25000)
    assert (q.discount_fen, q.pay_fen) == (4000, 21000)
    assert q.applied[0].shares == {"union": 2000, "bank": 1200, "merchant": 800}
    assert [(r.name, r.reason) for r in q.rejected] == [("9折", "not_best")]


def test_editing_makes_a_new_version_and_history_keeps_the_old_terms(shop):
    rule = new_rule(shop)
    first = pay(shop, 25000, "t1")
    assert first.applied[0].terms["off_fen"] == 4000
    with unit_of_work():
        rules.edit_rule(shop.admin, shop.tree["bozhou"], rule, rule_data(off_fen=5000, name="加油满200减50"))
    versions = db.session.scalars(select(PromotionRuleVersion).order_by(PromotionRuleVersion.number)).all()
    assert [(v.number, v.terms["off_fen"]) for v in versions] == [(1, 4000), (2, 5000)]
    second = pay(shop, 25000, "t2")
    assert second.discount_fen == 5000 and second.applied[0].version_id == versions[1].id
    usages = db.session.scalars(select(PromotionUsage).order_by(PromotionUsage.id)).all()
    assert [(u.version_id, u.discount_fen) for u in usages] == [(versions[0].id, 4000), (versions[1].id, 5000)]
    # the till names a version by its number within the rule, never by its database id
    assert rules.version_numbers([versions[1].id, str(versions[0].id)]) == {versions[0].id: 1, versions[1].id: 2}
    assert rules.version_numbers([]) == {}


@pytest.mark.parametrize("bad, field", [
    ({"kind": "percent", "pay_bp": 0}, "pay_bp"),
    ({"kind": "percent", "pay_bp": 10000}, "pay_bp"),
    ({"kind": "percent", "pay_bp": 12000}, "pay_bp"),
    ({"split": {"union": 60, "bank": 30, "merchant": 20}}, "split"),
    ({"valid_from": "2026-12-01", "valid_until": "2026-11-01"}, "valid_until"),
    ({"off_fen": 20000}, "off_fen"),
    ({"threshold_fen": -100}, "threshold_fen"),
    ({"budget_fen": -1}, "budget_fen"),
    ({"hour_from": 22, "hour_to": 8}, "hour_to"),
    ({"scope": "categories", "categories": []}, "categories"),
])
def test_nonsense_rules_are_refused_per_field_and_nothing_is_written(shop, bad, field):
    with pytest.raises(ValidationError) as exc:
        new_rule(shop, **bad)
    assert field in exc.value.details["fields"]
    assert db.session.scalar(select(func.count(PromotionRule.id))) == 0


def test_merchant_outside_the_admins_scope_is_refused(shop):
    with pytest.raises(ValidationError) as exc:
        new_rule(shop, scope="merchants", merchant_ids=[shop.mart.id])
    assert "merchant_ids" in exc.value.details["fields"]


def test_budget_clamps_then_stops_the_rule_and_report_adds_up(shop):
    rule = new_rule(shop, budget_fen=5000)
    assert pay(shop, 25000, "a").discount_fen == 4000
    clamped = pay(shop, 25000, "b")
    assert clamped.discount_fen == 1000 and sum(clamped.applied[0].shares.values()) == 1000
    spent = pay(shop, 25000, "c")
    assert spent.discount_fen == 0 and spent.rejected[0].reason == "budget_spent"
    report = rules.report(db.session.get(PromotionRule, rule.id))
    assert (report.uses, report.discount_fen, report.budget_left_fen) == (2, 5000, 0)
    assert report.funders == {"union": 2500, "bank": 1500, "merchant": 1000}


def test_per_member_daily_limit_resets_on_the_next_china_day(shop):
    new_rule(shop, per_member={"day": 1})
    assert pay(shop, 25000, "a").discount_fen == 4000
    again = pay(shop, 25000, "b")
    assert again.discount_fen == 0 and again.rejected[0].reason == "member_limit_day"
    assert pay(shop, 25000, "c", member=shop.other).discount_fen == 4000
    clock.set_frozen(datetime(2026, 11, 24, 16, 1, tzinfo=timezone.utc))   # 00:01 on the 25th in China
    assert pay(shop, 25000, "d").discount_fen == 4000


def test_global_limit_and_next_best_offer_takes_over(shop):
    new_rule(shop, global_limit=1)
    new_rule(shop, name="9折", kind="percent", pay_bp=9000)
    assert pay(shop, 25000, "a").applied[0].name == "加油满200减40"
    after = pay(shop, 25000, "b")
    assert after.applied[0].name == "9折" and after.discount_fen == 2500
    assert ("加油满200减40", "global_limit") in [(r.name, r.reason) for r in after.rejected]


def test_give_back_returns_budget_pro_rata_and_full_refund_returns_the_use(shop):
    rule = new_rule(shop, budget_fen=8000, per_member={"total": 1})
    q = pay(shop, 25000, "a")
    with unit_of_work():
        service.give_back(usage_key="a", discount_back_by_rule={rule.id: 1000}, full_refund=False)
    db.session.expire_all()
    assert db.session.get(PromotionRule, rule.id).budget_left_fen == 8000 - 4000 + 1000
    assert pay(shop, 25000, "b").rejected[0].reason == "member_limit_total"
    with unit_of_work():
        service.give_back(usage_key="a", discount_back_by_rule={}, full_refund=True)
    db.session.expire_all()
    assert q.discount_fen == 4000
    assert pay(shop, 25000, "c").discount_fen == 4000
    report = rules.report(db.session.get(PromotionRule, rule.id))
    assert (report.uses, report.gross_uses, report.returned_uses) == (1, 2, 1)
    assert (report.discount_fen, report.gross_discount_fen, report.returned_fen) == (4000, 8000, 4000)
    assert report.funders == {"union": 2000, "bank": 1200, "merchant": 800}
    with pytest.raises(ValidationError):
        service.give_back(usage_key="c", discount_back_by_rule={rule.id: 4001}, full_refund=False)


def test_every_report_figure_is_net_of_refunds_and_the_versions_add_up(shop):
    """Uses, discount, funders and the per-version rows all say the same thing: net of refunds."""
    rule = new_rule(shop)
    pay(shop, 25000, "a")
    pay(shop, 25000, "b")
    pay(shop, 25000, "c")
    with unit_of_work():
        service.give_back(usage_key="a", discount_back_by_rule={}, full_refund=True)
        service.give_back(usage_key="b", discount_back_by_rule={rule.id: 1000}, full_refund=False)
    report = rules.report(db.session.get(PromotionRule, rule.id))
    assert (report.uses, report.gross_uses, report.returned_uses) == (2, 3, 1)
    assert (report.discount_fen, report.gross_discount_fen, report.returned_fen) == (7000, 12000, 5000)
    assert sum(report.funders.values()) == report.discount_fen
    assert [(n, uses, fen) for n, uses, fen in report.by_version] == [(1, 2, 7000)]


def test_paused_rule_gives_nothing_and_offers_list_today_only(shop):
    weekend = new_rule(shop, name="周末加油", days_of_week=[6, 7])
    everyday = new_rule(shop, name="9折", kind="percent", pay_bp=9000)
    assert [o.name for o in service.offers_for(merchant=shop.fuel)] == ["9折"]
    clock.set_frozen(datetime(2026, 11, 28, 4, tzinfo=timezone.utc))
    assert {o.summary for o in service.offers_for(merchant=shop.fuel)} == {"9折", "满200减40 · 周六、周日"}
    with unit_of_work():
        rules.set_status(shop.admin, everyday, "paused")
        rules.set_status(shop.admin, weekend, "paused")
    assert pay(shop, 25000, "a").discount_fen == 0


def test_scope_hides_other_unions_rules(shop):
    rule = new_rule(shop)
    with pytest.raises(NotFound):
        rules.get_rule_in_scope(shop.tree["maanshan"], rule.id)
    assert rules.get_rule_in_scope(shop.tree["province"], rule.id) is rule


def test_preview_writes_nothing(shop):
    quotes = rules.preview(shop.tree["bozhou"], rule_data(kind="repeating", threshold_fen=10000, off_fen=3000,
                                                            max_repeats=2))
    assert [(q.amount_fen, q.discount_fen) for q in quotes] == [(5000, 0), (10000, 3000), (20000, 6000),
                                                                (25000, 6000), (50000, 6000)]
    assert db.session.scalar(select(func.count(PromotionRule.id))) == 0


def test_edit_cannot_cut_the_budget_below_what_was_given(shop):
    rule = new_rule(shop, budget_fen=10000)
    pay(shop, 25000, "a")
    with pytest.raises(ValidationError) as exc:
        rules.edit_rule(shop.admin, shop.tree["bozhou"], rule, rule_data(budget_fen=3999))
    assert "budget_fen" in exc.value.details["fields"]
    db.session.rollback()
    with unit_of_work():
        rules.edit_rule(shop.admin, shop.tree["bozhou"], db.session.get(PromotionRule, rule.id),
                          rule_data(budget_fen=4000))
    assert pay(shop, 25000, "b").rejected[0].reason == "budget_spent"
