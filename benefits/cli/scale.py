"""Data at the report's scale (`flask demo load --scale report`): 5,714 organisations in a
province → 16 cities → 105 counties → grassroots tree, 473,216 members with valid ID numbers,
40,001 cards (DOMAIN.md, Bozhou figures).

It tops the database up to those totals on top of the normal demo data, so the demo accounts
keep working and a second run adds nothing. Rows go in with COPY (`importing.bulk_insert`),
with explicit ids so the tree paths and card owners are known without reading anything back;
sequences are moved past them afterwards.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy import func, select, text

from .. import clock
from ..extensions import db
from ..members.importing import MEMBER_COLUMNS, bulk_insert
from ..members.models import Card, Member
from ..members.service import CARD_PREFIX, luhn_digit
from ..orgs.models import Organisation
from ..pii import make_id_number
from .demo import PROVINCE_CODE, random_category, random_name, random_phone

ProgressFactory = Callable[[str, int], Callable[[int], None] | None]


@dataclass(frozen=True)
class ScaleSize:
    organisations: int   # all levels together, province included
    members: int
    cards: int
    cities: int
    counties: int


SIZES = {
    "report": ScaleSize(organisations=5_714, members=473_216, cards=40_001, cities=16, counties=105),
    "small": ScaleSize(organisations=400, members=20_000, cards=2_000, cities=16, counties=40),
}

# Anhui's sixteen cities (prefecture codes of the ID number region).
CITIES = [("3401", "合肥市"), ("3402", "芜湖市"), ("3403", "蚌埠市"), ("3404", "淮南市"), ("3405", "马鞍山市"),
          ("3406", "淮北市"), ("3407", "铜陵市"), ("3408", "安庆市"), ("3410", "黄山市"), ("3411", "滁州市"),
          ("3412", "阜阳市"), ("3413", "宿州市"), ("3415", "六安市"), ("3416", "亳州市"), ("3417", "池州市"),
          ("3418", "宣城市")]
UNIT_KINDS = ("有限公司", "医院", "中学", "小学", "街道", "社区", "供电公司", "公交公司", "建筑公司", "食品厂",
              "物流公司", "商贸公司", "卫生院", "纺织厂", "机械厂", "银行支行", "酒业公司", "农业合作社")
FIRST_CARD_DAY = date(2019, 3, 1)  # member cards issued since March 2019


@dataclass
class _Org:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str


@dataclass
class ScaleResult:
    organisations: int = 0
    members: int = 0
    cards: int = 0

    @property
    def added_anything(self) -> bool:
        return bool(self.organisations or self.members or self.cards)


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count(model.id)).where(*where))


def _grow_tree(size: ScaleSize, rng: random.Random) -> list[_Org]:
    """New organisations (parents before children) bringing each level up to its total."""
    existing = [_Org(*row) for row in db.session.execute(select(
        Organisation.id, Organisation.code, Organisation.name, Organisation.level, Organisation.parent_id,
        Organisation.path).order_by(Organisation.id))]
    by_level = {level: [o for o in existing if o.level == level] for level in ("province", "city", "county", "grassroots")}
    province = next(o for o in by_level["province"] if o.code == PROVINCE_CODE)
    codes = {o.code for o in existing}
    next_id = _next_id(Organisation)
    new: list[_Org] = []

    def add(code: str, name: str, level: str, parent: _Org) -> _Org:
        nonlocal next_id
        org = _Org(next_id, code, name, level, parent.id, f"{parent.path}{next_id}/")
        next_id += 1
        codes.add(code)
        by_level[level].append(org)
        new.append(org)
        return org

    for code, name in CITIES:
        if len(by_level["city"]) >= size.cities:
            break
        if code not in codes:
            add(code, f"{name}总工会", "city", province)

    def fill(level: str, parents: list[_Org], target: int, make: Callable[[_Org, int], tuple[str, str]]) -> None:
        slot = {p.id: 0 for p in parents}
        i = 0
        while len(by_level[level]) < target and parents:
            parent = parents[i % len(parents)]
            i += 1
            while True:
                slot[parent.id] += 1
                code, name = make(parent, slot[parent.id])
                if code not in codes:
                    break
            add(code, name, level, parent)

    fill("county", by_level["city"], size.counties,
         lambda city, n: (f"{city.code}{n:02d}", f"{city.name.removesuffix('总工会')}第{n}县区总工会"))
    grassroots_target = size.organisations - 1 - len(by_level["city"]) - len(by_level["county"])
    fill("grassroots", by_level["county"], grassroots_target,
         lambda county, n: (f"{county.code}{n:03d}",
                            f"{county.name.removesuffix('总工会')}{rng.choice(UNIT_KINDS)}{n}号工会"))
    return new


def _member_rows(count: int, grassroots: list[tuple[int, str]], first_id: int, rng: random.Random,
                 taken: set[str], live_ids: list[int]) -> Iterator[tuple]:
    """(id, *MEMBER_COLUMNS) rows; appends the ids of members still in the union to `live_ids`."""
    base, span = date(1962, 1, 1).toordinal(), (date(2004, 12, 31) - date(1962, 1, 1)).days
    joined_base, joined_span = date(2000, 1, 1).toordinal(), (date(2020, 6, 30) - date(2000, 1, 1)).days
    created = clock.now()
    for n in range(count):
        org_id, org_code = grassroots[rng.randrange(len(grassroots))]
        region = org_code[:6] if len(org_code) >= 6 and org_code[:6].isdigit() else "340100"
        while True:
            id_number = make_id_number(region, date.fromordinal(base + rng.randrange(span)), rng.randrange(1000))
            if id_number not in taken:
                taken.add(id_number)
                break
        joined = date.fromordinal(joined_base + rng.randrange(joined_span))
        member_id = first_id + n
        left = rng.random() < 0.008
        if not left:
            live_ids.append(member_id)
        yield (member_id, org_id, random_name(rng), id_number, random_phone(rng), random_category(rng),
               "left" if left else "active", joined, joined + timedelta(days=400) if left else None, created)


def _card_rows(member_ids: list[int], first_id: int, rng: random.Random, taken: set[str]) -> Iterator[tuple]:
    first = datetime.combine(FIRST_CARD_DAY, datetime.min.time(), tzinfo=timezone.utc)
    for n, member_id in enumerate(member_ids):
        while True:
            body = CARD_PREFIX + f"{rng.randrange(10 ** 11):011d}"
            number = body + luhn_digit(body)
            if number not in taken:
                taken.add(number)
                break
        issued = first + timedelta(seconds=rng.randrange(660 * 86400))
        yield (first_id + n, member_id, number, "frozen" if rng.random() < 0.01 else "active", issued, issued, None)


def load_scale(size: ScaleSize, *, seed: int = 473216, progress: ProgressFactory | None = None) -> ScaleResult:
    """Top the demo database up to `size` (flushes, never commits). Needs the demo province."""
    rng = random.Random(seed)
    result = ScaleResult()

    def bar(desc: str, total: int):
        return progress(desc, total) if progress and total else None

    new_orgs = _grow_tree(size, rng)
    result.organisations = bulk_insert(
        "organisations", ("id", "code", "name", "level", "parent_id", "path", "created_at"),
        ((o.id, o.code, o.name, o.level, o.parent_id, o.path, clock.now()) for o in new_orgs),
        bar("Organisations", len(new_orgs)))

    missing_members = size.members - _count(Member)
    live_ids: list[int] = []
    if missing_members > 0:
        grassroots = list(db.session.execute(
            select(Organisation.id, Organisation.code).where(Organisation.level == "grassroots").order_by(Organisation.id)))
        taken = set(db.session.scalars(select(Member.id_number)))
        rows = _member_rows(missing_members, grassroots, _next_id(Member), rng, taken, live_ids)
        result.members = bulk_insert("members", ("id", *MEMBER_COLUMNS[:6], "joined_on", "left_on", "created_at"),
                                     rows, bar("Members", missing_members))

    missing_cards = min(size.cards - _count(Card), len(live_ids))
    if missing_cards > 0:
        holders = sorted(rng.sample(live_ids, missing_cards))
        taken = set(db.session.scalars(select(Card.number)))
        result.cards = bulk_insert(
            "cards", ("id", "member_id", "number", "status", "issued_at", "status_changed_at", "replaces_card_id"),
            _card_rows(holders, _next_id(Card), rng, taken), bar("Cards", missing_cards))

    for table in ("organisations", "members", "cards"):
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.execute(text("ANALYZE organisations, members, cards"))
    db.session.flush()
    return result
