"""The admin's console and report pages in Chromium at 390 px and 1,366 px: every chart container
gets a drawn chart (a canvas) with Chinese labels, nothing scrolls sideways, and no chart breaks
the Content-Security-Policy (the fixtures fail the test on any violation). Screenshots: `snap`."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from benefits import clock
from benefits.database import unit_of_work
from benefits.prizes import service as prizes
from benefits.quiz import attempts
from benefits.transactions import service as till
from tests import factories, till_factories as tf
from tests.e2e.conftest import sign_in
from tests.prize_factories import pickup_point, prize, rich_member
from tests.services import quiz_world as qw

pytestmark = pytest.mark.e2e

CJK = re.compile(r"[\u4e00-\u9fff]")
DAY = re.compile(r"[0-9]{2}-[0-9]{2}")
CONSOLE_CHARTS = ("chart-spend", "chart-funders", "chart-budget", "chart-quiz")


def _seed(app) -> dict:
    """A Bozhou union with a month of card payments at two merchants, a budgeted 满200减40, a
    quiz its members took and prizes, one of them nearly gone."""
    with app.app_context(), unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "admin_bozhou")
        fuel = tf.merchant(tree["bozhou"], name="中石化亳州分公司", category="fuel")
        shop = tf.merchant(tree["bozhou"], name="华联超市（亳州）", category="supermarket")
        rule = tf.rule(tree["bozhou"], budget_fen=500_000)
        tf.rule(tree["bozhou"], name="满100减30", threshold_fen=10000, off_fen=3000, budget_fen=300_000)
        members = [factories.member(tree["gujing"], name=f"会员{n}") for n in range(6)]
        now = clock.now()
        for n, days_ago in enumerate((0, 0, 1, 2, 2, 4, 5, 7, 9)):
            with clock.freeze(now - timedelta(days=days_ago)):
                store = (fuel if n % 2 else shop).stores[0]
                till.confirm_transaction(till.TillRef(store_id=store.id), amount_fen=12000 + 4300 * n,
                                         card_number=members[n % 6].current_card.number)
        quiz = qw.quiz(tree["bozhou"], [qw.bank("电工", 20)], question_count=3)
        for n in range(3):
            m = qw.member(tree["gujing"], name=f"答题会员{n}")
            a = attempts.start_attempt(m.id, quiz.id)
            attempts.submit_attempt(m.id, a["id"], qw.right_answers(a["id"]))
        point = pickup_point(admin, tree["gujing"])
        umbrella = prize(admin, point, stock=4, cost=100, name="晴雨伞")
        prize(admin, point, stock=80, cost=300, name="消毒液套装")
        winner = rich_member(tree["gujing"], 1000)
        prizes.redeem_prize(umbrella.id, {"quantity": 2, "pickup_point_id": None, "delivery_address": None,
                                          "delivery_phone": None}, "e2e-1", user_id=winner.id, signed_in=lambda: winner)
        return {"rule_id": rule.id, "prize_id": umbrella.id}


def _charts_drawn(page, ids) -> None:
    """Each container holds a drawn canvas, its series and labels are named in Chinese (days are
    "MM-DD") and the page is no wider than the screen."""
    for chart_id in ids:
        page.wait_for_selector(f"#{chart_id} canvas", state="attached")
        box = page.locator(f"#{chart_id}").bounding_box()
        assert box["width"] > 200 and box["height"] > 90, (chart_id, box)
        names = page.evaluate(
            """id => { const o = echarts.getInstanceByDom(document.getElementById(id)).getOption();
                       const axis = [].concat(o.xAxis || [], o.yAxis || []).filter(a => a.type === 'category');
                       return o.series.map(s => s.name || '').concat(...axis.map(a => a.data),
                                                                    ...o.series.filter(s => s.type === 'pie')
                                                                      .map(s => s.data.map(d => d.name))).filter(Boolean); }""",
            chart_id)
        assert names and all(CJK.search(n) or DAY.fullmatch(n) for n in names), (chart_id, names)
        assert any(CJK.search(n) for n in names), (chart_id, names)
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _walk(page, url: str, seeded: dict, size: str) -> None:
    page.goto(url + "/admin")
    _charts_drawn(page, CONSOLE_CHARTS)
    assert "本月刷卡消费" in page.inner_text("main") and "库存告急" in page.inner_text("main")
    page.snap(f"console-{size}")
    page.goto(url + "/admin/merchants/report")
    _charts_drawn(page, ("chart-merchants", "chart-days"))
    page.snap(f"merchant-report-{size}")
    page.goto(url + f"/admin/promotions/{seeded['rule_id']}")
    _charts_drawn(page, ("chart-funders", "chart-days"))
    page.snap(f"rule-report-{size}")
    page.goto(url + f"/admin/prizes/{seeded['prize_id']}")
    _charts_drawn(page, ("chart-prize-days",))
    page.snap(f"prize-report-{size}")
    page.goto(url + "/quiz/admin/report")
    _charts_drawn(page, ("chart-days", "chart-quizzes"))
    page.snap(f"quiz-report-{size}")


def test_the_console_and_the_reports_draw_their_charts_on_a_phone(live, phone_page):
    seeded = _seed(live.seed)
    sign_in(phone_page, live.url, "admin_bozhou")
    _walk(phone_page, live.url, seeded, "390")


def test_the_console_and_the_reports_draw_their_charts_on_a_desktop(live, page):
    seeded = _seed(live.seed)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live.url, "admin_bozhou")
    _walk(page, live.url, seeded, "1366")
    # a tooltip (drawn in the canvas: an HTML one would carry style attributes the CSP refuses)
    page.goto(live.url + "/admin")
    _charts_drawn(page, ("chart-spend",))
    box = page.locator("#chart-spend").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 40, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.snap("tooltip-1366")
    # a reversed period: the message, the default period's charts still drawn
    page.goto(live.url + "/admin/merchants/report?start=2026-12-31&end=2026-12-01")
    assert "结束日期早于开始日期" in page.get_by_test_id("period-error").inner_text()
    _charts_drawn(page, ("chart-days",))
    page.snap("reversed-period-1366")
