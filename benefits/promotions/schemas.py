from marshmallow import Schema, fields, validate

from ..inputs import Integer
from .engine import KINDS, SCOPES, describe
from .rules import terms_of


class PromotionRuleInputSchema(Schema):
    """Types only; the meaning (percent range, split sum, dates in order…) is checked by
    `validation.clean_terms`, which reports per field too."""
    name = fields.String(required=True, validate=validate.Length(min=1, max=128))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    pay_bp = Integer(allow_none=True, load_default=None)
    threshold_fen = Integer(allow_none=True, load_default=None)
    off_fen = Integer(allow_none=True, load_default=None)
    max_repeats = Integer(allow_none=True, load_default=None)
    cap_fen = Integer(allow_none=True, load_default=None)
    valid_from = fields.Date(allow_none=True, load_default=None)
    valid_until = fields.Date(allow_none=True, load_default=None)
    days_of_week = fields.List(Integer(), load_default=list)
    hour_from = Integer(load_default=0)
    hour_to = Integer(load_default=24)
    scope = fields.String(load_default="programme", validate=validate.OneOf(SCOPES))
    categories = fields.List(fields.String(), load_default=list)
    merchant_ids = fields.List(Integer(), load_default=list)
    store_ids = fields.List(Integer(), load_default=list)
    member_categories = fields.List(fields.String(), load_default=list)
    member_org_id = Integer(allow_none=True, load_default=None)
    per_member = fields.Dict(keys=fields.String(), values=Integer(allow_none=True), load_default=dict)
    global_limit = Integer(allow_none=True, load_default=None)
    budget_fen = Integer(big=True, allow_none=True, load_default=None)
    split = fields.Dict(keys=fields.String(), values=Integer(), required=True)
    priority = Integer(load_default=0)
    combinable = fields.Boolean(load_default=False)


class PromotionPreviewInputSchema(PromotionRuleInputSchema):
    amounts_fen = fields.List(Integer(validate=validate.Range(min=1)),
                              load_default=None, validate=validate.Length(min=1, max=20))


class PromotionStatusInputSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("active", "paused")))


class PromotionVersionSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()
    name = fields.String()
    terms = fields.Dict()
    created_at = fields.DateTime()


class PromotionRuleSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    status = fields.String()
    budget_fen = fields.Integer(allow_none=True)
    budget_used_fen = fields.Integer()
    budget_left_fen = fields.Integer(allow_none=True)
    global_limit = fields.Integer(allow_none=True)
    uses_count = fields.Integer()
    current_version = fields.Nested(PromotionVersionSchema, allow_none=True)
    summary = fields.Method("get_summary")

    def get_summary(self, rule):
        return describe(terms_of(rule)) if rule.current_version else ""


class PromotionAppliedRuleSchema(Schema):
    rule_id = fields.Integer()
    version_id = fields.Integer()
    name = fields.String()
    discount_fen = fields.Integer()
    shares = fields.Dict(keys=fields.String(), values=fields.Integer())


class PromotionRejectedSchema(Schema):
    rule_id = fields.Integer()
    name = fields.String()
    reason = fields.String()
    message = fields.String()


class PromotionQuoteSchema(Schema):
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    pay_fen = fields.Integer()
    applied = fields.List(fields.Nested(PromotionAppliedRuleSchema))
    rejected = fields.List(fields.Nested(PromotionRejectedSchema))
    hints = fields.List(fields.String())


class PromotionReportSchema(Schema):
    """Every figure net of refunds; `gross_*` and `returned_*` are the parts it is made of."""
    uses = fields.Integer(metadata={"description": "uses not wholly refunded"})
    gross_uses = fields.Integer(metadata={"description": "every use taken at a till"})
    returned_uses = fields.Integer(metadata={"description": "uses wholly refunded"})
    discount_fen = fields.Integer(metadata={"description": "discount net of refunds"})
    gross_discount_fen = fields.Integer()
    returned_fen = fields.Integer(metadata={"description": "discount given back by refunds"})
    budget_fen = fields.Integer(allow_none=True)
    budget_left_fen = fields.Integer(allow_none=True)
    funders = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_version = fields.Method("get_by_version")

    def get_by_version(self, report):
        return [{"version": n, "uses": u, "discount_fen": d} for n, u, d in report.by_version]
