"""Demo festival gifts (DOMAIN.md: Maanshan handed out festival benefits online, 5,389
person-times): a Spring Festival campaign of 亳州市总工会 for every member of Bozhou, a New Year
goods pack at 古井集团's union office or at 谯城区总工会 (the demo member's pickup points, where
pickup_gujing hands it over), or tea sent home. Open from today for a month. Runs after the
prizes' demo, whose pickup points it uses."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from .. import clock
from ..auth.models import User
from ..extensions import db
from ..prizes import service as prizes
from ..prizes.models import PickupPoint
from . import service


def load(ctx) -> None:
    admin = db.session.scalar(select(User).where(User.username == "admin_bozhou"))
    bozhou = ctx.orgs["3416"]
    points = {p.name: p for p in db.session.scalars(select(PickupPoint).where(PickupPoint.owner_org_id == bozhou.id))}
    gujing, qiaocheng = points["古井集团工会办公室"], points["谯城区总工会"]
    # catalogue items kept off the mall: the campaign brings its own stock
    pack = prizes.create_prize(admin, bozhou, {
        "name": "春节年货礼包（米、油、坚果）", "cost_points": 1, "is_listed": False, "category": "food",
        "description": "10 斤大米、5 升食用油、坚果礼盒。",
        "allocations": [{"pickup_point_id": gujing.id, "stock": 0}]})
    tea = prizes.create_prize(admin, bozhou, {
        "name": "黄山毛峰茶叶礼盒（邮寄到家）", "cost_points": 1, "is_listed": False, "fulfilment": "delivery",
        "category": "food",
        "stock": 0})
    today = clock.business_day()
    opens = datetime(today.year, today.month, today.day, tzinfo=clock.CHINA)
    campaign = service.create_campaign(admin, bozhou, {
        "name": "春节慰问品", "description": "亳州市总工会给全市会员的春节慰问，每人一份，任选其一。",
        "opens_at": opens, "closes_at": opens + timedelta(days=30),
        "pickup_until": today + timedelta(days=45), "eligible_categories": [],
        "gifts": [{"prize_id": pack.id, "pickup_point_id": gujing.id, "stock": 150},
                  {"prize_id": pack.id, "pickup_point_id": qiaocheng.id, "stock": 100},
                  {"prize_id": tea.id, "pickup_point_id": None, "stock": 50}]})
    ctx.notes.append(f"festival: {campaign.name} for Bozhou's members (300 gifts at 2 pickup points and by post); "
                     "members open 节日福利 on their home page, pickup_gujing hands the pack over")
