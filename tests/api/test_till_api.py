"""The till API with terminal keys and cashier sessions."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant
from benefits.transactions.models import CardTransaction, Refund
from tests import factories, till_factories as tf

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def shop(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        m = tf.merchant(tree["bozhou"])
        other = tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
        tf.rule(tree["bozhou"])
        member = factories.member(tree["gujing"])
        data = {"key": tf.terminal_key(m), "other_key": tf.terminal_key(other), "card": member.current_card.number,
                "cashier": tf.cashier(m).username, "merchant_id": m.id, "member_id": member.id}
    return data


def post(client, path, body, key=None, idem=None, header="bearer"):
    headers = {}
    if key:
        headers.update({"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-Terminal-Key": key})
    if idem:
        headers["Idempotency-Key"] = idem
    return client.post("/api/v1/till" + path, json=body, headers=headers)


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_quote_with_either_key_header(client, shop):
    for header in ("bearer", "x"):
        r = post(client, "/quote", {"card_number": shop["card"], "amount": "250.00"}, shop["key"], header=header)
        assert r.status_code == 200, r.json
        assert (r.json["amount_fen"], r.json["discount_fen"], r.json["pay_fen"]) == (25000, 4000, 21000)
        assert r.json["shares"] == {"union": 2000, "bank": 1200, "merchant": 800}
        assert r.json["applied"][0]["name"] == "满200减40"
        assert r.json["member"]["card_tail"] == shop["card"][-4:]
    r = post(client, "/quote", {"card_number": shop["card"], "amount": "188"}, shop["key"])
    assert r.json["hints"] == ["再消费 12.00 元可减 40.00 元"]
    assert count(CardTransaction) == 0


def test_quote_lists_offers_that_did_not_apply_and_only_counts_those_that_gave_less(client, shop):
    with unit_of_work():
        bozhou = db.session.get(Merchant, shop["merchant_id"]).org
        tf.rule(bozhou, name="9折", kind="percent", pay_bp=9000)              # 25.00 off: less than 40.00
        tf.rule(bozhou, name="周日加油节", kind="percent", pay_bp=8000, days_of_week=[7])   # a Wednesday
        daily = tf.rule(bozhou, name="每日一次满100减50", threshold_fen=10000, off_fen=5000, per_member={"day": 1})
    first = post(client, "/quote", {"card_number": shop["card"], "amount": "250.00"}, shop["key"]).json
    assert first["applied"][0]["name"] == "每日一次满100减50" and first["discount_fen"] == 5000
    assert first["other_offers"] == 2      # 满200减40 and 9折 gave less
    assert [(r["name"], r["reason"], r["message"]) for r in first["rejected"]] == [("周日加油节", "wrong_day", "今天不在活动日")]
    assert post(client, "/transactions", {"card_number": shop["card"], "amount": "250.00"}, shop["key"],
                idem="once").status_code == 201
    again = post(client, "/quote", {"card_number": shop["card"], "amount": "250.00"}, shop["key"]).json
    assert again["applied"][0]["name"] == "满200减40" and again["other_offers"] == 1
    assert {(r["rule_id"], r["reason"]) for r in again["rejected"]} >= {(daily.id, "member_limit_day")}


def test_no_key_or_a_wrong_key_is_401(client, shop):
    assert post(client, "/quote", {"card_number": shop["card"], "amount": "1"}).status_code == 401
    r = post(client, "/quote", {"card_number": shop["card"], "amount": "1"}, "tk_wrong")
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_terminal_key"


def test_confirm_replays_with_the_same_key_and_409s_with_a_different_body(client, shop):
    body = {"card_number": shop["card"], "amount": "250.00"}
    first = post(client, "/transactions", body, shop["key"], idem="till-1-0001")
    assert first.status_code == 201, first.json
    assert first.json["discount_fen"] == 4000 and first.json["applied"][0]["terms"]["threshold_fen"] == 20000
    again = post(client, "/transactions", body, shop["key"], idem="till-1-0001")
    assert again.status_code == 201 and again.json == first.json
    clash = post(client, "/transactions", {**body, "amount": "251.00"}, shop["key"], idem="till-1-0001")
    assert clash.status_code == 409 and clash.json["error"]["code"] == "idempotency_key_reused"
    missing = post(client, "/transactions", body, shop["key"])
    assert missing.status_code == 400 and missing.json["error"]["code"] == "idempotency_key_required"
    assert count(CardTransaction) == 1


@pytest.mark.parametrize("amount", ["-1", "0", "abc", "1.234", "", 12.5, None, "1e3"])
def test_bad_amounts_are_400_per_field_and_write_nothing(client, shop, amount):
    r = post(client, "/transactions", {"card_number": shop["card"], "amount": amount}, shop["key"], idem=f"bad-{amount}")
    assert r.status_code == 400, r.json
    assert "amount" in r.json["error"]["details"]["fields"]
    assert count(CardTransaction) == 0


def test_missing_card_unknown_card_and_frozen_card(client, shop):
    r = post(client, "/quote", {"amount": "10"}, shop["key"])
    assert r.status_code == 400 and "card_number" in r.json["error"]["details"]["fields"]
    r = post(client, "/transactions", {"card_number": "6231999999999999", "amount": "10"}, shop["key"], idem="u1")
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_card"
    from benefits.members.models import Card
    with unit_of_work():
        db.session.scalar(select(Card).where(Card.number == shop["card"])).status = "frozen"
    r = post(client, "/transactions", {"card_number": shop["card"], "amount": "10"}, shop["key"], idem="f1")
    assert r.status_code == 409 and r.json["error"]["code"] == "card_frozen"
    assert "冻结" in r.json["error"]["message"]
    assert count(CardTransaction) == 0


def test_refund_half_then_too_much_then_another_merchant(client, shop):
    txn = post(client, "/transactions", {"card_number": shop["card"], "amount": "250.00"}, shop["key"], idem="t1").json
    r = post(client, f"/transactions/{txn['id']}/refunds", {"amount": "105.00", "reason": "退一半"}, shop["key"], idem="r1")
    assert r.status_code == 201, r.json
    assert (r.json["pay_fen"], r.json["discount_fen"]) == (10500, 2000)
    assert r.json["shares"] == {"union": 1000, "bank": 600, "merchant": 400}
    assert r.json["transaction"]["status"] == "partially_refunded"
    assert post(client, f"/transactions/{txn['id']}/refunds", {"amount": "105.00", "reason": "退一半"}, shop["key"],
                idem="r1").json == r.json
    too_much = post(client, f"/transactions/{txn['id']}/refunds", {"amount": "105.01"}, shop["key"], idem="r2")
    assert too_much.status_code == 400 and too_much.json["error"]["code"] == "refund_too_large"
    assert too_much.json["error"]["details"]["refundable_fen"] == 10500
    foreign = post(client, f"/transactions/{txn['id']}/refunds", {}, shop["other_key"], idem="r3")
    assert foreign.status_code == 404
    assert client.get(f"/api/v1/till/transactions/{txn['id']}",
                      headers={"X-Terminal-Key": shop["other_key"]}).status_code == 404
    assert count(Refund) == 1
    full = post(client, f"/transactions/{txn['id']}/refunds", {}, shop["key"], idem="r4")
    assert full.status_code == 201 and full.json["pay_fen"] == 10500 and full.json["is_final"]
    detail = client.get(f"/api/v1/till/transactions/{txn['id']}", headers={"X-Terminal-Key": shop["key"]}).json
    assert detail["status"] == "refunded" and len(detail["refunds"]) == 2


def test_day_list_and_statements(client, shop):
    post(client, "/transactions", {"card_number": shop["card"], "amount": "250.00"}, shop["key"], idem="d1")
    post(client, "/transactions", {"card_number": shop["card"], "amount": "30"}, shop["other_key"], idem="d1")
    day = client.get("/api/v1/till/transactions", headers={"X-Terminal-Key": shop["key"]}).json
    assert day["day"] == "2026-11-18" and day["summary"]["count"] == 1 and len(day["items"]) == 1
    other_day = client.get("/api/v1/till/transactions?day=2026-11-17", headers={"X-Terminal-Key": shop["key"]}).json
    assert other_day["items"] == []
    assert client.get("/api/v1/till/transactions?day=nope", headers={"X-Terminal-Key": shop["key"]}).status_code == 400
    statements = client.get("/api/v1/till/statements", headers={"X-Terminal-Key": shop["key"]}).json
    assert statements["open"]["union_owes_fen"] == 2000 and statements["open"]["bank_owes_fen"] == 1200
    assert statements["closed"] == []


def test_signed_in_cashier_uses_the_api_but_members_and_admins_cannot(client, shop, auth):
    auth.login(shop["cashier"])
    r = client.post("/api/v1/till/quote", json={"card_number": shop["card"], "amount": "250"})
    assert r.status_code == 200 and r.json["discount_fen"] == 4000
    auth.logout()
    with unit_of_work():
        admin = factories.admin(db.session.get(Merchant, shop["merchant_id"]).org)
    auth.login(admin.username)
    r = client.post("/api/v1/till/quote", json={"card_number": shop["card"], "amount": "250"})
    assert r.status_code == 403
