"""Merchant onboarding pages (union admin), the cashier's till pages and the member's pages."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from flask_babel import refresh
from sqlalchemy import func, select

from benefits import clock
from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, MerchantStaff, TerminalKey
from benefits.transactions.models import CardTransaction, PayToken
from tests import factories, till_factories as tf

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def tree(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        t = factories.org_tree()
        factories.admin(t["bozhou"], username="admin_bozhou")
        factories.admin(t["maanshan"], username="admin_maanshan")
    return t


def test_admin_onboards_a_merchant_with_store_cashier_and_a_key_shown_once(client, auth, tree):
    auth.login("admin_bozhou")
    page = client.get("/admin/merchants/new")
    assert page.status_code == 200 and "新增商家" in page.text
    r = client.post("/admin/merchants/new", data={
        "name": "中石油亳州站", "category": "fuel", "org_id": tree["bozhou"].id, "status": "active",
        "contact_name": "李经理", "contact_phone": "13912345678", "accepts_card_number": "y"})
    assert r.status_code == 302
    merchant = db.session.scalar(select(Merchant).where(Merchant.name == "中石油亳州站"))
    base = f"/admin/merchants/{merchant.id}"
    assert client.post(base + "/stores", data={"store-name": "魏武大道站", "store-address": "魏武大道1号"}).status_code == 302
    store = merchant.stores[0]
    r = client.post(base + "/cashiers", data={"cashier-username": "cnpc01", "cashier-display_name": "小李",
                                              "cashier-password": "password-123", "cashier-store_id": "0"})
    assert r.status_code == 302
    assert db.session.get(MerchantStaff, db.session.scalar(select(MerchantStaff.user_id))).merchant_id == merchant.id
    r = client.post(base + "/keys", data={"key-store_id": store.id, "key-label": "1号机"})
    assert r.status_code == 201
    key = re.search(r'data-testid="new-key-value">([^<]+)<', r.text).group(1)
    row = db.session.scalar(select(TerminalKey))
    assert key.startswith("tk_") and row.key_hash != key
    detail = client.get(base)
    assert key not in detail.text and row.key_prefix in detail.text
    assert "139****5678" in detail.text and "13912345678" not in detail.text
    assert client.post(f"{base}/keys/{row.id}/revoke").status_code == 302
    assert client.post("/api/v1/till/quote", json={"card_number": "1", "amount": "1"},
                       headers={"X-Terminal-Key": key}).status_code == 401
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"merchant.create", "store.create", "merchant.cashier_create", "terminal_key.issue",
            "terminal_key.revoke"} <= actions
    listing = client.get("/admin/merchants")
    assert "中石油亳州站" in listing.text


def test_admin_of_another_union_gets_404_and_bad_form_is_400(client, auth, tree):
    with unit_of_work():
        m = tf.merchant(tree["bozhou"])
    auth.login("admin_maanshan")
    assert client.get(f"/admin/merchants/{m.id}").status_code == 404
    assert "中石化亳州站" not in client.get("/admin/merchants").text
    r = client.post("/admin/merchants/new", data={"name": "", "category": "fuel", "org_id": tree["maanshan"].id,
                                                  "status": "active", "contact_phone": "123"})
    assert r.status_code == 400
    assert db.session.scalar(select(func.count(Merchant.id))) == 1


def test_cashier_quotes_confirms_and_refunds_on_the_till_page(client, auth, tree):
    with unit_of_work():
        m = tf.merchant(tree["bozhou"])
        tf.rule(tree["bozhou"], per_member={"day": 1})
        cashier = tf.cashier(m)
        card = factories.member(tree["gujing"]).current_card.number
    auth.login(cashier.username)
    r = client.post("/till", data={"code": card, "amount": "250"})
    assert r.status_code == 200
    assert 'data-testid="quote-pay">210.00<' in r.text and "满200减40" in r.text
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', r.text).group(1)
    confirm = {"code": card, "amount": "250", "key": key}
    done = client.post("/till/confirm", data=confirm)
    assert done.status_code == 302 and "/till/transactions/" in done.location
    assert client.post("/till/confirm", data=confirm).location == done.location  # double tap: one transaction
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
    txn_page = client.get(done.location)
    today = clock.business_day().strftime("%Y%m%d")
    assert f'data-testid="receipt-number">{today}-0001<' in txn_page.text      # 流水号, not a database id
    assert "版本" not in txn_page.text and "第 1 版" not in txn_page.text        # a rule's only version is not named
    refund_key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', txn_page.text).group(1)
    client.post(done.location + "/refund", data={"amount": "105", "reason": "", "key": refund_key})
    page = client.get(done.location)
    assert 'data-testid="transaction-refunded">105.00<' in page.text and "部分退款" in page.text
    too_much = client.post(done.location + "/refund", data={"amount": "999", "key": "k2"}, follow_redirects=True)
    assert "超过可退金额" in too_much.text
    empty = client.post(done.location + "/refund", data={"amount": " ", "key": "k3"}, follow_redirects=True)
    assert "请填写退还会员的金额；全部退款请填 105.00。" in empty.text     # an empty amount refunds nothing
    assert 'data-testid="transaction-refunded">105.00<' in empty.text
    assert "确认退还会员 {amount} 元？退款后不能撤销。" in empty.text        # the page asks before it refunds
    second = client.post("/till", data={"code": card, "amount": "250"})     # the rule allows one use a day
    assert "本次消费没有可用优惠。" in second.text
    assert "满200减40：今日使用次数已满" in second.text
    bad = client.post("/till", data={"code": card, "amount": "1.234"})
    assert bad.status_code == 400 and 'data-testid="till-error"' in bad.text
    day = client.get("/till/transactions")
    assert day.status_code == 200 and "250.00" in day.text
    assert f'data-testid="receipt-number">{today}-0001<' in day.text
    assert f"<td>{today}-0001</td>" in client.get("/till/statements/open").text
    assert client.get("/till/statements").status_code == 200
    csv_text = client.get("/till/statements/open.csv").text
    assert "交易" in csv_text and "退款" in csv_text and "sale" not in csv_text


def test_cashier_cannot_see_another_merchants_transaction(client, auth, tree):
    with unit_of_work():
        m, other = tf.merchant(tree["bozhou"]), tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
        card = factories.member(tree["gujing"]).current_card
        from benefits.transactions import service as till
        txn_id = till.confirm_transaction(till.TillRef(store_id=other.stores[0].id), amount_fen=1000,
                                          card_number=card.number)["id"]
        cashier = tf.cashier(m)
    auth.login(cashier.username)
    assert client.get(f"/till/transactions/{txn_id}").status_code == 404
    assert client.post(f"/till/transactions/{txn_id}/refund", data={"key": "x"}).status_code == 404


def test_member_pay_code_page_refreshes_and_lists_savings_and_merchants(client, auth, tree):
    with unit_of_work():
        m = tf.merchant(tree["bozhou"])
        tf.rule(tree["bozhou"])
        tf.merchant(tree["maanshan"], name="马鞍山公交", category="transport")
        user = factories.member_user(tree["gujing"])
        from benefits.transactions import service as till
        till.confirm_transaction(till.TillRef(store_id=m.stores[0].id), amount_fen=25000,
                                 card_number=user.member.current_card.number)
    auth.login(user.username)
    page = client.get("/me/pay")
    assert page.status_code == 200 and "<svg" in page.text and "30" in page.text
    first = re.search(r'data-testid="pay-token">(Q[^<]+)<', page.text).group(1)
    fresh = client.post("/me/pay/code")
    assert fresh.status_code == 200 and fresh.json["token"] != first and fresh.json["svg"].startswith("<svg")
    assert fresh.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(select(func.count(PayToken.id))) == 2
    mine = client.get("/me/transactions")
    assert 'data-testid="saved-month">40.00<' in mine.text and "中石化亳州站" in mine.text
    nearby = client.get("/me/merchants")
    assert "中石化亳州站" in nearby.text and "满200减40" in nearby.text and "马鞍山公交" not in nearby.text
    refresh()  # the fixture's app context outlives requests, and Flask-Babel caches the locale in it
    english = client.get("/me/transactions?lang=en")
    assert "Saved this month" in english.text


def test_pages_need_the_right_role(client, auth, tree):
    with unit_of_work():
        user = factories.member_user(tree["gujing"])
    assert client.get("/till").status_code == 302
    auth.login(user.username)
    assert client.get("/till").status_code == 403
    assert client.get("/admin/merchants").status_code == 403
