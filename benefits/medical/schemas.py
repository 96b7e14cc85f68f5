"""Input and output shapes of the medical-benefit API. Money is fen, as integers, both ways.

Inputs check types; what the values mean (ranges, the year, categories, the organisation in
scope) is checked by the service, which names every bad field in Chinese (`details.fields`).
Outputs never carry a whole national ID number or a whole card number: names and ID numbers
are masked, cards shown by their last four digits."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..inputs import MAX_ID, Integer
from ..members.models import CATEGORIES as MEMBER_CATEGORIES
from ..pagination import PageArgs
from ..prizes.rules import mask_name
from . import rules
from .models import BATCH_STATUSES, FILE_KINDS, PAYOUT_STATUSES

_ID = validate.Range(min=1, max=MAX_ID)


# --- programmes ---------------------------------------------------------------------------------

class ProgrammeInSchema(Schema):
    """A new programme. Types only; the service checks the values and names each bad field."""
    name = fields.String(validate=validate.Length(max=200), metadata={"description": "1–128 characters"})
    year = Integer(strict=True, metadata={"description": "the year whose out-of-pocket costs count (2000–2100)"})
    threshold_fen = Integer(strict=True, big=True,
                            metadata={"description": "out-of-pocket costs must exceed this, fen (1,000 yuan = 100000)"})
    amount_fen = Integer(strict=True, metadata={"description": "the one consolation payment per member, fen"})
    budget_fen = Integer(strict=True, big=True, metadata={"description": "cap on the payments approved, fen"})
    eligible_org_id = Integer(strict=True, allow_none=True, validate=_ID,
                              metadata={"description": "whose members qualify: this organisation and those below it "
                                                       "(default: your union)"})
    member_categories = fields.List(fields.String(validate=validate.Length(max=32)),
                                    validate=validate.Length(max=len(MEMBER_CATEGORIES)),
                                    metadata={"description": f"any of {', '.join(MEMBER_CATEGORIES)}; "
                                                             "empty or left out: every category"})


class ProgrammeSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    org_name = fields.String()
    eligible_org_id = fields.Integer()
    eligible_org_name = fields.String()
    name = fields.String()
    year = fields.Integer()
    threshold_fen = fields.Integer()
    amount_fen = fields.Integer()
    budget_fen = fields.Integer()
    committed_fen = fields.Integer(metadata={"description": "approved payments, fen"})
    budget_left_fen = fields.Integer()
    member_categories = fields.List(fields.String())
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class CountFenSchema(Schema):
    count = fields.Integer()
    fen = fields.Integer()


class ProgrammeStateSchema(Schema):
    awards = fields.Dict(keys=fields.String(), values=fields.Nested(CountFenSchema),
                         metadata={"description": "members by award state: proposed, approved, paid"})
    payouts = fields.Dict(keys=fields.String(), values=fields.Nested(CountFenSchema),
                          metadata={"description": "payouts by state: sent, paid, failed"})
    awaiting_reissue = fields.Integer(metadata={"description": "approved members with no payout in flight or paid"})


class ProgrammeDetailSchema(ProgrammeSchema):
    state = fields.Nested(ProgrammeStateSchema)


_PROGRAMME_FIELDS = ("id", "org_id", "eligible_org_id", "name", "year", "threshold_fen", "amount_fen", "budget_fen",
                     "committed_fen", "budget_left_fen", "member_categories", "created_by_user_id", "created_at")


def programme_view(programme, counts: dict | None = None) -> dict:
    view = {f: getattr(programme, f) for f in _PROGRAMME_FIELDS}
    view.update(org_name=programme.org.name, eligible_org_name=programme.eligible_org.name)
    if counts is not None:
        view["state"] = programme_state(counts)
    return view


def _pairs(d: dict) -> dict:
    return {k: {"count": n, "fen": f} for k, (n, f) in d.items()}


def programme_state(counts: dict) -> dict:
    return {"awards": _pairs(counts["awards"]), "payouts": _pairs(counts["payouts"]),
            "awaiting_reissue": counts["awaiting_reissue"]}


# --- imports ------------------------------------------------------------------------------------

class ImportArgs(Schema):
    skip_bad_rows = fields.Boolean(load_default=False,
                                   metadata={"description": "import the good rows of a file that has bad ones"})


class RowErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "spreadsheet row number (the header is row 1)"})
    column = fields.String()
    reason = fields.String(metadata={"description": "stable code, e.g. id_number_check_digit"})
    message = fields.String()
    value = fields.String(metadata={"description": "what was in the cell, personal data masked"})


class ClaimImportSchema(Schema):
    file_name = fields.String()
    total_rows = fields.Integer()
    bad_rows = fields.Integer()
    added = fields.Integer()
    updated = fields.Integer(metadata={"description": "people already in the records whose amount changed"})
    unchanged = fields.Integer()
    import_id = fields.Integer(allow_none=True, metadata={"description": "null when the file changed nothing"})
    claims = fields.Integer(metadata={"description": "the programme's records after the import"})
    matched = fields.Integer(metadata={"description": "…of which name a member (by national ID number)"})
    errors = fields.List(fields.Nested(RowErrorSchema), metadata={"description": "the skipped bad rows"})


class ImportRecordSchema(Schema):
    id = fields.Integer()
    file_name = fields.String()
    total_rows = fields.Integer()
    bad_rows = fields.Integer()
    added = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    created_at = fields.DateTime()


# --- preview ------------------------------------------------------------------------------------

class PreviewArgs(PageArgs):
    reason = fields.String(load_default=None, validate=validate.OneOf(rules.REASONS),
                           metadata={"description": "list this group's records (a page of them)"})


class PreviewGroupSchema(Schema):
    reason = fields.String(metadata={"enum": list(rules.REASONS)})
    name = fields.String()
    count = fields.Integer()
    out_of_pocket_fen = fields.Integer()


class PreviewRowSchema(Schema):
    claim_id = fields.Integer()
    masked_id_number = fields.String(attribute="masked_id")
    masked_name = fields.Function(lambda r: mask_name(r.name))
    out_of_pocket_fen = fields.Integer()
    org_name = fields.String(allow_none=True)


class PreviewSchema(Schema):
    groups = fields.List(fields.Nested(PreviewGroupSchema))
    qualifying = fields.Integer()
    amount_fen = fields.Integer()
    total_fen = fields.Integer(metadata={"description": "qualifying × amount"})
    budget_fen = fields.Integer()
    committed_fen = fields.Integer()
    pending_fen = fields.Integer(metadata={"description": "batches awaiting approval"})
    left_fen = fields.Integer()
    fits = fields.Boolean()
    reason = fields.String(allow_none=True)
    rows = fields.List(fields.Nested(PreviewRowSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "records in the listed group"})


def preview_view(programme, preview, reason=None, rows=(), page=1, per_page=50, total=0) -> dict:
    return {"groups": [{"reason": r, "name": rules.REASON_NAMES[r], "count": preview.groups.get(r, (0, 0))[0],
                        "out_of_pocket_fen": preview.groups.get(r, (0, 0))[1]} for r in rules.REASONS],
            "qualifying": preview.qualifying, "amount_fen": programme.amount_fen, "total_fen": preview.total_fen,
            "budget_fen": preview.budget_fen, "committed_fen": preview.committed_fen,
            "pending_fen": preview.pending_fen, "left_fen": preview.left_fen, "fits": preview.fits,
            "reason": reason, "rows": list(rows), "page": page, "per_page": per_page, "total": total}


# --- batches ------------------------------------------------------------------------------------

class BatchSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    status = fields.String(metadata={"enum": list(BATCH_STATUSES)})
    member_count = fields.Integer()
    total_fen = fields.Integer()
    created_by_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    decided_by_user_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class PayoutFileSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    batch_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"enum": list(FILE_KINDS)})
    payout_count = fields.Integer()
    total_fen = fields.Integer()
    created_at = fields.DateTime()


class ApprovalSchema(Schema):
    batch = fields.Nested(BatchSchema)
    payout_file = fields.Nested(PayoutFileSchema, attribute="file")
    payouts = fields.Integer()
    without_card = fields.Integer(metadata={"description": "approved members without an active card now: "
                                                           "their payout is issued by a later reissue"})


class DownloadArgs(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


# --- payouts and returns ------------------------------------------------------------------------

class PayoutArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(PAYOUT_STATUSES))


class PayoutSchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    file_id = fields.Integer()
    member_id = fields.Integer()
    masked_name = fields.Function(lambda p: mask_name(p.award.member.name))
    card_tail = fields.Function(lambda p: rules.card_tail(p.card_number))
    amount_fen = fields.Integer()
    status = fields.String(metadata={"enum": list(PAYOUT_STATUSES)})
    failure_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    returned_at = fields.DateTime(allow_none=True)


class PayoutPageSchema(Schema):
    items = fields.List(fields.Nested(PayoutSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class ReturnImportSchema(Schema):
    file_name = fields.String()
    total_rows = fields.Integer()
    paid = fields.Integer()
    failed = fields.Integer()
    unchanged = fields.Integer(metadata={"description": "rows that repeat what an earlier return recorded"})
    return_file_id = fields.Integer(allow_none=True, metadata={"description": "null when the file changed nothing"})


class ReturnRecordSchema(Schema):
    id = fields.Integer()
    file_name = fields.String()
    total_rows = fields.Integer()
    paid = fields.Integer()
    failed = fields.Integer()
    unchanged = fields.Integer()
    created_at = fields.DateTime()


# --- members and totals -------------------------------------------------------------------------

class MyPayoutSchema(Schema):
    award_id = fields.Integer()
    programme = fields.String()
    year = fields.Integer()
    amount_fen = fields.Integer()
    state = fields.String(metadata={"enum": ["paid", "sending", "retry"],
                                    "description": "paid: on the card; sending: with the bank; retry: the bank "
                                                   "returned it or there was no active card, it will be sent again"})
    card_tail = fields.String(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)


class TotalsArgs(Schema):
    year = Integer(load_default=None, allow_none=True, validate=validate.Range(min=2000, max=2100))


class TotalLineSchema(Schema):
    year = fields.Integer()
    org_id = fields.Integer()
    org_code = fields.String()
    org_name = fields.String()
    paid = fields.Integer()
    paid_fen = fields.Integer()
    in_payment = fields.Integer()
    in_payment_fen = fields.Integer()


class YearLineSchema(Schema):
    year = fields.Integer()
    paid = fields.Integer()
    paid_fen = fields.Integer()
    in_payment = fields.Integer()
    in_payment_fen = fields.Integer()


class TotalsSchema(Schema):
    years = fields.List(fields.Nested(YearLineSchema))
    organisations = fields.List(fields.Nested(TotalLineSchema))
