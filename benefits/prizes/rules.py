"""The prize mall's rules as pure functions over loaded objects and plain values: bounds, the
refusal errors, a prize's state, who may redeem what, which per-period limits a redemption
counts against. No database, no Redis: the service reads, asks these, then writes."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import clock
from ..errors import Conflict, Forbidden, LimitReached, NotFound, ValidationError
from ..pii import normalise_phone

MAX_QUANTITY = 20
MAX_STOCK = 1_000_000
MAX_COST = 100_000_000
MAX_ID = 2**31 - 1  # id columns are PostgreSQL `integer`s


class PrizeNotFound(NotFound):
    code = "prize_not_found"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"


class SoldOut(LimitReached):
    code = "sold_out"


class PointSoldOut(LimitReached):
    code = "pickup_point_sold_out"


class QuotaReached(LimitReached):
    code = "daily_quota_reached"


class MemberLimitReached(LimitReached):
    code = "member_limit_reached"


class PrizeNotOpen(Conflict):
    code = "prize_not_open"


class PrizeClosed(Conflict):
    code = "prize_closed"


class NotEligible(Forbidden):
    code = "not_eligible"


class NotCancellable(Conflict):
    code = "not_cancellable"


class PickupRefused(Conflict):
    code = "pickup_refused"


_LIMIT_REACHED = {"day": _l("已达到每日兑换上限。"), "month": _l("已达到每月兑换上限。"),
                  "life": _l("已达到累计兑换上限。")}


def refusal_error(outcome: str) -> Exception:
    """The same error for a refusal, whether the Redis gate or SQL found it."""
    if outcome == "sold_out":
        return SoldOut(_("奖品已兑完。"))
    if outcome == "point_sold_out":
        return PointSoldOut(_("该领取点已无库存，请选择其他领取点。"))
    if outcome == "quota":
        return QuotaReached(_("今日兑换名额已满，请明天再来。"))
    if outcome == "not_open":
        return PrizeNotOpen(_("兑换尚未开始。"))
    if outcome == "closed":
        return PrizeClosed(_("兑换已结束。"))
    period = outcome.removeprefix("limit_")
    return MemberLimitReached(_LIMIT_REACHED[period], details={"period": period})


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def prize_state(prize, at: datetime | None = None) -> str:
    at = at or clock.now()
    if prize.opens_at and clock.as_utc(prize.opens_at) > at:
        return "not_open"
    if prize.closes_at and clock.as_utc(prize.closes_at) <= at:
        return "closed"
    if prize.stock <= 0:
        return "sold_out"
    return "available"


def is_offered_to(prize, member) -> bool:
    """Listed, and the member's organisation lies in the prize's subtree: the member's path lists
    its ancestors' ids ("/1/7/93/"). Anything else is a prize the member cannot see (404)."""
    return prize.is_listed and f"/{prize.eligible_org_id}/" in member.org.path


def check_quantity(quantity) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(_("兑换数量须为 1 到 %(n)s 的整数。", n=MAX_QUANTITY),
                              details={"fields": {"quantity": _("1 到 %(n)s", n=MAX_QUANTITY)}})


def check_can_redeem(member, prize, at: datetime) -> None:
    """An active member of an eligible category, while the prize is open."""
    if member.status != "active":
        raise NotEligible(_("只有在册会员可以兑换。"))
    if prize.categories and member.category not in prize.categories:
        raise NotEligible(_("此奖品不面向您所在的会员类别。"))
    state = prize_state(prize, at)
    if state in ("not_open", "closed"):
        raise refusal_error(state)


def pickup_point_for(prize, pickup_point_id: int | None) -> int | None:
    """The pickup point a redemption takes its stock from: the one asked for, or the prize's only
    one; None for a delivery prize."""
    if prize.fulfilment != "pickup":
        return None
    ids = [row.pickup_point_id for row in prize.stocks]
    if pickup_point_id is None and len(ids) == 1:
        return ids[0]
    if pickup_point_id not in ids:
        raise ValidationError(_("请选择这个奖品的一个领取点。"),
                              details={"fields": {"pickup_point_id": _("须为其中之一：%(ids)s", ids=", ".join(map(str, ids)))}})
    return pickup_point_id


def delivery_contact(prize, address: str | None, phone: str | None) -> tuple[str | None, str | None]:
    """(address, normalised phone) a delivery prize is sent to; (None, None) for a pickup prize."""
    if prize.fulfilment != "delivery":
        return None, None
    address = (address or "").strip()
    if not 5 <= len(address) <= 255:
        raise ValidationError(_("请填写收货地址。"),
                              details={"fields": {"delivery_address": _("5 到 255 个字")}})
    try:
        return address, normalise_phone(phone)
    except ValueError as exc:
        raise ValidationError(str(exc), details={"fields": {"delivery_phone": str(exc)}}) from None


def limits(prize, member_id: int, day: date) -> list[tuple[str, str, int]]:
    """The counters one redemption counts against: (subject, period, limit) for the daily quota
    ('all') and the member's day / month / lifetime limits, those the prize sets."""
    subject = f"m{member_id}"
    rows = [("all", f"d:{day}", prize.daily_quota), (subject, f"d:{day}", prize.per_day_limit),
            (subject, f"m:{day.strftime('%Y-%m')}", prize.per_month_limit), (subject, "life", prize.lifetime_limit)]
    return [r for r in rows if r[2] is not None]


_LIMIT_OUTCOME = {"d": "limit_day", "m": "limit_month", "l": "limit_life"}


def counter_outcome(subject: str, period: str) -> str:
    """The refusal a full counter gives (the gate's names, see `refusal_error`)."""
    return "quota" if subject == "all" else _LIMIT_OUTCOME[period[0]]
