"""Voucher pages: the member's coupon list, a voucher's detail and uses, the message list and the
home entry; the cashier's till choosing vouchers, confirming a payment made with one, its
transaction page and refund."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.transactions.models import CardTransaction
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher
from tests import factories, till_factories as tf, voucher_factories as vf

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


@pytest.fixture
def world(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        shop = tf.merchant(tree["bozhou"], name="亳州扶贫农产品店", category="retail")
        fuel = tf.merchant(tree["bozhou"], name="中石化亳州站", category="fuel")
        cashier = tf.cashier(shop)
        poor = factories.member_user(tree["gujing"], name="王芳", category="hardship")
        other = factories.member_user(tree["gujing"], name="李强", category="hardship")
        warm = vf.programme(tree["bozhou"], scope="merchants", merchant_ids=[shop.id])
        fuel_only = vf.programme(tree["bozhou"], name="加油券", face_fen=10000, topup_bp=None, scope="merchants",
                                 merchant_ids=[fuel.id], spend_mode="single", combinable=False)
        vf.issue(warm)
        vf.issue(fuel_only)
    return {"tree": tree, "shop": shop, "fuel": fuel, "cashier": cashier.username, "poor": poor, "other": other,
            "warm": warm, "fuel_only": fuel_only}


def _voucher(member, programme) -> Voucher:
    return db.session.scalar(select(Voucher).where(Voucher.member_id == member.id,
                                                   Voucher.programme_id == programme.id))


def _main_text(page: str) -> str:
    """The page's visible text inside <main> (the header's language switch says "English")."""
    main = page[page.index("<main"):page.index("</main>")]
    main = re.sub(r"<(script|style)\b.*?</\1>", "", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _no_english(page: str) -> None:
    assert re.findall(r"[A-Za-z]{2,}", _main_text(page)) == []


def _key(page: str) -> str:
    return re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', page).group(1)


def test_member_sees_the_voucher_with_its_top_up_usable_first_and_its_detail(client, auth, world):
    w = world
    with unit_of_work():
        vouchers.void(None, _voucher(w["poor"].member, w["fuel_only"]), "重复发放")
    auth.login(w["poor"].username)
    page = client.get("/me/vouchers")
    assert page.status_code == 200
    text = _main_text(page.text)
    assert "550.00" in text and "面值 500.00 + 商家加赠 50.00" in text
    assert "亳州扶贫农产品店" in text and "可分次使用" in text and "可与优惠同享" in text
    assert "2026-12-31" in text and "一次用完" in text and "不与优惠同享" in text
    states = re.findall(r'data-testid="voucher" data-state="(\w+)"', page.text)
    assert states == ["usable", "voided"]
    assert "已作废" in text and "可用" in text
    _no_english(page.text)

    mine = _voucher(w["poor"].member, w["warm"])
    detail = client.get(f"/me/vouchers/{mine.id}")
    assert detail.status_code == 200
    assert "扶贫暖心券" in detail.text and 'data-testid="voucher-balance">550.00<' in detail.text
    assert 'data-testid="voucher-uses-empty"' in detail.text
    _no_english(detail.text)
    theirs = _voucher(w["other"].member, w["warm"])
    assert client.get(f"/me/vouchers/{theirs.id}").status_code == 404
    assert client.get("/me/vouchers/999999").status_code == 404


def test_a_member_without_vouchers_sees_the_empty_state(client, auth, world):
    with unit_of_work():
        user = factories.member_user(world["tree"]["gujing"], name="张三")   # ordinary: no voucher
    auth.login(user.username)
    page = client.get("/me/vouchers")
    assert page.status_code == 200 and 'data-testid="vouchers-empty"' in page.text and "您还没有券" in page.text
    messages = client.get("/me/messages")
    assert 'data-testid="messages-empty"' in messages.text
    home = client.get("/me")
    assert "暂无可用的券" in home.text


def test_messages_list_the_issue_notice_in_china_time(client, auth, world):
    auth.login(world["poor"].username)
    page = client.get("/me/messages")
    assert page.status_code == 200
    texts = [html.unescape(t) for t in re.findall(r'data-testid="message-text">([^<]+)<', page.text)]
    assert "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。" in texts
    assert "2026-11-18 10:00" in page.text     # issued at 02:00 UTC
    assert "收到新券" in page.text
    _no_english(page.text)


def test_member_home_shows_the_voucher_entry_and_the_messages_link(client, auth, world):
    auth.login(world["poor"].username)
    home = client.get("/me")
    assert home.status_code == 200
    # the fuel voucher (100.00) and the warm-heart voucher (550.00) are both usable today
    assert 'data-testid="wallet-count">2<' in home.text and 'data-testid="wallet-balance">650.00<' in home.text
    assert 'href="/me/vouchers"' in home.text and 'href="/me/messages"' in home.text


def test_till_lists_usable_and_unusable_vouchers_requotes_and_confirms_with_one(client, auth, world):
    w = world
    member = w["poor"].member
    card = member.current_card.number
    mine, fuel = _voucher(member, w["warm"]), _voucher(member, w["fuel_only"])
    auth.login(w["cashier"])

    page = client.post("/till", data={"code": card, "amount": "300"})
    assert page.status_code == 200
    assert 'data-testid="quote-voucher">0.00<' in page.text and 'data-testid="quote-pay">300.00<' in page.text
    usable = re.search(r'data-testid="till-voucher" data-voucher-id="(\d+)".*?</label>', page.text, re.S)
    assert int(usable.group(1)) == mine.id and "使用此券" in usable.group(0) and "可抵" in usable.group(0)
    assert 'data-testid="till-voucher-covers">300.00<' in usable.group(0)
    off = re.search(r'data-testid="till-voucher-off" data-voucher-id="(\d+)".*?</div>', page.text, re.S)
    assert int(off.group(1)) == fuel.id and "此券不能在本店使用。" in off.group(0)
    assert 'data-testid="voucher-requote"' in page.text and "用券重新计算" in page.text
    _no_english(page.text)

    page = client.post("/till", data={"code": card, "amount": "300", "voucher": str(mine.id)})
    assert page.status_code == 200
    assert 'data-testid="quote-voucher">300.00<' in page.text and 'data-testid="quote-pay">0.00<' in page.text
    assert "确认收款 0.00 元" in _main_text(page.text)
    assert re.search(rf'value="{mine.id}" checked', page.text)
    confirm_form = page.text[page.text.index('data-testid="confirm-form"'):]
    assert f'name="voucher" value="{mine.id}"' in confirm_form
    key = _key(page.text)

    confirm = {"code": card, "amount": "300", "key": key, "voucher": str(mine.id)}
    done = client.post("/till/confirm", data=confirm)
    assert done.status_code == 302 and "/till/transactions/" in done.location
    assert client.post("/till/confirm", data=confirm).location == done.location   # double tap: one payment
    # the same key with other vouchers is refused, readably, and nothing more is taken
    clash = client.post("/till/confirm", data={"code": card, "amount": "300", "key": key})
    assert clash.status_code == 409 and "已用不同的金额或券提交过" in clash.text
    _no_english(clash.text)
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
    db.session.refresh(mine)
    assert (mine.balance_fen, mine.status) == (25000, "active")
    txn = db.session.scalar(select(CardTransaction))
    assert (txn.voucher_fen, txn.pay_fen) == (30000, 0)

    detail = client.get(done.location)
    assert 'data-testid="transaction-voucher">300.00<' in detail.text
    use_line = html.unescape(re.search(r'data-testid="transaction-voucher-use">([^<]+)<', detail.text).group(1))
    assert use_line == "扶贫暖心券：300.00 元（面值部分 272.72 + 商家加赠 27.28）"
    assert "本笔由券支付，只能整笔退款" in detail.text and 'name="amount"' not in detail.text
    _no_english(detail.text)

    refund = client.post(done.location + "/refund", data={"reason": "退货", "key": "r1"}, follow_redirects=True)
    assert "退款已完成" in refund.text and 'data-testid="refund-voucher">300.00<' in refund.text
    db.session.refresh(mine)
    assert mine.balance_fen == 55000

    auth.logout()
    auth.login(w["poor"].username)
    spent = client.get("/me/transactions")
    assert 'data-testid="my-transaction-voucher">300.00<' in spent.text
    assert 'data-testid="my-refund-voucher">300.00<' in spent.text
    uses = client.get(f"/me/vouchers/{mine.id}")
    assert 'data-testid="voucher-use"' in uses.text and "亳州扶贫农产品店" in uses.text
    assert "退回券余额 300.00" in uses.text


def test_a_voucher_partly_paying_leaves_the_rest_to_pay_and_allows_a_partial_refund(client, auth, world):
    w = world
    member = w["poor"].member
    mine = _voucher(member, w["warm"])
    auth.login(w["cashier"])
    page = client.post("/till", data={"code": member.current_card.number, "amount": "600", "voucher": str(mine.id)})
    assert 'data-testid="quote-voucher">550.00<' in page.text and 'data-testid="quote-pay">50.00<' in page.text
    done = client.post("/till/confirm", data={"code": member.current_card.number, "amount": "600",
                                              "key": _key(page.text), "voucher": str(mine.id)})
    detail = client.get(done.location)
    assert 'data-testid="transaction-pay">50.00<' in detail.text and 'name="amount"' in detail.text
    db.session.refresh(mine)
    assert (mine.balance_fen, mine.status) == (0, "spent")
    client.post(done.location + "/refund", data={"amount": "25", "key": "half"})
    db.session.refresh(mine)
    assert mine.balance_fen == 27500 and mine.status == "active"


def test_junk_and_refused_voucher_ids_are_readable_errors_never_a_500(client, auth, world):
    w = world
    card = w["poor"].member.current_card.number
    theirs = _voucher(w["other"].member, w["warm"])
    fuel = _voucher(w["poor"].member, w["fuel_only"])
    auth.login(w["cashier"])
    for junk in ("abc", "-3", "1.5", "99999999999999999999", "", "0"):
        page = client.post("/till", data={"code": card, "amount": "300", "voucher": junk})
        assert page.status_code == 400, junk
        assert "券的编号不对" in page.text
        assert 'data-testid="quote-pay">300.00<' in page.text   # quoted without vouchers
    too_many = client.post("/till", data={"code": card, "amount": "300", "voucher": [str(i) for i in range(1, 13)]})
    assert too_many.status_code == 400 and "一次最多使用 10 张券" in too_many.text

    refused = client.post("/till", data={"code": card, "amount": "300", "voucher": str(theirs.id)})
    assert refused.status_code == 409 and "这张券不属于此卡的会员。" in refused.text
    assert 'data-testid="quote-pay">300.00<' in refused.text and 'data-testid="till-voucher"' in refused.text
    elsewhere = client.post("/till", data={"code": card, "amount": "300", "voucher": str(fuel.id)})
    assert elsewhere.status_code == 409 and "此券不能在本店使用。" in elsewhere.text

    page = client.post("/till", data={"code": card, "amount": "300"})
    bad_confirm = client.post("/till/confirm", data={"code": card, "amount": "300", "key": _key(page.text),
                                                     "voucher": "x1"})
    assert bad_confirm.status_code == 400 and "券的编号不对" in bad_confirm.text
    refused_confirm = client.post("/till/confirm", data={"code": card, "amount": "300", "key": _key(page.text),
                                                         "voucher": str(theirs.id)})
    assert refused_confirm.status_code == 409 and "这张券不属于此卡的会员。" in refused_confirm.text
    assert 'data-testid="confirm-button"' in refused_confirm.text   # a fresh quote to take the payment
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 0

    unknown = client.post("/till", data={"code": "0000000000", "amount": "300"})
    assert unknown.status_code == 400 and "未找到此卡号。" in unknown.text
    _no_english(unknown.text)
