"""An admin creates a promotion on the admin page: previews it, fixes a mistake, saves it."""
from benefits.database import unit_of_work
from benefits.merchants.models import Merchant
from benefits.extensions import db
from tests import factories


def test_admin_previews_and_creates_a_weekend_fuel_promotion_on_a_phone(live, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        tree_codes = {name: org.code for name, org in tree.items()}
        factories.admin(tree["bozhou"], "bozhou_admin")
        db.session.add(Merchant(org=tree["qiaocheng"], name="中石化谯城加油站", category="fuel"))
    page = phone_page
    page.goto(live.url + "/login")
    page.fill("input[name=username]", "bozhou_admin")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.goto(live.url + "/admin/promotions")
    page.get_by_test_id("new-rule").click()
    assert page.locator("input[name=pay_percent]").is_visible()          # a discount shows its own fields only
    assert not page.locator("input[name=threshold_yuan]").is_visible()
    assert page.get_attribute("input[name=valid_from]", "type") == "date"
    page.fill("input[name=name]", "周末加油满200减40")
    page.select_option("select[name=kind]", "threshold")
    assert not page.locator("input[name=pay_percent]").is_visible()
    assert page.locator("input[name=threshold_yuan]").is_visible()
    assert not page.locator("input[name=max_repeats]").is_visible()      # only 每满减 repeats
    page.fill("input[name=threshold_yuan]", "200")
    page.fill("input[name=off_yuan]", "40")
    page.check("input[name=days_of_week][value='6']")
    page.check("input[name=days_of_week][value='7']")
    page.select_option("select[name=scope]", "categories")
    page.check("input[name=categories][value=fuel]")
    # members of 谯城区 only: found by name in the organisation picker, which fills in the code
    page.get_by_role("button", name="选择组织").click()
    page.fill(".org-picker-search", "谯城")
    page.get_by_test_id("org-option").filter(has_text="谯城区总工会").click()
    assert page.input_value("input[name=member_org_code]") == tree_codes["qiaocheng"]
    assert "已选：" in page.locator(".org-picker-chosen").inner_text()
    page.snap("org-picker")
    page.fill("input[name=per_day]", "1")
    page.fill("input[name=budget_yuan]", "300000")
    page.fill("input[name=split_union]", "50")
    page.fill("input[name=split_bank]", "30")
    page.fill("input[name=split_merchant]", "30")
    page.get_by_test_id("preview-button").click()
    assert "工会、银行、商家分摊比例之和须为 100%" in page.get_by_test_id("rule-form").inner_text()
    summary = page.get_by_test_id("error-summary")        # at the top, linking to the field
    assert "工会承担 %：工会、银行、商家分摊比例之和须为 100%" in summary.inner_text()
    assert summary.bounding_box()["y"] < 400
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.name") == "split_union"
    page.snap("split-error")
    page.fill("input[name=split_merchant]", "20")
    page.get_by_test_id("preview-button").click()
    rows = page.get_by_test_id("preview-row").all_inner_texts()
    assert any(r.split()[:3] == ["250.00", "40.00", "210.00"] for r in rows), rows
    assert any(r.split() == ["250.00", "40.00", "210.00", "20.00", "12.00", "8.00"] for r in rows), rows
    page.snap("preview")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("save-button").click()
    page.wait_for_url("**/admin/promotions/*")
    assert page.get_by_test_id("rule-name").inner_text() == "周末加油满200减40"
    assert page.get_by_test_id("rule-summary").inner_text() == "满200减40 · 周六、周日"
    assert "300000.00" in page.get_by_test_id("report").inner_text()
    page.get_by_test_id("toggle-status").click()
    assert page.get_by_test_id("rule-status").inner_text() == "已暂停"
    page.goto(live.url + "/admin/promotions")
    assert "周末加油满200减40" in page.get_by_test_id("rules").inner_text()
