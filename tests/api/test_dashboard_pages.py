"""The console's home and the report pages: each chart's data (the `data-chart` JSON in the page)
holds the same numbers as the JSON API's report or the service behind it; every page keeps to
the admin's subtree; a bad or reversed period gets a clear message in the reader's language and a
400, never a 500."""
from __future__ import annotations

import html
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from benefits import clock, periods
from benefits.admin import dashboard
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.money import format_yuan
from benefits.prizes import service as prizes
from benefits.promotions.models import PromotionRule
from benefits.quiz import reports as quiz_reports
from benefits.transactions import settlement
from tests import factories
from tests.prize_factories import pickup_point, prize, rich_member
from tests.services.test_dashboard_service import NOON, TODAY, quiz_day, spend  # noqa: F401 (fixtures)

MONTH = periods.Period(date(2026, 11, 1), TODAY)
CJK = re.compile(r"[\u4e00-\u9fff]")


def chart_of(page: str, chart_id: str) -> dict:
    found = re.search(r'id="%s"[^>]*\sdata-chart=\'([^\']*)\'' % re.escape(chart_id), page)
    assert found, f"no chart {chart_id} on the page"
    return json.loads(html.unescape(found.group(1)))


def values(chart: dict, name: str) -> list[int]:
    return next(s["values"] for s in chart["series"] if s["name"] == name)


@pytest.fixture
def admins(spend):  # noqa: F811
    with unit_of_work():
        for key in ("province", "bozhou", "maanshan"):
            factories.admin(spend["tree"][key], f"admin_{key}")
    return spend


def test_the_console_charts_hold_the_figures_of_the_reports_and_the_api(client, auth, admins):
    auth.login("admin_bozhou")
    page = client.get("/admin")
    assert page.status_code == 200
    text = page.text
    api = client.get(f"/api/v1/merchants/report?start={MONTH.start}&end={MONTH.end}").get_json()
    api_total = {k: sum(r[k] for r in api) for k in ("amount_fen", "discount_fen", "union_fen", "bank_fen", "merchant_fen")}
    assert api_total["amount_fen"] > 0

    spend_chart = chart_of(text, "chart-spend")
    assert spend_chart["money"] and spend_chart["labels"][0] == "11-01" and len(spend_chart["labels"]) == 18
    assert sum(values(spend_chart, "消费额")) == api_total["amount_fen"]
    assert sum(values(spend_chart, "优惠")) == api_total["discount_fen"]
    days = settlement.daily_spend(admins["tree"]["bozhou"], MONTH)
    assert values(spend_chart, "消费额") == [d["amount_fen"] for d in days]

    funders = chart_of(text, "chart-funders")
    assert funders["labels"] == ["工会", "银行", "商家"] and funders["stack"]
    assert values(funders, "优惠") == [api_total["union_fen"], api_total["bank_fen"], api_total["merchant_fen"]]
    month = settlement.report_totals(days)
    assert values(funders, "券") == [month["voucher_union_fen"], month["voucher_bank_fen"], month["voucher_topup_fen"]]
    assert sum(values(funders, "券")) == 4000

    budget = chart_of(text, "chart-budget")
    [rule_id] = db.session.scalars(select(PromotionRule.id)).all()
    report = client.get(f"/api/v1/promotions/rules/{rule_id}/report").get_json()
    assert values(budget, "剩余金额") == [report["budget_left_fen"]]
    assert values(budget, "已用金额") == [report["budget_fen"] - report["budget_left_fen"]] == [report["discount_fen"]]

    # the figures above the charts, and the tables beside them, in yuan
    assert re.search(r'data-testid="month-amount">%s<' % re.escape(f"{api_total['amount_fen'] // 100}.{api_total['amount_fen'] % 100:02d}"), text)
    assert 'data-testid="spend-table"' in text and 'data-testid="funders-table"' in text
    assert "vendor/echarts/echarts.min.js" in text and "charts.js" in text


def test_the_merchant_reports_charts_are_the_apis_numbers(client, auth, admins):
    auth.login("admin_bozhou")
    page = client.get(f"/admin/merchants/report?start={MONTH.start}&end={MONTH.end}")
    assert page.status_code == 200
    api = {r["name"]: r for r in client.get(f"/api/v1/merchants/report?start={MONTH.start}&end={MONTH.end}").get_json()}
    merchants = chart_of(page.text, "chart-merchants")
    assert merchants["kind"] == "hbar" and set(merchants["labels"]) == {"中石化亳州站", "华联超市"}
    assert values(merchants, "交易额") == [api[name]["amount_fen"] for name in merchants["labels"]]
    assert values(merchants, "优惠") == [api[name]["discount_fen"] for name in merchants["labels"]]
    assert merchants["labels"][0] == max(api, key=lambda n: api[n]["amount_fen"])       # the biggest first
    days = chart_of(page.text, "chart-days")
    assert sum(values(days, "交易额")) == sum(r["amount_fen"] for r in api.values())
    assert "马鞍山公交集团" not in page.text
    # the table under the chart holds the chart's numbers, in yuan
    table = re.search(r'data-testid="days-table">(.*?)</table>', page.text, re.S).group(1)
    rows = re.findall(r"<tr><td>([0-9-]+)</td><td>([0-9.-]+)</td><td>([0-9.-]+)</td></tr>", table)
    assert rows == [(label, format_yuan(a), format_yuan(d)) for label, a, d
                    in zip(days["labels"], values(days, "交易额"), values(days, "优惠"))]


