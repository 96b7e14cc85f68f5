"""The audit log page (/admin/audit) reads as words: Chinese action names and field labels, money
in yuan, China time to the second, 是/否 and — for nothing, objects by name (a member masked);
filters for every kind of action, account and date range; never a 500."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from benefits import clock
from benefits.audit import labels
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members import service as members
from benefits.promotions import rules as promotions
from tests import factories, till_factories
from tests.prize_factories import pickup_point, prize
from tests.conftest import statements_sent

CHINA_NOON = datetime(2026, 3, 1, 4, 0, 5, 123456, tzinfo=timezone.utc)   # 12:00:05 in China


@pytest.fixture
def admin_page(client, world):
    response = client.post("/login", data={"username": "bozhou_admin", "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


def text_of(html: str) -> str:
    """The page as a reader sees it: tags dropped, spaces squeezed."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows(html: str) -> list[str]:
    return [text_of(row) for row in re.findall(r'<tr class="audit-entry".*?</tr>', html, flags=re.S)]


def test_an_entry_reads_as_words(admin_page, world):
    with clock.freeze(CHINA_NOON), unit_of_work():
        members.freeze_card(world.bozhou_admin, world.li_card)
    html = admin_page.get("/admin/audit", query_string={"action": "card.freeze"}).get_data(as_text=True)
    [row] = rows(html)
    assert "冻结会员卡" in row and "会员与会员卡" in row
    assert "2026-03-01 12:00:05" in row                      # China time, to the second
    assert "李* 的会员卡 " + world.li_card.number in row       # the card by its holder (masked) and number
    assert "状态 正常 → 已冻结" in row                          # the field that changed, in words
    assert "管理员（管理员）" in row and "亳州市总工会" not in row  # the actor by name and role; Li is in 古井
    assert "古井集团工会" in row
    for raw in ("card.freeze", "frozen", "status", "UTC", "+00:00", ".123456", "#"):
        assert raw not in row, raw


def test_values_money_times_booleans_and_nothing(admin_page, world):
    with clock.freeze(CHINA_NOON), unit_of_work():
        admin = world.bozhou_admin
        till_factories.rule(admin.org, name="加油满200减40", cap_fen=None, combinable=False)
        point = pickup_point(admin, world.tree["gujing"])
        prize(admin, point, name="洗衣机", cost=40000, stock=3, high_value=True,
              closes_at=datetime(2026, 12, 31, 15, 59, 59, tzinfo=timezone.utc))
    html = admin_page.get("/admin/audit").get_data(as_text=True)
    by_action = {re.search(r'data-action="([^"]+)"', r).group(1): text_of(r)
                 for r in re.findall(r'<tr class="audit-entry".*?</tr>', html, flags=re.S)}
    rule = by_action["promotion.create"]
    assert "新建优惠活动" in rule and "加油满200减40" in rule
    assert "满额 200.00 元" in rule and "减免金额 40.00 元" in rule
    assert "优惠类型 满减" in rule and "可与其他优惠同享 否" in rule and "优惠封顶 —" in rule
    assert "分摊比例 工会 50%，银行 30%，商家 20%" in rule
    assert "适用范围 本工会全部商家" in rule
    created = by_action["prize.create"]
    assert "新建奖品" in created and "洗衣机" in created
    assert "结束时间 2026-12-31 23:59:59" in created            # 15:59:59 UTC is the last second in China
    assert "高价值（需第二人审批） 是" in created and "所需积分 40000 积分" in created
    assert "领取方式 到领奖点领取" in created
    point_row = by_action["pickup_point.create"]
    assert "所在工会 古井集团工会" in point_row                    # an id in a field, named
    for text in by_action.values():
        for raw in ("None", "True", "False", "_fen", "closes_at", "threshold", "programme"):
            assert raw not in text, (raw, text)


