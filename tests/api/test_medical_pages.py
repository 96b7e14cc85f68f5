"""Medical-benefit pages (HTML): create a programme (field errors beside their fields), import the
insurance file (bad rows listed, nothing imported unless skipped), preview, build a batch that
only a second admin can approve, download the payout file, import the return file (an unknown
reference names its row), issue again, the totals with their CSV, and the member's page. All in
Chinese, none of it reachable from another union."""
from __future__ import annotations

import html
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.medical import service as medical
from benefits.medical.models import InsuranceClaim, MedicalBatch, MedicalPayout, MedicalProgramme
from tests import factories, medical_factories as mf


@pytest.fixture
def mw(world):
    with unit_of_work():
        w = SimpleNamespace(**vars(world))
        w.second = factories.admin(world.tree["bozhou"], "bozhou_second")
        w.fang = factories.member(world.tree["gujing"], name="王芳")
        w.qiang = factories.member(world.tree["qiaocheng"], name="李强")
    return w


def login(client, auth, username):
    auth.logout()
    assert auth.login(username).status_code == 302


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def upload(client, url, data: bytes, name="医保.csv", **fields):
    body_fields = {"file": FileStorage(io.BytesIO(data), filename=name), **fields}
    boundary, body = encode_multipart(body_fields)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def main_text(page: str) -> str:
    main = page[page.index("<main"):page.index("</main>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def no_english(page: str) -> None:
    # file formats and the references' YL prefix are names, not English
    words = set(re.findall(r"[A-Za-z]{2,}", main_text(page))) - {"CSV", "XLSX", "csv", "xlsx", "flask", "medical",
                                                                  "import", "YL"}
    assert words == set(), words


def test_an_admin_creates_a_programme_and_field_errors_stay_beside_their_fields(client, auth, mw):
    login(client, auth, "bozhou_admin")
    assert client.get("/admin/medical").status_code == 200
    form = client.get("/admin/medical/new")
    assert form.status_code == 200
    no_english(form.text)
    bad = client.post("/admin/medical/new", data={"name": "医疗普惠", "year": "20x0", "threshold_yuan": "1000",
                                                  "amount_yuan": "-5", "budget_yuan": "", "eligible_org_code": "nope"})
    assert bad.status_code == 400 and 'data-testid="error-summary"' in bad.text
    assert "请填四位数的年份" in bad.text and "请输入金额" in bad.text and "必填" in bad.text
    assert count(MedicalProgramme) == 0
    made = client.post("/admin/medical/new", data={"name": "医疗普惠", "year": "2020", "threshold_yuan": "1000",
                                                   "amount_yuan": "200", "budget_yuan": "220,000",
                                                   "member_categories": ["hardship", "ordinary"]})
    assert made.status_code == 302
    p = db.session.scalar(select(MedicalProgramme))
    assert (p.year, p.threshold_fen, p.amount_fen, p.budget_fen, p.member_categories) == \
        (2020, 100_000, 20_000, 22_000_000, ["hardship", "ordinary"])
    again = client.post("/admin/medical/new", data={"name": "医疗普惠", "year": "2020", "threshold_yuan": "1000",
                                                    "amount_yuan": "200", "budget_yuan": "1000"})
    assert again.status_code == 400 and "本年度已有项目" in again.text
    detail = client.get(f"/admin/medical/{p.id}")
    assert detail.status_code == 200 and "医疗自付费用超过 1000.00 元" in detail.text
    no_english(detail.text)
    login(client, auth, "maanshan_admin")
    assert client.get(f"/admin/medical/{p.id}").status_code == 404


def _programme(mw, **terms) -> int:
    with unit_of_work():
        return mf.programme(mw.tree["bozhou"], **terms).id


def test_the_import_page_lists_bad_rows_and_imports_nothing_unless_they_are_skipped(client, auth, mw):
    pid = _programme(mw)
    login(client, auth, "bozhou_admin")
    page = client.get(f"/admin/medical/{pid}/import")
    assert page.status_code == 200
    no_english(page.text)
    template = client.get(f"/admin/medical/{pid}/import/template.csv")
    assert template.get_data().decode("utf-8-sig").startswith("身份证号,姓名,年度,自付金额（元）")
    data = mf.claims_csv([mf.claim(mw.fang, "3250.50"), mf.claim(mw.qiang, "12元"), mf.claim(mw.li_member, "900", 2019)])
    refused = upload(client, f"/admin/medical/{pid}/import", data)
    assert refused.status_code == 422 and 'data-testid="nothing-imported"' in refused.text
    rows = re.findall(r'data-testid="row-error"><td>(\d+)</td>', refused.text)
    assert rows == ["3", "4"] and "自付金额应为金额" in refused.text and "年度与本项目不符" in refused.text
    assert count(InsuranceClaim) == 0
    no_english(refused.text)
    done = upload(client, f"/admin/medical/{pid}/import", data, skip_bad_rows="y")
    assert done.status_code == 200 and 'data-testid="count-added">1<' in done.text
    again = upload(client, f"/admin/medical/{pid}/import", data, skip_bad_rows="y")
    assert 'data-testid="count-added">0<' in again.text and 'data-testid="count-unchanged">1<' in again.text
    assert count(InsuranceClaim) == 1
    wrong = upload(client, f"/admin/medical/{pid}/import", b"%PDF", name="医保.pdf")
    assert wrong.status_code == 400 and "只能上传 .csv 或 .xlsx 文件" in wrong.text


def test_preview_batch_and_approval_by_a_second_admin_then_the_file_and_the_returns(client, auth, mw):
    pid = _programme(mw)
    login(client, auth, "bozhou_admin")
    upload(client, f"/admin/medical/{pid}/import",
           mf.claims_csv([mf.claim(mw.fang, "3250.50"), mf.claim(mw.qiang, "1800"), mf.claim(mw.li_member, "999")]))
    preview = client.get(f"/admin/medical/{pid}/preview")
    assert preview.status_code == 200 and 'data-testid="qualifying">2<' in preview.text
    assert 'data-testid="needed">400.00<' in preview.text
    no_english(preview.text)
    below = client.get(f"/admin/medical/{pid}/preview", query_string={"reason": "below_threshold"})
    assert "李*" in below.text and mw.li_member.id_number not in below.text
    built = client.post(f"/admin/medical/{pid}/batches")
    assert built.status_code == 302
    batch = db.session.scalar(select(MedicalBatch))
    page = client.get(f"/admin/medical/batches/{batch.id}")
    assert 'data-testid="await-second-admin"' in page.text and 'data-testid="approve"' not in page.text
    no_english(page.text)
    client.post(f"/admin/medical/batches/{batch.id}/approve")
    assert count(MedicalPayout) == 0            # the creator's approval is refused

    login(client, auth, "bozhou_second")
    approved = client.post(f"/admin/medical/batches/{batch.id}/approve", follow_redirects=True)
    assert "已审批" in approved.text and 'data-testid="batch-file"' in approved.text
    twice = client.post(f"/admin/medical/batches/{batch.id}/approve", follow_redirects=True)
    assert "此批次已经审批或已驳回" in twice.text and count(MedicalPayout) == 2
    file_id = db.session.scalar(select(MedicalPayout.file_id))
    csv_file = client.get(f"/admin/medical/files/{file_id}.csv")
    assert csv_file.status_code == 200 and csv_file.get_data().decode("utf-8-sig").count("YL2020") == 2
    assert client.get(f"/admin/medical/files/{file_id}.xlsx").status_code == 200
    assert client.get(f"/admin/medical/files/{file_id}.pdf").status_code == 404

    refs = dict(db.session.execute(select(MedicalPayout.member_id, MedicalPayout.reference)).all())
    unknown = upload(client, f"/admin/medical/{pid}/returns",
                     mf.returns_csv([(refs[mw.fang.id], "成功", ""), ("YL20200000999999", "成功", "")]), name="回盘.csv")
    assert unknown.status_code == 422 and 'data-testid="returns-rejected"' in unknown.text
    assert re.findall(r'data-testid="row-error"><td>(\d+)</td>', unknown.text) == ["3"]
    assert "没有这个业务参考号的发放记录" in unknown.text and count(MedicalPayout, MedicalPayout.status == "paid") == 0
    no_english(unknown.text)
    done = upload(client, f"/admin/medical/{pid}/returns",
                  mf.returns_csv([(refs[mw.fang.id], "成功", ""), (refs[mw.qiang.id], "失败", "户名不符")]))
    assert 'data-testid="count-paid">1<' in done.text and 'data-testid="count-failed">1<' in done.text
    assert 'data-testid="reissue"' in done.text
    no_english(done.text)
    client.post(f"/admin/medical/{pid}/reissue")
    assert count(MedicalPayout) == 3 and count(MedicalPayout, MedicalPayout.status == "sent") == 1

    report = client.get("/admin/medical/report")
    assert report.status_code == 200 and 'data-testid="year-paid">200.00<' in report.text
    no_english(report.text)
    exported = client.get("/admin/medical/report.csv", query_string={"year": 2020}).get_data().decode("utf-8-sig")
    assert exported.splitlines()[0] == "年度,组织代码,组织,已到账人数,已到账金额（元）,发放中人数,发放中金额（元）"
    assert "2020,341602001,古井集团工会,1,200.00,0,0.00" in exported

    login(client, auth, "maanshan_admin")
    assert client.get(f"/admin/medical/batches/{batch.id}").status_code == 404
    assert client.get(f"/admin/medical/files/{file_id}.csv").status_code == 404
    assert "古井集团工会" not in client.get("/admin/medical/report").text


def test_the_member_sees_their_payout_on_the_phone_page_linked_from_mine(client, auth, mw):
    pid = _programme(mw)
    with unit_of_work():
        p = db.session.get(MedicalProgramme, pid)
        mf.import_claims(p, mf.claims_csv([mf.claim(mw.li_member, "5000")]))
        batch = medical.create_batch(mw.bozhou_admin, p)
    with unit_of_work():
        medical.approve_batch(mw.second, db.session.get(MedicalBatch, batch.id))
    login(client, auth, mw.li.username)
    assert 'href="/me/medical"' in client.get("/me/mine").text           # 我的 → 慰问金
    page = client.get("/me/medical")
    assert page.status_code == 200 and 'data-state="sending"' in page.text
    assert 'data-testid="medical-amount">200.00<' in page.text
    no_english(page.text)
    login(client, auth, mw.wang.username)
    assert 'data-testid="medical-empty"' in client.get("/me/medical").text
