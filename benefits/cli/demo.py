"""Demo data from the report (DOMAIN.md): one province, its cities, counties and grassroots
unions, a few hundred members with cards, one admin per level.

Each domain that has demo data provides `benefits/<domain>/demo.py` with `load(ctx)`; they run
in DEMO_STEPS order inside one transaction. Loading twice changes nothing.
"""
from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..members import service as members
from ..orgs import service as orgs
from ..orgs.models import Organisation
from ..pii import make_id_number
from ..auth import service as auth

# Domains provide benefits/<domain>/demo.py with load(ctx); a missing module is skipped.
DEMO_STEPS = ("cli.demo", "quiz.demo", "merchants.demo", "promotions.demo", "prizes.demo", "vouchers.demo",
              "medical.demo", "festival.demo")
DEMO_PASSWORD = "demo-pass-2026"
PROVINCE_CODE = "34"


@dataclass
class DemoContext:
    rng: random.Random
    orgs: dict[str, Organisation] = field(default_factory=dict)
    credentials: list[tuple[str, str, str]] = field(default_factory=list)  # (role, username, password)
    notes: list[str] = field(default_factory=list)


TREE = [
    # code, name, level, parent code, ID-number region
    ("34", "安徽省总工会", "province", None, "340100"),
    ("3416", "亳州市总工会", "city", "34", "341600"),
    ("3405", "马鞍山市总工会", "city", "34", "340500"),
    ("3412", "阜阳市总工会", "city", "34", "341200"),
    ("341602", "谯城区总工会", "county", "3416", "341602"),
    ("341621", "涡阳县总工会", "county", "3416", "341621"),
    ("340503", "花山区总工会", "county", "3405", "340503"),
    ("341202", "颍州区总工会", "county", "3412", "341202"),
    ("341602001", "古井集团工会", "grassroots", "341602", "341602"),
    ("341602002", "亳州市人民医院工会", "grassroots", "341602", "341602"),
    ("341621001", "涡阳县公交公司工会", "grassroots", "341621", "341621"),
    ("340503001", "马钢股份工会", "grassroots", "340503", "340503"),
    ("341202001", "阜阳市第一中学工会", "grassroots", "341202", "341202"),
]
ADMINS = [
    ("admin_province", "省总工会管理员", "34"),
    ("admin_bozhou", "亳州市总管理员", "3416"),
    ("admin_qiaocheng", "谯城区总管理员", "341602"),
    ("admin_gujing", "古井集团工会管理员", "341602001"),
    ("admin_maanshan", "马鞍山市总管理员", "3405"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
CATEGORY_WEIGHTS = [("ordinary", 85), ("hardship", 6), ("retiree", 6), ("model_worker", 3)]
DEMO_MEMBER_ID = make_id_number("341602", date(1985, 6, 15), 17)


def random_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def random_phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "158", "186", "177")) + f"{rng.randrange(10**8):08d}"


def random_category(rng: random.Random) -> str:
    return rng.choices([c for c, _ in CATEGORY_WEIGHTS], weights=[w for _, w in CATEGORY_WEIGHTS])[0]


def load(ctx: DemoContext) -> None:
    for code, name, level, parent, _region in TREE:
        ctx.orgs[code] = orgs.create_org(code, name, level, ctx.orgs.get(parent) if parent else None)
    for username, display, code in ADMINS:
        auth.create_staff_user(None, username=username, display_name=display, password=DEMO_PASSWORD,
                               role="admin", org=ctx.orgs[code])
        ctx.credentials.append(("admin " + code, username, DEMO_PASSWORD))
    grassroots = [(code, region) for code, _n, level, _p, region in TREE if level == "grassroots"]
    used: set[str] = {DEMO_MEMBER_ID}
    demo_member = members.create_member(None, ctx.orgs["341602001"], name="张伟", id_number=DEMO_MEMBER_ID,
                                        phone="13856785678", category="ordinary")
    card = members.issue_card(None, demo_member)
    auth.activate_member(id_number=DEMO_MEMBER_ID, card_number=card.number, password=DEMO_PASSWORD, address="demo")
    ctx.credentials.append(("member (card %s)" % card.number, DEMO_MEMBER_ID, DEMO_PASSWORD))
    for i in range(300):
        code, region = grassroots[i % len(grassroots)]
        while True:
            born = date(ctx.rng.randrange(1962, 2003), ctx.rng.randrange(1, 13), ctx.rng.randrange(1, 29))
            id_number = make_id_number(region, born, ctx.rng.randrange(1000))
            if id_number not in used:
                used.add(id_number)
                break
        member = members.create_member(None, ctx.orgs[code], name=random_name(ctx.rng), id_number=id_number,
                                       phone=random_phone(ctx.rng), category=random_category(ctx.rng))
        if ctx.rng.random() < 0.9:
            members.issue_card(None, member)


def already_loaded() -> bool:
    return db.session.scalar(select(Organisation.id).where(Organisation.code == PROVINCE_CODE)) is not None


def load_all(seed: int = 2020) -> DemoContext:
    ctx = DemoContext(rng=random.Random(seed))
    for step in DEMO_STEPS:
        try:
            module = importlib.import_module(f"benefits.{step}")
        except ModuleNotFoundError as exc:
            if exc.name in (f"benefits.{step}", "benefits." + step.split(".")[0]):
                continue
            raise
        module.load(ctx)
    return ctx


def demo_credentials() -> list[tuple[str, str, str]]:
    """Every demo staff account (admins, cashiers, pickup staff) and the demo member.

    All demo accounts share DEMO_PASSWORD, so the list can be rebuilt from the database on
    every run, including when the data was loaded earlier.
    """
    staff = db.session.execute(
        select(User.role, User.username, User.display_name)
        .where(User.role != "member").order_by(User.id).limit(60)).all()
    creds = [(f"{role} {display}", username, DEMO_PASSWORD) for role, username, display in staff]
    if db.session.scalar(select(User.id).where(User.username == DEMO_MEMBER_ID)) is not None:
        # The one ID number ever printed: made up for the demo (README names it too), and the
        # member signs in with it.
        creds.append(("member 张伟 (made-up demo ID number)", DEMO_MEMBER_ID, DEMO_PASSWORD))
    return creds
