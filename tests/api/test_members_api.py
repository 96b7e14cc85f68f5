"""Members and cards over JSON: happy paths, scope, bad input, audit."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.extensions import db
from benefits.members import service as members
from benefits.members.models import ActivationCode, Card, Member
from benefits.pii import make_id_number
from tests.api.conftest import api_login, error_code
from tests.conftest import statements_sent



def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()


NEW_ID = make_id_number("341602", date(1990, 3, 4), 321)


def test_me_shows_own_masked_profile_and_card(client, world):
    api_login(client, world.li.username)
    body = client.get("/api/v1/me").get_json()
    assert body["name"] == "李娜"
    assert body["id_number_masked"] == world.li.username[:4] + "*" * 10 + world.li.username[-4:]
    assert body["phone_masked"] == "138****5678"
    assert body["card"] == {"id": world.li_card.id, "number": world.li_card.number, "status": "active"}
    assert world.li.username not in client.get("/api/v1/me").get_data(as_text=True)


def test_me_needs_a_member(client, world):
    assert error_code(client.get("/api/v1/me")) == "not_authenticated"
    api_login(client, "bozhou_admin")
    assert client.get("/api/v1/me").status_code == 403


def test_search_by_name_card_masked_id_and_pages(as_bozhou, world):
    li = world.li_member
    masked = li.id_number[:4] + "*" * 10 + li.id_number[-4:]
    for q in ("李娜", world.li_card.number, masked, li.id_number[-4:]):
        body = as_bozhou.get("/api/v1/members", query_string={"q": q}).get_json()
        assert [m["id"] for m in body["items"]] == [li.id], q
        assert body["items"][0]["id_number_masked"] == masked
        assert body["items"][0]["current_card"]["number"] == world.li_card.number
    body = as_bozhou.get("/api/v1/members", query_string={"per_page": 1, "page": 2}).get_json()
    assert body["total"] == 2 and body["page"] == 2 and body["per_page"] == 1 and len(body["items"]) == 1
    # Maanshan's member is outside Bozhou's subtree: never listed
    assert as_bozhou.get("/api/v1/members", query_string={"q": "王强"}).get_json()["total"] == 0
    body = as_bozhou.get("/api/v1/members", query_string={"category": "ordinary", "status": "active"}).get_json()
    assert body["total"] == 2


def test_org_filter_is_scoped(as_bozhou, world):
    ok = as_bozhou.get("/api/v1/members", query_string={"org_id": world.tree["qiaocheng"].id}).get_json()
    assert ok["total"] == 2
    other = as_bozhou.get("/api/v1/members", query_string={"org_id": world.tree["magang"].id})
    assert other.status_code == 404 and error_code(other) == "not_found"


def test_join_then_issue_freeze_unfreeze_report_lost(as_bozhou, world):
    created = as_bozhou.post("/api/v1/members", json={
        "org_id": world.tree["gujing"].id, "name": "孙丽", "id_number": NEW_ID.lower() if NEW_ID.endswith("X") else NEW_ID,
        "phone": "13900001111", "category": "hardship"})
    assert created.status_code == 201, created.get_json()
    member = created.get_json()
    assert member["status"] == "active" and member["category"] == "hardship" and member["cards"] == []
    assert "id_number" not in member and member["phone_masked"] == "139****1111"

    card = as_bozhou.post(f"/api/v1/members/{member['id']}/cards").get_json()
    assert card["status"] == "active" and len(card["number"]) == 16
    again = as_bozhou.post(f"/api/v1/members/{member['id']}/cards")
    assert again.status_code == 409 and error_code(again) == "card_exists"

    assert as_bozhou.post(f"/api/v1/cards/{card['id']}/freeze").get_json()["status"] == "frozen"
    assert as_bozhou.get(f"/api/v1/cards/{card['id']}").get_json()["status"] == "frozen"
    assert as_bozhou.post(f"/api/v1/cards/{card['id']}/unfreeze").get_json()["status"] == "active"
    new = as_bozhou.post(f"/api/v1/cards/{card['id']}/report-lost").get_json()
    assert new["number"] != card["number"] and new["status"] == "active" and new["replaces_card_id"] == card["id"]
    old = as_bozhou.get(f"/api/v1/cards/{card['id']}").get_json()
    with pytest.raises(members.CardRefused):  # the old number stops at once
        members.check_payable(old["status"], "active")
    members.check_payable(new["status"], "active")

    detail = as_bozhou.get(f"/api/v1/members/{member['id']}").get_json()
    assert [c["status"] for c in detail["cards"]] == ["lost", "active"]
    assert detail["current_card"]["number"] == new["number"]
    assert audit_actions()[-6:] == ["member.join", "card.issue", "card.freeze", "card.unfreeze",
                                    "card.lost", "card.reissue"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "member.join")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor_label == "bozhou_admin" and entry.after["id_number"] != NEW_ID


def test_leave_cancels_card_keeps_history_and_rejoin(as_bozhou, world):
    left = as_bozhou.post(f"/api/v1/members/{world.li_member.id}/leave").get_json()
    assert left["status"] == "left" and left["left_on"] and left["current_card"] is None
    assert [c["status"] for c in left["cards"]] == ["cancelled"]
    assert error_code(as_bozhou.post(f"/api/v1/members/{world.li_member.id}/leave")) == "member_left"
    assert error_code(as_bozhou.post(f"/api/v1/members/{world.li_member.id}/cards")) == "member_left"
    back = as_bozhou.post(f"/api/v1/members/{world.li_member.id}/rejoin").get_json()
    assert back["status"] == "active" and back["left_on"] is None and len(back["cards"]) == 1
    assert audit_actions()[-3:] == ["card.cancel", "member.leave", "member.rejoin"]


def test_activation_code_is_returned_once_and_works(as_bozhou, world, app):
    zhao = world.zhao
    body = as_bozhou.post(f"/api/v1/members/{zhao.id}/activation-code").get_json()
    assert len(body["code"]) == 10 and body["expires_in_days"] == 14
    row = db.session.scalar(select(ActivationCode).where(ActivationCode.member_id == zhao.id))
    assert row.code_hash != body["code"]  # stored hashed
    fresh = app.test_client()
    activated = fresh.post("/api/v1/auth/activate", json={
        "id_number": zhao.id_number, "activation_code": body["code"], "password": "new-password-1"})
    assert activated.status_code == 201, activated.get_json()
    assert fresh.get("/api/v1/me").get_json()["name"] == "赵敏"
    # the code works once
    other = app.test_client()
    again = other.post("/api/v1/auth/activate", json={
        "id_number": zhao.id_number, "activation_code": body["code"], "password": "new-password-1"})
    assert again.status_code == 401 and error_code(again) == "activation_failed"


def test_idempotent_join(as_bozhou, world):
    payload = {"org_id": world.tree["gujing"].id, "name": "孙丽", "id_number": NEW_ID}
    first = as_bozhou.post("/api/v1/members", json=payload, headers={"Idempotency-Key": "join-1"})
    second = as_bozhou.post("/api/v1/members", json=payload, headers={"Idempotency-Key": "join-1"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert count(Member) == 4
    clash = as_bozhou.post("/api/v1/members", json={**payload, "name": "别人"}, headers={"Idempotency-Key": "join-1"})
    assert clash.status_code == 409 and error_code(clash) == "idempotency_key_reused"


# --- access control -------------------------------------------------------------------------

def test_city_admin_gets_404_for_other_city(as_bozhou, world):
    wang, card = world.wang_member, world.wang_card
    for method, url in [("get", f"/api/v1/members/{wang.id}"), ("post", f"/api/v1/members/{wang.id}/leave"),
                        ("post", f"/api/v1/members/{wang.id}/rejoin"),
                        ("post", f"/api/v1/members/{wang.id}/activation-code"),
                        ("post", f"/api/v1/members/{wang.id}/cards"), ("get", f"/api/v1/cards/{card.id}"),
                        ("post", f"/api/v1/cards/{card.id}/freeze"), ("post", f"/api/v1/cards/{card.id}/report-lost"),
                        ("get", "/api/v1/members/999999"), ("get", "/api/v1/cards/999999")]:
        response = getattr(as_bozhou, method)(url)
        assert response.status_code == 404 and error_code(response) == "not_found", url
    joined = as_bozhou.post("/api/v1/members", json={"org_id": world.tree["magang"].id, "name": "越权",
                                                      "id_number": NEW_ID})
    assert joined.status_code == 404
    db.session.expire_all()
    assert card.status == "active" and wang.status == "active" and count(Member) == 3


def test_province_admin_sees_both_cities(client, world):
    api_login(client, "province_admin")
    assert client.get("/api/v1/members").get_json()["total"] == 3
    assert client.get(f"/api/v1/cards/{world.wang_card.id}").status_code == 200


def test_member_cannot_read_another_members_card_or_admin_api(client, world):
    api_login(client, world.li.username)
    assert client.get(f"/api/v1/cards/{world.li_card.id}").get_json()["number"] == world.li_card.number
    other = client.get(f"/api/v1/cards/{world.wang_card.id}")
    assert other.status_code == 404 and world.wang_card.number not in other.get_data(as_text=True)
    for method, url in [("get", "/api/v1/members"), ("get", f"/api/v1/members/{world.li_member.id}"),
                        ("post", f"/api/v1/cards/{world.li_card.id}/freeze"), ("get", "/api/v1/audit"),
                        ("get", "/api/v1/organisations"), ("post", "/api/v1/members")]:
        response = getattr(client, method)(url, json={} if method == "post" else None)
        assert response.status_code == 403 and error_code(response) == "forbidden", url
    db.session.expire_all()
    assert world.li_card.status == "active"


def test_not_signed_in_is_401(client, world):
    for url in ("/api/v1/members", f"/api/v1/cards/{world.li_card.id}", "/api/v1/audit"):
        response = client.get(url)
        assert response.status_code == 401 and error_code(response) == "not_authenticated"
    assert client.post(f"/api/v1/cards/{world.li_card.id}/freeze").status_code == 401


# --- bad input: clear errors, nothing written -------------------------------------------------

def test_bad_id_checksum_writes_nothing(as_bozhou, world):
    before_members, before_audit = count(Member), count(AuditEntry)
    bad = NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1")
    response = as_bozhou.post("/api/v1/members", json={"org_id": world.tree["gujing"].id, "name": "错号",
                                                       "id_number": bad})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and error["details"]["fields"]["id_number"] == "身份证号校验位错误"
    assert count(Member) == before_members and count(AuditEntry) == before_audit


def test_wrong_types_and_missing_fields(as_bozhou, world):
    before = count(Member)
    response = as_bozhou.post("/api/v1/members", json={"org_id": "abc", "name": 12, "category": "vip"})
    assert response.status_code == 400
    fields = response.get_json()["error"]["details"]["fields"]
    assert set(fields) == {"org_id", "name", "id_number", "category"}
    assert error_code(response) == "validation_error"
    bad_query = as_bozhou.get("/api/v1/members", query_string={"per_page": 1000, "page": "x"})
    assert bad_query.status_code == 400 and set(bad_query.get_json()["error"]["details"]["fields"]) == {"per_page", "page"}
    assert count(Member) == before


def test_malformed_json_and_duplicate(as_bozhou, world):
    before = count(Member)
    response = as_bozhou.post("/api/v1/members", data='{"name": "x",', content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "malformed_json"
    dup = as_bozhou.post("/api/v1/members", json={"org_id": world.tree["gujing"].id, "name": "重复",
                                                   "id_number": world.li_member.id_number})
    assert dup.status_code == 409 and error_code(dup) == "duplicate_member"
    assert count(Member) == before


def test_ten_megabyte_body_is_refused(as_bozhou, world):
    before = count(Member)
    body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = as_bozhou.post("/api/v1/members", data=body, content_type="application/json")
    assert response.status_code == 413 and error_code(response) == "payload_too_large"
    assert count(Member) == before


def test_card_state_conflicts(as_bozhou, world):
    response = as_bozhou.post(f"/api/v1/cards/{world.li_card.id}/unfreeze")
    assert response.status_code == 409 and error_code(response) == "card_status"
    assert count(Card) == 2


# --- audit ----------------------------------------------------------------------------------------

def test_audit_is_scoped_paginated_and_filtered(client, world):
    api_login(client, "maanshan_admin")
    client.post(f"/api/v1/cards/{world.wang_card.id}/freeze")
    client.post(f"/api/v1/cards/{world.wang_card.id}/unfreeze")
    body = client.get("/api/v1/audit", query_string={"action": "card.freeze"}).get_json()
    assert body["total"] == 1
    entry = body["items"][0]
    assert entry["actor_label"] == "maanshan_admin"
    assert entry["before"] == {"number": world.wang_card.number, "status": "active"}
    assert entry["after"]["status"] == "frozen"
    everything = client.get("/api/v1/audit", query_string={"per_page": 2}).get_json()
    assert len(everything["items"]) == 2 and everything["total"] > 2
    # Bozhou's joins are not visible to Maanshan; raw ID numbers never appear
    text = json.dumps(client.get("/api/v1/audit", query_string={"per_page": 200}).get_json(), ensure_ascii=False)
    assert "李娜" not in text and world.wang_member.id_number not in text and "王强" in text


def test_my_card_is_one_query(client, world):
    """The signed-in user is loaded with their member, union and cards, which is all that
    `GET /api/v1/me` answers from."""
    api_login(client, world.li.username)
    db.session.remove()        # as each request in production starts with a session of its own
    with statements_sent() as statements:
        assert client.get("/api/v1/me").status_code == 200
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "FROM users" in selects[0] and "JOIN cards" in selects[0], selects
