"""Promotions over JSON and the admin pages: create, validate, preview, version, pause, report, scope."""
from __future__ import annotations

from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, Store
from benefits.promotions import rules
from benefits.promotions.models import PromotionRule, PromotionRuleVersion
from tests import till_factories as tf
from tests.api.conftest import api_login, error_code

RULE = {"name": "超市满100减30", "kind": "threshold", "threshold_fen": 10000, "off_fen": 3000,
        "scope": "categories", "categories": ["supermarket"], "budget_fen": 300000,
        "per_member": {"day": 1}, "split": {"union": 50, "bank": 30, "merchant": 20}}


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_admin_creates_edits_and_reads_versions(as_bozhou, world):
    created = as_bozhou.post("/api/v1/promotions/rules", json=RULE)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["summary"] == "满100减30" and body["budget_left_fen"] == 300000
    rule_id = body["id"]
    edited = as_bozhou.put(f"/api/v1/promotions/rules/{rule_id}", json={**RULE, "off_fen": 5000, "name": "超市满100减50"})
    assert edited.status_code == 200 and edited.get_json()["current_version"]["number"] == 2
    versions = as_bozhou.get(f"/api/v1/promotions/rules/{rule_id}/versions").get_json()
    assert [(v["number"], v["name"], v["terms"]["off_fen"]) for v in versions] == [
        (1, "超市满100减30", 3000), (2, "超市满100减50", 5000)]
    assert [a for a in db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
            if a.startswith("promotion")] == ["promotion.create", "promotion.edit"]
    paused = as_bozhou.post(f"/api/v1/promotions/rules/{rule_id}/status", json={"status": "paused"})
    assert paused.get_json()["status"] == "paused"


def test_bad_rules_get_per_field_errors_and_nothing_is_written(as_bozhou, world):
    bad = {**RULE, "kind": "percent", "pay_bp": 12000, "split": {"union": 50, "bank": 30, "merchant": 30},
           "valid_from": "2026-12-01", "valid_until": "2026-11-01"}
    r = as_bozhou.post("/api/v1/promotions/rules", json=bad)
    assert r.status_code == 400 and error_code(r) == "validation_error"
    assert set(r.get_json()["error"]["details"]["fields"]) == {"pay_bp", "split", "valid_until"}
    r = as_bozhou.post("/api/v1/promotions/rules", json={**RULE, "budget_fen": "lots"})
    assert r.status_code == 400 and "budget_fen" in r.get_json()["error"]["details"]["fields"]
    assert count(PromotionRule) == 0 and count(PromotionRuleVersion) == 0


def test_preview_shows_sample_amounts_without_saving(as_bozhou, world):
    r = as_bozhou.post("/api/v1/promotions/preview", json={**RULE, "amounts_fen": [9999, 10000, 25000]})
    assert r.status_code == 200
    assert [(q["amount_fen"], q["discount_fen"], q["pay_fen"]) for q in r.get_json()] == [
        (9999, 0, 9999), (10000, 3000, 7000), (25000, 3000, 22000)]
    assert r.get_json()[1]["applied"][0]["shares"] == {"union": 1500, "bank": 900, "merchant": 600}
    assert count(PromotionRule) == 0


def test_other_unions_rules_are_404_and_members_are_refused(client, world):
    with unit_of_work():
        rule = rules.create_rule(world.bozhou_admin, world.tree["bozhou"], dict(RULE))
    assert api_login(client, "maanshan_admin").status_code == 200
    assert client.get(f"/api/v1/promotions/rules/{rule.id}").status_code == 404
    assert client.get(f"/api/v1/promotions/rules/{rule.id}/report").status_code == 404
    assert client.get("/api/v1/promotions/rules").get_json() == []
    client.post("/api/v1/auth/logout")
    api_login(client, world.li_member.id_number)
    assert client.get("/api/v1/promotions/rules").status_code in (401, 403)


def test_report_counts_uses_discount_budget_and_funders(as_bozhou, world):
    rule_id = as_bozhou.post("/api/v1/promotions/rules", json=RULE).get_json()["id"]
    with unit_of_work():
        mart = Merchant(org=world.tree["qiaocheng"], name="谯城超市", category="supermarket")
        store = Store(merchant=mart, name="总店")
        db.session.add_all([mart, store])
    for key, member, card in (("k1", world.li_member, world.li_card), ("k2", world.wang_member, world.wang_card)):
        with unit_of_work():
            tf.apply(member=member, card=card, merchant=mart, store=store, amount_fen=12345, usage_key=key)
    report = as_bozhou.get(f"/api/v1/promotions/rules/{rule_id}/report").get_json()
    assert (report["uses"], report["discount_fen"], report["budget_left_fen"]) == (2, 6000, 294000)
    assert report["funders"] == {"union": 3000, "bank": 1800, "merchant": 1200}
    page = as_bozhou.get(f"/admin/promotions/{rule_id}").get_data(as_text=True)
    assert "2940.00" in page and "60.00" in page


FORM = {"name": "餐饮满100减50", "kind": "threshold", "threshold_yuan": "100", "off_yuan": "50", "scope": "programme",
        "hour_from": "0", "hour_to": "24", "split_union": "50", "split_bank": "30", "split_merchant": "20",
        "priority": "0"}


def test_admin_page_previews_then_saves_and_shows_field_errors(client, world):
    client.post("/login", data={"username": "bozhou_admin", "password": "password-123"})
    assert client.get("/admin/promotions/new").status_code == 200
    preview = client.post("/admin/promotions/new", data={**FORM, "action": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-testid="preview"' in html
    assert "200.00" in html and "150.00" in html and count(PromotionRule) == 0
    bad = client.post("/admin/promotions/new", data={**FORM, "action": "save",
                                                     "off_yuan": "120", "split_bank": "40"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "减免金额须小于满额" in html and "之和须为 100%" in html
    assert count(PromotionRule) == 0
    saved = client.post("/admin/promotions/new", data={**FORM, "action": "save"})
    assert saved.status_code == 302 and count(PromotionRule) == 1
    listing = client.get("/admin/promotions").get_data(as_text=True)
    assert "餐饮满100减50" in listing and "满100减50" in listing
