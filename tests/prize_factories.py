"""Builders for prize tests (helper E's slice)."""
from __future__ import annotations

from benefits.auth import passwords
from benefits.auth.models import User
from benefits.extensions import db
from benefits.points import service as points
from benefits.prizes import service as prizes
from tests import factories


def pickup_point(admin, org, name="古井集团工会办公室"):
    return prizes.create_pickup_point(admin, admin.org, name=name, address="亳州市谯城区", office_org_id=org.id)


def prize(admin, point=None, *, stock=10, cost=100, **fields):
    data = {"name": fields.pop("name", "雨伞"), "cost_points": cost, **fields}
    if data.get("fulfilment") == "delivery":
        data["stock"] = stock
    else:
        data["allocations"] = [{"pickup_point_id": point.id, "stock": stock}]
    return prizes.create_prize(admin, admin.org, data)


_HASH: list[str] = []


def member_user(org, **kwargs) -> User:
    """Like factories.member_user, without the activation throttle (crowds of hundreds)."""
    if not _HASH:
        _HASH.append(passwords.make_hash(factories.PASSWORD))
    m = factories.member(org, **kwargs)
    user = User(username=m.id_number, display_name=m.name, role="member", password_hash=_HASH[0], member_id=m.id)
    db.session.add(user)
    db.session.flush()
    return user


def rich_member(org, points_amount=1000, **kwargs):
    user = member_user(org, **kwargs)
    if points_amount:
        points.credit(user.member.id, points_amount, source_key=f"test-grant:{user.member.id}", reason="test")
    return user


def world(points_amount=1000):
    """Province tree, a city admin, a second admin, a pickup office with its staff, a member with points."""
    tree = factories.org_tree()
    admin = factories.admin(tree["bozhou"], username="prize_admin")
    second = factories.admin(tree["bozhou"], username="second_admin")
    point = pickup_point(admin, tree["gujing"])
    staff = factories.pickup_staff(tree["gujing"], username="gujing_pickup")
    member = rich_member(tree["gujing"], points_amount, name="王小明")
    return {"tree": tree, "admin": admin, "second": second, "point": point, "staff": staff, "member": member}
