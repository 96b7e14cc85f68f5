"""A city admin creates a cashier for a merchant of their union, disables it (the cashier can no
longer sign in) and reads it in the audit log: on a phone (390 px, one card per entry, nothing
scrolls sideways) and on a desktop (1,366 px, a table)."""
from __future__ import annotations

import pytest

from benefits.database import unit_of_work
from benefits.members import service as members
from tests import factories, till_factories
from tests.e2e.conftest import _page

WIDTHS = {"phone": (390, 844, True), "desktop": (1366, 768, False)}


@pytest.mark.parametrize("device", WIDTHS)
def test_create_and_disable_a_cashier_then_read_the_log(live, browser, screenshots, device):
    width, height, mobile = WIDTHS[device]
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], "bozhou_admin")
        till_factories.merchant(tree["gujing"], name="古井超市")
        member = factories.member(tree["gujing"], name="周杰")
        members.freeze_card(admin, member.current_card)
    context, page = _page(browser, screenshots, width, height, mobile)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(live.url + "/login")
        page.fill("input[name=username]", "bozhou_admin")
        page.fill("input[name=password]", factories.PASSWORD)
        page.get_by_test_id("submit").click()
        page.wait_for_url("**/admin")

        page.get_by_test_id("nav-staff").click()
        page.wait_for_url("**/admin/staff")
        page.snap(f"{device}-staff-list")
        page.get_by_test_id("new-cashier").click()
        page.wait_for_url("**/admin/staff/new?role=merchant_staff")
        page.select_option("select[name=merchant_id]", label="古井超市")
        page.fill("input[name=display_name]", "陈收银")
        page.fill("input[name=username]", "gujing_till")
        page.fill("input[name=password]", "88888888")          # too common: said on the field
        page.get_by_test_id("staff-create").click()
        assert "太常见" in page.get_by_test_id("staff-form").inner_text()
        page.snap(f"{device}-cashier-weak-password")
        page.fill("input[name=password]", "Till-2026-spring")
        page.get_by_test_id("staff-create").click()
        page.wait_for_url("**/admin/staff/*")
        assert page.get_by_test_id("staff-status").inner_text() == "启用"
        assert page.get_by_test_id("staff-role").inner_text() == "收银员"
        page.snap(f"{device}-cashier-created")

        page.get_by_test_id("staff-disable").click()
        page.wait_for_selector("[data-testid=staff-enable]")
        assert page.get_by_test_id("staff-status").inner_text() == "已停用"
        page.snap(f"{device}-cashier-disabled")

        till_context, till = _page(browser, screenshots, width, height, mobile)
        till.goto(live.url + "/login")
        till.fill("input[name=username]", "gujing_till")
        till.fill("input[name=password]", "Till-2026-spring")
        till.get_by_test_id("submit").click()
        till.wait_for_load_state()
        assert "/login" in till.url and "账号或密码错误" in till.inner_text("body")
        till.snap(f"{device}-disabled-cashier-refused")
        till_context.close()
        assert not till.csp_violations, till.csp_violations

        page.get_by_test_id("nav-audit").click()
        page.wait_for_url("**/admin/audit")
        page.snap(f"{device}-audit-log")
        rows = page.get_by_test_id("audit-row")
        assert rows.count() >= 6
        first = rows.first.inner_text()
        assert "停用账号" in first and "陈收银（收银员）" in first and "可以登录" in first
        assert page.evaluate("document.documentElement.scrollWidth") <= width     # nothing sideways
        header_shown = page.locator("[data-testid=audit-table] thead").is_visible()
        heights = page.evaluate("Array.from(document.querySelectorAll('[data-testid=audit-row]'))"
                                ".map(r => r.getBoundingClientRect().height)")
        if device == "phone":
            assert not header_shown                                              # cards, not a table
            assert max(heights) < 420, heights                                   # no huge blank rows
            box = rows.first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        else:
            assert header_shown and max(heights) < 300, heights

        page.select_option("[data-testid=filter-action]", value="area:members")
        page.get_by_role("button", name="筛选").click()
        page.wait_for_url("**action=area%3Amembers**")
        texts = page.get_by_test_id("audit-row").all_inner_texts()
        assert texts and all("账号" not in t.split()[0] for t in texts)
        assert any("冻结会员卡" in t and "周* 的会员卡" in t and "正常" in t and "已冻结" in t for t in texts)
        page.snap(f"{device}-audit-filtered")
    finally:
        page.snap(f"{device}-last")
        context.close()
    assert not page.csp_violations, page.csp_violations
