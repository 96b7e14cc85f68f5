"""Demo promotions from the report (DOMAIN.md): everyday 9折 / 8.5折 and special periods
满200减40 (fuel, weekends), 满100减30 (supermarkets), 满100减50 (restaurants), funded by the
union, the bank and the merchant. Runs after the merchants' demo."""
from __future__ import annotations

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..merchants.models import Merchant
from . import rules as service

SPLIT = {"union": 50, "bank": 30, "merchant": 20}
RULES = [
    {"name": "超市会员日常9折", "kind": "percent", "pay_bp": 9000, "scope": "categories",
     "categories": ["supermarket"], "cap_fen": 5000, "budget_fen": 20_000_000, "split": SPLIT},
    {"name": "餐饮会员日常8.5折", "kind": "percent", "pay_bp": 8500, "scope": "categories",
     "categories": ["dining"], "cap_fen": 8000, "budget_fen": 10_000_000,
     "split": {"union": 40, "bank": 30, "merchant": 30}},
    {"name": "周末加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
     "scope": "categories", "categories": ["fuel"], "days_of_week": [6, 7], "per_member": {"day": 1},
     "budget_fen": 30_000_000, "split": SPLIT},
    {"name": "超市周三满100减30", "kind": "threshold", "threshold_fen": 10000, "off_fen": 3000,
     "scope": "categories", "categories": ["supermarket"], "days_of_week": [3], "per_member": {"week": 1},
     "budget_fen": 5_000_000, "split": SPLIT},
    {"name": "餐饮周五晚市满100减50", "kind": "threshold", "threshold_fen": 10000, "off_fen": 5000,
     "scope": "categories", "categories": ["dining"], "days_of_week": [5], "hour_from": 17, "hour_to": 21,
     "per_member": {"day": 1}, "global_limit": 2000, "budget_fen": 5_000_000, "split": SPLIT},
]


def load(ctx) -> None:
    categories = set(db.session.scalars(select(Merchant.category).distinct()))
    if not categories:
        ctx.notes.append("promotions: no merchants in the demo data, so no discount rules were created")
        return
    union = ctx.orgs["3416"]
    admin = db.session.scalar(select(User).where(User.username == "admin_bozhou"))
    made = []
    for data in RULES:
        if set(data["categories"]) & categories:
            made.append(service.create_rule(admin, union, dict(data)).name)
    ctx.notes.append("promotions: " + "、".join(made))
