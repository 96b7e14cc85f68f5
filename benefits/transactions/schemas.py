"""Till requests and answers. Amounts come in as yuan strings ("12.34") and leave as `*_fen`."""
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..inputs import Integer
from ..money import MoneyFormatError, parse_yuan


class Yuan(fields.Field):
    """A yuan amount with at most two decimals, more than zero, loaded as integer fen."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise ValidationError(_("金额请以文字发送，如 \"12.34\"。"))
        try:
            return parse_yuan(value)
        except MoneyFormatError:
            raise ValidationError(_("金额格式不对：请输入大于零、最多两位小数的金额，如 128.50。")) from None


class TillPaymentArgs(Schema):
    card_number = fields.String(load_default=None, validate=validate.Length(max=19))
    qr_token = fields.String(load_default=None, validate=validate.Length(max=64),
                             metadata={"description": "the member's dynamic pay code as scanned"})
    amount = Yuan(required=True, metadata={"description": "price in yuan, e.g. \"250.00\""})
    store_id = Integer(load_default=None,
                       metadata={"description": "cashier sessions only; a terminal key fixes the store"})
    voucher_ids = fields.List(Integer(strict=True), load_default=list, validate=validate.Length(max=10),
                              metadata={"description": "the member's vouchers to apply, in this order, on what is left "
                                                       "to pay after the discount (see `vouchers` in the quote)"})

    @validates_schema
    def card_or_token(self, data, **kwargs):
        if not data.get("card_number") and not data.get("qr_token"):
            raise ValidationError(_("请输入会员卡号或付款码"), field_name="card_number")


class TillRefundArgs(Schema):
    amount = Yuan(load_default=None, metadata={"description": "what the member gets back, in yuan; "
                                                             "omit for everything still refundable"})
    reason = fields.String(load_default="", validate=validate.Length(max=255))


class TillDayArgs(Schema):
    day = fields.Date(load_default=None, metadata={"description": "China business day; default today"})


class TillAppliedSchema(Schema):
    rule_id = fields.Integer()
    version_id = fields.Integer()
    name = fields.String()
    discount_fen = fields.Integer()
    shares = fields.Dict(keys=fields.String(), values=fields.Integer())


class TillAppliedSnapshotSchema(TillAppliedSchema):
    terms = fields.Dict()


class TillRejectedSchema(Schema):
    rule_id = fields.Integer()
    name = fields.String()
    reason = fields.String()
    message = fields.String()


class TillVoucherUseSchema(Schema):
    voucher_id = fields.Integer()
    programme_id = fields.Integer()
    name = fields.String()
    amount_fen = fields.Integer(metadata={"description": "what the voucher paid"})
    face_fen = fields.Integer(metadata={"description": "of which face value (union and bank)"})
    topup_fen = fields.Integer(metadata={"description": "of which the merchant's top-up"})
    union_fen = fields.Integer()
    bank_fen = fields.Integer()


class TillVoucherOfferSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    balance_fen = fields.Integer()
    value_fen = fields.Integer()
    valid_until = fields.String()
    spend_mode = fields.String(metadata={"enum": ["single", "balance"]})
    combinable = fields.Boolean()
    usable = fields.Boolean(metadata={"description": "can pay at this till for this amount"})
    chosen = fields.Boolean()
    covers_fen = fields.Integer(metadata={"description": "what it pays (chosen) or would pay if added now"})
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True, metadata={"description": "why not, to read out to the member"})


class TillQuoteSchema(Schema):
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    pay_fen = fields.Integer()
    shares = fields.Dict(keys=fields.String(), values=fields.Integer())
    applied = fields.List(fields.Nested(TillAppliedSchema))
    rejected = fields.List(fields.Nested(TillRejectedSchema), metadata={
        "description": "Offers that did not apply, with the reason to read out (limit reached, budget spent, "
                       "not today, below the threshold …). Offers that applied but gave less are not listed."})
    other_offers = fields.Integer(metadata={
        "description": "How many other offers applied too but gave less than the one chosen."})
    hints = fields.List(fields.String())
    member = fields.Dict()
    voucher_fen = fields.Integer(metadata={"description": "paid by the chosen vouchers"})
    voucher_uses = fields.List(fields.Nested(TillVoucherUseSchema))
    vouchers = fields.List(fields.Nested(TillVoucherOfferSchema),
                           metadata={"description": "every active voucher of the card, usable here or not"})


class TillRefundSchema(Schema):
    id = fields.Integer()
    transaction_id = fields.Integer()
    pay_fen = fields.Integer(metadata={"description": "given back to the member"})
    discount_fen = fields.Integer(metadata={"description": "discount reversed"})
    amount_fen = fields.Integer(metadata={"description": "pay_fen + discount_fen"})
    shares = fields.Function(lambda r: {"union": r.union_fen, "bank": r.bank_fen, "merchant": r.merchant_fen})
    voucher_fen = fields.Integer(metadata={"description": "given back onto the vouchers"})
    voucher_shares = fields.Function(lambda r: {"union": r.voucher_union_fen, "bank": r.voucher_bank_fen,
                                                "topup": r.voucher_topup_fen})
    by_rule = fields.Dict()
    is_final = fields.Boolean()
    reason = fields.String()
    business_day = fields.Date()
    created_at = fields.DateTime()


class TillTransactionBriefSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.Integer()
    store_id = fields.Integer()
    card_tail = fields.Function(lambda t: t.card.number[-4:])
    amount_fen = fields.Integer()
    discount_fen = fields.Integer()
    pay_fen = fields.Integer()
    shares = fields.Function(lambda t: {"union": t.union_fen, "bank": t.bank_fen, "merchant": t.merchant_fen})
    voucher_fen = fields.Integer(metadata={"description": "paid by vouchers"})
    voucher_shares = fields.Function(lambda t: {"union": t.voucher_union_fen, "bank": t.voucher_bank_fen,
                                                "topup": t.voucher_topup_fen})
    vouchers = fields.List(fields.Nested(TillVoucherUseSchema))
    refunded_pay_fen = fields.Integer()
    refunded_discount_fen = fields.Integer()
    refunded_voucher_fen = fields.Integer()
    refundable_pay_fen = fields.Integer()
    status = fields.String(metadata={"enum": ["completed", "partially_refunded", "refunded"]})
    channel = fields.String()
    applied = fields.List(fields.Nested(TillAppliedSnapshotSchema))
    business_day = fields.Date()
    created_at = fields.DateTime()


class TillTransactionSchema(TillTransactionBriefSchema):
    refunds = fields.List(fields.Nested(TillRefundSchema))


class TillConfirmSchema(TillTransactionSchema):
    """What a confirmed payment answers: the transaction, and what the cashier may tell the member."""
    hints = fields.List(fields.String(), metadata={"description": "as in the quote, e.g. how far the next offer is"})


class TillRefundAnswerSchema(TillRefundSchema):
    """What a refund answers: the refund, and its transaction as it now stands."""
    transaction = fields.Nested(TillTransactionSchema, metadata={"description": "with every refund so far"})


class TillDaySchema(Schema):
    day = fields.Date()
    summary = fields.Dict()
    items = fields.List(fields.Nested(TillTransactionBriefSchema))


class TillStatementSchema(Schema):
    id = fields.Integer(allow_none=True)
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    union_owes_fen = fields.Integer()
    bank_owes_fen = fields.Integer()
    totals = fields.Dict()


class TillStatementListSchema(Schema):
    open = fields.Nested(TillStatementSchema)
    closed = fields.List(fields.Nested(TillStatementSchema))
