"""Demo vouchers from the report (DOMAIN.md): a 500-yuan 扶贫暖心券 for every hardship member of
Bozhou, spent at its supermarkets, which add 10 % on top (550.00 to spend); and a 100-yuan
工会消费券 for the members of 古井集团工会 (the demo member's union), usable at every Bozhou
partner merchant. Runs after the merchants' demo."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from .. import clock
from ..auth.models import User
from ..extensions import db
from . import service


def load(ctx) -> None:
    bozhou = ctx.orgs["3416"]
    admin = db.session.scalar(select(User).where(User.username == "admin_bozhou"))
    today = clock.business_day()
    start, end = today.replace(day=1), date(today.year + 1, 3, 31)
    warm = service.create_programme(admin, bozhou, {
        "name": "扶贫暖心券", "face_fen": 50000, "topup_bp": 1000, "split": {"union": 100, "bank": 0},
        "scope": "categories", "categories": ["supermarket"], "valid_from": start, "valid_until": end,
        "spend_mode": "balance", "combinable": True, "budget_fen": 478 * 50000})
    hardship = service.issue(admin, warm, service.Target(member_categories=("hardship",)))
    spend = service.create_programme(admin, bozhou, {
        "name": "工会消费券", "face_fen": 10000, "split": {"union": 50, "bank": 50}, "scope": "programme",
        "valid_from": start, "valid_until": end, "spend_mode": "balance", "combinable": True,
        "min_spend_fen": 5000, "budget_fen": 2000 * 10000})
    gujing = service.issue(admin, spend, service.Target(org=ctx.orgs["341602001"]))
    ctx.notes.append(f"vouchers: 扶贫暖心券 ×{hardship.issued}, 工会消费券 ×{gujing.issued}")
