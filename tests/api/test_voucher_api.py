"""The voucher API: union admins create programmes, preview and issue batches (by category or by a
list of ID / card numbers), read reports and void; members read their vouchers and messages."""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher, VoucherBatch, VoucherProgramme
from tests import factories, till_factories as tf, voucher_factories as vf
from tests.api.conftest import api_login, error_code

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in China
API = "/api/v1"

PROGRAMME = {"name": "扶贫暖心券", "face_fen": 50000, "topup_bp": 1000, "split": {"union": 60, "bank": 40},
             "scope": "programme", "valid_from": "2026-11-01", "valid_until": "2026-12-31", "spend_mode": "balance",
             "combinable": True, "min_spend_fen": 0, "per_member": 1, "budget_fen": 50000 * 100}


@pytest.fixture
def vw(request, app):
    """The API world (two cities, their admins, 李娜 in Bozhou and 王强 in Ma'anshan) at a frozen
    Wednesday in November 2026, plus two hardship members in Bozhou (one who can sign in), a
    Bozhou supermarket with a terminal key and a cashier."""
    clock.set_frozen(NOON)
    world = request.getfixturevalue("world")
    with unit_of_work():
        poor_user = factories.member_user(world.tree["gujing"], name="王芳", category="hardship")
        poor2 = factories.member(world.tree["qiaocheng"], name="张小兰", category="hardship")
        shop = tf.merchant(world.tree["bozhou"], name="亳州华联超市", category="supermarket")
        cashier = tf.cashier(shop)
        key = tf.terminal_key(shop)
    w = SimpleNamespace(**vars(world))
    w.poor_user, w.poor, w.poor2 = poor_user, poor_user.member, poor2
    w.shop, w.cashier, w.key = shop, cashier, key
    return w


def login(client, username):
    client.post(f"{API}/auth/logout")
    assert api_login(client, username).status_code == 200
    return client


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def create(client, **changes) -> dict:
    r = client.post(f"{API}/vouchers/programmes", json={**PROGRAMME, **changes})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def batch(client, programme_id, **body):
    return client.post(f"{API}/vouchers/programmes/{programme_id}/batches", json=body)


def programme_in(org, **terms):
    with unit_of_work():
        return vf.programme(org, **terms).id


# --- programmes -------------------------------------------------------------------------------

def test_admin_creates_a_programme_and_lists_and_reads_it(client, vw):
    login(client, "bozhou_admin")
    body = create(client)
    assert (body["face_fen"], body["topup_fen"], body["value_fen"]) == (50000, 5000, 55000)
    assert body["topup_bp"] == 1000 and body["split"] == {"union": 60, "bank": 40} and body["status"] == "active"
    assert body["org_name"] == "亳州市总工会" and body["where"] == "亳州市总工会的全部普惠商家"
    assert body["valid_from"] == "2026-11-01" and body["budget_left_fen"] == 5_000_000
    assert body["report"]["issued"]["count"] == 0 and body["report"]["budget_left_fen"] == 5_000_000
    listed = client.get(f"{API}/vouchers/programmes").get_json()
    assert [p["id"] for p in listed] == [body["id"]]
    detail = client.get(f"{API}/vouchers/programmes/{body['id']}").get_json()
    assert detail["name"] == "扶贫暖心券" and detail["report"]["outstanding"]["value_fen"] == 0
    by_category = create(client, name="超市券", scope="categories", categories=["supermarket"], topup_bp=None,
                         topup_fen=500, spend_mode="single", combinable=False)
    assert by_category["where"] == "超市类普惠商家" and by_category["value_fen"] == 50500
    assert by_category["combinable"] is False and by_category["spend_mode"] == "single"
    by_shop = create(client, name="华联专用券", scope="merchants", merchant_ids=[vw.shop.id])
    assert by_shop["where"] == "亳州华联超市" and by_shop["merchant_ids"] == [vw.shop.id]
    assert list(db.session.scalars(select(AuditEntry.action))).count("voucher_programme.create") == 3


