"""Medical benefit API (医疗普惠): union admins create programmes, import the social-insurance
file, preview, build payout batches that a second admin approves, download the bank's payout
file, import its return file, issue failed payouts again and read the totals; members read
their consolation payments.

Admin endpoints are scoped to the admin's union subtree: another union's programme, batch or
file is a 404, exactly like an id that does not exist. Files are multipart uploads (`file`);
a file with bad rows answers 400 naming every row. Money is fen, as integers, both ways."""
from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import transactional
from ..errors import ValidationError
from ..extensions import Blueprint
from ..pagination import paginate
from . import bankfile, schemas, service
from .models import MedicalAward, MedicalPayout

URL_PREFIX = ""
blp = Blueprint("medical_api", __name__, description="Medical benefit (医疗普惠): programmes, insurance imports, "
                                                      "batches, payout and return files, members' payouts")


def _json(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    return response


def _programme(programme_id: int):
    return service.get_programme(current_scope(), programme_id)


def _upload() -> tuple[str, bytes]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("请选择文件。", details={"fields": {"file": ["必填"]}})
    return upload.filename, upload.read()


def _rows(errors) -> list[dict]:
    return schemas.RowErrorSchema(many=True).dump(errors)


def _detail(programme) -> dict:
    return schemas.programme_view(programme, service.payout_counts(programme))


# --- programmes -----------------------------------------------------------------------------------

@blp.route("/medical/programmes")
class Programmes(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ProgrammeSchema(many=True))
    def get(self):
        """Medical-benefit programmes of your union and the unions below it, newest year first."""
        return [schemas.programme_view(p) for p in service.programmes_in_scope(current_scope())]

    @blp.arguments(schemas.ProgrammeInSchema, error_status_code=400)
    @blp.response(201, schemas.ProgrammeDetailSchema)
    @blp.alt_response(409, description="programme_exists: your union already has a programme for that year")
    @transactional
    def post(self, data):
        """Create your union's programme for a year (one per union and year); every bad field is named."""
        programme = service.create_programme(current_actor(), current_scope(), data)
        return _json(schemas.ProgrammeDetailSchema().dump(_detail(programme)), 201)


@blp.route("/medical/programmes/<int:programme_id>")
class ProgrammeItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ProgrammeDetailSchema)
    def get(self, programme_id):
        """A programme with its members and payouts by state."""
        return _detail(_programme(programme_id))


# --- the social-insurance file ----------------------------------------------------------------------

@blp.route("/medical/programmes/<int:programme_id>/imports")
class Imports(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ImportRecordSchema(many=True))
    def get(self, programme_id):
        """The insurance files that changed the programme's records, newest first."""
        return service.imports_of(_programme(programme_id))

    @blp.arguments(schemas.ImportArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.ClaimImportSchema)
    @transactional
    def post(self, args, programme_id):
        """Import the social-insurance file: multipart `file`, CSV or XLSX with 身份证号, 姓名, 年度 and
        自付金额（元）. Every row is checked first; a file with any bad row imports nothing and answers
        400 `file_rows_invalid` with `details.rows` unless `skip_bad_rows`. The same file twice adds
        nothing. At most `WEB_IMPORT_MAX_ROWS` rows here (larger files: `flask medical import`)."""
        programme = _programme(programme_id)
        name, data = _upload()
        report = service.import_claims(current_actor(), programme, name, data, skip_bad_rows=args["skip_bad_rows"],
                                       max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                                       max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
        if report.refused:
            raise ValidationError(f"文件有 {report.bad_rows} 行不对，没有导入。改正后再导入，或选择跳过错误行。",
                                  code="file_rows_invalid", details={"rows": _rows(report.errors),
                                                                     "error_rows": report.bad_rows,
                                                                     "total_rows": report.total_rows})
        return report


# --- preview and batches ----------------------------------------------------------------------------

@blp.route("/medical/programmes/<int:programme_id>/preview")
class PreviewItem(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.PreviewArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.PreviewSchema)
    def get(self, args, programme_id):
        """Every record in its group (qualifies, already paid or being paid, not a member, left,
        outside the union or its categories, no active card, under the threshold) and the cost of
        paying who qualifies against the budget; `reason` lists a page of that group (masked)."""
        programme = _programme(programme_id)
        preview = service.preview(programme)
        reason = args["reason"]
        rows = service.preview_rows(programme, reason, args["page"], args["per_page"]) if reason else []
        return schemas.preview_view(programme, preview, reason, rows, args["page"], args["per_page"],
                                    preview.count(reason) if reason else 0)


@blp.route("/medical/programmes/<int:programme_id>/batches")
class Batches(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.BatchSchema(many=True))
    def get(self, programme_id):
        """The programme's batches, newest first."""
        return service.batches_of(_programme(programme_id))

    @blp.response(201, schemas.BatchSchema)
    @blp.alt_response(409, description="nobody_qualifies, or over_budget: the budget left does not cover the batch")
    @transactional
    def post(self, programme_id):
        """Build a batch of everyone who qualifies now (the preview's `qualifies` group). Another admin approves it."""
        batch = service.create_batch(current_actor(), _programme(programme_id))
        return _json(schemas.BatchSchema().dump(batch), 201)


@blp.route("/medical/batches/<int:batch_id>")
class BatchItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.BatchSchema)
    def get(self, batch_id):
        return service.get_batch(current_scope(), batch_id)


