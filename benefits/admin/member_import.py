"""Member import page: upload a CSV/XLSX (at most WEB_IMPORT_MAX_ROWS rows) into the admin's own
subtree; every bad row is shown with its row number and reason. Routes live on the admin `bp`."""
from __future__ import annotations

from flask import Response, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField

from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError
from ..members import importing
from .views import bp


class ImportForm(FlaskForm):
    file = FileField(_l("会员名单文件（CSV 或 XLSX）"), validators=[FileRequired(_l("请选择文件。"))])
    skip_invalid = BooleanField(_l("跳过有错误的行，只导入正确的行"))


def _render(form, status: int = 200, **context):
    return render_template("admin/import.html", form=form, scope=current_scope(),
                           max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                           max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
                           **context), status


@bp.route("/members/import", methods=["GET", "POST"])
@admin_required
def member_import():
    try:
        form = ImportForm()
    except RequestEntityTooLarge:
        # The body was refused before it was read; show the page with the reason, not a bare 413.
        return _render(ImportForm(formdata=None), 413, refused="payload_too_large")
    if not form.validate_on_submit():
        return _render(form, 400 if request.method == "POST" else 200)
    upload = form.file.data
    try:
        with unit_of_work():
            report = importing.import_members(
                current_actor(), upload.filename or "upload", upload.read(), scope=current_scope(),
                skip_invalid=form.skip_invalid.data, max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"])
    except DomainError as exc:
        return _render(form, exc.status, refused=exc.code, refused_message=exc.message, refused_details=exc.details)
    return _render(form, 200 if report.imported else 422, report=report)


@bp.get("/members/import/template.csv")
@admin_required
def member_import_template():
    return Response(importing.template_csv(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=member-import-template.csv"})
