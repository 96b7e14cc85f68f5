"""Member pages: my vouchers (我的券) with each one's uses. (Their notices are listed at 消息: benefits/notices.)"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import clock
from ..auth.access import member_required
from ..extensions import db
from ..members.models import Member
from ..merchants.models import Merchant, Store
from ..transactions.models import CardTransaction
from . import service
from .blueprint import bp
from .models import Voucher, VoucherUse

STATE_NAMES = {"usable": _l("可用"), "not_yet": _l("未到使用期"), "spent": _l("已用完"), "expired": _l("已过期"),
               "voided": _l("已作废")}


def voucher_state(v: Voucher, today: date) -> str:
    """What the member sees: usable, not yet valid, spent, expired or voided. An active voucher
    past its last day is expired before the nightly job marks it so."""
    if v.status in ("spent", "expired", "voided"):
        return v.status
    if v.valid_until < today:
        return "expired"
    if v.balance_fen <= 0:
        return "spent"
    if v.valid_from > today:
        return "not_yet"
    return "usable"


@dataclass(frozen=True)
class Wallet:
    """The member home's entry: how many vouchers can be spent now and their balance."""
    usable: int
    balance_fen: int


def wallet(member: Member) -> Wallet:
    today = clock.business_day()
    usable = [v for v in service.member_vouchers(member) if voucher_state(v, today) == "usable"]
    return Wallet(len(usable), sum(v.balance_fen for v in usable))


@dataclass(frozen=True)
class Shown:
    """A voucher as its card on the page shows it."""
    voucher: Voucher
    state: str
    scope: str

    @property
    def topup_fen(self) -> int:
        return self.voucher.value_fen - self.voucher.face_fen


def _shown(vouchers: list[Voucher]) -> list[Shown]:
    today = clock.business_day()
    scopes: dict[int, str] = {}
    out = []
    for v in vouchers:
        if v.programme_id not in scopes:
            scopes[v.programme_id] = service.describe_scope(v.programme)
        out.append(Shown(v, voucher_state(v, today), scopes[v.programme_id]))
    # usable first, then not yet valid, then the closed ones (the service's order within each)
    rank = {"usable": 0, "not_yet": 1}
    return sorted(out, key=lambda s: rank.get(s.state, 2))


@dataclass(frozen=True)
class UseLine:
    use: VoucherUse
    merchant: str
    store: str


def _use_lines(uses: list[VoucherUse]) -> list[UseLine]:
    """Each use with where it was spent (the card transaction's merchant and store)."""
    keys = [u.usage_key for u in uses]
    where = {}
    if keys:
        where = {key: (merchant, store) for key, merchant, store in db.session.execute(
            select(CardTransaction.usage_key, Merchant.name, Store.name)
            .join(Merchant, Merchant.id == CardTransaction.merchant_id)
            .join(Store, Store.id == CardTransaction.store_id)
            .where(CardTransaction.usage_key.in_(keys)))}
    missing = {u.merchant_id for u in uses if u.usage_key not in where}
    names = {}
    if missing:
        names = dict(db.session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(missing))).all())
    return [UseLine(u, *where.get(u.usage_key, (names.get(u.merchant_id, ""), ""))) for u in uses]


@bp.get("/me/vouchers")
@member_required
def mine():
    return render_template("vouchers/mine.html", items=_shown(service.member_vouchers(current_user.member)),
                           state_names=STATE_NAMES)


@bp.get("/me/vouchers/<int:voucher_id>")
@member_required
def detail(voucher_id: int):
    voucher = service.get_member_voucher(current_user.member, voucher_id)
    return render_template("vouchers/detail.html", item=_shown([voucher])[0], state_names=STATE_NAMES,
                           uses=_use_lines(service.voucher_uses(voucher)))
