from benefits.database import unit_of_work
from tests import factories


def test_member_signs_in_on_a_phone_and_sees_their_card(live, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        user = factories.member_user(tree["gujing"], name="李娜")
        id_number, card_number = user.username, user.member.current_card.number
    page = phone_page
    page.goto(live.url + "/login")
    assert "登录" in page.title()
    page.snap("login")
    page.fill("input[name=username]", id_number)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/me")
    assert page.get_by_test_id("card-number").inner_text() == f"{card_number[:4]} **** **** {card_number[-4:]}"
    assert page.get_by_test_id("card-status").inner_text() == "正常"
    assert page.locator(".qr svg").count() == 0           # no fixed card QR: only the pay code pays
    assert page.get_by_test_id("tabbar").is_visible()
    page.get_by_test_id("tab-mine").click()
    assert page.get_by_test_id("masked-id").inner_text() == id_number[:4] + "*" * 10 + id_number[-4:]
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