def test_objects_are_named_with_one_query_per_kind(admin_page, world):
    """However many rows a page has, each kind of object costs one query."""
    def queries_for_page() -> int:
        with statements_sent() as statements:
            assert admin_page.get("/admin/audit").status_code == 200
        return len(statements)

    def add_members(n: int) -> None:
        with unit_of_work():
            for i in range(n):
                m = factories.member(world.tree["gujing"], name=f"新会员{i}")
                members.freeze_card(world.bozhou_admin, m.current_card)

    add_members(2)
    few = queries_for_page()
    add_members(8)
    assert queries_for_page() == few
    html = admin_page.get("/admin/audit", query_string={"action": "card.freeze"}).get_data(as_text=True)
    assert html.count("新*** 的会员卡") == 10 and "新会员" not in html   # a member by masked name


def test_filters_by_area_action_account_and_days(admin_page, world):
    bozhou, other = world.bozhou_admin, None
    with unit_of_work():
        other = factories.admin(world.tree["qiaocheng"], "qiaocheng_admin")
    with clock.freeze(CHINA_NOON - timedelta(days=3)), unit_of_work():
        members.freeze_card(bozhou, world.li_card)          # China day 2026-02-26
    with clock.freeze(CHINA_NOON), unit_of_work():
        members.unfreeze_card(other, world.li_card)         # 2026-03-01
        till_factories.rule(world.tree["bozhou"], name="超市满100减30")  # by "system"
    page = admin_page.get("/admin/audit").get_data(as_text=True)
    # every action the code records is offered, grouped by area, in Chinese
    for area, name, actions in labels.action_groups():
        assert f'<optgroup label="{name}">' in page
        assert f'value="area:{area}"' in page
        for action, _label in actions:
            assert f'value="{action}"' in page
    assert ">冻结会员卡<" in page and ">新建奖品<" in page and ">停用账号<" in page

    def shown(**query) -> list[str]:
        response = admin_page.get("/admin/audit", query_string=query)
        assert response.status_code == 200, response.status_code
        return re.findall(r'data-action="([^"]+)"', response.get_data(as_text=True))

    assert shown(action="card.freeze") == ["card.freeze"]
    # (the world's own entries, written as it was built, are of today)
    assert shown(action="area:members", end="2026-03-31") == ["card.unfreeze", "card.freeze"]
    assert shown(action="area:promotions") == ["promotion.create"]
    assert shown(actor=str(other.id)) == ["card.unfreeze"]
    assert shown(actor="system", end="2026-03-31") == ["promotion.create"]
    assert shown(start="2026-03-01", end="2026-03-01") == ["promotion.create", "card.unfreeze"]
    assert shown(end="2026-02-28") == ["card.freeze"]
    assert shown(start="2026-02-26", end="2026-02-26", action="area:members") == ["card.freeze"]
    assert shown(start="2026-02-27", end="2026-02-28") == []
    # the account filter offers the accounts that wrote here, by name and role
    assert f'<option value="{other.id}"' in page and "管理员（管理员）" in page


