"""Vouchers API (券): union admins create programmes, issue batches, follow and void vouchers;
members read their vouchers (their notices, 消息, are the notices API's).

Admin endpoints are scoped to the admin's union subtree: another union's programme or voucher
is a 404, exactly like an id that does not exist. Money is fen, as integers, both ways.
"""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import transactional
from ..errors import ValidationError
from ..extensions import Blueprint, db
from ..members.models import Member
from ..merchants.models import Merchant
from ..orgs.models import Organisation
from ..pagination import paginate
from . import schemas, service, targets
from .models import Voucher

URL_PREFIX = ""
blp = Blueprint("vouchers_api", __name__, description="Vouchers (券): programmes, batches, members' vouchers")

def _json(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    return response


def _programme(programme_id: int):
    return service.get_programme(current_scope(), programme_id)


class _Where:
    """`describe_scope` once per programme within a request (a list names each programme many times)."""

    def __init__(self):
        self._seen: dict[int, str] = {}

    def __call__(self, programme) -> str:
        if programme.id not in self._seen:
            self._seen[programme.id] = service.describe_scope(programme)
        return self._seen[programme.id]


def _programme_detail(programme) -> dict:
    return schemas.programme_view(programme, service.describe_scope(programme), service.programme_report(programme))


# --- admins: programmes -------------------------------------------------------------------------

@blp.route("/vouchers/programmes")
class Programmes(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.VoucherProgrammeSchema(many=True))
    def get(self):
        """Voucher programmes of your union and the unions below it, newest first."""
        where = _Where()
        return [schemas.programme_view(p, where(p)) for p in service.programmes_in_scope(current_scope())]

    @blp.arguments(schemas.VoucherProgrammeInSchema, error_status_code=400)
    @blp.response(201, schemas.VoucherProgrammeDetailSchema)
    @transactional
    def post(self, data):
        """Create a programme owned by your union (amounts in fen); every bad field is named in `details.fields`."""
        programme = service.create_programme(current_actor(), current_scope(), data)
        return _json(schemas.VoucherProgrammeDetailSchema().dump(_programme_detail(programme)), 201)


@blp.route("/vouchers/programmes/<int:programme_id>")
class ProgrammeItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.VoucherProgrammeDetailSchema)
    def get(self, programme_id):
        """A programme's terms and report: issued, spent, forfeited, outstanding, expired, voided, budget left."""
        return _programme_detail(_programme(programme_id))


@blp.route("/vouchers/programmes/<int:programme_id>/close")
class ProgrammeClose(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.VoucherProgrammeDetailSchema)
    @transactional
    def post(self, programme_id):
        """Close a programme: no more batches; vouchers already issued stay usable until they expire."""
        programme = _programme(programme_id)
        service.close_programme(current_actor(), programme)
        return _json(schemas.VoucherProgrammeDetailSchema().dump(_programme_detail(programme)))


# --- admins: batches ----------------------------------------------------------------------------

def _target(programme, data: dict) -> tuple[service.Target, list[dict]]:
    """The batch's target from the request, and the list's bad rows when they are to be skipped.
    A list with bad rows is refused (nothing issued) unless `skip_errors`."""
    entries = targets.entries_from_lists(data["id_numbers"], data["card_numbers"])
    if entries:
        member_ids, errors = targets.resolve(programme, entries)
        rows = [schemas.row_error_view(e) for e in errors]
        if not member_ids:
            raise ValidationError("名单里没有可以发券的会员。", code="list_rows_invalid",
                                  details={"rows": rows, "error_rows": len(rows),
                                           "fields": {"id_numbers": ["名单里没有可以发券的会员"]}})
        if rows and not data["skip_errors"]:
            raise ValidationError(f"名单有 {len(rows)} 行不对，没有发券。改正后再发，或选择跳过错误行。",
                                  code="list_rows_invalid", details={"rows": rows, "error_rows": len(rows)})
        source = f"JSON 名单（{len(entries)} 行）"
        return service.Target(member_ids=tuple(member_ids), source_name=source, round=data["round"]), rows
    org = None
    if data["org_id"] is not None:
        org = db.session.get(Organisation, data["org_id"])
        if org is None or not current_scope().contains(org):
            raise ValidationError("发放对象不对。", details={"fields": {"org_id": ["组织不在您的管辖范围内"]}})
    return service.Target(member_categories=tuple(dict.fromkeys(data["member_categories"])), org=org,
                          round=data["round"]), []


