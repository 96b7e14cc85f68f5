"""Demo prize mall (DOMAIN.md: quiz points are exchanged for disinfectant and umbrellas, up to
fridges, TVs and washing machines), pickup points at union offices and a partner supermarket,
a pickup-staff account, and points for the demo member so the mall can be tried at once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from .. import clock
from ..auth import service as auth
from ..auth.models import User
from ..cli.demo import DEMO_MEMBER_ID, DEMO_PASSWORD
from ..extensions import db
from ..merchants.models import Store
from ..points import service as points
from . import service

DEMO_MEMBER_POINTS = 20_000
PRIZES = [
    # name, cost, {point key: stock}, extra fields (category: benefits/prizes/categories.py)
    ("消毒液（500ml）", 200, {"gujing": 300, "qiaocheng": 200}, {"per_day_limit": 2, "category": "household",
                                                              "description": "84 消毒液，家庭防疫常备。"}),
    ("雨伞", 800, {"gujing": 150, "store": 150}, {"per_month_limit": 2, "category": "household",
                                                "description": "工会定制折叠雨伞。"}),
    ("《劳动法》普及读本", 600, {"gujing": 120}, {"per_month_limit": 1, "category": "books_sports"}),
    ("加油卡（100 元）", 1_200, {"qiaocheng": 200}, {"per_month_limit": 1, "category": "gift_cards",
                                                 "description": "中石化加油卡，全省通用。"}),
    ("保温杯", 1_500, {"gujing": 100, "store": 100}, {"lifetime_limit": 2, "category": "household"}),
    ("羽毛球拍（一对）", 2_500, {"gujing": 60}, {"lifetime_limit": 1, "category": "books_sports"}),
    ("电饭煲", 6_000, {"qiaocheng": 50}, {"daily_quota": 10, "lifetime_limit": 1, "category": "appliances"}),
    ("蓝牙耳机", 8_000, {"qiaocheng": 30}, {"lifetime_limit": 1, "category": "digital"}),
    ("冰箱", 60_000, {"qiaocheng": 5}, {"high_value": True, "lifetime_limit": 1, "category": "appliances",
                                       "description": "双开门冰箱，到谯城区总工会领取。"}),
    ("电视", 50_000, {"qiaocheng": 5}, {"high_value": True, "lifetime_limit": 1, "category": "appliances"}),
    ("洗衣机", 40_000, {"qiaocheng": 5}, {"high_value": True, "lifetime_limit": 1, "category": "appliances"}),
]


def load(ctx) -> None:
    creator = db.session.scalar(select(User).where(User.username == "admin_bozhou"))
    scope = ctx.orgs["3416"]
    pickup_points = {
        "gujing": service.create_pickup_point(creator, scope, name="古井集团工会办公室", address="亳州市谯城区古井镇古井大道1号",
                                              office_org_id=ctx.orgs["341602001"].id),
        "qiaocheng": service.create_pickup_point(creator, scope, name="谯城区总工会", address="亳州市谯城区光明路66号",
                                                 office_org_id=ctx.orgs["341602"].id),
    }
    store = db.session.scalar(select(Store).where(Store.name == "人民中路店"))
    if store is not None:
        pickup_points["store"] = service.create_pickup_point(creator, scope, name="华联超市人民中路店",
                                                             address=store.address, store_id=store.id)
    for name, cost, stock, extra in PRIZES:
        allocations = [{"pickup_point_id": pickup_points[k].id, "stock": n} for k, n in stock.items()
                       if k in pickup_points]
        service.create_prize(creator, scope, {"name": name, "cost_points": cost, "allocations": allocations, **extra})
    service.create_prize(creator, scope, {"name": "砀山梨（一箱，邮寄到家）", "cost_points": 2_000, "fulfilment": "delivery",
                                          "stock": 100, "per_month_limit": 1, "category": "food"})
    service.create_prize(creator, scope, {"name": "端午节礼盒", "cost_points": 1_000, "category": "food",
                                          "allocations": [{"pickup_point_id": pickup_points["gujing"].id, "stock": 80}],
                                          "opens_at": clock.now() + timedelta(days=3)})
    auth.create_staff_user(None, username="pickup_gujing", display_name="古井集团工会领奖点", password=DEMO_PASSWORD,
                           role="pickup_staff", org=ctx.orgs["341602001"])
    ctx.credentials.append(("pickup staff 古井集团工会", "pickup_gujing", DEMO_PASSWORD))
    member_user = db.session.scalar(select(User).where(User.username == DEMO_MEMBER_ID))
    if member_user is not None:
        points.credit(member_user.member_id, DEMO_MEMBER_POINTS, source_key=f"demo-grant:{member_user.member_id}",
                      reason="演示积分")
    ctx.notes.append(f"prizes: {len(PRIZES) + 2} prizes at {len(pickup_points)} pickup points; demo member has "
                     f"{DEMO_MEMBER_POINTS} points; high-value prizes are approved by another admin "
                     "(e.g. admin_province); pickup staff: pickup_gujing, or cashier_hualian at its store")
