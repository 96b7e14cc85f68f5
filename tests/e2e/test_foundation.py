"""The foundation walk-through in a real browser: an admin issues and freezes a card; the
member sees the frozen card on a phone."""
from benefits.auth import service as auth
from benefits.database import unit_of_work
from benefits.members import service as members
from tests import factories


def test_admin_issues_and_freezes_a_card_and_the_member_sees_it(live, page, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        factories.admin(tree["bozhou"], "bozhou_admin")
        factories.member(tree["gujing"], name="周杰", with_card=True)
        member = factories.member(tree["gujing"], name="陈静", with_card=False)
        code = members.create_activation_code(None, member)
        auth.activate_member(id_number=member.id_number, activation_code=code, password=factories.PASSWORD,
                             address="e2e")
        id_number = member.id_number
    masked = id_number[:4] + "*" * 10 + id_number[-4:]

    page.goto(live.url + "/login")
    page.snap("admin-login")
    page.fill("input[name=username]", "bozhou_admin")
    page.fill("input[name=password]", factories.PASSWORD)
    page.get_by_test_id("submit").click()
    page.wait_for_url("**/admin")
    page.snap("admin-dashboard")
    assert page.get_by_test_id("org-tree").is_visible()

    page.get_by_test_id("nav-members").click()
    page.wait_for_url("**/admin/members")
    page.fill("input[name=q]", id_number)  # the whole number: posted, never in the URL
    with page.expect_navigation():
        page.get_by_test_id("member-search").locator("button[type=submit]").click()
    assert page.url == live.url + "/admin/members"
    page.snap("admin-search")
    rows = page.get_by_test_id("member-row")
    assert rows.count() == 1 and "陈静" in rows.first.inner_text()
    rows.first.get_by_role("link", name="陈静").click()
    page.wait_for_url("**/admin/members/*")
    page.snap("admin-member")
    assert page.get_by_test_id("masked-id").inner_text() == masked

    page.get_by_test_id("issue-card").click()
    page.wait_for_selector("[data-testid=admin-card-number]")
    page.snap("admin-card-issued")
    card_number = page.get_by_test_id("admin-card-number").inner_text()
    assert len(card_number) == 16 and page.get_by_test_id("admin-card-status").inner_text() == "正常"
    page.get_by_test_id("freeze").click()
    page.wait_for_selector("[data-testid=unfreeze]")
    page.snap("admin-card-frozen")
    assert page.get_by_test_id("admin-card-status").inner_text() == "已冻结"

    phone = phone_page
    phone.goto(live.url + "/login")
    phone.snap("member-login")
    phone.fill("input[name=username]", id_number)
    phone.fill("input[name=password]", factories.PASSWORD)
    phone.get_by_test_id("submit").click()
    phone.wait_for_url("**/me")
    phone.snap("member-home")
    assert phone.get_by_test_id("card-number").inner_text() == f"{card_number[:4]} **** **** {card_number[-4:]}"
    assert phone.get_by_test_id("card-status").inner_text() == "已冻结"
    assert phone.get_by_test_id("show-pay-code").count() == 0  # a frozen card offers no code to pay with
    phone.get_by_test_id("tab-mine").click()
    assert phone.get_by_test_id("masked-id").inner_text() == masked
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
