"""Input and output shapes of the prize API."""
from __future__ import annotations

from datetime import datetime

from flask import g, url_for
from marshmallow import Schema, ValidationError, fields, validate

from .. import clock
from ..inputs import Integer
from ..members.models import CATEGORIES
from ..pagination import PageArgs, page_schema
from ..pii import mask_phone
from . import categories, rules
from .models import Prize, Redemption

STATUSES = ("redeemed", "handed_over", "cancelled", "expired")


class RedeemArgs(Schema):
    quantity = Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=rules.MAX_QUANTITY))
    pickup_point_id = Integer(load_default=None, allow_none=True, strict=True)
    delivery_address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    delivery_phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))


class MallArgs(PageArgs):
    pass


class RedemptionQueryArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class AdminRedemptionArgs(RedemptionQueryArgs):
    prize_id = Integer(load_default=None, validate=validate.Range(min=1, max=rules.MAX_ID))
    approval = fields.String(load_default=None, validate=validate.OneOf(("pending",)))


class OneCategory(validate.OneOf):
    """One of the prize categories: OneOf, so the OpenAPI document lists the allowed codes, with
    the message that names them in the reader's language."""

    def __init__(self):
        super().__init__(categories.CATEGORIES)

    def __call__(self, value):
        if value not in self.choices:
            raise ValidationError(categories.invalid_message())
        return value


_CATEGORY_HELP = "品类 (category): " + ", ".join(f"{code} {name}" for code, name in categories.NAMES.items())


