"""The member's 消息: the page lists every notice (newest first, China time, Chinese only, each
leading to its page) with a settings section whose form (CSRF) turns optional kinds' SMS off;
the JSON API lists them too and sets the same choice; nobody else's notices are visible and a
kind that cannot be turned off is refused with nothing changed."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.notices import outbox
from benefits.notices.models import NoticeOptOut
from tests import factories, voucher_factories as vf
from tests.api.conftest import api_login, error_code

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # 10:00 in China
API = "/api/v1/me/messages"


@pytest.fixture
def nworld(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        poor = factories.member_user(tree["gujing"], name="王芳", category="hardship")
        other = factories.member_user(tree["gujing"], name="李强", category="ordinary")
        admin = factories.admin(tree["bozhou"], "bozhou_admin")
        vf.issue(vf.programme(tree["bozhou"]))
        outbox.enqueue(poor.member_id, "points_expiring", {"points": 120, "date": "2026-12-31"},
                       f"points_expiring:{poor.member_id}:2026-12-31")
        outbox.enqueue(poor.member_id, "payout_made", {"programme": "2025年度医疗普惠", "amount_fen": 100000,
                                                       "card_tail": "0171"}, "payout_made:1")
    return {"poor": poor, "other": other, "admin": admin}


def _main_text(page: str) -> str:
    main = page[page.index("<main"):page.index("</main>")]
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def test_the_page_lists_every_notice_newest_first_in_chinese(client, auth, nworld):
    auth.login(nworld["poor"].username)
    page = client.get("/me/messages")
    assert page.status_code == 200
    kinds = re.findall(r'data-testid="message" data-kind="(\w+)"', page.text)
    assert kinds == ["payout_made", "points_expiring", "voucher_issued"]
    texts = [html.unescape(t) for t in re.findall(r'data-testid="message-text">([^<]+)<', page.text)]
    assert texts == ["2025年度医疗普惠慰问金 1000.00 元已发放到您尾号 0171 的会员卡，请注意查收。",
                     "您有 120 积分将于 2026-12-31 到期，请尽快使用。",
                     "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。"]
    assert page.text.count("2026-11-18 10:00") == 3 and "短信待发送" in page.text
    assert 'href="/me/points"' in page.text and re.search(r'href="/me/vouchers/\d+"', page.text)
    assert 'data-testid="sms-settings"' in page.text
    assert re.findall(r"[A-Za-z]{2,}", _main_text(page.text)) == []


def test_the_page_shows_only_your_own_and_pages_through_many(client, auth, nworld):
    auth.login(nworld["other"].username)
    page = client.get("/me/messages")
    assert 'data-testid="messages-empty"' in page.text and "暂时没有消息" in page.text
    with unit_of_work():
        for i in range(31):
            outbox.enqueue(nworld["other"].member_id, "points_expiring", {"points": i + 1, "date": "2026-12-31"},
                           f"test:{i}")
    first = client.get("/me/messages")
    assert first.text.count('data-testid="message"') == 30 and "?page=2" in first.text
    second = client.get("/me/messages?page=2")
    assert second.text.count('data-testid="message"') == 1 and "您有 1 积分" in html.unescape(second.text)
    assert client.get("/me/messages?page=-3").status_code == 200


def test_the_settings_form_turns_optional_sms_off_and_back_on(client, auth, nworld):
    member_id = nworld["poor"].member_id
    auth.login(nworld["poor"].username)
    boxes = re.findall(r'name="sms_on" value="(\w+)"[^>]*?( checked)?>', client.get("/me/messages").text)
    assert boxes == [("voucher_issued", " checked"), ("voucher_expiring", " checked"),
                     ("pickup_expiring", " checked"), ("points_expiring", " checked")]
    saved = client.post("/me/messages/settings", data={"sms_on": ["voucher_expiring", "pickup_expiring"]})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/me/messages#settings")
    assert set(db.session.scalars(select(NoticeOptOut.kind).where(NoticeOptOut.member_id == member_id))) == {
        "voucher_issued", "points_expiring"}
    page = client.get("/me/messages")
    assert "短信提醒设置已保存" in page.text
    assert 'value="voucher_issued" data-testid="sms-voucher_issued">' in page.text      # unticked
    client.post("/me/messages/settings", data={"sms_on": ["voucher_issued", "voucher_expiring", "pickup_expiring",
                                                          "points_expiring"]})
    assert db.session.scalar(select(func.count()).select_from(NoticeOptOut)) == 0
    # a kind that is not optional is not a choice of the form: refused, nothing changed
    assert client.post("/me/messages/settings", data={"sms_on": ["payout_made"]}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(NoticeOptOut)) == 0
    # every box unticked: a browser sends no field at all
    assert client.post("/me/messages/settings", data={}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(NoticeOptOut)) == 4


def test_the_settings_form_needs_its_csrf_token(app, client, nworld):
    app.config["WTF_CSRF_ENABLED"] = True           # as in production (the tests' config turns it off)
    try:
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        assert client.post("/login", data={"username": nworld["poor"].username, "password": factories.PASSWORD,
                                           "csrf_token": token}).status_code == 302
        assert client.post("/me/messages/settings", data={"sms_on": []}).status_code == 400
        assert db.session.scalar(select(func.count()).select_from(NoticeOptOut)) == 0
        page = client.get("/me/messages").get_data(as_text=True)
        form = page[page.index('id="settings"'):]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        assert client.post("/me/messages/settings", data={"sms_on": ["voucher_issued"],
                                                          "csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalar(select(func.count()).select_from(NoticeOptOut)) == 3   # the tokened post only


def test_the_api_lists_your_notices_and_sets_the_same_choice(client, nworld):
    assert api_login(client, nworld["poor"].username).status_code == 200
    body = client.get(API).get_json()
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 50)
    first = body["items"][0]
    assert (first["kind"], first["label"], first["sms"], first["link"]) == ("payout_made", "慰问金到账", "pending",
                                                                             "/me/medical")
    assert body["items"][1]["link"] == "/me/points"
    assert client.get(API, query_string={"per_page": 1, "page": 3}).get_json()["items"][0]["kind"] == "voucher_issued"
    settings = client.get(f"{API}/settings").get_json()
    assert [(s["kind"], s["sms"]) for s in settings] == [("voucher_issued", True), ("voucher_expiring", True),
                                                         ("pickup_expiring", True), ("points_expiring", True)]
    put = client.put(f"{API}/settings", json={"sms_off": ["points_expiring", "points_expiring"]})
    assert put.status_code == 200 and [s["kind"] for s in put.get_json() if not s["sms"]] == ["points_expiring"]

    for bad in ({"sms_off": ["payout_made"]}, {"sms_off": ["voucher_issued", "nonsense"]}, {"sms_off": "points_expiring"},
                {}, {"sms_off": [1]}, {"sms_off": ["x" * 40]}):
        refused = client.put(f"{API}/settings", json=bad)
        assert refused.status_code == 400 and error_code(refused) == "validation_error", (bad, refused.get_json())
    assert [s["kind"] for s in client.get(f"{API}/settings").get_json() if not s["sms"]] == ["points_expiring"]
    assert client.get(API, query_string={"page": 0}).status_code == 400

    assert api_login(client, nworld["other"].username).status_code == 200
    assert client.get(API).get_json()["total"] == 0
    assert all(s["sms"] for s in client.get(f"{API}/settings").get_json())


def test_only_members_reach_their_notices(client, nworld):
    for method, path in (("get", API), ("get", f"{API}/settings"), ("put", f"{API}/settings")):
        r = getattr(client, method)(path, json={"sms_off": []} if method == "put" else None)
        assert r.status_code == 401 and error_code(r) == "not_authenticated"
    assert api_login(client, "bozhou_admin").status_code == 200
    for method, path in (("get", API), ("get", f"{API}/settings"), ("put", f"{API}/settings")):
        r = getattr(client, method)(path, json={"sms_off": []} if method == "put" else None)
        assert r.status_code == 403 and error_code(r) == "forbidden"


def test_a_notice_whose_page_is_not_built_leads_nowhere(app):
    from benefits.notices.service import Shown
    from benefits.notices.urls import href
    with app.test_request_context():
        assert href(Shown(1, "payout_made", "慰问金到账", "…", NOON, "sent", ("nowhere.page", {}))) is None
        assert href(Shown(1, "points_expiring", "积分到期提醒", "…", NOON, "sent", ("points.my_points", {}))) == "/me/points"