def test_invalid_programmes_name_every_field_and_write_nothing(client, vw):
    login(client, "bozhou_admin")
    bad = {**PROGRAMME, "name": "", "face_fen": -1, "topup_fen": 100, "split": {"union": 50, "bank": 20},
           "valid_from": "2026-12-01", "valid_until": "2026-11-01", "spend_mode": "often", "per_member": 0,
           "budget_fen": 100}
    r = client.post(f"{API}/vouchers/programmes", json=bad)
    assert r.status_code == 400 and error_code(r) == "validation_error"
    fields = r.get_json()["error"]["details"]["fields"]
    assert {"name", "face_fen", "topup_fen", "split", "valid_until", "spend_mode", "per_member"} <= set(fields)
    assert fields["split"] == ["工会、银行分摊比例之和须为 100%"]
    missing = client.post(f"{API}/vouchers/programmes", json={})
    assert missing.status_code == 400
    assert {"name", "face_fen", "valid_from", "valid_until", "budget_fen"} <= \
        set(missing.get_json()["error"]["details"]["fields"])
    far = _merchant_in_maanshan(vw)
    outside = client.post(f"{API}/vouchers/programmes", json={**PROGRAMME, "scope": "merchants", "merchant_ids": [far]})
    assert outside.status_code == 400 and "merchant_ids" in outside.get_json()["error"]["details"]["fields"]
    assert count(VoucherProgramme) == 0


def _merchant_in_maanshan(vw) -> int:
    with unit_of_work():
        return tf.merchant(vw.tree["maanshan"], name="马钢超市", category="supermarket").id


@pytest.mark.parametrize("changes, field", [
    ({"face_fen": "500.00"}, "face_fen"),
    ({"face_fen": 12.5}, "face_fen"),
    ({"budget_fen": True}, "budget_fen"),
    ({"split": {"union": "60", "bank": 40}}, "split"),
    ({"split": {"union": 50, "merchant": 50}}, "split"),
    ({"valid_from": "2026-13-01"}, "valid_from"),
    ({"scope": "merchants", "merchant_ids": [2**40]}, "merchant_ids"),
    ({"store_ids": ["x"]}, "store_ids"),
    ({"combinable": "maybe"}, "combinable"),
    ({"colour": "red"}, "colour"),
    ({"name": "暖心\x00券"}, "name"),
])
def test_wrong_types_and_unknown_fields_are_400(client, vw, changes, field):
    login(client, "bozhou_admin")
    r = client.post(f"{API}/vouchers/programmes", json={**PROGRAMME, **changes})
    # a NUL is refused before the schema sees the body (benefits/inputs.py), naming the field too
    assert r.status_code == 400 and error_code(r) in ("validation_error", "nul_character"), r.get_json()
    assert field in r.get_json()["error"]["details"]["fields"]
    assert count(VoucherProgramme) == 0


def test_another_citys_programme_and_vouchers_are_404_and_the_province_sees_them(client, vw):
    pid = programme_in(vw.tree["bozhou"])
    with unit_of_work():
        vf.issue(db.session.get(VoucherProgramme, pid))
    voucher_id = db.session.scalar(select(Voucher.id))
    login(client, "maanshan_admin")
    assert client.get(f"{API}/vouchers/programmes").get_json() == []
    for path in ("", "/batches", "/vouchers"):
        r = client.get(f"{API}/vouchers/programmes/{pid}{path}")
        assert r.status_code == 404 and error_code(r) == "unknown_programme", path
    assert client.post(f"{API}/vouchers/programmes/{pid}/close").status_code == 404
    assert batch(client, pid, member_categories=["hardship"], preview=True).status_code == 404
    r = client.post(f"{API}/vouchers/{voucher_id}/void", json={"reason": "跨市"})
    assert r.status_code == 404 and error_code(r) == "unknown_voucher"
    for big in (2**31, 2**63, 10**30):
        assert client.get(f"{API}/vouchers/programmes/{big}").status_code == 404
        assert client.post(f"{API}/vouchers/{big}/void", json={"reason": "x"}).status_code == 404
    login(client, "province_admin")
    assert [p["id"] for p in client.get(f"{API}/vouchers/programmes").get_json()] == [pid]
    assert client.get(f"{API}/vouchers/programmes/{pid}").status_code == 200
    db.session.expire_all()
    assert db.session.get(Voucher, voucher_id).status == "active"


