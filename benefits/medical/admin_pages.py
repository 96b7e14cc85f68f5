"""Union admin pages of the medical benefit (医疗普惠): programmes, the insurance import, the
preview, batches and their approval by a second admin, payout files, the bank's return file,
issuing failed payouts again, and the totals per year and organisation (with a CSV export).

Every page is scoped to the admin's own union subtree: a programme, batch or file outside it is a
404 (the service's `get_*`). Each page calls the same service function as the API."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..inputs import whole_number
from ..members.importing import ImportRefused
from ..orgs import service as orgs
from ..pagination import page_number, paginate
from ..prizes.rules import mask_name
from . import bankfile, rules, service
from .blueprint import bp
from .forms import ActionForm, ClaimsForm, ProgrammeForm, ReturnsForm
from .models import MedicalAward, MedicalPayout, PAYOUT_STATUSES

PER_PAGE = 50
SHOWN_ROW_ERRORS = 500


def _limits() -> dict:
    return {"max_rows": current_app.config["WEB_IMPORT_MAX_ROWS"],
            "max_mb": (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)}


def _refusal(exc: ImportRefused) -> str:
    messages = {
        "unsupported_file_type": _("只能上传 .csv 或 .xlsx 文件。"),
        "bad_encoding": _("文件编码无法识别，请保存为 UTF-8 或 GBK。"),
        "bad_csv": _("文件无法读取，请检查格式。"),
        "bad_xlsx": _("不是有效的 XLSX 工作簿。"),
        "xlsx_too_large": _("XLSX 文件解压后过大。"),
        "xlsx_zip_bomb": _("XLSX 文件压缩比异常，已拒绝。"),
        "xlsx_dtd": _("XLSX 文件含有 DTD 声明（<!DOCTYPE>），正常的工作簿没有，已拒绝。"),
        "too_many_rows": _("网页一次最多导入 %(n)s 行；更大的文件请用命令行 flask medical import。",
                           n=current_app.config["WEB_IMPORT_MAX_ROWS"]),
    }
    return messages.get(exc.code, exc.message)


# --- programmes ---------------------------------------------------------------------------------

@bp.get("/admin/medical")
@admin_required
def admin_list():
    return render_template("medical/admin_list.html", programmes=service.programmes_in_scope(current_scope()))


def _org_id_of_code(code: str) -> int:
    org = orgs.get_by_code(code)
    return org.id if org is not None else -1


@bp.route("/admin/medical/new", methods=["GET", "POST"])
@admin_required
def admin_new():
    form = ProgrammeForm()
    if request.method == "GET":
        return render_template("medical/admin_new.html", form=form, errors=[])
    if not form.validate_on_submit():
        flash(_("页面已过期，请刷新后重新提交。"), "error")
        return render_template("medical/admin_new.html", form=form, errors=[]), 400
    data = form.draft(_org_id_of_code)
    try:
        if form.page_errors():
            service.clean_programme(data, current_scope())     # only for its messages on the other fields
        else:
            with unit_of_work():
                programme = service.create_programme(current_actor(), current_scope(), data)
            flash(_("医疗普惠项目“%(name)s”已建立，请导入医保数据。", name=programme.name), "success")
            return redirect(url_for("medical.admin_detail", programme_id=programme.id))
    except ValidationError as exc:
        form.add_service_errors(exc.details.get("fields", {}))
    except DomainError as exc:
        form.add_service_errors(exc.details.get("fields", {}))
        flash(exc.message, "error")
    return render_template("medical/admin_new.html", form=form, errors=form.error_summary()), 400


@bp.get("/admin/medical/<int:programme_id>")
@admin_required
def admin_detail(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    return render_template("medical/admin_detail.html", programme=programme,
                           state=service.payout_counts(programme), imports=service.imports_of(programme),
                           batches=service.batches_of(programme), files=service.payout_files_of(programme),
                           returns=service.return_files_of(programme), action_form=ActionForm())


# --- the insurance file ----------------------------------------------------------------------------

def _import_page(programme, form, status: int = 200, **context):
    return render_template("medical/admin_import.html", programme=programme, form=form, **_limits(),
                           shown=SHOWN_ROW_ERRORS, **context), status


@bp.route("/admin/medical/<int:programme_id>/import", methods=["GET", "POST"])
@admin_required
def admin_import(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    try:
        form = ClaimsForm()
    except RequestEntityTooLarge:
        return _import_page(programme, ClaimsForm(formdata=None), 413, refused=_("文件太大，超过上传限制。"))
    if request.method == "GET":
        return _import_page(programme, form)
    if not form.validate_on_submit():
        return _import_page(programme, form, 400, refused=_("页面已过期，请刷新后重新提交。"))
    upload = form.file.data
    if not upload or not upload.filename:
        form.file.errors.append(_("请选择文件。"))
        return _import_page(programme, form, 400)
    try:
        with unit_of_work():
            report = service.import_claims(current_actor(), programme, upload.filename, upload.read(),
                                           skip_bad_rows=bool(form.skip_bad_rows.data),
                                           max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                                           max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
    except ImportRefused as exc:
        return _import_page(programme, form, 400, refused=_refusal(exc))
    except DomainError as exc:
        return _import_page(programme, form, exc.status, refused=exc.message)
    return _import_page(programme, form, 422 if report.refused else 200, report=report)


@bp.get("/admin/medical/<int:programme_id>/import/template.csv")
@admin_required
def admin_import_template(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    return Response(bankfile.claims_template_csv(programme.year), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=medical-claims-template.csv"})


# --- preview and batches ----------------------------------------------------------------------------

@bp.get("/admin/medical/<int:programme_id>/preview")
@admin_required
def admin_preview(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    reason = request.args.get("reason") if request.args.get("reason") in rules.REASONS else "qualifies"
    page = page_number()
    preview = service.preview(programme)
    total = preview.count(reason)
    rows = service.preview_rows(programme, reason, page, PER_PAGE)
    return render_template("medical/admin_preview.html", programme=programme, preview=preview,
                           reason=reason, rows=rows, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                           reasons=rules.REASONS, reason_names=rules.REASON_NAMES, mask_name=mask_name,
                           action_form=ActionForm())


@bp.post("/admin/medical/<int:programme_id>/batches")
@admin_required
def admin_create_batch(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            batch = service.create_batch(current_actor(), programme)
        flash(_("已生成第 %(id)s 号批次（%(n)s 人），请另一位管理员审批。", id=batch.id, n=batch.member_count), "success")
        return redirect(url_for("medical.admin_batch", batch_id=batch.id))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("medical.admin_preview", programme_id=programme_id))


@bp.get("/admin/medical/batches/<int:batch_id>")
@admin_required
def admin_batch(batch_id: int):
    batch = service.get_batch(current_scope(), batch_id)
    page = page_number()
    awards, total = service.batch_awards(batch, page, PER_PAGE)
    files = [f for f in service.payout_files_of(batch.programme) if f.batch_id == batch.id]
    return render_template("medical/admin_batch.html", batch=batch, programme=batch.programme, awards=awards,
                           total=total, page=page, pages=max(1, -(-total // PER_PAGE)), files=files,
                           mask_name=mask_name, action_form=ActionForm(),
                           is_creator=batch.created_by_user_id == current_actor().id)


@bp.post("/admin/medical/batches/<int:batch_id>/approve")
@admin_required
def admin_approve(batch_id: int):
    return _decide(batch_id, "approve")


@bp.post("/admin/medical/batches/<int:batch_id>/reject")
@admin_required
def admin_reject(batch_id: int):
    return _decide(batch_id, "reject")


def _decide(batch_id: int, action: str):
    batch = service.get_batch(current_scope(), batch_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            if action == "approve":
                approval = service.approve_batch(current_actor(), batch)
                flash(_("已审批。发放文件第 %(id)s 号：%(n)s 笔，请下载后交给银行。", id=approval.file.id,
                        n=approval.payouts), "success")
                if approval.without_card:
                    flash(_("有 %(n)s 人目前没有正常状态的会员卡，未列入发放文件；办卡后可“重新发放”。",
                            n=approval.without_card), "error")
            else:
                service.reject_batch(current_actor(), batch)
                flash(_("已驳回此批次，其中的会员可以列入以后的批次。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("medical.admin_batch", batch_id=batch_id))


# --- payout files, returns, reissue --------------------------------------------------------------

@bp.get("/admin/medical/files/<int:file_id>.<fmt>")
@admin_required
def admin_file(file_id: int, fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    file = service.get_payout_file(current_scope(), file_id)
    lines = service.payout_file_lines(file)
    if fmt == "xlsx":
        return Response(bankfile.payout_xlsx(lines),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=medical-payouts-{file.id}.xlsx"})
    return Response(bankfile.payout_csv(lines), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=medical-payouts-{file.id}.csv"})


def _returns_page(programme, form, status: int = 200, **context):
    status_filter = request.args.get("status") if request.args.get("status") in PAYOUT_STATUSES else None
    page = page_number()
    stmt = service.payouts_of(programme, status_filter).options(
        selectinload(MedicalPayout.award).selectinload(MedicalAward.member))
    payouts, total = paginate(stmt, page, PER_PAGE)
    return render_template("medical/admin_returns.html", programme=programme, form=form, payouts=payouts,
                           total=total, page=page, pages=max(1, -(-total // PER_PAGE)), status=status_filter,
                           mask_name=mask_name, card_tail=rules.card_tail, shown=SHOWN_ROW_ERRORS,
                           state=service.payout_counts(programme), action_form=ActionForm(), **_limits(),
                           **context), status


@bp.route("/admin/medical/<int:programme_id>/returns", methods=["GET", "POST"])
@admin_required
def admin_returns(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    try:
        form = ReturnsForm()
    except RequestEntityTooLarge:
        return _returns_page(programme, ReturnsForm(formdata=None), 413, refused=_("文件太大，超过上传限制。"))
    if request.method == "GET":
        return _returns_page(programme, form)
    if not form.validate_on_submit():
        return _returns_page(programme, form, 400, refused=_("页面已过期，请刷新后重新提交。"))
    upload = form.file.data
    if not upload or not upload.filename:
        form.file.errors.append(_("请选择文件。"))
        return _returns_page(programme, form, 400)
    try:
        with unit_of_work():
            report = service.import_returns(current_actor(), programme, upload.filename, upload.read(),
                                            max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                                            max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
    except ImportRefused as exc:
        return _returns_page(programme, form, 400, refused=_refusal(exc))
    except DomainError as exc:
        return _returns_page(programme, form, exc.status, refused=exc.message)
    return _returns_page(programme, form, 422 if report.refused else 200, report=report)


@bp.post("/admin/medical/<int:programme_id>/reissue")
@admin_required
def admin_reissue(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            file = service.reissue(current_actor(), programme)
        flash(_("已生成重新发放文件第 %(id)s 号：%(n)s 笔。", id=file.id, n=file.payout_count), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("medical.admin_detail", programme_id=programme_id) + "#files")


# --- the union's totals ------------------------------------------------------------------------------

def _year() -> int | None:
    year = request.args.get("year", None, type=whole_number)
    return year if year is not None and 2000 <= year <= 2100 else None


@bp.get("/admin/medical/report")
@admin_required
def admin_report():
    year = _year()
    every = service.totals(current_scope())
    lines = [line for line in every if year is None or line.year == year]
    return render_template("medical/admin_report.html", lines=lines, years=service.yearly(lines), year=year,
                           all_years=sorted({line.year for line in every}, reverse=True))


@bp.get("/admin/medical/report.csv")
@admin_required
def admin_report_csv():
    lines = service.totals(current_scope(), _year())
    return Response(bankfile.totals_csv(lines), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=medical-totals.csv"})