def test_a_rules_charts_are_its_reports_numbers(client, auth, admins):
    auth.login("admin_bozhou")
    rule_id = db.session.scalar(select(PromotionRule.id))
    report = client.get(f"/api/v1/promotions/rules/{rule_id}/report").get_json()
    page = client.get(f"/admin/promotions/{rule_id}?start={MONTH.start}&end={MONTH.end}")
    assert page.status_code == 200
    funders = chart_of(page.text, "chart-funders")
    assert funders["kind"] == "pie" and funders["labels"] == ["工会", "银行", "商家"]
    assert funders["series"][0]["values"] == [report["funders"][f] for f in ("union", "bank", "merchant")]
    days = chart_of(page.text, "chart-days")
    assert len(days["labels"]) == 18 and days["stack"]
    assert sum(sum(s["values"]) for s in days["series"]) == report["discount_fen"]
    for n, funder in enumerate(("union", "bank", "merchant")):
        assert sum(days["series"][n]["values"]) == report["funders"][funder]


def test_a_prizes_daily_chart_adds_up_to_its_report(client, auth, app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "admin_bozhou")
        umbrella = prize(admin, pickup_point(admin, tree["gujing"]), stock=20, cost=100, name="雨伞")
        member = rich_member(tree["gujing"], 1000)
    args = {"quantity": 1, "pickup_point_id": None, "delivery_address": None, "delivery_phone": None}
    for n, days_ago in enumerate((0, 0, 3, 40)):
        with clock.freeze(NOON - timedelta(days=days_ago)), unit_of_work():
            answer = prizes.redeem_prize(umbrella.id, {**args, "quantity": 1 + n % 2}, f"k{n}", user_id=member.id,
                                         signed_in=lambda: member)
    with unit_of_work():
        prizes.cancel(member.member, answer["id"], member.id)               # the one 40 days ago
    auth.login("admin_bozhou")
    report = client.get(f"/api/v1/prizes/admin/prizes/{umbrella.id}/report").get_json()
    page = client.get(f"/admin/prizes/{umbrella.id}")                     # the last 30 days by default
    assert page.status_code == 200
    chart = chart_of(page.text, "chart-prize-days")
    assert len(chart["labels"]) == 30 and chart["labels"][-1] == "11-18"
    assert sum(values(chart, "兑换件数")) == report["redeemed"] - report["cancelled"] - report["expired"] == 1 + 2 + 1
    whole = client.get(f"/admin/prizes/{umbrella.id}?start=2026-10-01&end=2026-11-18")
    assert sum(values(chart_of(whole.text, "chart-prize-days"), "取消或过期")) == report["cancelled"] == 2


def test_the_quiz_report_page_charts_the_participation(client, auth, quiz_day):  # noqa: F811
    with unit_of_work():
        factories.admin(quiz_day["tree"]["bozhou"], "admin_bozhou")
    auth.login("admin_bozhou")
    page = client.get("/quiz/admin/report?start=2026-11-01&end=2026-11-18")
    assert page.status_code == 200
    days = chart_of(page.text, "chart-days")
    expected = quiz_reports.daily(quiz_day["tree"]["bozhou"], MONTH)
    assert values(days, "答题次数") == [d["attempts"] for d in expected] and sum(values(days, "答题次数")) == 4
    assert values(days, "参与人数") == [d["members"] for d in expected]
    quizzes = chart_of(page.text, "chart-quizzes")
    assert quizzes["labels"] == ["安全知识竞赛"] and values(quizzes, "参与人数") == [2]
    assert 'data-testid="total-attempts">4<' in page.text and 'data-testid="total-members">2<' in page.text
    console = client.get("/admin")
    quiz = chart_of(console.text, "chart-quiz")
    assert quiz["labels"] == ["今日", "近 7 天", "本月"]
    assert values(quiz, "答题次数") == [2, 3, 4] and values(quiz, "参与人数") == [1, 2, 2]
    assert "答题统计" in client.get("/quiz/admin").text