@blp.route("/vouchers/programmes/<int:programme_id>/batches")
class Batches(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.VoucherBatchSchema(many=True))
    def get(self, programme_id):
        """The programme's batches, newest first."""
        return service.batches_of(_programme(programme_id))

    @blp.arguments(schemas.VoucherBatchInSchema, error_status_code=400)
    @blp.response(201, schemas.VoucherIssueSchema)
    @blp.alt_response(200, schema=schemas.VoucherPreviewSchema, description="preview: what would be issued now")
    @blp.alt_response(409, description="programme_closed")
    @transactional
    def post(self, data, programme_id):
        """Issue a batch (or preview it): by member category and/or organisation, or by a list of ID or card numbers.

        At most 5,000 ID and card numbers in one request (larger lists: `flask vouchers issue --file`).
        A list with bad rows answers 400 `list_rows_invalid`, issuing nothing, with `details.rows`
        (row, column, reason, message, masked value) unless `skip_errors`; then the bad rows come back
        as `skipped_rows`. `preview: true` answers 200 with what would be issued now and writes
        nothing. The same target and round is the same batch: sending it again issues nobody twice.
        """
        programme = _programme(programme_id)
        target, skipped = _target(programme, data)
        if data["preview"]:
            answer = service.preview(programme, target).as_dict()
            return _json(schemas.VoucherPreviewSchema().dump({**answer, "skipped_rows": skipped}))
        result = service.issue(current_actor(), programme, target)
        body = schemas.issue_view(result.batch, result.issued, result.face_fen, result.not_issued_for_budget, skipped)
        return _json(schemas.VoucherIssueSchema().dump(body), 201)


# --- admins: vouchers ---------------------------------------------------------------------------

@blp.route("/vouchers/programmes/<int:programme_id>/vouchers")
class ProgrammeVouchers(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.VoucherQueryArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.VoucherAdminPageSchema)
    def get(self, args, programme_id):
        """The programme's vouchers by id (member's name masked, card's last 4 digits only); `status` narrows."""
        programme = _programme(programme_id)
        stmt = (select(Voucher).where(Voucher.programme_id == programme.id)
                .options(selectinload(Voucher.member).selectinload(Member.cards)).order_by(Voucher.id))
        if args["status"]:
            stmt = stmt.where(Voucher.status == args["status"])
        items, total = paginate(stmt, args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/vouchers/<int:voucher_id>/void")
class VoidVoucher(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.VoucherVoidInSchema, error_status_code=400)
    @blp.response(200, schemas.VoucherAdminSchema)
    @blp.alt_response(409, description="voucher_not_active: only an active voucher can be voided")
    @transactional
    def post(self, data, voucher_id):
        """Void an active voucher for good, with the reason (audited; the member gets a notice)."""
        voucher = service.get_voucher_in_scope(current_scope(), voucher_id)
        service.void(current_actor(), voucher, data["reason"])
        return _json(schemas.VoucherAdminSchema().dump(voucher))


# --- members ------------------------------------------------------------------------------------

@blp.route("/me/vouchers")
class MyVouchers(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.MyVoucherSchema(many=True))
    def get(self):
        """Your vouchers: usable ones first (soonest expiry first), then spent, expired and voided ones."""
        where = _Where()
        return [schemas.my_voucher_view(v, where(v.programme)) for v in service.member_vouchers(current_user.member)]


@blp.route("/me/vouchers/<int:voucher_id>")
class MyVoucher(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.MyVoucherDetailSchema)
    def get(self, voucher_id):
        """One of your vouchers with where it was spent (newest first); anyone else's is a 404."""
        voucher = service.get_member_voucher(current_user.member, voucher_id)
        uses = service.voucher_uses(voucher)
        ids = {u.merchant_id for u in uses}
        names = dict(db.session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(ids))).all()) \
            if ids else {}
        view = schemas.my_voucher_view(voucher, service.describe_scope(voucher.programme))
        view["uses"] = [schemas.use_view(u, names.get(u.merchant_id)) for u in uses]
        return view
