"""Voucher admin pages (HTML): create a programme (field errors kept next to their fields, never a
500), preview and issue by category / organisation / file (bad rows refused unless skipped),
void, close, the report, union scope and who may open them."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.vouchers.models import Voucher, VoucherBatch, VoucherProgramme
from tests import factories
from tests import till_factories as tf
from tests import voucher_factories as vf


@pytest.fixture
def vw(world):
    """The API world plus two hardship members in Gujing (Bozhou), one in Magang (Ma'anshan),
    a Bozhou merchant with a cashier, and a Bozhou programme (500 face + 10 %)."""
    with unit_of_work():
        w = world
        w.poor = [factories.member(w.tree["gujing"], name=n, category="hardship") for n in ("王芳", "张丽")]
        w.poor_elsewhere = factories.member(w.tree["magang"], name="刘洋", category="hardship")
        w.retiree = factories.member(w.tree["gujing"], name="陈静", category="retiree")
        w.shop = tf.merchant(w.tree["bozhou"], name="亳州扶贫农产品店", category="retail")
        w.cashier = tf.cashier(w.shop, username="shop_cashier")
        w.programme = vf.programme(w.tree["bozhou"], budget_fen=50000 * 10)
    w.pid = w.programme.id
    return w


def login(client, auth, username):
    auth.logout()
    assert auth.login(username).status_code == 302


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" (?:type="hidden" )?value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return match.group(1)


def upload(client, url, text, name="名单.csv", **fields):
    data = {"file": FileStorage(io.BytesIO(text.encode()), filename=name), **fields}
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


VALID = {"name": "暖心消费券", "face_yuan": "500", "topup_percent": "10", "topup_yuan": "", "split_union": "60",
         "split_bank": "40", "scope": "programme", "valid_from": "2026-11-01", "valid_until": "2026-12-31",
         "spend_mode": "balance", "combinable": "y", "min_spend_yuan": "", "per_member": "1",
         "budget_yuan": "100000"}


# --- create ---------------------------------------------------------------------------------------

def test_list_and_create_a_programme_for_chosen_merchants(client, auth, vw):
    login(client, auth, "bozhou_admin")
    page = client.get("/admin/vouchers")
    assert page.status_code == 200 and "扶贫暖心券" in page.text and "新建券活动" in page.text
    assert 'class="table-wrap' in page.text or "table-wrap" in page.text
    form = client.get("/admin/vouchers/new")
    assert form.status_code == 200 and 'type="date"' in form.text and "亳州扶贫农产品店" in form.text
    response = client.post("/admin/vouchers/new", data={**VALID, "scope": "merchants", "merchant_ids": [str(vw.shop.id)],
                                                        "spend_mode": "single", "combinable": "",
                                                        "min_spend_yuan": "100", "per_member": "2"})
    assert response.status_code == 302, response.text[:2000]
    p = db.session.scalar(select(VoucherProgramme).where(VoucherProgramme.name == "暖心消费券"))
    assert (p.face_fen, p.topup_bp, p.topup_fen, p.value_fen) == (50000, 1000, 5000, 55000)
    assert p.split == {"union": 60, "bank": 40} and p.merchant_ids == [vw.shop.id] and p.scope == "merchants"
    assert (p.spend_mode, p.combinable, p.min_spend_fen, p.per_member, p.budget_fen) == \
        ("single", False, 10000, 2, 10000000)
    assert p.valid_from == date(2026, 11, 1) and p.org_id == vw.tree["bozhou"].id
    assert response.headers["Location"].endswith(f"/admin/vouchers/{p.id}")
    detail = client.get(response.headers["Location"])
    assert detail.status_code == 200
    html = detail.text
    assert "550.00" in html and "亳州扶贫农产品店" in html and "一次用完" in html and "工会 60%，银行 40%" in html
    assert "满 100.00 元可用" in html and "已创建" in html
    assert count(AuditEntry, AuditEntry.action == "voucher_programme.create") == 2  # the fixture's and this one


def test_a_fixed_topup_is_taken_in_yuan(client, auth, vw):
    login(client, auth, "bozhou_admin")
    response = client.post("/admin/vouchers/new", data={**VALID, "topup_percent": "", "topup_yuan": "20.5"})
    assert response.status_code == 302
    p = db.session.scalar(select(VoucherProgramme).where(VoucherProgramme.name == "暖心消费券"))
    assert (p.topup_bp, p.topup_fen, p.value_fen) == (None, 2050, 52050)


def test_invalid_programme_shows_a_summary_and_each_message_next_to_its_field(client, auth, vw):
    login(client, auth, "bozhou_admin")
    response = client.post("/admin/vouchers/new", data={
        **VALID, "face_yuan": "abc", "topup_yuan": "5", "split_union": "60", "split_bank": "30",
        "valid_from": "2026-12-31", "valid_until": "2026-11-01", "budget_yuan": "", "scope": "merchants"})
    assert response.status_code == 400
    html = response.text
    assert 'data-testid="error-summary"' in html
    summary = html[html.index('data-testid="error-summary"'):html.index("</ul>")]
    for text in ("券面值（元）", "请输入金额", "分摊比例之和须为 100%", "结束日期不能早于开始日期", "总预算（元，按券面值计）",
                 "必填", "请选择您管辖范围内的商家", "二选一"):
        assert text in summary, text
    # each message next to its own field
    face = html[html.index('name="face_yuan"'):]
    assert face.index("请输入金额") < face.index("</label>")
    until = html[html.index('name="valid_until"'):]
    assert until.index("结束日期不能早于开始日期") < until.index("</label>")
    # what was typed is kept
    assert 'value="abc"' in html and 'value="暖心消费券"' in html and 'value="2026-12-31"' in html
    assert count(VoucherProgramme) == 1


@pytest.mark.parametrize("field, value, message", [
    ("face_yuan", "-5", "请输入金额"), ("face_yuan", "0", "金额须大于 0"), ("face_yuan", "1.234", "请输入金额"),
    ("face_yuan", "200000", "不能大于 100000.00 元"), ("budget_yuan", "1e9", "请输入金额"),
    ("budget_yuan", "99999999999999", "金额过大"), ("budget_yuan", "99999999999", "不能大于 10000000000.00 元"), ("budget_yuan", "100", "预算不够发一张券"),
    ("topup_percent", "150", "加赠比例须在 0–100% 之间"), ("topup_percent", "abc", "请输入百分比"),
    ("per_member", "x", "每人张数须为 1–100 的整数"), ("split_bank", "4.5", "请填 0–100 的整数"),
    ("valid_from", "", "必填"), ("valid_from", "2026-13-01", "日期格式"), ("name", "", "必填"),
    ("spend_mode", "twice", "请选择一次用完或分次使用"), ("scope", "everywhere", "请选择适用范围"),
    ("min_spend_yuan", "abc", "请输入金额"), ("merchant_ids", "abc", "选择无效"), ("topup_yuan", "5", "二选一"),
])
def test_a_bad_value_is_a_field_error_never_a_500(client, auth, vw, field, value, message):
    login(client, auth, "bozhou_admin")
    response = client.post("/admin/vouchers/new", data={**VALID, field: value})
    assert response.status_code == 400
    assert message in response.text
    assert count(VoucherProgramme) == 1


# --- issue ----------------------------------------------------------------------------------------

def test_preview_then_issue_by_category_and_rerun_issues_nobody_twice(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    page = client.get(url)
    assert page.status_code == 200 and "困难职工" in page.text and "轮次" in page.text
    preview = client.post(url, data={"member_categories": ["hardship"], "round": "1", "action": "preview"})
    assert preview.status_code == 200
    html = preview.text
    assert 'data-testid="preview-members">2 人' in html and "1000.00" in html and "5000.00" in html
    assert count(Voucher) == 0  # a preview writes nothing
    carried = {"member_categories": ["hardship"], "org_code": hidden(html, "org_code"), "round": hidden(html, "round"),
               "list_token": "", "action": "issue"}
    done = client.post(url, data=carried)
    assert done.status_code == 200
    assert 'data-testid="count-issued">2<' in done.text and 'data-testid="count-short">0<' in done.text
    assert count(Voucher) == 2 and count(Voucher, Voucher.member_id == vw.poor_elsewhere.id) == 0
    again = client.post(url, data=carried)
    assert 'data-testid="count-issued">0<' in again.text and count(Voucher) == 2
    assert count(VoucherBatch) == 1
    detail = client.get(f"/admin/vouchers/{vw.pid}")
    assert 'data-testid="batch-row"' in detail.text and "困难职工" in detail.text
    issued = detail.text[detail.text.index('data-testid="report-issued"'):]
    assert "1000.00" in issued[:800]
    assert "王*" in detail.text and "王芳" not in detail.text  # member names masked
    assert vw.poor[0].current_card.number[-4:] in detail.text


def test_issue_by_organisation_and_category_with_a_budget_that_runs_out(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    with unit_of_work():
        p = db.session.get(VoucherProgramme, vw.pid)
        p.budget_fen = 50000  # one voucher's worth
    preview = client.post(url, data={"member_categories": ["hardship", "retiree"], "org_code": "341602001",
                                     "action": "preview"})
    assert preview.status_code == 200
    assert 'data-testid="preview-members">3 人' in preview.text and 'data-testid="over-budget"' in preview.text
    done = client.post(url, data={"member_categories": ["hardship", "retiree"], "org_code": "341602001",
                                  "round": "1", "action": "issue"})
    assert 'data-testid="count-issued">1<' in done.text and 'data-testid="count-short">2<' in done.text
    assert count(Voucher) == 1


def test_an_organisation_outside_the_admins_union_or_no_target_is_a_field_error(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    other = client.post(url, data={"org_code": "340503001", "action": "preview"})
    assert other.status_code == 400 and "不在您的管辖范围内" in other.text
    nothing = client.post(url, data={"action": "preview"})
    assert nothing.status_code == 400 and "请选择会员类别或组织，或上传名单" in nothing.text
    bad_round = client.post(url, data={"member_categories": ["hardship"], "round": "0", "action": "preview"})
    assert bad_round.status_code == 400 and "轮次须为 1–100 的整数" in bad_round.text


def test_file_with_a_bad_row_is_refused_then_issued_when_skipping(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    good = vw.poor[0].id_number
    stranger = vw.poor_elsewhere.id_number
    text = f"身份证号\n{good}\n34160219800101123\n{stranger}\n"
    preview = upload(client, url, text, action="preview", round="1")
    assert preview.status_code == 200, preview.text[:3000]
    html = preview.text
    assert 'data-testid="count-members">1<' in html and 'data-testid="count-errors">2<' in html
    assert "<td>3</td>" in html and "身份证号格式不对" in html
    assert "<td>4</td>" in html and "会员不属于本活动的工会" in html and stranger not in html  # masked
    assert "跳过有问题的行" in html and 'data-testid="preview-members">1 人' in html
    token = hidden(html, "list_token")
    refused = client.post(url, data={"list_token": token, "round": "1", "action": "issue"})
    assert refused.status_code == 400 and "未发放" in refused.text and count(Voucher) == 0
    done = client.post(url, data={"list_token": token, "round": "1", "skip_errors": "y", "action": "issue"})
    assert done.status_code == 200 and 'data-testid="count-issued">1<' in done.text
    assert count(Voucher) == 1 and count(Voucher, Voucher.member_id == vw.poor[0].id) == 1
    batch = db.session.scalar(select(VoucherBatch))
    assert batch.kind == "list" and batch.source_name == "名单.csv" and batch.member_ids == [vw.poor[0].id]


def test_a_tampered_list_or_one_of_another_programme_is_refused(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    preview = upload(client, url, f"卡号\n{vw.poor[0].current_card.number}\n", action="preview")
    token = hidden(preview.text, "list_token")
    forged = client.post(url, data={"list_token": token[:-3] + "abc", "action": "issue"})
    assert forged.status_code == 400 and "名单已失效" in forged.text
    with unit_of_work():
        other = vf.programme(vw.tree["bozhou"], name="另一个活动")
    elsewhere = client.post(f"/admin/vouchers/{other.id}/issue", data={"list_token": token, "action": "issue"})
    assert elsewhere.status_code == 400 and "名单已失效" in elsewhere.text
    assert count(Voucher) == 0


def test_a_file_that_cannot_be_read_is_a_message(client, auth, vw):
    login(client, auth, "bozhou_admin")
    url = f"/admin/vouchers/{vw.pid}/issue"
    wrong_type = upload(client, url, "身份证号\n1\n", name="名单.txt", action="preview")
    assert wrong_type.status_code == 400 and "只能上传 .csv 或 .xlsx 文件" in wrong_type.text
    no_column = upload(client, url, "姓名\n王芳\n", action="preview")
    assert no_column.status_code == 400 and "身份证号" in no_column.text and "第一行" in no_column.text
    both = upload(client, url, f"身份证号\n{vw.poor[0].id_number}\n", action="preview", member_categories="hardship")
    assert both.status_code == 400 and "请不要再选会员类别或组织" in both.text


# --- void and close ---------------------------------------------------------------------------------

def test_void_needs_a_reason_and_only_an_active_voucher(client, auth, vw):
    vf.issue(vw.programme)
    db.session.commit()
    v = db.session.scalar(select(Voucher).where(Voucher.member_id == vw.poor[0].id))
    login(client, auth, "bozhou_admin")
    assert 'data-testid="void-form"' in client.get(f"/admin/vouchers/{vw.pid}").text
    empty = client.post(f"/admin/vouchers/{v.id}/void", data={"reason": " "}, follow_redirects=True)
    assert empty.status_code == 200 and "请填写作废原因" in empty.text
    done = client.post(f"/admin/vouchers/{v.id}/void", data={"reason": "重复领取"})
    assert done.status_code == 302 and f"/admin/vouchers/{vw.pid}" in done.headers["Location"]
    db.session.expire_all()
    v = db.session.get(Voucher, v.id)
    assert (v.status, v.void_reason) == ("voided", "重复领取")
    page = client.get(done.headers["Location"].split("#")[0])
    assert "已作废第" in page.text and "重复领取" in page.text
    voided = page.text[page.text.index('data-testid="report-voided"'):]
    assert "<td class=\"nowrap\">1</td>" in voided[:1200] and "550.00" in voided[:1200]
    twice = client.post(f"/admin/vouchers/{v.id}/void", data={"reason": "再来一次"}, follow_redirects=True)
    assert "只有可用的券才能作废" in twice.text
    assert count(AuditEntry, AuditEntry.action == "voucher.void") == 1


def test_close_stops_issuing(client, auth, vw):
    login(client, auth, "bozhou_admin")
    response = client.post(f"/admin/vouchers/{vw.pid}/close")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(VoucherProgramme, vw.pid).status == "closed"
    detail = client.get(f"/admin/vouchers/{vw.pid}")
    assert "已结束发放" in detail.text and 'data-testid="close-programme"' not in detail.text
    refused = client.post(f"/admin/vouchers/{vw.pid}/issue", data={"member_categories": ["hardship"],
                                                                    "action": "issue"})
    assert refused.status_code == 409 and "已结束发放" in refused.text and count(Voucher) == 0
    assert count(AuditEntry, AuditEntry.action == "voucher_programme.close") == 1


# --- scope and roles --------------------------------------------------------------------------------

def test_another_citys_admin_gets_404_and_the_province_sees_it(client, auth, vw):
    vf.issue(vw.programme)
    db.session.commit()
    vid = db.session.scalar(select(Voucher.id))
    login(client, auth, "maanshan_admin")
    assert "扶贫暖心券" not in client.get("/admin/vouchers").text
    assert client.get(f"/admin/vouchers/{vw.pid}").status_code == 404
    assert client.get(f"/admin/vouchers/{vw.pid}/issue").status_code == 404
    assert client.post(f"/admin/vouchers/{vw.pid}/issue", data={"member_categories": ["hardship"],
                                                                 "action": "issue"}).status_code == 404
    assert client.post(f"/admin/vouchers/{vw.pid}/close").status_code == 404
    assert client.post(f"/admin/vouchers/{vid}/void", data={"reason": "x"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(VoucherProgramme, vw.pid).status == "active"
    assert db.session.get(Voucher, vid).status == "active"
    login(client, auth, "province_admin")
    assert "扶贫暖心券" in client.get("/admin/vouchers").text
    assert client.get(f"/admin/vouchers/{vw.pid}").status_code == 200


@pytest.mark.parametrize("username", ["shop_cashier", None])
def test_a_cashier_or_member_cannot_open_the_pages(client, auth, vw, username):
    login(client, auth, username or vw.li.username)
    for url in ("/admin/vouchers", "/admin/vouchers/new", f"/admin/vouchers/{vw.pid}", f"/admin/vouchers/{vw.pid}/issue"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/vouchers/{vw.pid}/close").status_code == 403
    assert client.post("/admin/vouchers/new", data=VALID).status_code == 403
    assert count(VoucherProgramme) == 1


def test_signed_out_is_sent_to_login(client, vw):
    response = client.get("/admin/vouchers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

