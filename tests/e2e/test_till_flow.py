"""A member shows their pay code; the cashier confirms the discount on the terminal page and refunds
half of it; the member sees both on their phone."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from benefits.database import unit_of_work
from tests import factories, till_factories as tf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e



def test_cashier_confirms_and_refunds_half_and_the_member_sees_both(live, page, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
        tf.rule(tree["bozhou"], name="满200减40")
        cashier = tf.cashier(merchant).username
        member = factories.member_user(tree["gujing"], name="李娜").username

    member_page = phone_page
    member_page.clock.install()
    sign_in(member_page, live.url, member)
    assert member_page.get_by_test_id("pay-qr").is_hidden()      # no code until the member asks for one
    member_page.get_by_test_id("show-pay-code").click()           # 出示付款码 on the home page
    expect(member_page.locator("[data-testid=pay-qr] svg")).to_have_count(1)
    token = member_page.get_by_test_id("pay-qr").get_attribute("data-token")
    assert token.startswith("Q") and member_page.locator("[data-testid=pay-qr] svg").count() == 1
    member_page.snap("pay-code")
    member_page.clock.run_for(31_000)  # the page fetches a fresh code every 30 s
    # a locator assertion, not wait_for_function: the CSP forbids the eval that one needs
    expect(member_page.get_by_test_id("pay-qr")).not_to_have_attribute("data-token", token)
    assert member_page.get_by_test_id("pay-token").inner_text() != token

    till = page
    till.set_viewport_size({"width": 768, "height": 1024})  # a tablet at the till
    sign_in(till, live.url, cashier)
    till.wait_for_url("**/till")
    till.fill("input[name=code]", token)
    till.fill("input[name=amount]", "250")
    till.get_by_test_id("quote-button").click()
    assert till.get_by_test_id("quote-discount").inner_text() == "40.00"
    assert till.get_by_test_id("quote-pay").inner_text() == "210.00"
    assert "满200减40" in till.get_by_test_id("quote-rule").inner_text()
    till.snap("quote")
    till.get_by_test_id("confirm-button").click()
    assert till.get_by_test_id("transaction-pay").inner_text() == "210.00"

    till.fill("input[name=amount]", "105")
    till.fill("input[name=reason]", "退一半商品")
    asked = []
    till.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    till.get_by_test_id("refund-button").click()           # the cashier is asked, says no: nothing refunded
    assert asked == ["确认退还会员 105 元？退款后不能撤销。"]
    assert till.get_by_test_id("transaction-status").inner_text() == "已完成"
    till.once("dialog", lambda d: d.accept())
    till.get_by_test_id("refund-button").click()
    assert till.get_by_test_id("transaction-status").inner_text() == "部分退款"
    assert till.get_by_test_id("transaction-refunded").inner_text() == "105.00"
    till.snap("refunded")

    # the same pay code cannot be used twice
    till.goto(live.url + "/till")
    till.fill("input[name=code]", token)
    till.fill("input[name=amount]", "50")
    till.get_by_test_id("quote-button").click()
    assert "付款码已失效" in till.get_by_test_id("till-error").inner_text()

    member_page.get_by_test_id("tab-mine").click()
    member_page.get_by_test_id("nav-my-transactions").click()
    row = member_page.get_by_test_id("my-transaction")
    assert row.count() == 1
    assert "华联超市" in row.inner_text()
    assert member_page.get_by_test_id("my-transaction-discount").inner_text() == "40.00"
    assert member_page.get_by_test_id("my-transaction-status").inner_text() == "部分退款"
    assert member_page.get_by_test_id("my-refund-pay").inner_text() == "105.00"
    assert member_page.get_by_test_id("saved-month").inner_text() == "20.00"
    assert member_page.evaluate("document.documentElement.scrollWidth") <= 390
