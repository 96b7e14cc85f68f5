"""An admin creates a 扶贫暖心券 programme (500.00 + 10 % from the merchant) and issues it to the
hardship members; a member sees 550.00 on the phone; the cashier spends 300.00 and then 250.00 of
it at the designated supermarket; the merchant's statement shows both, split into face value and
top-up."""
from __future__ import annotations

from datetime import timedelta

import pytest

from benefits import clock
from benefits.database import unit_of_work
from tests import factories, till_factories as tf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def _pay_code(member_page, url: str) -> str:
    member_page.goto(url + "/me/pay")
    return member_page.get_by_test_id("pay-qr").get_attribute("data-token")


def _spend(till, url: str, code: str, amount: str) -> None:
    till.goto(url + "/till")
    till.fill("input[name=code]", code)
    till.fill("input[name=amount]", amount)
    till.get_by_test_id("quote-button").click()
    till.get_by_test_id("till-voucher-check").check()
    till.get_by_test_id("voucher-requote").click()
    assert till.get_by_test_id("quote-voucher").inner_text() == amount + ".00"
    assert till.get_by_test_id("quote-pay").inner_text() == "0.00"
    till.snap(f"quote-{amount}")
    till.get_by_test_id("confirm-button").click()
    assert till.get_by_test_id("transaction-voucher").inner_text() == amount + ".00"
    assert till.get_by_test_id("transaction-pay").inner_text() == "0.00"


def test_admin_issues_warm_vouchers_the_member_sees_550_and_spends_them_in_two_payments(live, page, phone_page):
    today = clock.china_now().date()
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        factories.admin(tree["bozhou"], "bozhou_admin")
        shop = tf.merchant(tree["bozhou"], name="扶贫农产品超市", category="supermarket")
        tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
        cashier = tf.cashier(shop).username
        member = factories.member_user(tree["gujing"], name="王芳", category="hardship").username
        factories.member(tree["gujing"], name="李强", category="hardship")
        factories.member(tree["gujing"], name="张伟")  # not a hardship member: no voucher
        shop_id = shop.id

    admin = page
    sign_in(admin, live.url, "bozhou_admin")
    admin.goto(live.url + "/admin/vouchers")
    admin.goto(live.url + "/admin/vouchers/new")
    admin.fill("input[name=name]", "扶贫暖心券")
    admin.fill("input[name=face_yuan]", "500")
    admin.fill("input[name=topup_percent]", "10")
    admin.fill("input[name=split_union]", "100")
    admin.fill("input[name=split_bank]", "0")
    admin.fill("input[name=budget_yuan]", "239000")
    admin.select_option("select[name=scope]", "merchants")
    admin.select_option("select[name=merchant_ids]", [str(shop_id)])
    admin.fill("input[name=valid_from]", (today - timedelta(days=1)).isoformat())
    admin.fill("input[name=valid_until]", (today + timedelta(days=60)).isoformat())
    admin.select_option("select[name=spend_mode]", "balance")
    admin.snap("programme-form")
    admin.get_by_test_id("save-programme").click()
    admin.wait_for_url("**/admin/vouchers/*")
    programme_url = admin.url

    admin.goto(programme_url + "/issue")
    admin.check("input[name=member_categories][value=hardship]")
    admin.get_by_test_id("preview-button").click()
    assert admin.get_by_test_id("preview-members").inner_text() == "2 人"
    assert admin.get_by_test_id("preview-face").inner_text() == "1000.00 元"
    admin.snap("issue-preview")
    admin.get_by_test_id("confirm-issue").click()
    assert admin.get_by_test_id("count-issued").inner_text() == "2"
    admin.snap("issued")

    # the same batch again issues nobody twice
    admin.goto(programme_url + "/issue")
    admin.check("input[name=member_categories][value=hardship]")
    admin.get_by_test_id("preview-button").click()
    assert admin.get_by_test_id("preview-members").inner_text() == "0 人"

    phone = phone_page
    sign_in(phone, live.url, member)
    phone.goto(live.url + "/me/vouchers")
    voucher = phone.get_by_test_id("voucher")
    assert voucher.count() == 1
    assert phone.get_by_test_id("voucher-balance").inner_text() == "550.00"
    assert "扶贫暖心券" in voucher.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.snap("my-vouchers")
    phone.goto(live.url + "/me/messages")
    assert "扶贫暖心券" in phone.locator("main").inner_text()

    till = page.context.browser.new_context(viewport={"width": 768, "height": 1024}, locale="zh-CN").new_page()
    till.snap = page.snap
    sign_in(till, live.url, cashier)
    till.wait_for_url("**/till")
    _spend(till, live.url, _pay_code(phone, live.url), "300")
    _spend(till, live.url, _pay_code(phone, live.url), "250")

    phone.goto(live.url + "/me/vouchers")
    assert phone.get_by_test_id("voucher-balance").inner_text() == "0.00"

    till.goto(live.url + "/till/statements/open")
    sales = till.get_by_test_id("statement-sale").all_inner_texts()
    assert len(sales) == 2
    assert "300.00" in sales[0] and "250.00" in sales[1]
    parts = till.get_by_test_id("statement-line-voucher-parts").all_inner_texts()
    # the face value is spent in proportion to what is left of it, rounded down (300 × 500/550),
    # and the payment that empties the voucher takes exactly the face value left
    assert parts == ["面值 272.72 · 商家加赠 27.28", "面值 227.28 · 商家加赠 22.72"]
    row = till.get_by_test_id("statement-vouchers-sales").inner_text().split()
    assert row == ["交易", "550.00", "500.00", "0.00", "50.00"]
    assert till.get_by_test_id("union-owes").inner_text() == "500.00"
    till.snap("statement")
    till.context.close()
