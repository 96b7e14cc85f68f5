"""The console's figures and the report functions behind them: each figure net of refunds,
counted once (the merchant report and the daily series are the same sum), and scoped to the
subtree asked for. The expected values are added up here from the rows themselves, not read
back through the functions under test."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from benefits import clock, periods
from benefits.admin import dashboard
from benefits.errors import ValidationError
from benefits.extensions import db
from benefits.prizes import service as prizes
from benefits.promotions import rules as promotions
from benefits.promotions.models import PromotionRule
from benefits.quiz import attempts
from benefits.quiz import reports as quiz_reports
from benefits.transactions import service as till, settlement
from benefits.transactions.models import CardTransaction, Refund
from benefits.vouchers.models import Voucher
from tests import factories, till_factories as tf, voucher_factories as vf
from tests.prize_factories import pickup_point, prize, rich_member
from tests.services import quiz_world as qw

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)      # Wednesday 18 November 2026, 10:00 in China
TODAY = date(2026, 11, 18)
EARLIER = datetime(2026, 11, 3, 4, 0, tzinfo=timezone.utc)    # 3 November, 12:00 in China


def _pay(ref, member, amount_fen, **kw) -> CardTransaction:
    body = till.confirm_transaction(ref, amount_fen=amount_fen, card_number=member.current_card.number, **kw)
    return db.session.get(CardTransaction, body["id"])


@pytest.fixture
def spend(app):
    """Bozhou: a fuel station and a supermarket, 满200减40 (50/30/20), a 100.00 voucher (union 60 %,
    bank 40 %, the merchant adds 10.00). Sales on 3 November and today, partial refunds today
    (one of a voucher payment). Maanshan: a bus company with a sale today."""
    clock.set_frozen(NOON)
    tree = factories.org_tree()
    fuel = tf.merchant(tree["bozhou"], name="中石化亳州站", category="fuel")
    shop = tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
    bus = tf.merchant(tree["maanshan"], name="马鞍山公交集团", category="transport")
    tf.rule(tree["bozhou"], budget_fen=100_000)
    poor = factories.member(tree["gujing"], name="王芳", category="hardship")
    li = factories.member(tree["gujing"], name="李强")
    wang = factories.member(tree["magang"], name="王强")
    programme = vf.programme(tree["bozhou"], face_fen=10000, topup_fen=1000, topup_bp=None,
                             split={"union": 60, "bank": 40})
    vf.issue(programme)
    voucher = db.session.scalar(select(Voucher).where(Voucher.member_id == poor.id))
    fuel_till, shop_till = till.TillRef(store_id=fuel.stores[0].id), till.TillRef(store_id=shop.stores[0].id)
    with clock.freeze(EARLIER):
        _pay(fuel_till, li, 25000)                                   # 40.00 off
    big = _pay(fuel_till, li, 30000)                                 # 40.00 off
    till.refund_transaction(fuel_till, big.id, pay_fen=10500)        # part of it back, discount pro rata
    paid = _pay(shop_till, poor, 6000, voucher_ids=[voucher.id])     # below 200: the voucher pays 60.00
    till.refund_transaction(shop_till, paid.id)                      # all of it back, voucher too
    _pay(shop_till, poor, 4000, voucher_ids=[voucher.id])
    _pay(till.TillRef(store_id=bus.stores[0].id), wang, 10000)
    return {"tree": tree, "fuel": fuel, "shop": shop, "bus": bus}


def _expected(merchant_ids, first: date, last: date) -> dict:
    """Net figures added up from the rows: sales of those days less refunds made on them."""
    def day_ok(d):
        return first <= d <= last
    sales = [t for t in db.session.scalars(select(CardTransaction)) if t.merchant_id in merchant_ids and day_ok(t.business_day)]
    refunds = [r for r in db.session.scalars(select(Refund)) if r.merchant_id in merchant_ids and day_ok(r.business_day)]
    out = {"transactions": len(sales), "refunds": len(refunds)}
    for name in ("discount_fen", "union_fen", "bank_fen", "merchant_fen", "voucher_fen", "voucher_union_fen",
                 "voucher_bank_fen", "voucher_topup_fen"):
        out[name] = sum(getattr(t, name) for t in sales) - sum(getattr(r, name) for r in refunds)
    out["amount_fen"] = sum(t.amount_fen for t in sales) - sum(r.pay_fen + r.discount_fen + r.voucher_fen for r in refunds)
    return out


def test_the_console_shows_todays_and_this_months_spend_net_of_refunds_by_funder(spend):
    bozhou = [spend["fuel"].id, spend["shop"].id]
    o = dashboard.overview(spend["tree"]["bozhou"])
    assert o.today == TODAY and o.month == periods.Period(date(2026, 11, 1), TODAY)
    assert {k: o.today_spend[k] for k in _expected(bozhou, TODAY, TODAY)} == _expected(bozhou, TODAY, TODAY)
    month = _expected(bozhou, date(2026, 11, 1), TODAY)
    assert {k: o.month_spend[k] for k in month} == month
    # the same by hand, so the sums above are not vacuous: the fuel refund gave back 105.00 paid and
    # its share of the discount; the voucher payment of 60.00 came back whole
    given_back = big_refund_discount(spend)
    assert 0 < given_back < 4000 and month["transactions"] == 4 and month["refunds"] == 2
    assert month["discount_fen"] == 4000 + 4000 - given_back
    assert month["amount_fen"] == 25000 + 30000 + 6000 + 4000 - (10500 + given_back) - 6000
    assert month["voucher_fen"] == 4000 == month["voucher_union_fen"] + month["voucher_bank_fen"] \
        + month["voucher_topup_fen"] and month["voucher_topup_fen"] > 0
    assert len(o.days) == 18 and o.days[2]["day"] == date(2026, 11, 3) and o.days[2]["amount_fen"] == 25000
    assert sum(d["amount_fen"] for d in o.days) == month["amount_fen"]


def big_refund_discount(spend) -> int:
    refund = db.session.scalars(select(Refund).where(Refund.merchant_id == spend["fuel"].id)).one()
    return refund.discount_fen


def test_the_merchant_report_and_the_daily_series_are_one_sum(spend):
    period = periods.Period(date(2026, 11, 1), TODAY)
    scope = spend["tree"]["bozhou"]
    by_merchant = settlement.report_totals(settlement.merchant_report(scope, period.start, period.end))
    by_day = settlement.report_totals(settlement.daily_spend(scope, period))
    assert by_merchant == by_day
    rows = {r["merchant"].id: r for r in settlement.merchant_report(scope, period.start, period.end)}
    shop = _expected([spend["shop"].id], period.start, period.end)
    assert {k: rows[spend["shop"].id][k] for k in shop} == shop
    assert shop["amount_fen"] == 4000      # the refunded voucher payment counts nothing, voucher part included


def test_every_figure_keeps_to_the_subtree(spend):
    tree = spend["tree"]
    maanshan = dashboard.overview(tree["maanshan"])
    assert (maanshan.today_spend["amount_fen"], maanshan.month_spend["transactions"]) == (10000, 1)
    assert dashboard.overview(tree["gujing"]).month_spend["amount_fen"] == 0     # no merchant of its own
    province = dashboard.overview(tree["province"]).month_spend
    bozhou = dashboard.overview(tree["bozhou"]).month_spend
    assert province["amount_fen"] == bozhou["amount_fen"] + 10000
    assert [r["merchant"].id for r in settlement.merchant_report(tree["maanshan"], TODAY, TODAY)] == [spend["bus"].id]


def test_budget_burn_lists_active_budgeted_rules_most_spent_first(spend):
    tree = spend["tree"]
    [station] = promotions.budget_burn(tree["bozhou"])[0]
    spare = tf.rule(tree["bozhou"], name="满100减30", threshold_fen=10000, off_fen=3000, budget_fen=1_000_000)
    paused = tf.rule(tree["bozhou"], name="已暂停", budget_fen=5000)
    promotions.set_status(None, paused, "paused")
    tf.rule(tree["bozhou"], name="不设预算")
    tf.rule(tree["maanshan"], name="马鞍山满减", budget_fen=100)
    lines, with_budget, without = promotions.budget_burn(tree["bozhou"])
    assert [line.rule_id for line in lines] == [station.rule_id, spare.id]
    assert (with_budget, without) == (2, 1)
    rule = db.session.get(PromotionRule, station.rule_id)
    db.session.refresh(rule)      # the tills moved its counter in SQL
    assert (lines[0].budget_fen, lines[0].spent_fen, lines[0].left_fen) == (100_000, rule.budget_used_fen,
                                                                              100_000 - rule.budget_used_fen)
    # the tills' counter is the rule report's discount, net of refunds
    assert lines[0].spent_fen == promotions.report(rule).discount_fen > 0
    assert promotions.budget_burn(tree["bozhou"], limit=1)[0] == lines[:1]
    assert dashboard.overview(tree["bozhou"]).budget == lines


def test_a_rules_days_are_net_of_refunds_and_add_up_to_its_report(spend):
    lines, _n, _m = promotions.budget_burn(spend["tree"]["bozhou"])
    rule = db.session.get(PromotionRule, lines[0].rule_id)
    days = promotions.daily_report(rule, periods.Period(date(2026, 11, 1), TODAY))
    report = promotions.report(rule)
    assert sum(d["discount_fen"] for d in days) == report.discount_fen
    assert sum(d["uses"] for d in days) == report.uses == 2
    for funder in ("union", "bank", "merchant"):
        assert sum(d["funders"][funder] for d in days) == report.funders[funder]
    assert days[2]["discount_fen"] == 4000 and days[-1]["discount_fen"] == 4000 - big_refund_discount(spend)


@pytest.fixture
def quiz_day(app):
    """A province quiz; two Bozhou members and a Maanshan member hand it in on different days."""
    clock.set_frozen(NOON)
    tree = factories.org_tree()
    quiz = qw.quiz(tree["province"], [qw.bank("电工", 20)], question_count=3)
    li, zhao, wang = qw.member(tree["gujing"]), qw.member(tree["qiaocheng"]), qw.member(tree["magang"])

    def sit(member, at):
        with clock.freeze(at):
            a = attempts.start_attempt(member.id, quiz.id)
            attempts.submit_attempt(member.id, a["id"], qw.right_answers(a["id"]))

    sit(li, NOON)
    sit(li, NOON + timedelta(minutes=5))
    sit(zhao, NOON - timedelta(days=3))           # 15 November: this week and month
    sit(zhao, datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc))   # 1 November, 07:30 in China
    sit(wang, NOON)
    with clock.freeze(NOON):
        attempts.start_attempt(wang.id, quiz.id)      # started, never handed in: not counted
    return {"tree": tree, "quiz": quiz}


def test_quiz_participation_today_this_week_and_month_for_the_members_of_the_subtree(quiz_day):
    tree = quiz_day["tree"]
    glance = quiz_reports.at_a_glance(tree["bozhou"])
    assert glance["today"] == quiz_reports.Participation(2, 1)
    assert glance["week"] == quiz_reports.Participation(3, 2)
    assert glance["month"] == quiz_reports.Participation(4, 2)      # 1 November 07:30 China is this month
    assert quiz_reports.at_a_glance(tree["province"])["today"] == quiz_reports.Participation(3, 2)
    assert quiz_reports.at_a_glance(tree["magang"])["month"] == quiz_reports.Participation(1, 1)
    assert quiz_reports.at_a_glance(tree["huashan"], TODAY + timedelta(days=40))["month"] == \
        quiz_reports.Participation(0, 0)


def test_the_quiz_report_counts_by_china_day_and_by_quiz(quiz_day):
    tree = quiz_day["tree"]
    period = periods.Period(date(2026, 10, 31), TODAY)
    days = {d["day"]: (d["attempts"], d["members"]) for d in quiz_reports.daily(tree["bozhou"], period)}
    assert days[date(2026, 11, 1)] == (1, 1) and days[date(2026, 10, 31)] == (0, 0)
    assert days[date(2026, 11, 15)] == (1, 1) and days[TODAY] == (2, 1)
    assert sum(a for a, _m in days.values()) == 4
    [row] = quiz_reports.by_quiz(tree["bozhou"], period)
    assert (row["quiz_id"], row["attempts"], row["members"], row["passed"], row["average_score"]) == \
        (quiz_day["quiz"].id, 4, 2, 0, 100)
    assert row["points"] == 4 * 3
    assert quiz_reports.totals(tree["bozhou"], period) == quiz_reports.Participation(4, 2)
    assert quiz_reports.by_quiz(tree["maanshan"], periods.Period(TODAY, TODAY))[0]["attempts"] == 1


def test_redemptions_today_awaiting_pickup_and_prizes_running_low(app):
    clock.set_frozen(NOON)
    tree = factories.org_tree()
    admin = factories.admin(tree["bozhou"], "prize_admin")
    point = pickup_point(admin, tree["gujing"])
    umbrella = prize(admin, point, stock=3, cost=100, name="雨伞")
    prize(admin, point, stock=50, cost=100, name="消毒液")
    empty = prize(admin, point, stock=1, cost=100, name="电饭煲")
    hidden = prize(admin, point, stock=2, cost=100, name="已下架的奖品")
    prizes.update_prize(admin, tree["bozhou"], hidden, {"is_listed": False})
    other_admin = factories.admin(tree["maanshan"], "mas_admin")
    prize(other_admin, pickup_point(other_admin, tree["magang"], name="马钢工会"), stock=1, name="马鞍山奖品")
    member = rich_member(tree["gujing"], 1000)

    def redeem(p, key):
        args = {"quantity": 1, "pickup_point_id": None, "delivery_address": None, "delivery_phone": None}
        return prizes.redeem_prize(p.id, args, key, user_id=member.id, signed_in=lambda: member)

    redeem(umbrella, "a")
    gone = redeem(umbrella, "b")
    prizes.cancel(member.member, gone["id"], member.id)
    redeem(empty, "c")
    with clock.freeze(NOON - timedelta(days=2)):
        redeem(umbrella, "d")
    db.session.expire_all()       # the stock moved in SQL; the console reads it afresh in its own request
    o = dashboard.overview(tree["bozhou"])
    assert o.redemptions == {"today_units": 2, "awaiting_pickup": 3, "awaiting_approval": 0}
    assert [(p.name, p.stock) for p in o.low_stock] == [("电饭煲", 0), ("雨伞", 1)]
    assert [p.name for p in dashboard.overview(tree["maanshan"]).low_stock] == ["马鞍山奖品"]
    days = prizes.daily_report(umbrella, periods.last_days(7))
    assert [(d["units"], d["returned_units"], d["points"]) for d in days[-3:]] == [(1, 0, 100), (0, 0, 0), (1, 1, 100)]


@pytest.mark.parametrize("start, end, code", [
    (date(2026, 11, 30), date(2026, 11, 1), "period_reversed"),
    (date(2025, 1, 1), date(2026, 1, 2), "period_too_long"),            # 367 days
    (date(1, 1, 1), date(1, 1, 2), "bad_date"),
])
def test_a_period_must_be_forwards_at_most_a_year_and_within_reason(start, end, code):
    with pytest.raises(ValidationError) as info:
        periods.check(start, end)
    assert info.value.code == code and info.value.message.endswith("。")
    assert periods.check(date(2024, 1, 1), date(2024, 12, 31)).days[-1] == date(2024, 12, 31)    # 366 days


@pytest.mark.parametrize("args, field", [({"start": "2026-13-01"}, "start"), ({"end": "18/11/2026"}, "end"),
                                         ({"start": "20261101"}, "start"), ({"end": "2026-W47-3"}, "end")])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused_naming_the_field(args, field):
    default = periods.Period(date(2026, 11, 1), date(2026, 11, 18))
    with pytest.raises(ValidationError) as info:
        periods.from_args(args, default)
    assert info.value.code == "bad_date" and field in info.value.details["fields"]
    assert periods.from_args_or_default(args, default) == (default, periods.BAD_DATE)
    assert periods.from_args({"start": "2026-11-05"}, default) == periods.Period(date(2026, 11, 5), date(2026, 11, 18))
