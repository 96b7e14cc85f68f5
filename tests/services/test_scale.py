"""The scale generator at a small size: tree shape, valid unique IDs, unique cards, idempotence."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from benefits.cli import scale
from benefits.extensions import db
from benefits.members import service as members
from benefits.members.models import Card, Member
from benefits.orgs.models import Organisation
from benefits.pii import is_valid_id_number
from tests import factories

SIZE = scale.ScaleSize(organisations=50, members=500, cards=40, cities=4, counties=10)


def test_small_scale_generates_a_tree_members_and_cards(app):
    tree = factories.org_tree()  # province, 2 cities, 2 counties, 2 grassroots
    kept = factories.member(tree["gujing"])
    seen: Counter = Counter()

    def progress(desc, total):
        return lambda n: seen.update({desc: n})

    result = scale.load_scale(SIZE, progress=progress)
    db.session.commit()
    assert (result.organisations, result.members, result.cards) == (43, 499, 39)
    assert seen == {"Organisations": 43, "Members": 499, "Cards": 39}

    orgs = {o.id: o for o in db.session.scalars(select(Organisation))}
    levels = Counter(o.level for o in orgs.values())
    assert levels == {"province": 1, "city": 4, "county": 10, "grassroots": 35}
    parent_level = {"city": "province", "county": "city", "grassroots": "county"}
    for org in orgs.values():
        if org.level == "province":
            assert org.parent_id is None and org.path == f"/{org.id}/"
        else:
            parent = orgs[org.parent_id]
            assert parent.level == parent_level[org.level]
            assert org.path == f"{parent.path}{org.id}/" and org.code.startswith(parent.code)
    assert len({o.code for o in orgs.values()}) == 50

    people = db.session.scalars(select(Member)).all()
    assert len(people) == 500
    assert all(is_valid_id_number(m.id_number) for m in people)
    assert len({m.id_number for m in people}) == 500
    assert all(orgs[m.org_id].level == "grassroots" for m in people)
    assert {m.category for m in people} <= {"ordinary", "hardship", "retiree", "model_worker"}
    assert all(m.phone and len(m.phone) == 11 for m in people)

    cards = db.session.scalars(select(Card)).all()
    assert len(cards) == 40 and len({c.number for c in cards}) == 40
    assert all(members.luhn_digit(c.number[:-1]) == c.number[-1] for c in cards)
    holders = Counter(c.member_id for c in cards)
    assert max(holders.values()) == 1
    assert all(db.session.get(Member, c.member_id).status == "active" for c in cards)
    assert any(c.status == "active" for c in cards)

    again = scale.load_scale(SIZE)
    assert not again.added_anything
    assert db.session.scalar(select(func.count(Member.id))) == 500

    # ids handed out explicitly must not collide with the next ordinary insert (sequences moved on)
    newcomer = factories.member(tree["magang"])
    assert newcomer.id > max(m.id for m in people) and newcomer.current_card.id > max(c.id for c in cards)
    assert db.session.get(Member, kept.id).current_card is not None
