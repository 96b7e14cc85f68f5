"""Small builders for test data; every ID number they make is valid."""
from __future__ import annotations

import itertools
from datetime import date

from benefits.auth import service as auth
from benefits.auth.models import User
from benefits.extensions import db
from benefits.members import service as members
from benefits.orgs import service as orgs
from benefits.pii import make_id_number

PASSWORD = "password-123"
_seq = itertools.count(1)


def org_tree() -> dict:
    """province → two cities → a county and a grassroots union under each."""
    province = orgs.create_org("34", "安徽省总工会", "province", None)
    bozhou = orgs.create_org("3416", "亳州市总工会", "city", province)
    maanshan = orgs.create_org("3405", "马鞍山市总工会", "city", province)
    qiaocheng = orgs.create_org("341602", "谯城区总工会", "county", bozhou)
    gujing = orgs.create_org("341602001", "古井集团工会", "grassroots", qiaocheng)
    huashan = orgs.create_org("340503", "花山区总工会", "county", maanshan)
    magang = orgs.create_org("340503001", "马钢股份工会", "grassroots", huashan)
    db.session.flush()
    return {"province": province, "bozhou": bozhou, "maanshan": maanshan, "qiaocheng": qiaocheng,
            "gujing": gujing, "huashan": huashan, "magang": magang}


def id_number(region: str = "341602") -> str:
    n = next(_seq)
    return make_id_number(region, date(1970 + n % 30, 1 + n % 12, 1 + n % 28), n % 1000 + (n // 1000) % 7)


def member(org, name: str = "测试会员", category: str = "ordinary", with_card: bool = True, phone: str | None = "13812345678"):
    m = members.create_member(None, org, name=name, id_number=id_number(), phone=phone, category=category)
    if with_card:
        members.issue_card(None, m)
    return m


def member_user(org, **kwargs) -> User:
    """A member with an active card and an activated account (password PASSWORD)."""
    m = member(org, **kwargs)
    return auth.activate_member(id_number=m.id_number, card_number=m.current_card.number,
                                password=PASSWORD, address="test")


def admin(org, username: str | None = None) -> User:
    return auth.create_staff_user(None, username=username or f"admin{next(_seq)}", display_name="管理员",
                                  password=PASSWORD, role="admin", org=org)


def pickup_staff(office, username: str | None = None) -> User:
    """Staff of the prize counter at a union office: hands prizes out at that office's points."""
    return auth.create_staff_user(None, username=username or f"pickup{next(_seq)}", display_name="领奖点",
                                  password=PASSWORD, role="pickup_staff", org=office)