@blp.route("/medical/batches/<int:batch_id>/approve")
class BatchApprove(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ApprovalSchema)
    @blp.alt_response(403, description="second_admin_required: the batch's creator cannot approve it")
    @blp.alt_response(409, description="batch_not_pending (approved already: a second click or a race), over_budget")
    @transactional
    def post(self, batch_id):
        """Approve a pending batch (an admin other than its creator): takes the budget and writes the
        payout file for the card's bank, one payout per member with an active card."""
        return service.approve_batch(current_actor(), service.get_batch(current_scope(), batch_id))


@blp.route("/medical/batches/<int:batch_id>/reject")
class BatchReject(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.BatchSchema)
    @blp.alt_response(409, description="batch_not_pending")
    @transactional
    def post(self, batch_id):
        """Reject a pending batch (its creator may withdraw it); its members can be in a later batch."""
        return service.reject_batch(current_actor(), service.get_batch(current_scope(), batch_id))


# --- payout files, payouts, returns -------------------------------------------------------------------

@blp.route("/medical/programmes/<int:programme_id>/payout-files")
class PayoutFiles(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.PayoutFileSchema(many=True))
    def get(self, programme_id):
        """The programme's payout files, newest first."""
        return service.payout_files_of(_programme(programme_id))

    @blp.response(201, schemas.PayoutFileSchema)
    @blp.alt_response(409, description="nothing_to_reissue")
    @transactional
    def post(self, programme_id):
        """Issue again: a new payout file with a new payout (and reference) for each approved member
        whose last payout failed or who had no active card, onto their active card now."""
        return _json(schemas.PayoutFileSchema().dump(service.reissue(current_actor(), _programme(programme_id))), 201)


@blp.route("/medical/payout-files/<int:file_id>/download")
class PayoutFileDownload(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.DownloadArgs, location="query", error_status_code=400)
    @blp.response(200, description="the file: 卡号, 姓名 (masked), 金额（元）, 业务参考号")
    def get(self, args, file_id):
        """The payout file for the bank, `format=csv` (UTF-8) or `xlsx`."""
        file = service.get_payout_file(current_scope(), file_id)
        lines = service.payout_file_lines(file)
        if args["format"] == "xlsx":
            return Response(bankfile.payout_xlsx(lines),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": f"attachment; filename=medical-payouts-{file.id}.xlsx"})
        return Response(bankfile.payout_csv(lines), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename=medical-payouts-{file.id}.csv"})


@blp.route("/medical/programmes/<int:programme_id>/payouts")
class Payouts(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.PayoutArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.PayoutPageSchema)
    def get(self, args, programme_id):
        """The programme's payouts, newest first (names masked, cards by their last four digits)."""
        stmt = service.payouts_of(_programme(programme_id), args["status"]).options(
            selectinload(MedicalPayout.award).selectinload(MedicalAward.member))
        items, total = paginate(stmt, args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/medical/programmes/<int:programme_id>/returns")
class Returns(MethodView):
    decorators = [admin_required]

    @blp.response(200, schemas.ReturnRecordSchema(many=True))
    def get(self, programme_id):
        """The return files that changed payouts, newest first."""
        return service.return_files_of(_programme(programme_id))

    @blp.response(200, schemas.ReturnImportSchema)
    @transactional
    def post(self, programme_id):
        """Import the bank's return file: multipart `file`, CSV or XLSX with 业务参考号, 结果 (成功/失败)
        and 失败原因. A bad row (an unknown reference, a result that contradicts an earlier return …)
        refuses the whole file: 400 `return_rows_invalid` with `details.rows`. Rows that repeat an
        earlier return change nothing, so the same file twice changes nothing."""
        programme = _programme(programme_id)
        name, data = _upload()
        report = service.import_returns(current_actor(), programme, name, data,
                                        max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                                        max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
        if report.refused:
            raise ValidationError(f"回盘文件有 {report.bad_rows} 行不对，没有导入。", code="return_rows_invalid",
                                  details={"rows": _rows(report.errors), "error_rows": report.bad_rows,
                                           "total_rows": report.total_rows})
        return report


@blp.route("/medical/totals")
class Totals(MethodView):
    decorators = [admin_required]

    @blp.arguments(schemas.TotalsArgs, location="query", error_status_code=400)
    @blp.response(200, schemas.TotalsSchema)
    def get(self, args):
        """Consolation payments per year and per organisation for the members of your subtree:
        paid (on the card) and in payment (approved, with the bank)."""
        lines = service.totals(current_scope(), args["year"])
        return {"years": service.yearly(lines), "organisations": lines}


# --- members ------------------------------------------------------------------------------------

@blp.route("/me/medical-payouts")
class MyPayouts(MethodView):
    decorators = [member_required]

    @blp.response(200, schemas.MyPayoutSchema(many=True))
    def get(self):
        """Your consolation payments (慰问金), newest year first: paid, with the bank, or to be sent again."""
        return service.member_payouts(current_user.member)