def test_close_stops_new_batches(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    closed = client.post(f"{API}/vouchers/programmes/{pid}/close")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert client.post(f"{API}/vouchers/programmes/{pid}/close").status_code == 200     # already closed: no-op
    r = batch(client, pid, member_categories=["hardship"])
    assert r.status_code == 409 and error_code(r) == "programme_closed"
    assert count(Voucher) == 0


# --- batches ----------------------------------------------------------------------------------

def test_preview_counts_against_the_budget_and_writes_nothing(client, vw):
    login(client, "bozhou_admin")
    pid = create(client, budget_fen=50000)["id"]            # room for one voucher
    r = batch(client, pid, member_categories=["hardship"], preview=True)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"members": 2, "face_fen": 100000, "budget_left_fen": 50000, "fits": False,
                            "can_issue": 1, "batch_id": None, "skipped_rows": []}
    assert count(Voucher) == 0 and count(VoucherBatch) == 0
    assert db.session.get(VoucherProgramme, pid).issued_fen == 0


def test_issue_by_category_and_org_then_again_issues_nobody_twice(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    first = batch(client, pid, member_categories=["hardship"])
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["issued"], body["face_fen"], body["not_issued_for_budget"]) == (2, 100000, 0)
    assert body["batch"]["kind"] == "target" and body["batch"]["member_categories"] == ["hardship"]
    again = batch(client, pid, member_categories=["hardship"]).get_json()
    assert again["issued"] == 0 and again["batch_id"] == body["batch_id"]
    preview = batch(client, pid, member_categories=["hardship"], preview=True).get_json()
    assert preview["members"] == 0 and preview["batch_id"] == body["batch_id"]
    # by organisation: 古井集团工会's members: 李娜 and 赵敏 (王芳 already holds her one voucher)
    by_org = batch(client, pid, org_id=vw.tree["gujing"].id).get_json()
    assert by_org["issued"] == 2
    outside = batch(client, pid, org_id=vw.tree["magang"].id)
    assert outside.status_code == 400 and "org_id" in outside.get_json()["error"]["details"]["fields"]
    nothing = batch(client, pid)
    assert nothing.status_code == 400 and "member_categories" in nothing.get_json()["error"]["details"]["fields"]
    unknown = batch(client, pid, member_categories=["pensioner"])
    assert unknown.status_code == 400 and "member_categories" in unknown.get_json()["error"]["details"]["fields"]
    batches = client.get(f"{API}/vouchers/programmes/{pid}/batches").get_json()
    assert [(b["kind"], b["org_id"], b["issued_count"]) for b in batches] == [
        ("target", vw.tree["gujing"].id, 2), ("target", None, 2)]
    detail = client.get(f"{API}/vouchers/programmes/{pid}").get_json()
    assert detail["issued_count"] == 4 and detail["report"]["issued"]["face_fen"] == 200000
    assert detail["report"]["issued"]["union_fen"] == 120000 and detail["report"]["issued"]["bank_fen"] == 80000
    assert detail["report"]["outstanding"]["value_fen"] == 220000 and detail["budget_left_fen"] == 4_800_000
    assert count(Voucher) == 4


