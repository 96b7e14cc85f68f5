"""Input and output shapes of the voucher API. Money is fen, as integers, both ways.

Inputs check types (and that ids fit PostgreSQL `integer` columns); what the values mean (face
value range, split sum, dates in order, known categories…) is checked by the service, which
reports every field in Chinese (`details.fields`). Outputs never carry a full ID number: a
member is a masked name and the last four digits of the card."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..inputs import MAX_ID  # id columns are PostgreSQL `integer`s
from ..members.models import CATEGORIES as MEMBER_CATEGORIES
from ..pagination import PageArgs, page_schema
from .models import SPEND_MODES, VOUCHER_STATUSES, Voucher, VoucherBatch, VoucherProgramme, VoucherUse

MAX_LIST = 5_000            # ID / card numbers in one JSON batch; larger lists: `flask vouchers issue --file`
MAX_NUMBER_LENGTH = 32      # one ID or card number as typed (the service says whether it is valid)

_ID = validate.Range(min=1, max=MAX_ID)


def printable(value: str) -> None:
    """Free text is stored in PostgreSQL, which refuses NUL; no control characters at all."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("不能含有控制字符。")


def mask_name(name: str | None) -> str:
    """张三丰 → 张**: the family name only."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


# --- admins: programmes -----------------------------------------------------------------------

class VoucherProgrammeInSchema(Schema):
    """A new programme. Types only: ranges, the split's sum, the scope's merchants and stores and
    the dates' order are checked by the service, per field. Leave a field out for its default."""
    name = fields.String(validate=printable, metadata={"description": "1–128 characters"})
    face_fen = fields.Integer(strict=True, metadata={"description": "face value per voucher, fen (1 – 10,000,000)"})
    topup_bp = fields.Integer(strict=True, allow_none=True,
                              metadata={"description": "the merchant's top-up as basis points of the face value "
                                                       "(1000 = 10 %); or give topup_fen, not both"})
    topup_fen = fields.Integer(strict=True, allow_none=True,
                               metadata={"description": "the merchant's top-up as a fixed amount, fen"})
    split = fields.Dict(keys=fields.String(validate=validate.OneOf(("union", "bank"))),
                        values=fields.Integer(strict=True),
                        metadata={"description": "who funds the face value, percent: {\"union\": 60, \"bank\": 40}, "
                                                 "summing to 100"})
    scope = fields.String(metadata={"description": "where the vouchers are spent: programme (every partner merchant "
                                                   "of the union), categories, merchants or stores"})
    categories = fields.List(fields.String(validate=validate.Length(max=32)), validate=validate.Length(max=20),
                             metadata={"description": "merchant categories when scope = categories"})
    merchant_ids = fields.List(fields.Integer(strict=True, validate=_ID), validate=validate.Length(max=1000))
    store_ids = fields.List(fields.Integer(strict=True, validate=_ID), validate=validate.Length(max=1000))
    valid_from = fields.Date(metadata={"description": "first day the vouchers can be spent (YYYY-MM-DD)"})
    valid_until = fields.Date(metadata={"description": "last day (YYYY-MM-DD)"})
    spend_mode = fields.String(metadata={"enum": list(SPEND_MODES),
                                         "description": "single: used up by one payment; balance: spent over "
                                                        "several (default)"})
    combinable = fields.Boolean(metadata={"description": "combines with discount rules (default true)"})
    min_spend_fen = fields.Integer(strict=True, allow_none=True,
                                   metadata={"description": "the purchase must be at least this much, fen"})
    per_member = fields.Integer(strict=True, metadata={"description": "vouchers of this programme one member may "
                                                                      "hold over all rounds (1–100, default 1)"})
    budget_fen = fields.Integer(strict=True, metadata={"description": "cap on the face value issued, fen"})


class VoucherAmountsSchema(Schema):
    """One line of a programme's report (not every line has every part)."""
    count = fields.Integer()
    uses = fields.Integer()
    value_fen = fields.Integer(metadata={"description": "face value + top-up"})
    face_fen = fields.Integer()
    union_fen = fields.Integer()
    bank_fen = fields.Integer()
    topup_fen = fields.Integer()


class VoucherReportSchema(Schema):
    issued = fields.Nested(VoucherAmountsSchema)
    spent = fields.Nested(VoucherAmountsSchema, metadata={"description": "net of refunds"})
    forfeited = fields.Nested(VoucherAmountsSchema,
                              metadata={"description": "left unspent by single-payment vouchers"})
    outstanding = fields.Nested(VoucherAmountsSchema, metadata={"description": "active vouchers' balances"})
    expired = fields.Nested(VoucherAmountsSchema)
    voided = fields.Nested(VoucherAmountsSchema)
    budget_fen = fields.Integer()
    budget_left_fen = fields.Integer()


class VoucherProgrammeSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": ["active", "closed"]})
    face_fen = fields.Integer()
    topup_bp = fields.Integer(allow_none=True)
    topup_fen = fields.Integer()
    value_fen = fields.Integer(metadata={"description": "face value + top-up: what a voucher spends"})
    split = fields.Dict(keys=fields.String(), values=fields.Integer())
    scope = fields.String()
    categories = fields.List(fields.String())
    merchant_ids = fields.List(fields.Integer())
    store_ids = fields.List(fields.Integer())
    where = fields.String(metadata={"description": "where the vouchers are spent, in words"})
    valid_from = fields.Date()
    valid_until = fields.Date()
    spend_mode = fields.String(metadata={"enum": list(SPEND_MODES)})
    combinable = fields.Boolean()
    min_spend_fen = fields.Integer()
    per_member = fields.Integer()
    budget_fen = fields.Integer()
    issued_fen = fields.Integer(metadata={"description": "face value issued"})
    issued_count = fields.Integer()
    budget_left_fen = fields.Integer()
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class VoucherProgrammeDetailSchema(VoucherProgrammeSchema):
    report = fields.Nested(VoucherReportSchema)


# --- admins: batches --------------------------------------------------------------------------

class VoucherBatchInSchema(Schema):
    """Whom to issue to: members by category and/or organisation, or a list of ID numbers and/or
    card numbers (not both ways at once)."""
    member_categories = fields.List(fields.String(validate=validate.Length(max=32)), load_default=list,
                                    validate=validate.Length(max=len(MEMBER_CATEGORIES)),
                                    metadata={"description": f"any of {', '.join(MEMBER_CATEGORIES)}"})
    org_id = fields.Integer(strict=True, allow_none=True, load_default=None, validate=_ID,
                            metadata={"description": "members of this organisation and those below it"})
    id_numbers = fields.List(fields.String(validate=validate.Length(max=MAX_NUMBER_LENGTH)), load_default=list,
                             metadata={"description": "national ID numbers (身份证号)"})
    card_numbers = fields.List(fields.String(validate=validate.Length(max=MAX_NUMBER_LENGTH)), load_default=list,
                               metadata={"description": "member card numbers, as strings"})
    round = fields.Integer(strict=True, load_default=1,
                           metadata={"description": "the same target and round is the same batch: sending it again "
                                                    "issues only to those who have not got one yet (1–100)"})
    preview = fields.Boolean(load_default=False, metadata={"description": "only count; write nothing"})
    skip_errors = fields.Boolean(load_default=False,
                                 metadata={"description": "issue to the good rows of a list that has bad ones"})

    @validates_schema
    def _list_or_target(self, data, **_kwargs):
        listed = len(data.get("id_numbers") or ()) + len(data.get("card_numbers") or ())
        if listed > MAX_LIST:
            raise ValidationError(f"一次最多 {MAX_LIST} 个身份证号或卡号；更大的名单请用 flask vouchers issue --file 发放。",
                                  "id_numbers")
        if listed and (data.get("member_categories") or data.get("org_id") is not None):
            raise ValidationError("按名单发放时不能再选会员类别或组织。", "member_categories")


class VoucherRowErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "1-based position in the request: ID numbers first, then cards"})
    column = fields.String(metadata={"enum": ["id_number", "card_number"]})
    reason = fields.String(metadata={"description": "id_number_invalid, card_number_invalid, unknown_member, "
                                                    "unknown_card, not_in_union, member_left, duplicate, empty"})
    message = fields.String()
    value = fields.String(metadata={"description": "masked: 3416**********1234, or a card's last 4 digits"})


class VoucherPreviewSchema(Schema):
    members = fields.Integer(metadata={"description": "members who would get a voucher now"})
    face_fen = fields.Integer(metadata={"description": "their face value in all"})
    budget_left_fen = fields.Integer()
    fits = fields.Boolean(metadata={"description": "the budget left covers them all"})
    can_issue = fields.Integer(metadata={"description": "how many the budget left allows"})
    batch_id = fields.Integer(allow_none=True, metadata={"description": "the batch this target continues, if any"})
    skipped_rows = fields.List(fields.Nested(VoucherRowErrorSchema),
                               metadata={"description": "bad rows of the list left out (skip_errors)"})


class VoucherBatchSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    kind = fields.String(metadata={"enum": ["target", "list"]})
    round = fields.Integer()
    member_categories = fields.List(fields.String())
    org_id = fields.Integer(allow_none=True)
    source_name = fields.String()
    listed_members = fields.Function(lambda b: len(b.member_ids or ()),
                                     metadata={"description": "members on the list (a list batch)"})
    issued_count = fields.Integer()
    issued_fen = fields.Integer(metadata={"description": "face value issued"})
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class VoucherIssueSchema(Schema):
    batch_id = fields.Integer()
    batch = fields.Nested(VoucherBatchSchema)
    issued = fields.Integer(metadata={"description": "vouchers issued by this call"})
    face_fen = fields.Integer(metadata={"description": "their face value in all"})
    not_issued_for_budget = fields.Integer(metadata={"description": "members left out because the budget ran out"})
    skipped_rows = fields.List(fields.Nested(VoucherRowErrorSchema))