@pytest.mark.parametrize("query, field", [
    ({"action": "card.explode", "actor": "system"}, "action"), ({"action": "area:nowhere"}, "action"),
    ({"actor": "abc", "action": "card.freeze"}, "actor"), ({"actor": "99999999999"}, "actor"),
    ({"actor": "-1", "action": "card.freeze"}, "actor"), ({"start": "2026-13-01", "action": "card.freeze"}, "start"),
    ({"start": "0001-01-01"}, "start"), ({"end": "9999-12-31", "action": "card.freeze"}, "end"),
    ({"start": "2026-03-02", "end": "2026-03-01"}, "end"), ({"start": "x" * 5000, "actor": "system"}, "start"),
])
def test_bad_filters_are_named_not_a_500(admin_page, world, query, field):
    with unit_of_work():
        members.freeze_card(world.bozhou_admin, world.li_card)
    response = admin_page.get("/admin/audit", query_string=query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'data-testid="filter-error-{field}"' in html
    # the other filters still apply
    others = {k: v for k, v in query.items() if k != field}
    assert len(rows(html)) == len(rows(admin_page.get("/admin/audit", query_string=others).get_data(as_text=True)))


@pytest.mark.parametrize("page", ["-1", "0", "abc", "99999999999", "١"])
def test_odd_page_numbers(admin_page, world, page):
    assert admin_page.get("/admin/audit", query_string={"page": page}).status_code == 200


def test_paginated_keeping_the_filters(admin_page, world):
    with unit_of_work():
        for i in range(25):
            factories.member(world.tree["gujing"], name=f"翻页{i}", with_card=False)
    # Li and Zhao joined in 古井 too; Wang joined in Maanshan, outside the subtree
    first = admin_page.get("/admin/audit", query_string={"action": "member.join"}).get_data(as_text=True)
    second = admin_page.get("/admin/audit", query_string={"action": "member.join", "page": 2}).get_data(as_text=True)
    assert len(rows(first)) == 20 and "第 1 / 2 页，共 27 条" in first
    assert len(rows(second)) == 7 and "第 2 / 2 页，共 27 条" in second
    assert "/admin/audit?action=member.join&amp;page=2" in first


def test_scope_other_unions_entries_and_names_stay_out(client, world):
    with unit_of_work():
        members.freeze_card(world.bozhou_admin, world.li_card)
        members.freeze_card(world.maanshan_admin, world.wang_card)
    client.post("/login", data={"username": "maanshan_admin", "password": factories.PASSWORD})
    html = client.get("/admin/audit").get_data(as_text=True)
    assert world.wang_card.number in html and world.li_card.number not in html and "李" not in html
    assert len(rows(client.get("/admin/audit", query_string={"action": "card.freeze"}).get_data(as_text=True))) == 1
    assert f'value="{world.bozhou_admin.id}"' not in html     # not even as an account to filter by
    assert len(rows(client.get("/admin/audit", query_string={"actor": world.bozhou_admin.id}).get_data(as_text=True))) == 0


def test_english_on_request(admin_page, world):
    with unit_of_work():
        members.freeze_card(world.bozhou_admin, world.li_card)
        promotions.create_rule(world.bozhou_admin, world.tree["bozhou"], {
            "name": "满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "scope": "programme", "split": {"union": 100, "bank": 0, "merchant": 0}})
    html = admin_page.get("/admin/audit?lang=en").get_data(as_text=True)
    text = " ".join(rows(html))
    assert "Freeze card" in text and "Frozen" in text and "Status" in text and "New promotion" in text
    assert "Threshold 200.00 yuan" in text
    for chinese in ("冻结会员卡", "状态", "新建优惠活动", "满额", "元"):
        assert chinese not in text, chinese


def test_chinese_page_has_no_english_words(admin_page, world):
    """Only names that are English by nature (an account name, a file name) may be ASCII words."""
    with unit_of_work():
        m = world.li_member
        members.freeze_card(world.bozhou_admin, world.li_card)
        members.unfreeze_card(world.bozhou_admin, world.li_card)
        members.record_leave(world.bozhou_admin, m)
        members.record_rejoin(world.bozhou_admin, m)
        members.issue_card(world.bozhou_admin, m)
        merchant = till_factories.merchant(world.tree["bozhou"])
        till_factories.cashier(merchant, username="shop_cashier")
        promotions.create_rule(world.bozhou_admin, world.tree["bozhou"], {
            "name": "周末九折", "kind": "percent", "pay_bp": 9000, "scope": "merchants", "merchant_ids": [merchant.id],
            "days_of_week": [6, 7], "per_member": {"day": 1}, "member_categories": ["hardship"],
            "split": {"union": 100, "bank": 0, "merchant": 0}, "valid_from": "2026-01-01"})
    html = admin_page.get("/admin/audit").get_data(as_text=True)
    assert len(rows(html)) == 14   # the world's 5, and 9 more
    usernames = db.session.scalars(select(User.username).where(User.role != "member")).all()
    for row in rows(html):
        for username in usernames:        # account names are what they are
            row = row.replace(username, "")
        assert not re.findall(r"[A-Za-z]{2,}", row), row
