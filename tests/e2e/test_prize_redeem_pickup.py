"""A member redeems a prize on a phone, the pickup-point staff verify the code and hand it over,
the member sees it handed over and their points lower."""
from __future__ import annotations

import pytest

from benefits.database import unit_of_work
from tests.prize_factories import prize, rich_member, world
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e



def test_member_redeems_staff_hands_over(live, phone_page, browser):
    with live.seed.app_context(), unit_of_work():
        w = world(0)
        member = rich_member(w["tree"]["gujing"], 1_000, name="李娜")
        prize(w["admin"], w["point"], stock=3, cost=800, name="雨伞")
        prize(w["admin"], w["point"], stock=0, cost=100, name="消毒液")
        member_name, staff_name = member.username, w["staff"].username
    page = phone_page
    sign_in(page, live.url, member_name)
    page.get_by_test_id("tab-mall").click()
    assert page.get_by_test_id("points-balance").inner_text() == "1000"
    umbrella = page.locator(".prize-tile", has_text="雨伞")
    assert umbrella.get_by_test_id("affordable").count() == 1
    assert page.locator(".prize-tile", has_text="消毒液").get_by_test_id("prize-state").inner_text() == "已兑完"
    page.snap("mall")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    umbrella.click()
    page.get_by_test_id("redeem").click()
    assert page.get_by_test_id("confirm-cost").inner_text() == "800"
    page.get_by_test_id("confirm-redeem").click()
    page.wait_for_url("**/prizes/my/*")
    code = page.get_by_test_id("pickup-code").inner_text()
    assert len(code) == 10 and page.locator(".qr svg").count() == 1
    assert page.get_by_test_id("redemption-status").inner_text() == "待领取"
    assert page.get_by_test_id("points-balance").inner_text() == "200"
    page.snap("redemption")
    redemption_url = page.url

    staff_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    staff = staff_ctx.new_page()
    try:
        sign_in(staff, live.url, staff_name)
        assert staff.url == live.url + "/prizes/pickup"  # where pickup staff land: their only page
        assert staff.locator("nav.nav a[href^='/admin'], nav.nav a[href^='/till']").count() == 0
        assert staff.get_by_test_id("nav-pickup").count() == 1
        staff.get_by_test_id("pickup-code-input").fill(code.lower())
        staff.get_by_test_id("verify").click()
        found = staff.get_by_test_id("pickup-found")
        assert "雨伞" in found.inner_text()
        assert staff.get_by_test_id("masked-name").inner_text() == "李*"
        staff.get_by_test_id("hand-over").click()
        assert "已核销" in staff.locator(".flash-success").inner_text()
        staff.get_by_test_id("pickup-code-input").fill(code)
        staff.get_by_test_id("verify").click()
        assert "已使用" in staff.locator(".flash-error").inner_text()
        staff.screenshot(path=str(page.snap("staff-before").parent / "staff.png"), full_page=True)
    finally:
        staff_ctx.close()

    page.goto(redemption_url)
    assert page.get_by_test_id("redemption-status").inner_text() == "已领取"
    assert page.get_by_test_id("pickup-code").count() == 0
    assert page.get_by_test_id("cancel").count() == 0
    page.get_by_test_id("tab-mall").click()
    assert page.get_by_test_id("points-balance").inner_text() == "200"