# --- admins: vouchers -------------------------------------------------------------------------

class VoucherQueryArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(VOUCHER_STATUSES))


class VoucherAdminSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    batch_id = fields.Integer()
    member_id = fields.Integer()
    member_name = fields.Function(lambda v: mask_name(v.member.name), metadata={"description": "masked"})
    card_tail = fields.Function(lambda v: card_tail(v), allow_none=True,
                                metadata={"description": "last 4 digits of the member's current card"})
    seq = fields.Integer(metadata={"description": "the member's nth voucher of this programme"})
    face_fen = fields.Integer()
    value_fen = fields.Integer()
    balance_fen = fields.Integer()
    face_left_fen = fields.Integer()
    status = fields.String(metadata={"enum": list(VOUCHER_STATUSES)})
    valid_from = fields.Date()
    valid_until = fields.Date()
    issued_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)


VoucherAdminPageSchema = page_schema(VoucherAdminSchema, "VoucherAdminPage")


class VoucherVoidInSchema(Schema):
    reason = fields.String(load_default="", validate=[validate.Length(max=1000), printable],
                           metadata={"description": "required: why (at most 255 characters)"})


def card_tail(v: Voucher) -> str | None:
    card = v.member.current_card
    return card.number[-4:] if card else None


# --- members ----------------------------------------------------------------------------------

class MyVoucherSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    programme_name = fields.String()
    value_fen = fields.Integer()
    balance_fen = fields.Integer()
    status = fields.String(metadata={"enum": list(VOUCHER_STATUSES)})
    valid_from = fields.Date()
    valid_until = fields.Date()
    where = fields.String(metadata={"description": "where it can be spent, in words"})
    spend_mode = fields.String(metadata={"enum": list(SPEND_MODES)})
    combinable = fields.Boolean(metadata={"description": "combines with discounts"})
    min_spend_fen = fields.Integer()
    issued_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    void_reason = fields.String(allow_none=True)


class MyVoucherUseSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.Integer()
    merchant_name = fields.String(allow_none=True)
    amount_fen = fields.Integer(metadata={"description": "what the voucher paid"})
    returned_fen = fields.Integer(metadata={"description": "given back by refunds"})
    forfeited_fen = fields.Integer(metadata={"description": "lost by a single-payment voucher"})
    business_day = fields.Date()
    created_at = fields.DateTime()


class MyVoucherDetailSchema(MyVoucherSchema):
    uses = fields.List(fields.Nested(MyVoucherUseSchema))


# --- plain views built from models (dumped through the schemas above) --------------------------

_PROGRAMME_COLUMNS = ("id", "org_id", "name", "status", "face_fen", "topup_bp", "topup_fen", "value_fen", "split",
                      "scope", "categories", "merchant_ids", "store_ids", "valid_from", "valid_until", "spend_mode",
                      "combinable", "min_spend_fen", "per_member", "budget_fen", "issued_fen", "issued_count",
                      "budget_left_fen", "created_by_user_id", "created_at")


def programme_view(p: VoucherProgramme, where: str, report: dict | None = None) -> dict:
    view = {name: getattr(p, name) for name in _PROGRAMME_COLUMNS}
    view.update(org_name=p.org.name, where=where)
    if report is not None:
        view["report"] = report
    return view


def my_voucher_view(v: Voucher, where: str) -> dict:
    p = v.programme
    return {"id": v.id, "programme_id": p.id, "programme_name": p.name, "value_fen": v.value_fen,
            "balance_fen": v.balance_fen, "status": v.status, "valid_from": v.valid_from,
            "valid_until": v.valid_until, "where": where, "spend_mode": p.spend_mode, "combinable": p.combinable,
            "min_spend_fen": p.min_spend_fen, "issued_at": v.issued_at, "closed_at": v.closed_at,
            "void_reason": v.void_reason}


def use_view(u: VoucherUse, merchant_name: str | None) -> dict:
    return {"id": u.id, "merchant_id": u.merchant_id, "merchant_name": merchant_name, "amount_fen": u.amount_fen,
            "returned_fen": u.returned_fen, "forfeited_fen": u.forfeited_fen, "business_day": u.business_day,
            "created_at": u.created_at}


def row_error_view(e) -> dict:
    return {"row": e.row, "column": e.column, "reason": e.reason, "message": e.message, "value": e.value}


def issue_view(batch: VoucherBatch, issued: int, face_fen: int, short: int, skipped: list) -> dict:
    return {"batch_id": batch.id, "batch": batch, "issued": issued, "face_fen": face_fen,
            "not_issued_for_budget": short, "skipped_rows": skipped}
