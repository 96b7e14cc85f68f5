"""Builders for festival gift tests: catalogue items, campaigns and a small world."""
from __future__ import annotations

from datetime import timedelta

from benefits import clock
from benefits.festival import service as festival
from benefits.prizes import service as prizes
from tests import factories
from tests.prize_factories import member_user, pickup_point


def item(admin, point=None, *, name="大米油礼包"):
    """A catalogue item kept off the mall (unlisted): a pickup item when given a point, else a
    delivery one. Its own stock is 0: a campaign brings its own."""
    data = {"name": name, "cost_points": 1, "is_listed": False}
    if point is None:
        data.update(fulfilment="delivery", stock=0)
    else:
        data["allocations"] = [{"pickup_point_id": point.id, "stock": 0}]
    return prizes.create_prize(admin, admin.org, data)


def campaign(admin, gifts, *, name="春节慰问品", opens_at=None, closes_at=None, pickup_until=None,
             eligible_org=None, categories=()):
    """`gifts`: (item, pickup point or None, stock) each. Open from an hour ago for a week by default."""
    at = clock.now()
    opens_at = opens_at or at - timedelta(hours=1)
    closes_at = closes_at or at + timedelta(days=7)
    data = {"name": name, "opens_at": opens_at, "closes_at": closes_at,
            "pickup_until": pickup_until or clock.business_day(closes_at) + timedelta(days=14),
            "eligible_org_id": eligible_org.id if eligible_org else None, "eligible_categories": list(categories),
            "gifts": [{"prize_id": p.id, "pickup_point_id": pt.id if pt else None, "stock": n} for p, pt, n in gifts]}
    return festival.create_campaign(admin, admin.org, data)


def world():
    """Province tree; Bozhou's admin; a pickup office at 古井集团 with its staff; a pickup item and
    a delivery item; a member of 古井集团 and one of Maanshan."""
    tree = factories.org_tree()
    admin = factories.admin(tree["bozhou"], username="festival_admin")
    point = pickup_point(admin, tree["gujing"])
    staff = factories.pickup_staff(tree["gujing"], username="festival_pickup")
    return {"tree": tree, "admin": admin, "point": point, "staff": staff,
            "rice": item(admin, point, name="大米油礼包"), "pears": item(admin, name="砀山梨（邮寄）"),
            "member": member_user(tree["gujing"], name="王小明"),
            "outsider": member_user(tree["magang"], name="李强")}
