"""The Content-Security-Policy in a real browser: it blocks what it should (and the check that
every browser test runs sees it), the site's own script still runs under it, and the admin's
member search by whole ID number never reaches a URL or the server's log."""
from pathlib import Path

from benefits.database import unit_of_work
from tests import factories


def test_the_policy_blocks_inline_script_and_the_sites_own_script_runs(live, page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        factories.admin(tree["bozhou"], "bozhou_admin")
        member = factories.member(tree["gujing"], name="陈静", with_card=True)
        member_id, id_number = member.id, member.id_number

    response = page.goto(live.url + "/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    # an injected inline script does not run, and the violation is reported where the fixture looks
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.injected = true;';"
                  " document.head.appendChild(s); }")
    assert page.evaluate("window.injected === undefined")
    page.wait_for_timeout(200)
    assert any("script-src" in text for text in page.csp_violations), page.csp_violations
    page.csp_violations.clear()

    page.fill("input[name=username]", "bozhou_admin")
    page.fill("input[name=password]", factories.PASSWORD)
    page.get_by_test_id("submit").click()
    page.wait_for_url("**/admin")

    # the search by a whole ID number is posted; its URL and the access log stay free of it
    page.goto(live.url + "/admin/members")
    page.fill("input[name=q]", id_number)
    with page.expect_navigation():
        page.get_by_test_id("member-search").locator("button[type=submit]").click()
    assert page.url == live.url + "/admin/members" and page.get_by_test_id("member-row").count() == 1
    page.get_by_test_id("member-row").get_by_role("link", name="陈静").click()
    page.wait_for_url(f"**/admin/members/{member_id}")

    # app.js asks before reporting a card lost: dismissed, nothing happens; accepted, it is done
    card_number = page.get_by_test_id("admin-card-number").inner_text()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("report-lost").click()
    page.wait_for_timeout(300)
    assert page.get_by_test_id("admin-card-number").inner_text() == card_number
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_test_id("report-lost").click()
    assert page.get_by_test_id("admin-card-number").inner_text() != card_number and "已挂失" in page.content()

    access_log = Path(live.log.name).read_text()
    assert "POST /admin/members HTTP" in access_log and id_number not in access_log
