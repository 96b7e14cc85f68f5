"""The medical-benefit API: programmes, the insurance import (bad rows, skipping, twice), the
preview, batches approved by a second admin (twice, own batch, budget), the payout file, the
return file (unknown reference, twice), issuing again, totals and the member's list. Every
refusal is the JSON error envelope and changes nothing."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from benefits.auth import service as auth
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.medical.models import InsuranceClaim, MedicalBatch, MedicalPayout, MedicalProgramme
from benefits.members.models import Member
from tests import factories, medical_factories as mf
from tests.api.conftest import api_login, csrf_header, error_code

API = "/api/v1/medical"
PROGRAMME = {"name": "医疗普惠", "year": 2020, "threshold_fen": 100_000, "amount_fen": 20_000,
             "budget_fen": 2_000_000}


@pytest.fixture
def mw(world):
    """The API world plus a second Bozhou admin and two more Bozhou members with cards."""
    with unit_of_work():
        w = SimpleNamespace(**vars(world))
        w.second = factories.admin(world.tree["bozhou"], "bozhou_second")
        w.fang = factories.member(world.tree["gujing"], name="王芳")
        w.qiang = factories.member(world.tree["qiaocheng"], name="李强")
    return w


def login(client, username):
    client.post("/api/v1/auth/logout")
    assert api_login(client, username).status_code == 200
    return client


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def create(client, **changes) -> dict:
    r = client.post(f"{API}/programmes", json={**PROGRAMME, **changes})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def upload(client, url, data: bytes, name="yibao.csv", **query):
    return client.post(url, query_string=query, headers=csrf_header(client),
                       data={"file": FileStorage(io.BytesIO(data), filename=name)},
                       content_type="multipart/form-data")


def claims(mw) -> bytes:
    return mf.claims_csv([mf.claim(mw.fang, "3250.50"), mf.claim(mw.qiang, "1800"),
                          mf.claim(mw.li_member, "999.99"), mf.claim(mw.wang_member, "5000")])


def approved(client, mw) -> tuple[dict, dict]:
    """A programme with its file imported and a batch (王芳, 李强) approved by the second admin."""
    login(client, "bozhou_admin")
    p = create(client)
    assert upload(client, f"{API}/programmes/{p['id']}/imports", claims(mw)).status_code == 200
    batch = client.post(f"{API}/programmes/{p['id']}/batches").get_json()
    login(client, "bozhou_second")
    approval = client.post(f"{API}/batches/{batch['id']}/approve")
    assert approval.status_code == 200, approval.get_json()
    return p, approval.get_json()


def references(programme_id: int) -> dict[str, str]:
    return dict(db.session.execute(select(Member.name, MedicalPayout.reference)
                                   .join(Member, Member.id == MedicalPayout.member_id)
                                   .where(MedicalPayout.programme_id == programme_id)).all())


# --- programmes ---------------------------------------------------------------------------------

def test_an_admin_creates_a_programme_and_another_union_cannot_see_it(client, mw):
    login(client, "bozhou_admin")
    body = create(client)
    assert (body["year"], body["amount_fen"], body["budget_left_fen"], body["eligible_org_name"]) == \
        (2020, 20_000, 2_000_000, "亳州市总工会")
    assert body["state"] == {"awards": {}, "payouts": {}, "awaiting_reissue": 0}
    assert [p["id"] for p in client.get(f"{API}/programmes").get_json()] == [body["id"]]
    again = client.post(f"{API}/programmes", json=PROGRAMME)
    assert again.status_code == 409 and error_code(again) == "programme_exists"
    login(client, "maanshan_admin")
    assert client.get(f"{API}/programmes").get_json() == []
    missing = client.get(f"{API}/programmes/{body['id']}")
    assert missing.status_code == 404 and error_code(missing) == "unknown_programme"


def test_a_bad_programme_names_every_field_and_writes_nothing(client, mw):
    login(client, "bozhou_admin")
    r = client.post(f"{API}/programmes", json={**PROGRAMME, "name": "", "year": 1999, "threshold_fen": -1,
                                                "amount_fen": 0, "budget_fen": 10, "member_categories": ["vip"],
                                                "eligible_org_id": mw.tree["magang"].id})
    assert r.status_code == 400 and error_code(r) == "validation_error"
    assert {"name", "year", "threshold_fen", "amount_fen", "member_categories", "eligible_org_id"} <= \
        set(r.get_json()["error"]["details"]["fields"])
    wrong_types = client.post(f"{API}/programmes", json={**PROGRAMME, "amount_fen": "200.00", "year": 2020.5})
    assert wrong_types.status_code == 400 and {"amount_fen", "year"} <= \
        set(wrong_types.get_json()["error"]["details"]["fields"])
    assert count(MedicalProgramme) == 0


# --- the insurance import -----------------------------------------------------------------------

def test_an_import_with_bad_rows_is_refused_naming_them_unless_they_are_skipped(client, mw):
    login(client, "bozhou_admin")
    p = create(client)
    bad_id = mw.fang.id_number[:17] + ("1" if mw.fang.id_number[17] == "0" else "0")
    data = mf.claims_csv([mf.claim(mw.qiang, "1800"), (bad_id, "王芳", "2020", "3000"),
                          mf.claim(mw.li_member, "-5")])
    refused = upload(client, f"{API}/programmes/{p['id']}/imports", data)
    assert refused.status_code == 400 and error_code(refused) == "file_rows_invalid"
    details = refused.get_json()["error"]["details"]
    assert [(r["row"], r["reason"]) for r in details["rows"]] == [(3, "id_number_check_digit"), (4, "amount_negative")]
    assert details["error_rows"] == 2 and details["total_rows"] == 3
    assert bad_id not in refused.get_data(as_text=True)                 # masked
    assert count(InsuranceClaim) == 0

    skipped = upload(client, f"{API}/programmes/{p['id']}/imports", data, skip_bad_rows="true")
    assert skipped.status_code == 200
    body = skipped.get_json()
    assert (body["added"], body["bad_rows"], body["matched"]) == (1, 2, 1)
    assert [e["row"] for e in body["errors"]] == [3, 4]


def test_the_same_file_twice_adds_nothing(client, mw):
    login(client, "bozhou_admin")
    p = create(client)
    first = upload(client, f"{API}/programmes/{p['id']}/imports", claims(mw)).get_json()
    second = upload(client, f"{API}/programmes/{p['id']}/imports", claims(mw)).get_json()
    assert (first["added"], first["claims"], first["matched"]) == (4, 4, 4)
    assert (second["added"], second["updated"], second["unchanged"], second["import_id"]) == (0, 0, 4, None)
    assert count(InsuranceClaim) == 4
    assert len(client.get(f"{API}/programmes/{p['id']}/imports").get_json()) == 1


def test_files_that_are_no_spreadsheet_are_refused_with_the_envelope(client, mw):
    login(client, "bozhou_admin")
    p = create(client)
    url = f"{API}/programmes/{p['id']}/imports"
    assert error_code(upload(client, url, b"hello", name="a.pdf")) == "unsupported_file_type"
    assert error_code(upload(client, url, b"PK\x03\x04 not a zip", name="a.xlsx")) == "bad_xlsx"
    assert error_code(upload(client, url, "身份证号,姓名\n".encode(), name="a.csv")) == "empty_file"
    no_file = client.post(url, headers=csrf_header(client), data={}, content_type="multipart/form-data")
    assert no_file.status_code == 400 and error_code(no_file) == "validation_error"
    assert count(InsuranceClaim) == 0


# --- preview, batches, approval -------------------------------------------------------------------

def test_the_preview_shows_the_groups_and_a_masked_page_of_one(client, mw):
    login(client, "bozhou_admin")
    p = create(client)
    upload(client, f"{API}/programmes/{p['id']}/imports", claims(mw))
    body = client.get(f"{API}/programmes/{p['id']}/preview", query_string={"reason": "qualifies"}).get_json()
    groups = {g["reason"]: g["count"] for g in body["groups"]}
    # 王芳 and 李强 qualify, 李娜 is under the threshold, 王强 is in Ma'anshan
    assert (groups["qualifies"], groups["below_threshold"], groups["outside_union"]) == (2, 1, 1)
    assert (body["qualifying"], body["total_fen"], body["left_fen"], body["fits"]) == (2, 40_000, 2_000_000, True)
    assert [r["masked_name"] for r in body["rows"]] == ["王*", "李*"] and body["total"] == 2
    assert all("*" * 10 in r["masked_id_number"] for r in body["rows"])
    bad = client.get(f"{API}/programmes/{p['id']}/preview", query_string={"reason": "everyone"})
    assert bad.status_code == 400 and error_code(bad) == "validation_error"


def test_a_second_admin_approves_once_and_the_creator_cannot(client, mw):
    login(client, "bozhou_admin")
    p = create(client)
    upload(client, f"{API}/programmes/{p['id']}/imports", claims(mw))
    batch = client.post(f"{API}/programmes/{p['id']}/batches")
    assert batch.status_code == 201 and batch.get_json()["member_count"] == 2
    batch_id = batch.get_json()["id"]
    nobody = client.post(f"{API}/programmes/{p['id']}/batches")
    assert nobody.status_code == 409 and error_code(nobody) == "nobody_qualifies"
    own = client.post(f"{API}/batches/{batch_id}/approve")
    assert own.status_code == 403 and error_code(own) == "second_admin_required"
    assert count(MedicalPayout) == 0

    login(client, "bozhou_second")
    first = client.post(f"{API}/batches/{batch_id}/approve")
    assert first.status_code == 200
    body = first.get_json()
    assert (body["batch"]["status"], body["payouts"], body["payout_file"]["total_fen"]) == ("approved", 2, 40_000)
    twice = client.post(f"{API}/batches/{batch_id}/approve")
    assert twice.status_code == 409 and error_code(twice) == "batch_not_pending"
    assert count(MedicalPayout) == 2
    detail = client.get(f"{API}/programmes/{p['id']}").get_json()
    assert detail["committed_fen"] == 40_000 and detail["state"]["payouts"] == {"sent": {"count": 2, "fen": 40_000}}
    login(client, "maanshan_admin")
    assert client.post(f"{API}/batches/{batch_id}/reject").status_code == 404


def test_approving_a_batch_beyond_the_budget_left_is_refused(client, mw):
    login(client, "bozhou_admin")
    p = create(client, budget_fen=30_000)
    upload(client, f"{API}/programmes/{p['id']}/imports", mf.claims_csv([mf.claim(mw.fang, "3000")]))
    first = client.post(f"{API}/programmes/{p['id']}/batches").get_json()
    upload(client, f"{API}/programmes/{p['id']}/imports", mf.claims_csv([mf.claim(mw.qiang, "3000")]))
    second = client.post(f"{API}/programmes/{p['id']}/batches").get_json()
    login(client, "bozhou_second")
    assert client.post(f"{API}/batches/{first['id']}/approve").status_code == 200
    over = client.post(f"{API}/batches/{second['id']}/approve")
    assert over.status_code == 409 and error_code(over) == "over_budget"
    assert over.get_json()["error"]["details"] == {"total_fen": 20_000, "left_fen": 10_000}
    assert db.session.get(MedicalBatch, second["id"]).status == "pending"
    assert db.session.get(MedicalProgramme, p["id"]).committed_fen == 20_000 and count(MedicalPayout) == 1


def test_the_payout_file_downloads_as_csv_and_xlsx_with_masked_names(client, mw):
    p, approval = approved(client, mw)
    file_id = approval["payout_file"]["id"]
    as_csv = client.get(f"{API}/payout-files/{file_id}/download")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    lines = as_csv.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "卡号,姓名,金额（元）,业务参考号" and len(lines) == 3
    assert any(line.startswith(mw.fang.current_card.number + ",王*,200.00,YL2020") for line in lines)
    as_xlsx = client.get(f"{API}/payout-files/{file_id}/download", query_string={"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(as_xlsx.get_data())).active.iter_rows(values_only=True))
    assert len(rows) == 3 and rows[1][2] == "200.00"
    assert client.get(f"{API}/payout-files/{file_id}/download", query_string={"format": "pdf"}).status_code == 400
    login(client, "maanshan_admin")
    assert client.get(f"{API}/payout-files/{file_id}/download").status_code == 404


# --- returns, reissue, members, totals ------------------------------------------------------------

def test_a_return_file_with_an_unknown_reference_is_refused_naming_the_row(client, mw):
    p, _approval = approved(client, mw)
    refs = references(p["id"])
    data = mf.returns_csv([(refs["王芳"], "成功", ""), ("YL20200000999999", "成功", "")])
    r = upload(client, f"{API}/programmes/{p['id']}/returns", data, name="huipan.csv")
    assert r.status_code == 400 and error_code(r) == "return_rows_invalid"
    assert r.get_json()["error"]["details"]["rows"] == [
        {"row": 3, "column": "reference", "reason": "unknown_reference", "message": "没有这个业务参考号的发放记录",
         "value": "YL20200000999999"}]
    assert count(MedicalPayout, MedicalPayout.status == "sent") == 2


def test_returns_reconcile_once_failed_ones_are_issued_again_and_members_see_theirs(client, mw):
    p, _approval = approved(client, mw)
    refs = references(p["id"])
    data = mf.returns_csv([(refs["王芳"], "成功", ""), (refs["李强"], "失败", "户名不符")])
    first = upload(client, f"{API}/programmes/{p['id']}/returns", data)
    assert first.status_code == 200 and (first.get_json()["paid"], first.get_json()["failed"]) == (1, 1)
    again = upload(client, f"{API}/programmes/{p['id']}/returns", data).get_json()
    assert (again["paid"], again["failed"], again["unchanged"], again["return_file_id"]) == (0, 0, 2, None)
    assert len(client.get(f"{API}/programmes/{p['id']}/returns").get_json()) == 1

    failed = client.get(f"{API}/programmes/{p['id']}/payouts", query_string={"status": "failed"}).get_json()
    assert failed["total"] == 1 and failed["items"][0]["failure_reason"] == "户名不符"
    assert failed["items"][0]["masked_name"] == "李*" and len(failed["items"][0]["card_tail"]) == 4
    reissued = client.post(f"{API}/programmes/{p['id']}/payout-files")
    assert reissued.status_code == 201 and reissued.get_json()["kind"] == "reissue"
    nothing = client.post(f"{API}/programmes/{p['id']}/payout-files")
    assert nothing.status_code == 409 and error_code(nothing) == "nothing_to_reissue"

    totals = client.get(f"{API}/totals", query_string={"year": 2020}).get_json()
    assert totals["years"] == [{"year": 2020, "paid": 1, "paid_fen": 20_000, "in_payment": 1,
                                "in_payment_fen": 20_000}]
    assert {o["org_code"] for o in totals["organisations"]} == {"341602001", "341602"}
    assert client.get(f"{API}/totals", query_string={"year": "x"}).status_code == 400

    with unit_of_work():
        user = auth.activate_member(id_number=mw.fang.id_number, card_number=mw.fang.current_card.number,
                                    password=factories.PASSWORD, address="test")
    login(client, user.username)
    mine = client.get("/api/v1/me/medical-payouts").get_json()
    assert [(m["year"], m["amount_fen"], m["state"]) for m in mine] == [(2020, 20_000, "paid")]
    assert mine[0]["card_tail"] == mw.fang.current_card.number[-4:]
    login(client, mw.li.username)
    assert client.get("/api/v1/me/medical-payouts").get_json() == []
