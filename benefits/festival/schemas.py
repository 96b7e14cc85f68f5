"""Input and output shapes of the festival API, and the plain views built from the models."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .. import clock
from ..inputs import Integer
from ..members.models import CATEGORIES
from ..pagination import PageArgs, page_schema
from ..pii import mask_phone
from ..prizes import schemas as prize_schemas
from ..prizes.rules import mask_name
from . import rules

STATUSES = ("redeemed", "handed_over", "cancelled", "expired")


# --- input ------------------------------------------------------------------------------------

class FestivalClaimArgs(Schema):
    # required, but checked by the service once it knows who asks (an anonymous call is a 401)
    gift_id = Integer(load_default=None, allow_none=True, strict=True,
                      metadata={"description": "required: one of the campaign's gifts"})
    delivery_address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    delivery_phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))


class FestivalGiftArgs(Schema):
    prize_id = Integer(required=True, strict=True)
    pickup_point_id = Integer(load_default=None, allow_none=True, strict=True,
                              metadata={"description": "required for a pickup item, null for a delivery item"})
    stock = Integer(required=True, strict=True, validate=validate.Range(min=0, max=rules.MAX_STOCK))


class FestivalCampaignCreateArgs(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    eligible_org_id = Integer(load_default=None, allow_none=True, strict=True,
                              metadata={"description": "an organisation in your subtree (default: your own)"})
    eligible_categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)), load_default=list,
                                      metadata={"description": "empty: every category"})
    opens_at = fields.AwareDateTime(required=True, default_timezone=clock.CHINA)
    closes_at = fields.AwareDateTime(required=True, default_timezone=clock.CHINA)
    pickup_until = fields.Date(required=True, metadata={"description": "the last day (in China) a pickup code is good for"})
    gifts = fields.List(fields.Nested(FestivalGiftArgs), required=True, validate=validate.Length(min=1, max=rules.MAX_GIFTS))


class FestivalRestockArgs(Schema):
    quantity = Integer(required=True, strict=True, validate=validate.Range(min=1, max=rules.MAX_STOCK))


class FestivalClaimQueryArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


# --- output -----------------------------------------------------------------------------------

class FestivalGiftOut(Schema):
    id = fields.Integer()
    prize_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    image_url = fields.String(metadata={"description": "the prize's picture, or its category's placeholder"})
    fulfilment = fields.String(metadata={"description": "pickup or delivery"})
    pickup_point = fields.Nested(prize_schemas.PickupPointOut, allow_none=True)
    stock = fields.Integer(metadata={"description": "left"})


class FestivalGiftAdminOut(FestivalGiftOut):
    allocated = fields.Integer()
    claimed = fields.Integer()


class FestivalClaimOut(Schema):
    """The member's own claim. `id` is its prize redemption's id: the pickup counter checks its
    code like any prize's."""
    id = fields.Integer()
    campaign_id = fields.Integer()
    campaign_name = fields.String()
    prize_id = fields.Integer()
    item_name = fields.String()
    fulfilment = fields.String()
    pickup_point = fields.Nested(prize_schemas.PickupPointOut, allow_none=True)
    pickup_code = fields.String(allow_none=True, metadata={
        "description": "shown only to the member, who shows it at the pickup point; null for delivery"})
    pickup_deadline = fields.DateTime(allow_none=True)
    delivery_address = fields.String(allow_none=True)
    delivery_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    status = fields.String(metadata={"description": "redeemed (to collect), handed_over, expired"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class FestivalCampaignOut(Schema):
    """A campaign as a member sees it."""
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    state = fields.String(metadata={"description": "not_open, open or closed"})
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    pickup_until = fields.Date()
    gifts = fields.List(fields.Nested(FestivalGiftOut))
    my_claim = fields.Nested(FestivalClaimOut, allow_none=True)


class FestivalCampaignAdminOut(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    state = fields.String()
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    pickup_until = fields.Date()
    eligible_org_id = fields.Integer()
    eligible_categories = fields.List(fields.String())
    gifts = fields.List(fields.Nested(FestivalGiftAdminOut))
    claimed = fields.Integer()
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


FestivalCampaignAdminPage = page_schema(FestivalCampaignAdminOut, "FestivalCampaignPage")


class FestivalCampaignPageArgs(PageArgs):
    pass


class FestivalAdminClaimOut(Schema):
    """A claim in the admin's scope: the member and the address masked, and no pickup code."""
    id = fields.Integer()
    member_id = fields.Integer()
    member_name = fields.String(metadata={"description": "masked"})
    item_name = fields.String()
    fulfilment = fields.String()
    pickup_point = fields.Nested(prize_schemas.PickupPointOut, allow_none=True)
    pickup_deadline = fields.DateTime(allow_none=True)
    delivery_address = fields.String(allow_none=True, metadata={"description": "masked"})
    delivery_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    status = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


FestivalAdminClaimPage = page_schema(FestivalAdminClaimOut, "FestivalClaimPage")


class FestivalGiftReportOut(Schema):
    gift_id = fields.Integer()
    item_name = fields.String()
    pickup_point = fields.String(allow_none=True)
    allocated = fields.Integer()
    claimed = fields.Integer()
    handed_over = fields.Integer()
    stock_left = fields.Integer()


class FestivalOrgReportOut(Schema):
    org_id = fields.Integer()
    org_code = fields.String()
    org_name = fields.String()
    eligible = fields.Integer()
    claimed = fields.Integer()
    unclaimed = fields.Integer()


class FestivalReportOut(Schema):
    campaign_id = fields.Integer()
    state = fields.String()
    eligible = fields.Integer(metadata={"description": "active members of the subtree and categories, now"})
    claimed = fields.Integer(metadata={"description": "of them, those who claimed"})
    unclaimed = fields.Integer()
    claims = fields.Integer(metadata={"description": "every claim, by whoever made it"})
    handed_over = fields.Integer()
    stock_left = fields.Integer()
    gifts = fields.List(fields.Nested(FestivalGiftReportOut))
    organisations = fields.List(fields.Nested(FestivalOrgReportOut))


# --- plain views built from models --------------------------------------------------------------

def gift_view(gift, claimed: int | None = None) -> dict:
    prize = gift.prize
    return {"id": gift.id, "prize_id": prize.id, "name": prize.name, "description": prize.description,
            "image_url": prize_schemas.image_url(prize), "fulfilment": gift.fulfilment,
            "pickup_point": gift.pickup_point, "stock": gift.stock, "allocated": gift.allocated,
            "claimed": claimed}


def claim_view(r, campaign) -> dict:
    """For the member it belongs to: with the pickup code."""
    return {"id": r.id, "campaign_id": campaign.id, "campaign_name": campaign.name, "prize_id": r.prize_id,
            "item_name": r.prize.name, "fulfilment": r.fulfilment, "pickup_point": r.pickup_point,
            "pickup_code": r.pickup_code, "pickup_deadline": r.pickup_deadline,
            "delivery_address": r.delivery_address,
            "delivery_phone": mask_phone(r.delivery_phone) if r.delivery_phone else None,
            "status": r.status, "created_at": r.created_at, "closed_at": r.closed_at}


def campaign_view(campaign, my_claim=None) -> dict:
    return {"id": campaign.id, "name": campaign.name, "description": campaign.description,
            "state": rules.campaign_state(campaign), "opens_at": campaign.opens_at, "closes_at": campaign.closes_at,
            "pickup_until": campaign.pickup_until, "gifts": [gift_view(g) for g in campaign.gifts],
            "my_claim": claim_view(my_claim, campaign) if my_claim is not None else None}


def admin_campaign_view(campaign, claimed_by_gift: dict[int, int]) -> dict:
    return {"id": campaign.id, "org_id": campaign.org_id, "name": campaign.name,
            "description": campaign.description, "state": rules.campaign_state(campaign),
            "opens_at": campaign.opens_at, "closes_at": campaign.closes_at, "pickup_until": campaign.pickup_until,
            "eligible_org_id": campaign.eligible_org_id, "eligible_categories": campaign.categories,
            "gifts": [gift_view(g, claimed_by_gift.get(g.id, 0)) for g in campaign.gifts],
            "claimed": sum(claimed_by_gift.values()), "created_by_user_id": campaign.created_by_user_id,
            "created_at": campaign.created_at}


def admin_claim_view(r) -> dict:
    return {"id": r.id, "member_id": r.member_id, "member_name": mask_name(r.member.name), "item_name": r.prize.name,
            "fulfilment": r.fulfilment, "pickup_point": r.pickup_point, "pickup_deadline": r.pickup_deadline,
            "delivery_address": rules.mask_address(r.delivery_address) if r.delivery_address else None,
            "delivery_phone": mask_phone(r.delivery_phone) if r.delivery_phone else None,
            "status": r.status, "created_at": r.created_at, "closed_at": r.closed_at}