class PickupPointOut(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    kind = fields.String()
    office_org_id = fields.Integer(allow_none=True)
    store_id = fields.Integer(allow_none=True)


class PickupPointArgs(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    address = fields.String(load_default="", validate=validate.Length(max=255))
    office_org_id = Integer(load_default=None, allow_none=True, strict=True)
    store_id = Integer(load_default=None, allow_none=True, strict=True)


class PointStockOut(Schema):
    pickup_point_id = fields.Integer()
    name = fields.String()
    address = fields.String()
    stock = fields.Integer()


class PrizeOut(Schema):
    """What a member sees in the mall."""
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    category = fields.String(validate=OneCategory(), metadata={"description": _CATEGORY_HELP})
    image_url = fields.String(metadata={
        "description": "the prize's picture: the uploaded one, else its category's placeholder (SVG)"})
    cost_points = fields.Integer()
    stock = fields.Integer()
    state = fields.String(metadata={"description": "available, sold_out, not_open or closed"})
    affordable = fields.Boolean()
    fulfilment = fields.String()
    high_value = fields.Boolean()
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    per_day_limit = fields.Integer(allow_none=True)
    per_month_limit = fields.Integer(allow_none=True)
    lifetime_limit = fields.Integer(allow_none=True)
    pickup_points = fields.List(fields.Nested(PointStockOut))


class MallOut(page_schema(PrizeOut, "PrizePage")):
    points_balance = fields.Integer()


class PrizeAdminOut(PrizeOut):
    org_id = fields.Integer()
    daily_quota = fields.Integer(allow_none=True)
    eligible_org_id = fields.Integer()
    eligible_categories = fields.List(fields.String())
    pickup_days = fields.Integer()
    is_listed = fields.Boolean()
    created_by_user_id = fields.Integer(allow_none=True)


PrizeAdminPage = page_schema(PrizeAdminOut, "PrizeAdminPage")


class _RedemptionFields(Schema):
    """What a redemption says to anyone allowed to see it. The pickup code is not here: it is the
    member's to show at the counter (RedemptionOut), and the counter checks it (PickupArgs)."""
    id = fields.Integer()
    prize_id = fields.Integer()
    prize_name = fields.String()
    quantity = fields.Integer()
    points_spent = fields.Integer()
    status = fields.String()
    approval = fields.String()
    fulfilment = fields.String()
    pickup_point = fields.Nested(PickupPointOut, allow_none=True)
    pickup_deadline = fields.DateTime(allow_none=True)
    delivery_address = fields.String(allow_none=True)
    delivery_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class RedemptionOut(_RedemptionFields):
    """The member's own redemption."""
    pickup_code = fields.String(allow_none=True, metadata={
        "description": "shown only to the member, who shows it at the pickup point; null for delivery"})
    points_balance = fields.Integer(allow_none=True, metadata={"description": "the member's balance after this change"})


RedemptionPage = page_schema(RedemptionOut, "RedemptionPage")


class AdminRedemptionOut(_RedemptionFields):
    """A redemption in the admin's scope: no pickup code (an admin neither needs it nor hands
    prizes over) and no points balance."""
    member_id = fields.Integer()
    member_name = fields.String(metadata={"description": "masked"})


AdminRedemptionPage = page_schema(AdminRedemptionOut, "AdminRedemptionPage")


class AllocationArgs(Schema):
    pickup_point_id = Integer(required=True, strict=True)
    stock = Integer(required=True, strict=True, validate=validate.Range(min=0, max=rules.MAX_STOCK))


class PrizeUpdateArgs(Schema):
    name = fields.String(validate=validate.Length(min=1, max=128))
    description = fields.String(validate=validate.Length(max=4000))
    category = fields.String(validate=OneCategory(), metadata={"description": _CATEGORY_HELP})
    cost_points = Integer(strict=True, validate=validate.Range(min=1, max=rules.MAX_COST))
    per_day_limit = Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    per_month_limit = Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    lifetime_limit = Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    daily_quota = Integer(strict=True, allow_none=True, validate=validate.Range(min=1))
    opens_at = fields.AwareDateTime(allow_none=True, default_timezone=clock.CHINA)
    closes_at = fields.AwareDateTime(allow_none=True, default_timezone=clock.CHINA)
    eligible_org_id = Integer(strict=True)
    eligible_categories = fields.List(fields.String(validate=validate.OneOf(CATEGORIES)))
    high_value = fields.Boolean()
    pickup_days = Integer(strict=True, validate=validate.Range(min=1, max=365))
    is_listed = fields.Boolean()


class PrizeCreateArgs(PrizeUpdateArgs):
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    cost_points = Integer(required=True, strict=True, validate=validate.Range(min=1, max=rules.MAX_COST))
    fulfilment = fields.String(load_default="pickup", validate=validate.OneOf(("pickup", "delivery")))
    stock = Integer(strict=True, validate=validate.Range(min=0, max=rules.MAX_STOCK))
    allocations = fields.List(fields.Nested(AllocationArgs))


class RestockArgs(Schema):
    quantity = Integer(required=True, strict=True, validate=validate.Range(min=1, max=rules.MAX_STOCK))
    pickup_point_id = Integer(load_default=None, allow_none=True, strict=True)
    note = fields.String(load_default="", validate=validate.Length(max=255))


class PickupArgs(Schema):
    pickup_point_id = Integer(required=True, strict=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class PickupOut(Schema):
    redemption_id = fields.Integer()
    prize_name = fields.String()
    quantity = fields.Integer()
    member_name = fields.String(metadata={"description": "masked"})
    status = fields.String()
    approval = fields.String()
    pickup_deadline = fields.DateTime()
    pickup_point_id = fields.Integer()


class ReportOut(Schema):
    prize_id = fields.Integer()
    redeemed = fields.Integer()
    awaiting = fields.Integer()
    handed_over = fields.Integer()
    cancelled = fields.Integer()
    expired = fields.Integer()
    stock_left = fields.Integer()
    stock_by_point = fields.List(fields.Nested(PointStockOut))


class StockEventOut(Schema):
    at = fields.DateTime()
    delta = fields.Integer()
    reason = fields.String()
    note = fields.String()
    pickup_point_id = fields.Integer(allow_none=True)
    redemption_id = fields.Integer(allow_none=True)


# --- plain views built from models (dumped through the schemas above) --------------------------

def image_url(prize: Prize) -> str:
    """The picture every prize shows, on the pages and in the API: the uploaded one, else the
    placeholder of its category."""
    if prize.image_id:
        return url_for("prizes.image", image_id=prize.image_id)
    # a request builds each category's URL once (a mall page lists fifty prizes)
    urls = g.setdefault("prize_placeholder_urls", {})
    if prize.category not in urls:
        urls[prize.category] = url_for("static", filename=categories.placeholder(prize.category))
    return urls[prize.category]


def mall_item(row, pickup_points: list[dict], balance: int, at: datetime) -> dict:
    """A prize as the mall shows it (`PrizeOut`'s fields), from a row of the mall's read
    (`service.mall_page`): the page reads it as it is, the API sends it through `mall_json`."""
    return {"id": row.id, "name": row.name, "description": row.description, "category": row.category,
            "image_url": image_url(row), "cost_points": row.cost_points, "stock": row.stock,
            "state": rules.prize_state(row, at), "affordable": balance >= row.cost_points,
            "fulfilment": row.fulfilment, "high_value": row.high_value, "opens_at": row.opens_at,
            "closes_at": row.closes_at, "per_day_limit": row.per_day_limit, "per_month_limit": row.per_month_limit,
            "lifetime_limit": row.lifetime_limit, "pickup_points": pickup_points}


def mall_json(items: list[dict], page: int, per_page: int, total: int, balance: int) -> dict:
    """`MallOut().dump(…)` of a mall page, made directly: the items are plain values already
    but for their two times, which marshmallow writes as ISO 8601 (tests/api/test_prizes_api.py
    proves the two give the same answer). Dumping 50 nested prizes through the schema was most of
    the mall's CPU."""
    return {"items": [{**item, "opens_at": _iso(item["opens_at"]), "closes_at": _iso(item["closes_at"])}
                      for item in items],
            "page": page, "per_page": per_page, "total": total, "points_balance": balance}


def _iso(value):
    return value.isoformat() if value is not None else None


def prize_view(prize: Prize, balance: int | None = None) -> dict:
    return {**{name: getattr(prize, name) for name in (
        "id", "name", "description", "category", "cost_points", "stock", "fulfilment", "high_value", "opens_at",
        "closes_at", "per_day_limit", "per_month_limit", "lifetime_limit", "org_id", "daily_quota", "eligible_org_id",
        "pickup_days", "is_listed", "created_by_user_id")},
        "image_url": image_url(prize), "state": rules.prize_state(prize),
        "affordable": balance is not None and balance >= prize.cost_points,
        "eligible_categories": prize.categories,
        "pickup_points": [{"pickup_point_id": s.pickup_point_id, "name": s.pickup_point.name,
                           "address": s.pickup_point.address, "stock": s.stock} for s in prize.stocks]}


def _redemption_fields(r: Redemption) -> dict:
    return {"id": r.id, "prize_id": r.prize_id, "prize_name": r.prize.name, "quantity": r.quantity,
            "points_spent": r.points_spent, "status": r.status, "approval": r.approval, "fulfilment": r.fulfilment,
            "pickup_point": r.pickup_point, "pickup_deadline": r.pickup_deadline,
            "delivery_address": r.delivery_address, "delivery_phone": mask_phone(r.delivery_phone) if r.delivery_phone else None,
            "created_at": r.created_at, "closed_at": r.closed_at}


def redemption_view(r: Redemption, balance: int | None = None) -> dict:
    """For the member it belongs to (own-redemption endpoints only): with the pickup code."""
    return {**_redemption_fields(r), "pickup_code": r.pickup_code, "points_balance": balance}


def admin_redemption_view(r: Redemption) -> dict:
    """For admins: the member masked, and no pickup code."""
    return {**_redemption_fields(r), "member_id": r.member_id, "member_name": rules.mask_name(r.member.name)}


def pickup_view(r: Redemption) -> dict:
    return {"redemption_id": r.id, "prize_name": r.prize.name, "quantity": r.quantity,
            "member_name": rules.mask_name(r.member.name), "status": r.status, "approval": r.approval,
            "pickup_deadline": r.pickup_deadline, "pickup_point_id": r.pickup_point_id}
