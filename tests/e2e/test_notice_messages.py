"""The member's 消息 on a phone (390 px) and a desktop (1,366 px): notices listed, each leading to
its page, nothing wider than the screen, and the SMS settings saved through the real form."""
from __future__ import annotations

import pytest

from benefits.database import unit_of_work
from benefits.notices import outbox
from tests import factories, voucher_factories as vf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_member_reads_notices_and_turns_an_sms_off(live, page, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        member = factories.member_user(tree["gujing"], name="王芳", category="hardship")
        vf.issue(vf.programme(tree["bozhou"], name="扶贫暖心券（亳州市总工会2026年第一批困难职工专项）"))
        outbox.enqueue(member.member_id, "points_expiring", {"points": 120, "date": "2026-12-31"}, "e2e:points")
        outbox.enqueue(member.member_id, "payout_made", {"programme": "2025年度医疗普惠", "amount_fen": 100000,
                                                         "card_tail": "0171"}, "e2e:payout")
        username = member.username

    phone = phone_page
    sign_in(phone, live.url, username)
    phone.goto(live.url + "/me/messages")
    rows = phone.get_by_test_id("message")
    assert rows.count() == 3
    assert "慰问金 1000.00 元" in rows.nth(0).inner_text() and "120 积分" in rows.nth(1).inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.snap("messages-390")

    assert phone.get_by_test_id("sms-points_expiring").is_checked()
    phone.get_by_test_id("sms-points_expiring").uncheck()
    phone.get_by_test_id("save-settings").click()
    assert "短信提醒设置已保存" in phone.locator("main").inner_text()
    assert not phone.get_by_test_id("sms-points_expiring").is_checked()
    assert phone.get_by_test_id("sms-voucher_issued").is_checked()
    phone.snap("settings-saved-390")

    rows.nth(2).click()                                     # the voucher notice leads to the voucher
    phone.wait_for_url("**/me/vouchers/*")
    assert "550.00" in phone.locator("main").inner_text()

    desktop = page
    desktop.set_viewport_size({"width": 1366, "height": 900})
    sign_in(desktop, live.url, username)
    desktop.goto(live.url + "/me/messages")
    assert desktop.get_by_test_id("message").count() == 3
    assert desktop.evaluate("document.documentElement.scrollWidth") <= 1366
    desktop.snap("messages-1366")
