"""Admin console and member pages over HTTP: flows, scope by URL guessing, CSRF, language."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Card, Member
from benefits.pii import make_id_number
from tests import factories
from tests.conftest import make_app


NEW_ID = make_id_number("341602", date(1991, 7, 8), 654)


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def admin_page(client, world):
    response = client.post("/login", data={"username": "bozhou_admin", "password": factories.PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin")
    return client


def test_member_list_search_and_pagination(admin_page, world):
    li = world.li_member
    masked = li.id_number[:4] + "*" * 10 + li.id_number[-4:]
    for q in ("李娜", world.li_card.number, masked, li.id_number):
        html = admin_page.post("/admin/members", data={"q": q}).get_data(as_text=True)
        assert "李娜" in html and "赵敏" not in html, q
        assert html.count(li.id_number) == (q == li.id_number) and masked in html  # only in the box it was typed in
    # a search is never read from the URL, where access logs would keep a whole ID number
    html = admin_page.get("/admin/members", query_string={"q": li.id_number}).get_data(as_text=True)
    assert "李娜" in html and "赵敏" in html
    html = admin_page.get("/admin/members").get_data(as_text=True)
    assert "李娜" in html and "赵敏" in html and "王强" not in html  # Maanshan is outside the subtree
    with unit_of_work():
        for i in range(25):
            factories.member(world.tree["gujing"], name=f"批量{i:02d}", with_card=False)
    first = admin_page.get("/admin/members").get_data(as_text=True)
    second = admin_page.get("/admin/members", query_string={"page": 2}).get_data(as_text=True)
    assert "第 1 / 2 页，共 27 条" in first and "第 2 / 2 页，共 27 条" in second
    assert first.count('data-testid="member-row"') == 20 and second.count('data-testid="member-row"') == 7
    # the pages of a posted search are posted by the search form itself, with its terms
    searched = admin_page.post("/admin/members", data={"q": "批量", "status": "active"}).get_data(as_text=True)
    assert "第 1 / 2 页，共 25 条" in searched and "李娜" not in searched
    assert 'form="member-search" name="page" value="2"' in searched and "page=2" not in searched
    second = admin_page.post("/admin/members", data={"q": "批量", "status": "active", "page": "2"}).get_data(as_text=True)
    assert "第 2 / 2 页，共 25 条" in second and second.count('data-testid="member-row"') == 5


def test_card_actions_from_the_member_page(admin_page, world):
    zhao = world.zhao
    page = f"/admin/members/{zhao.id}"
    assert 'data-testid="issue-card"' in admin_page.get(page).get_data(as_text=True)
    assert admin_page.post(f"{page}/cards").status_code == 302
    card = db.session.scalar(select(Card).where(Card.member_id == zhao.id))
    html = admin_page.get(page).get_data(as_text=True)
    assert card.number in html and "已发卡" in html and 'data-testid="freeze"' in html
    admin_page.post(f"{page}/cards/{card.id}/freeze")
    db.session.expire_all()
    assert card.status == "frozen" and "已冻结" in admin_page.get(page).get_data(as_text=True)
    admin_page.post(f"{page}/cards/{card.id}/unfreeze")
    admin_page.post(f"{page}/cards/{card.id}/report-lost")
    db.session.expire_all()
    new = db.session.scalar(select(Card).where(Card.member_id == zhao.id, Card.status == "active"))
    assert card.status == "lost" and new.number != card.number
    html = admin_page.get(page).get_data(as_text=True)
    assert new.number in html and "已挂失" in html  # the old card stays in the history
    refused = admin_page.post(f"{page}/cards/{card.id}/freeze", follow_redirects=True)
    assert "此卡状态为“已挂失”，不能改为“已冻结”。" in refused.get_data(as_text=True)


def test_join_leave_rejoin_and_activation_code(admin_page, world):
    response = admin_page.post("/admin/members/new", data={
        "org_code": "341602001", "name": "孙丽", "id_number": NEW_ID, "phone": "13900001111", "category": "retiree"})
    assert response.status_code == 302
    member = db.session.scalar(select(Member).where(Member.id_number == NEW_ID))
    assert member.category == "retiree" and member.org.code == "341602001"
    page = f"/admin/members/{member.id}"
    code_page = admin_page.post(f"{page}/activation-code").get_data(as_text=True)
    code = re.search(r'data-testid="activation-code">([A-Z0-9]{10})<', code_page).group(1)
    assert code not in admin_page.get(page).get_data(as_text=True)  # shown once
    admin_page.post(f"{page}/leave")
    db.session.expire_all()
    assert member.status == "left" and 'data-testid="rejoin"' in admin_page.get(page).get_data(as_text=True)
    admin_page.post(f"{page}/rejoin")
    db.session.expire_all()
    assert member.status == "active"
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(member.id))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["member.join", "member.activation_code", "member.leave", "member.rejoin"]


def test_join_with_bad_input_writes_nothing(admin_page, world):
    before_members, before_audit = count(Member), count(AuditEntry)
    bad_checksum = NEW_ID[:17] + ("0" if NEW_ID[17] != "0" else "1")
    for data, message in [
        ({"org_code": "341602001", "name": "错号", "id_number": bad_checksum}, "身份证号校验位错误"),
        ({"org_code": "340503001", "name": "越权", "id_number": NEW_ID}, "不在您的管辖范围内"),
        ({"org_code": "341602001", "name": "手机", "id_number": NEW_ID, "phone": "12345"}, "手机号应为11位大陆手机号"),
        ({"org_code": "341602001", "name": "", "id_number": NEW_ID}, "该字段是必填字段"),
        ({"org_code": "341602001", "name": "重复", "id_number": world.li_member.id_number}, "此身份证号已是会员。"),
    ]:
        response = admin_page.post("/admin/members/new", data={"category": "ordinary", **data})
        assert response.status_code == 400 and message in response.get_data(as_text=True), data
    assert count(Member) == before_members and count(AuditEntry) == before_audit


def test_other_citys_member_is_404_by_url_guessing(admin_page, world):
    wang, card = world.wang_member, world.wang_card
    assert admin_page.get(f"/admin/members/{wang.id}").status_code == 404
    assert admin_page.get("/admin", query_string={"org": world.tree["magang"].id}).status_code == 404
    assert admin_page.get("/admin/members", query_string={"org": world.tree["maanshan"].id}).status_code == 404
    for url in (f"/admin/members/{wang.id}/cards/{card.id}/freeze", f"/admin/members/{wang.id}/leave",
                f"/admin/members/{wang.id}/activation-code", f"/admin/members/{wang.id}/cards",
                # own member in the URL, another city's card id: still refused
                f"/admin/members/{world.li_member.id}/cards/{card.id}/report-lost"):
        assert admin_page.post(url).status_code == 404, url
    db.session.expire_all()
    assert card.status == "active" and wang.status == "active" and count(Card) == 2


def test_members_and_strangers_cannot_open_admin_pages(client, world):
    assert client.get("/admin/members").status_code == 302
    client.post("/login", data={"username": world.li.username, "password": factories.PASSWORD})
    assert client.get("/admin/members").status_code == 403
    assert client.post(f"/admin/members/{world.li_member.id}/cards/{world.li_card.id}/freeze").status_code == 403
    home = client.get("/me").get_data(as_text=True)
    number = world.li_card.number
    assert f"{number[:4]} **** **** {number[-4:]}" in home and world.li.username not in home
    assert number in client.get("/me/mine").get_data(as_text=True)       # the whole number under 我的


def test_audit_page_shows_who_what_before_after_masked(admin_page, world):
    admin_page.post(f"/admin/members/{world.li_member.id}/cards/{world.li_card.id}/freeze")
    html = admin_page.get("/admin/audit", query_string={"action": "card.freeze"}).get_data(as_text=True)
    assert html.count('data-testid="audit-row"') == 1
    assert "管理员（管理员）" in html and world.li_card.number in html and "正常 <span class=\"muted\">→</span> 已冻结" in html
    everything = admin_page.get("/admin/audit").get_data(as_text=True)
    assert world.li_member.id_number not in everything and "王强" not in everything


def test_english_on_request(admin_page, world):
    html = admin_page.get(f"/admin/members/{world.li_member.id}?lang=en").get_data(as_text=True)
    assert "Member card" in html and "Freeze" in html and "冻结" not in html
    admin_page.get("/lang/en")
    assert "Audit log" in admin_page.get("/admin/audit").get_data(as_text=True)


def test_csrf_refuses_form_posts_without_token(database_url, world):
    app = make_app(database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        no_token = client.post("/login", data={"username": "bozhou_admin", "password": factories.PASSWORD})
        assert no_token.status_code == 400
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        signed_in = client.post("/login", data={"username": "bozhou_admin", "password": factories.PASSWORD,
                                                "csrf_token": token})
        assert signed_in.status_code == 302
        url = f"/admin/members/{world.li_member.id}/cards/{world.li_card.id}/freeze"
        assert client.post(url).status_code == 400
        assert client.post("/admin/members/new", data={"org_code": "341602001", "name": "无令牌",
                                                        "id_number": NEW_ID}).status_code == 400
        db.session.remove()
        db.engine.dispose()
    db.session.expire_all()
    assert world.li_card.status == "active" and count(Member) == 3
