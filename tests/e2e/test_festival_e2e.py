"""A member claims a festival gift on a phone (home → 节日福利 → gift and pickup point → confirm →
pickup code), the pickup-point staff hand it over at the prize counter, the member sees it
collected; the admin reads the campaign and its report on a desktop."""
from __future__ import annotations

import pytest

from benefits.database import unit_of_work
from tests.festival_factories import campaign, world
from tests.prize_factories import member_user, pickup_point
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e



def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_member_claims_a_gift_and_staff_hand_it_over(live, phone_page, browser):
    with live.seed.app_context(), unit_of_work():
        w = world()
        county = pickup_point(w["admin"], w["tree"]["qiaocheng"], name="谯城区总工会")
        member = member_user(w["tree"]["gujing"], name="李娜")
        c = campaign(w["admin"], [(w["rice"], w["point"], 2), (w["rice"], county, 0), (w["pears"], None, 5)])
        gift_id = next(g.id for g in c.gifts if g.pickup_point_id == w["point"].id)
        sold_out_id = next(g.id for g in c.gifts if g.pickup_point_id == county.id)
        member_name, staff_name, point_name = member.username, w["staff"].username, w["point"].name
    page = phone_page
    sign_in(page, live.url, member_name)
    page.locator("main a[href='/festival']").first.click()   # the member home's 节日福利 entry
    page.wait_for_url("**/festival")
    page.snap("campaigns")
    _fits(page, 390)
    page.locator(".festival-tile", has_text="春节慰问品").click()
    assert page.get_by_test_id(f"gift-{sold_out_id}").locator("input").is_disabled()
    assert "已领完" in page.get_by_test_id(f"gift-{sold_out_id}").inner_text()
    page.get_by_test_id(f"gift-{gift_id}").click()
    page.snap("choose")
    _fits(page, 390)
    page.get_by_test_id("choose-gift").click()
    assert page.get_by_test_id("confirm-gift").inner_text() == "大米油礼包"
    assert point_name in page.get_by_test_id("confirm-place").inner_text()
    page.get_by_test_id("confirm-claim").click()
    page.wait_for_url("**/festival/*/claim")
    code = page.get_by_test_id("pickup-code").inner_text()
    assert len(code) == 10 and page.locator(".qr svg").count() == 1
    assert page.get_by_test_id("redemption-status").inner_text() == "待领取"
    assert "领取成功" in page.locator(".flash-success").inner_text()
    page.snap("code")
    _fits(page, 390)
    claim_url = page.url

    staff_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    staff = staff_ctx.new_page()
    try:
        sign_in(staff, live.url, staff_name)
        staff.get_by_test_id("pickup-code-input").fill(code)
        staff.get_by_test_id("verify").click()
        assert "大米油礼包" in staff.get_by_test_id("pickup-found").inner_text()
        assert staff.get_by_test_id("masked-name").inner_text() == "李*"
        staff.get_by_test_id("hand-over").click()
        assert "已核销" in staff.locator(".flash-success").inner_text()
    finally:
        staff_ctx.close()

    page.goto(claim_url)
    assert page.get_by_test_id("redemption-status").inner_text() == "已领取"
    assert page.get_by_test_id("pickup-code").count() == 0
    page.goto(live.url + "/festival")
    assert "已领取" in page.locator(".festival-tile", has_text="春节慰问品").inner_text()


def test_admin_reads_the_campaign_and_its_report(live, page):
    with live.seed.app_context(), unit_of_work():
        w = world()
        campaign(w["admin"], [(w["rice"], w["point"], 20), (w["pears"], None, 5)])
        admin_name = w["admin"].username
    sign_in(page, live.url, admin_name)
    page.get_by_test_id("nav-festival-admin").click()
    page.locator("[data-testid=campaign-row] a", has_text="春节慰问品").click()
    assert page.get_by_test_id("gift-row").count() == 2
    page.set_viewport_size({"width": 1366, "height": 900})
    page.snap("admin-detail")
    _fits(page, 1366)
    page.get_by_test_id("report-link").click()
    assert page.get_by_test_id("report-eligible").inner_text() == "1"   # 王小明 of 古井集团 (李强 is in Maanshan)
    assert page.get_by_test_id("report-unclaimed").inner_text() == "1"
    page.snap("admin-report")
    _fits(page, 1366)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _fits(page, 390)
    page.snap("admin-report-phone")