def test_a_city_admin_sees_only_their_city(client, auth, admins):
    tree = admins["tree"]
    auth.login("admin_maanshan")
    page = client.get("/admin")
    assert 'data-testid="today-amount">100.00<' in page.text
    assert values(chart_of(page.text, "chart-spend"), "消费额")[-1] == 10000
    assert 'id="chart-budget"' not in page.text and "没有设预算的进行中优惠活动" in page.text
    assert "中石化亳州站" not in page.text and "满200减40" not in page.text
    assert client.get(f"/admin?org={tree['bozhou'].id}").status_code == 404
    assert client.get(f"/admin?org={tree['magang'].id}").status_code == 200
    report = client.get("/admin/merchants/report")
    assert "马鞍山公交集团" in report.text and "中石化亳州站" not in report.text
    rule_id = db.session.scalar(select(PromotionRule.id))
    assert client.get(f"/admin/promotions/{rule_id}").status_code == 404
    auth.logout()
    auth.login("admin_province")
    province = client.get("/admin")
    bozhou = dashboard.overview(tree["bozhou"]).month_spend["amount_fen"]
    assert sum(values(chart_of(province.text, "chart-spend"), "消费额")) == bozhou + 10000
    looked_at = client.get(f"/admin?org={tree['maanshan'].id}")
    assert 'data-testid="today-amount">100.00<' in looked_at.text and "马鞍山市总工会 · 概况" in looked_at.text


BAD_PERIODS = [
    ({"start": "2026-11-30", "end": "2026-11-01"}, "结束日期早于开始日期", "The end date is before the start date"),
    ({"start": "2026-11-31"}, "日期格式不对", "not a date"),
    ({"start": "yesterday", "end": "today"}, "日期格式不对", "not a date"),
    ({"start": "2020-01-01", "end": "2026-11-18"}, "查询范围最长 366 天", "at most 366 days"),
    ({"start": "0001-01-01", "end": "0001-01-02"}, "日期超出可查询的范围", "out of the range"),
    ({"start": "2026-11-01\x7f"}, "日期格式不对", "not a date"),
]


@pytest.mark.parametrize("args, chinese, english", BAD_PERIODS)
def test_a_bad_or_reversed_period_says_so_in_chinese_and_shows_the_default(client, auth, admins, args, chinese, english):
    auth.login("admin_bozhou")
    rule_id = db.session.scalar(select(PromotionRule.id))
    for url in ("/admin/merchants/report", f"/admin/promotions/{rule_id}", "/quiz/admin/report"):
        page = client.get(url, query_string=args)
        assert page.status_code == 400, url
        error = re.search(r'data-testid="period-error">([^<]*)<', page.text).group(1)
        assert chinese in error and not re.search(r"[A-Za-z]{3}", error), (url, error)
        assert 'type="date"' in page.text and 'data-chart=' in page.text      # the default period's figures
        english_page = client.get(url, query_string={**args, "lang": "en"})
        assert english_page.status_code == 400
        assert english in re.search(r'data-testid="period-error">([^<]*)<', english_page.text).group(1)


def test_the_api_refuses_a_reversed_or_overlong_period_with_a_400(client, auth, admins):
    auth.login("admin_bozhou")
    reversed_ = client.get("/api/v1/merchants/report?start=2026-11-30&end=2026-11-01")
    assert reversed_.status_code == 400 and reversed_.get_json()["error"]["code"] == "period_reversed"
    too_long = client.get("/api/v1/merchants/report?start=2020-01-01&end=2026-11-18")
    assert too_long.status_code == 400 and too_long.get_json()["error"]["code"] == "period_too_long"


def test_the_english_console_and_reports_have_english_labels(client, auth, admins):
    auth.login("admin_bozhou")
    client.get("/lang/en")
    page = client.get("/admin")
    assert page.status_code == 200
    for chart_id in ("chart-spend", "chart-funders", "chart-budget", "chart-quiz"):
        chart = chart_of(page.text, chart_id)
        names = [s["name"] for s in chart["series"]] + (chart["labels"] if chart_id in ("chart-funders", "chart-quiz") else [])
        assert not any(CJK.search(n) for n in names), (chart_id, names)
    for heading in ("Card spend this month, by day", "Budget used by active promotions", "Skills-drill participation"):
        assert heading in page.text
    report = client.get("/admin/merchants/report")
    assert "Daily volume and discount" in report.text and ">Start date<" in report.text
    rule_id = db.session.scalar(select(PromotionRule.id))
    rule = client.get(f"/admin/promotions/{rule_id}")
    assert "Discount by day" in rule.text and "Data table" in rule.text
    assert [s["name"] for s in chart_of(rule.text, "chart-days")["series"]] == ["Union", "Bank", "Merchant"]
    quiz = client.get("/quiz/admin/report")
    assert "Quiz report" in quiz.text and "No one handed in a quiz in these dates." in quiz.text
