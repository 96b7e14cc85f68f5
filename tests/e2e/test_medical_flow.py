"""The medical benefit end to end in Chromium: an admin creates Bozhou's 2020 programme, imports
the social-insurance file, previews and builds a batch; a second admin approves it and downloads
the payout file for the bank; the bank's return file (built from that download) is imported; the
member sees the 200.00 consolation payment and its notice on the phone."""
from __future__ import annotations

import csv
import io

import pytest

from benefits.database import unit_of_work
from tests import factories, medical_factories as mf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_import_preview_four_eyes_approval_bank_files_and_the_member_sees_the_payout(live, page, phone_page,
                                                                                       tmp_path):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        factories.admin(tree["bozhou"], "bozhou_admin")
        factories.admin(tree["bozhou"], "bozhou_second")
        fang = factories.member_user(tree["gujing"], name="王芳")
        qiang = factories.member(tree["qiaocheng"], name="李强", category="hardship")
        na = factories.member(tree["gujing"], name="李娜")
        claims = mf.claims_csv([mf.claim(fang.member, "3250.50"), mf.claim(qiang, "1800.00"),
                                mf.claim(na, "999.99")])
        member, card_tail = fang.username, fang.member.current_card.number[-4:]
    insurance = tmp_path / "亳州医保2020.csv"
    insurance.write_bytes(claims)

    admin = page
    admin.on("dialog", lambda dialog: dialog.accept())
    sign_in(admin, live.url, "bozhou_admin")
    admin.goto(live.url + "/admin/medical/new")
    admin.fill("input[name=year]", "2020")
    admin.fill("input[name=threshold_yuan]", "1000")
    admin.fill("input[name=amount_yuan]", "200")
    admin.fill("input[name=budget_yuan]", "220000")
    admin.snap("programme-form")
    admin.get_by_test_id("save-programme").click()
    admin.get_by_test_id("import-link").click()
    admin.set_input_files("input[name=file]", str(insurance))
    admin.get_by_test_id("import-button").click()
    assert admin.get_by_test_id("count-added").inner_text() == "3"
    assert "比对到会员 3 人" in admin.get_by_test_id("matched").inner_text()
    admin.snap("imported")
    admin.get_by_test_id("to-preview").click()
    assert admin.get_by_test_id("qualifying").inner_text() == "2"
    assert admin.get_by_test_id("needed").inner_text() == "400.00"
    assert admin.get_by_test_id("group-below_threshold").get_by_test_id("group-count").inner_text() == "1"
    admin.snap("preview")
    admin.get_by_test_id("create-batch").click()
    assert admin.get_by_test_id("batch-status").inner_text() == "待审批"
    assert admin.get_by_test_id("await-second-admin").is_visible()
    assert admin.get_by_test_id("approve").count() == 0
    batch_url = admin.url

    second = page.context.browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
    second.snap = admin.snap
    second.on("dialog", lambda dialog: dialog.accept())
    sign_in(second, live.url, "bozhou_second")
    second.goto(batch_url)
    second.get_by_test_id("approve").click()
    assert second.get_by_test_id("batch-status").inner_text() == "已审批"
    second.snap("approved")
    with second.expect_download() as download:
        second.get_by_test_id("download-csv").click()
    path = tmp_path / "payouts.csv"
    download.value.save_as(path)
    lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert lines[0] == ["卡号", "姓名", "金额（元）", "业务参考号"] and len(lines) == 3
    assert {(row[1], row[2]) for row in lines[1:]} == {("王*", "200.00"), ("李*", "200.00")}
    with second.expect_download() as xlsx:
        second.get_by_test_id("download-xlsx").click()
    assert xlsx.value.suggested_filename.endswith(".xlsx")

    returned = tmp_path / "银行回盘.csv"
    returned.write_bytes(mf.returns_csv([(row[3], "成功", "") for row in lines[1:]]))
    second.goto(batch_url)
    second.get_by_role("link", name="2020 · 医疗普惠").click()
    second.get_by_test_id("returns-link").click()
    second.set_input_files("input[name=file]", str(returned))
    second.get_by_test_id("returns-button").click()
    assert second.get_by_test_id("count-paid").inner_text() == "2"
    second.snap("returns")
    second.goto(live.url + "/admin/medical/report")
    assert second.get_by_test_id("year-paid").inner_text() == "400.00"
    second.context.close()

    phone = phone_page
    sign_in(phone, live.url, member)
    phone.goto(live.url + "/me")
    phone.get_by_test_id("tab-mine").click()
    phone.get_by_test_id("nav-medical").click()
    payout = phone.get_by_test_id("medical-payout")
    assert payout.count() == 1 and payout.get_attribute("data-state") == "paid"
    assert phone.get_by_test_id("medical-amount").inner_text() == "200.00"
    assert card_tail in payout.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.snap("my-medical")
    phone.goto(live.url + "/me/messages")
    notice = phone.locator("[data-testid=message][data-kind=payout_made]")
    assert notice.count() == 1
    assert f"慰问金 200.00 元已发放到您尾号 {card_tail} 的会员卡" in notice.inner_text()
    phone.snap("notice")
