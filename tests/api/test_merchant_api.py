"""Merchant onboarding API (union admin)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, TerminalKey
from tests import factories

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def tree(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        t = factories.org_tree()
        factories.admin(t["bozhou"], username="admin_bozhou")
        factories.admin(t["maanshan"], username="admin_maanshan")
    return t


def test_onboard_by_api_then_the_key_works_at_the_till_until_revoked(client, auth, tree):
    auth.login("admin_bozhou")
    r = client.post("/api/v1/merchants", json={"org_id": tree["bozhou"].id, "name": "中石化亳州站", "category": "fuel",
                                               "contact_phone": "13912345678"})
    assert r.status_code == 201, r.json
    assert r.json["contact_phone_masked"] == "139****5678" and "contact_phone" not in r.json
    mid = r.json["id"]
    store = client.post(f"/api/v1/merchants/{mid}/stores", json={"name": "一站", "address": "亳州"}).json
    cashier = client.post(f"/api/v1/merchants/{mid}/cashiers",
                          json={"username": "c1", "display_name": "收银员", "password": "password-123"})
    assert cashier.status_code == 201 and "password" not in cashier.json
    issued = client.post(f"/api/v1/merchants/{mid}/stores/{store['id']}/terminal-keys", json={"label": "1号机"})
    assert issued.status_code == 201 and issued.json["key"].startswith(issued.json["key_prefix"])
    key = issued.json["key"]
    listed = client.get(f"/api/v1/merchants/{mid}/terminal-keys").json
    assert "key" not in listed[0] and db.session.scalar(select(TerminalKey.key_hash)) != key
    quote = client.post("/api/v1/till/quote", json={"card_number": "6231000000000000", "amount": "1"},
                        headers={"Authorization": f"Bearer {key}"})
    assert quote.status_code == 404 and quote.json["error"]["code"] == "unknown_card"  # the key is accepted
    assert client.delete(f"/api/v1/merchants/{mid}/terminal-keys/{issued.json['id']}").status_code == 200
    refused = client.post("/api/v1/till/quote", json={"card_number": "6231000000000000", "amount": "1"},
                          headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    suspended = client.patch(f"/api/v1/merchants/{mid}", json={"status": "suspended"})
    assert suspended.json["status"] == "suspended" and suspended.json["name"] == "中石化亳州站"
    page = client.get("/api/v1/merchants?category=fuel").json
    assert page["total"] == 1 and page["items"][0]["stores"][0]["name"] == "一站"
    report = client.get("/api/v1/merchants/report?start=2026-11-01&end=2026-11-30").json
    assert report == [{"merchant_id": mid, "name": "中石化亳州站", "transactions": 0, "refunds": 0, "amount_fen": 0,
                       "discount_fen": 0, "union_fen": 0, "bank_fen": 0, "merchant_fen": 0}]


def test_scope_and_validation(client, auth, tree):
    auth.login("admin_maanshan")
    r = client.post("/api/v1/merchants", json={"org_id": tree["bozhou"].id, "name": "x", "category": "fuel"})
    assert r.status_code == 404
    r = client.post("/api/v1/merchants", json={"org_id": tree["maanshan"].id, "name": "", "category": "cars"})
    assert r.status_code == 400 and {"name", "category"} <= set(r.json["error"]["details"]["fields"])
    r = client.post("/api/v1/merchants", json={"org_id": tree["maanshan"].id, "name": "x", "category": "fuel",
                                               "contact_phone": "12345"})
    assert r.status_code == 400 and "contact_phone" in r.json["error"]["details"]["fields"]
    assert db.session.scalar(select(func.count(Merchant.id))) == 0
    auth.logout()
    auth.login("admin_bozhou")
    mid = client.post("/api/v1/merchants", json={"org_id": tree["bozhou"].id, "name": "华联", "category": "supermarket"}).json["id"]
    auth.logout()
    auth.login("admin_maanshan")
    assert client.get(f"/api/v1/merchants/{mid}").status_code == 404
    assert client.post(f"/api/v1/merchants/{mid}/stores", json={"name": "x"}).status_code == 404
    assert client.get("/api/v1/merchants").json["total"] == 0
