"""Festival gift rules as pure functions over loaded objects and plain values: bounds, the
refusal errors, a campaign's state, who may claim, the pickup deadline, how an address is shown
to admins. No database, no Redis: the service reads, asks these, then writes."""
from __future__ import annotations

from datetime import datetime

from .. import clock
from ..errors import Conflict, Forbidden, LimitReached, NotFound

MAX_STOCK = 1_000_000
MAX_GIFTS = 50           # choices in one campaign: more is a typing mistake
MAX_PICKUP_DAYS = 366    # pickup may last at most a year after the campaign closes


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class ClaimNotFound(NotFound):
    code = "claim_not_found"


class NotEligible(Forbidden):
    code = "not_eligible"


class CampaignNotOpen(Conflict):
    code = "campaign_not_open"


class CampaignClosed(Conflict):
    code = "campaign_closed"


class AlreadyClaimed(Conflict):
    code = "already_claimed"


class ClaimInProgress(Conflict):
    code = "claim_in_progress"


class GiftSoldOut(LimitReached):
    code = "sold_out"


def refusal_error(outcome: str) -> Exception:
    """The same error for a refusal, whether the Redis gate or SQL found it."""
    if outcome == "not_open":
        return CampaignNotOpen("节日福利尚未开始领取。")
    if outcome == "closed":
        return CampaignClosed("节日福利领取已结束。")
    if outcome == "claimed":
        return AlreadyClaimed("您已领取过本次节日福利，每人限领一份。")
    return GiftSoldOut("这份礼品已领完，请选择其他礼品或领取点。")


def campaign_state(campaign, at: datetime | None = None) -> str:
    """not_open, open or closed."""
    at = at or clock.now()
    if clock.as_utc(campaign.opens_at) > at:
        return "not_open"
    if clock.as_utc(campaign.closes_at) <= at:
        return "closed"
    return "open"


def is_offered_to(campaign, member) -> bool:
    """The member's organisation lies in the campaign's subtree (its path lists its ancestors'
    ids, "/1/7/93/"). Anything else is a campaign the member cannot see (404)."""
    return f"/{campaign.eligible_org_id}/" in member.org.path


def eligibility_refusal(member, campaign) -> str | None:
    """Why a member of the campaign's subtree may not claim (None: they may): only active
    members, of the campaign's categories when it names any."""
    if member.status != "active":
        return "只有在册会员可以领取节日福利。"
    if campaign.categories and member.category not in campaign.categories:
        return "本次节日福利不面向您所在的会员类别。"
    return None


def check_can_claim(member, campaign, at: datetime) -> None:
    """An eligible member, while the campaign is open."""
    refusal = eligibility_refusal(member, campaign)
    if refusal:
        raise NotEligible(refusal)
    state = campaign_state(campaign, at)
    if state != "open":
        raise refusal_error(state)


def pickup_deadline(campaign) -> datetime:
    """A pickup code is good until the end of the campaign's last pickup day, in China."""
    return clock.china_day_bounds_utc(campaign.pickup_until)[1]


def mask_address(address: str | None) -> str:
    """What admin lists show of a delivery address: the first six characters (the province and
    city, as addresses are written in China), the rest starred."""
    address = address or ""
    if len(address) <= 6:
        return "*" * len(address)
    return address[:6] + "****"
