from marshmallow import Schema, fields, validate

from ..inputs import Integer
from ..pagination import PageArgs


class PointsBalanceSchema(Schema):
    member_id = fields.Integer()
    balance = fields.Integer()


class PointsEntrySchema(Schema):
    id = fields.Integer()
    amount = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    balance_after = fields.Integer()
    expires_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()


class HistoryArgs(PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(("earn", "spend", "refund", "adjust", "expire")))


class AdjustmentSchema(Schema):
    member_id = Integer(required=True)
    amount = Integer(required=True, validate=validate.Range(min=-1_000_000, max=1_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))