def test_a_list_with_a_bad_row_is_refused_then_issued_with_skip_errors(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    body = {"id_numbers": [vw.poor.id_number, "123", vw.wang_member.id_number],
            "card_numbers": [vw.li_card.number, "6231999999999999"]}
    refused = batch(client, pid, **body)
    assert refused.status_code == 400 and error_code(refused) == "list_rows_invalid"
    details = refused.get_json()["error"]["details"]
    assert [(r["row"], r["column"], r["reason"]) for r in details["rows"]] == [
        (2, "id_number", "id_number_invalid"), (3, "id_number", "not_in_union"), (5, "card_number", "unknown_card")]
    assert details["error_rows"] == 3 and details["rows"][1]["message"] == "会员不属于本活动的工会"
    masked = details["rows"][1]["value"]
    assert masked.startswith(vw.wang_member.id_number[:4]) and "*" in masked
    assert vw.wang_member.id_number not in refused.get_data(as_text=True)
    assert count(Voucher) == 0 and count(VoucherBatch) == 0
    preview = batch(client, pid, **body, skip_errors=True, preview=True)
    assert preview.status_code == 200 and preview.get_json()["members"] == 2
    assert len(preview.get_json()["skipped_rows"]) == 3 and count(VoucherBatch) == 0
    issued = batch(client, pid, **body, skip_errors=True)
    assert issued.status_code == 201, issued.get_json()
    out = issued.get_json()
    assert out["issued"] == 2 and out["batch"]["kind"] == "list" and out["batch"]["listed_members"] == 2
    assert len(out["skipped_rows"]) == 3
    assert batch(client, pid, **body, skip_errors=True).get_json()["issued"] == 0
    holders = set(db.session.scalars(select(Voucher.member_id)))
    assert holders == {vw.poor.id, vw.li_member.id}
    all_bad = batch(client, pid, id_numbers=["123"], skip_errors=True)
    assert all_bad.status_code == 400 and error_code(all_bad) == "list_rows_invalid"


@pytest.mark.parametrize("body, field", [
    ({"id_numbers": ["110101199003074514"] * 5001}, "id_numbers"),
    ({"id_numbers": ["110101199003074514"], "member_categories": ["hardship"]}, "member_categories"),
    ({"member_categories": ["hardship"], "round": "2"}, "round"),
    ({"member_categories": ["hardship"], "round": 0}, "round"),
    ({"member_categories": ["hardship"], "round": 10**12}, "round"),
    ({"org_id": 2**40}, "org_id"),
    ({"org_id": "1"}, "org_id"),
    ({"card_numbers": [6231000000000001]}, "card_numbers"),
    ({"card_numbers": ["1" * 100]}, "card_numbers"),
    ({"member_categories": "hardship"}, "member_categories"),
    ({"member_categories": ["hardship"], "preview": "yes please"}, "preview"),
    ({"member_categories": ["hardship"], "everyone": True}, "everyone"),
])
def test_bad_batch_requests_are_400_and_write_nothing(client, vw, body, field):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    r = batch(client, pid, **body)
    assert r.status_code == 400 and error_code(r) == "validation_error", r.get_json()
    assert field in r.get_json()["error"]["details"]["fields"]
    assert count(Voucher) == 0 and count(VoucherBatch) == 0


def test_bodies_that_are_not_objects_and_ids_that_are_not_numbers(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    for path in ("/vouchers/programmes", f"/vouchers/programmes/{pid}/batches", "/vouchers/1/void"):
        assert client.post(API + path, json=["hardship"]).status_code == 400, path
        r = client.post(API + path, data="{not json", content_type="application/json")
        assert r.status_code == 400 and error_code(r) == "malformed_json", path
    assert client.get(f"{API}/vouchers/programmes/abc").status_code == 404
    assert client.post(f"{API}/vouchers/-1/void", json={"reason": "x"}).status_code == 404
    vid = db.session.scalar(select(Voucher.id))
    assert vid is None
    batch(client, pid, member_categories=["hardship"])
    vid = db.session.scalar(select(Voucher.id))
    r = client.post(f"{API}/vouchers/{vid}/void", json={"reason": "作\x00废"})
    assert r.status_code == 400 and "reason" in r.get_json()["error"]["details"]["fields"]


def test_a_second_round_gives_a_second_voucher_up_to_per_member(client, vw):
    login(client, "bozhou_admin")
    pid = create(client, per_member=2)["id"]
    assert batch(client, pid, member_categories=["hardship"]).get_json()["issued"] == 2
    assert batch(client, pid, member_categories=["hardship"], round=2).get_json()["issued"] == 2
    assert batch(client, pid, member_categories=["hardship"], round=3).get_json()["issued"] == 0


def test_voucher_list_is_paginated_and_masks_the_member(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    batch(client, pid, member_categories=["hardship"])
    r = client.get(f"{API}/vouchers/programmes/{pid}/vouchers?per_page=1")
    assert r.status_code == 200
    page = r.get_json()
    assert page["total"] == 2 and page["per_page"] == 1 and len(page["items"]) == 1
    item = page["items"][0]
    assert item["member_name"] == "王*" and item["card_tail"] == vw.poor.current_card.number[-4:]
    assert (item["value_fen"], item["balance_fen"], item["status"]) == (55000, 55000, "active")
    text = r.get_data(as_text=True)
    assert vw.poor.id_number not in text and vw.poor.current_card.number not in text and "王芳" not in text
    second = client.get(f"{API}/vouchers/programmes/{pid}/vouchers?per_page=1&page=2").get_json()
    assert second["items"][0]["member_name"] == "张**" and second["items"][0]["id"] != item["id"]
    assert client.get(f"{API}/vouchers/programmes/{pid}/vouchers?status=voided").get_json()["total"] == 0
    for query in ("page=0", "per_page=1000", "status=lost", "page=abc"):
        assert client.get(f"{API}/vouchers/programmes/{pid}/vouchers?{query}").status_code == 400, query


def test_void_needs_a_reason_and_only_an_active_voucher(client, vw):
    login(client, "bozhou_admin")
    pid = create(client)["id"]
    batch(client, pid, member_categories=["hardship"])
    vid = db.session.scalar(select(Voucher.id).where(Voucher.member_id == vw.poor.id))
    no_reason = client.post(f"{API}/vouchers/{vid}/void", json={"reason": "  "})
    assert no_reason.status_code == 400 and "reason" in no_reason.get_json()["error"]["details"]["fields"]
    assert client.post(f"{API}/vouchers/{vid}/void", json={}).status_code == 400
    assert client.post(f"{API}/vouchers/{vid}/void", json={"reason": 5}).status_code == 400
    ok = client.post(f"{API}/vouchers/{vid}/void", json={"reason": "重复发放"})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["status"] == "voided" and ok.get_json()["void_reason"] == "重复发放"
    again = client.post(f"{API}/vouchers/{vid}/void", json={"reason": "再次作废"})
    assert again.status_code == 409 and error_code(again) == "voucher_not_active"
    assert list(db.session.scalars(select(AuditEntry.action))).count("voucher.void") == 1
    report = client.get(f"{API}/vouchers/programmes/{pid}").get_json()["report"]
    assert report["voided"]["count"] == 1 and report["voided"]["value_fen"] == 55000


# --- members ----------------------------------------------------------------------------------

def test_member_reads_vouchers_uses_and_messages_and_not_anyone_elses(client, vw):
    pid = programme_in(vw.tree["bozhou"], scope="merchants", merchant_ids=[vw.shop.id])
    with unit_of_work():
        vf.issue(db.session.get(VoucherProgramme, pid), categories=("hardship", "ordinary"))
    mine = db.session.scalar(select(Voucher.id).where(Voucher.member_id == vw.poor.id))
    theirs = db.session.scalar(select(Voucher.id).where(Voucher.member_id == vw.li_member.id))
    paid = client.post(f"{API}/till/transactions", json={"card_number": vw.poor.current_card.number,
                                                          "amount": "300.00", "voucher_ids": [mine]},
                       headers={"Authorization": f"Bearer {vw.key}", "Idempotency-Key": "v-1"})
    assert paid.status_code == 201, paid.get_json()
    with unit_of_work():
        vouchers.expire(date(2026, 12, 28))                 # within a week of the end: a notice

    login(client, vw.poor.id_number)
    listed = client.get(f"{API}/me/vouchers")
    assert listed.status_code == 200
    [v] = listed.get_json()
    assert v["id"] == mine and v["programme_name"] == "扶贫暖心券" and v["where"] == "亳州华联超市"
    assert (v["value_fen"], v["balance_fen"], v["status"]) == (55000, 25000, "active")
    assert (v["valid_from"], v["valid_until"], v["spend_mode"], v["combinable"]) == (
        "2026-11-01", "2026-12-31", "balance", True)
    detail = client.get(f"{API}/me/vouchers/{mine}").get_json()
    assert [(u["amount_fen"], u["merchant_name"], u["business_day"]) for u in detail["uses"]] == [
        (30000, "亳州华联超市", "2026-11-18")]
    messages = client.get(f"{API}/me/messages").get_json()["items"]
    assert [m["kind"] for m in messages] == ["voucher_expiring", "voucher_issued"]
    assert messages[1]["text"] == "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。"
    assert "余额 250.00 元" in messages[0]["text"] and messages[0]["link"] == f"/me/vouchers/{mine}"
    other = client.get(f"{API}/me/vouchers/{theirs}")
    assert other.status_code == 404 and error_code(other) == "unknown_voucher"
    assert client.get(f"{API}/me/vouchers/{2**40}").status_code == 404

    login(client, "bozhou_admin")
    assert client.post(f"{API}/vouchers/{mine}/void", json={"reason": "身份核查不符"}).status_code == 200
    login(client, vw.poor.id_number)
    messages = client.get(f"{API}/me/messages").get_json()["items"]
    assert messages[0]["kind"] == "voucher_voided" and messages[0]["text"] == "您的扶贫暖心券已被工会作废：身份核查不符"
    assert client.get(f"{API}/me/vouchers").get_json()[0]["status"] == "voided"
    login(client, vw.wang_member.id_number)
    assert client.get(f"{API}/me/vouchers").get_json() == []
    assert client.get(f"{API}/me/messages").get_json()["items"] == []


# --- roles and the document -------------------------------------------------------------------

ADMIN_CALLS = [("get", "/vouchers/programmes", None), ("post", "/vouchers/programmes", PROGRAMME),
               ("get", "/vouchers/programmes/1", None), ("post", "/vouchers/programmes/1/close", None),
               ("get", "/vouchers/programmes/1/batches", None),
               ("post", "/vouchers/programmes/1/batches", {"member_categories": ["hardship"]}),
               ("get", "/vouchers/programmes/1/vouchers", None), ("post", "/vouchers/1/void", {"reason": "x"})]
MEMBER_CALLS = [("get", "/me/vouchers", None), ("get", "/me/vouchers/1", None), ("get", "/me/messages", None)]


def _call(client, method, path, body):
    return getattr(client, method)(API + path, **({"json": body} if body is not None else {}))


def test_roles(client, vw):
    programme_in(vw.tree["bozhou"])
    for method, path, body in ADMIN_CALLS + MEMBER_CALLS:
        r = _call(client, method, path, body)
        assert r.status_code == 401 and error_code(r) == "not_authenticated", path
    for who in (vw.li_member.id_number, vw.cashier.username):
        login(client, who)
        for method, path, body in ADMIN_CALLS:
            r = _call(client, method, path, body)
            assert r.status_code == 403 and error_code(r) == "forbidden", (who, path)
    login(client, "bozhou_admin")
    for method, path, body in MEMBER_CALLS:
        assert _call(client, method, path, body).status_code == 403, path
    assert count(Voucher) == 0 and count(VoucherProgramme) == 1


def test_openapi_lists_the_voucher_endpoints(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/vouchers/programmes": {"get", "post"},
        "/api/v1/vouchers/programmes/{programme_id}": {"get"},
        "/api/v1/vouchers/programmes/{programme_id}/close": {"post"},
        "/api/v1/vouchers/programmes/{programme_id}/batches": {"get", "post"},
        "/api/v1/vouchers/programmes/{programme_id}/vouchers": {"get"},
        "/api/v1/vouchers/{voucher_id}/void": {"post"},
        "/api/v1/me/vouchers": {"get"}, "/api/v1/me/vouchers/{voucher_id}": {"get"}, "/api/v1/me/messages": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method].get("summary"), (path, method)
    assert "400" in paths["/api/v1/vouchers/programmes"]["post"]["responses"]
    batches = paths["/api/v1/vouchers/programmes/{programme_id}/batches"]["post"]["responses"]
    assert {"200", "201", "400", "409"} <= set(batches)
    schemas = spec["components"]["schemas"]
    for name in ("VoucherProgrammeIn", "VoucherProgrammeDetail", "VoucherBatchIn", "VoucherPreview", "VoucherIssue",
                 "VoucherAdminPage", "MyVoucher", "MyVoucherDetail", "Notice"):
        assert name in schemas, name
