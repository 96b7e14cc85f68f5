"""Merchants in and out of the admin JSON API. Contact phones are always masked on the way out."""
from marshmallow import Schema, fields, validate

from ..inputs import Integer
from ..pagination import PageArgs, page_schema
from ..pii import mask_phone
from .models import CATEGORIES, STATUSES


class StoreSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    address = fields.String(load_default="", validate=validate.Length(max=255))
    is_open = fields.Boolean(dump_only=True)


class MerchantOutSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.Function(lambda m: m.org.name)
    name = fields.String()
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    status = fields.String(metadata={"enum": list(STATUSES)})
    contact_name = fields.String(allow_none=True)
    contact_phone_masked = fields.Function(lambda m: mask_phone(m.contact_phone))
    accepts_card_number = fields.Boolean()
    stores = fields.List(fields.Nested(StoreSchema))


MerchantPageSchema = page_schema(MerchantOutSchema, "MerchantPage")


class MerchantQueryArgs(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))


class MerchantInSchema(Schema):
    org_id = Integer(required=True, metadata={"description": "owning union (yours or below it)"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    status = fields.String(load_default="active", validate=validate.OneOf(STATUSES))
    contact_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    contact_phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    accepts_card_number = fields.Boolean(load_default=True)


class MerchantPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=128))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    status = fields.String(validate=validate.OneOf(STATUSES))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=64))
    contact_phone = fields.String(allow_none=True, validate=validate.Length(max=20))
    accepts_card_number = fields.Boolean()


class CashierInSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=128))
    store_id = Integer(load_default=None, allow_none=True)


class CashierOutSchema(Schema):
    user_id = fields.Integer()
    username = fields.String()
    merchant_id = fields.Integer()
    store_id = fields.Integer(allow_none=True)


class TerminalKeyInSchema(Schema):
    label = fields.String(load_default="", validate=validate.Length(max=64))


class TerminalKeyOutSchema(Schema):
    id = fields.Integer()
    store_id = fields.Integer()
    label = fields.String()
    key_prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class IssuedKeySchema(TerminalKeyOutSchema):
    key = fields.String(metadata={"description": "the key itself: shown in this response only"})


class ReportArgs(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class MerchantReportRowSchema(Schema):
    merchant_id = fields.Function(lambda r: r["merchant"].id)
    name = fields.Function(lambda r: r["merchant"].name)
    transactions = fields.Integer()
    refunds = fields.Integer()
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    union_fen = fields.Integer()
    bank_fen = fields.Integer()
    merchant_fen = fields.Integer()


class CloseStatementSchema(Schema):
    through = fields.Date(required=True, metadata={"description": "last China day of the period (already over)"})
