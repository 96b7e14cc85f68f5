"""Admin console pages. Every page is scoped to the admin's own union subtree: a member, card
or organisation outside it is a 404, whatever id is typed into the URL. The member import takes a
CSV/XLSX (at most WEB_IMPORT_MAX_ROWS rows) and shows every bad row with its number and reason."""
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField

from ..audit import filters as audit_filters
from ..audit import labels as audit_labels
from ..audit import readable as audit_readable
from ..audit import service as audit
from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..inputs import whole_number
from ..members import importing
from ..members import service as members
from ..orgs import service as orgs
from ..pagination import page_number, paginate
from . import dashboard as dashboard_figures
from . import staff
from .forms import ActionForm, MemberForm, category_choices

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.register_blueprint(staff.bp)   # /admin/staff: staff accounts (admin/staff.py)

PER_PAGE = 20


@bp.get("")
@admin_required
def dashboard():
    """The union at a glance (its figures and charts: `dashboard`) and its organisation tree; `org`
    looks at a union below the admin's own, figures and all."""
    scope = current_scope()
    focus = orgs.get_in_scope(scope, request.args.get("org", scope.id, type=whole_number))
    overview = dashboard_figures.overview(focus)
    return render_template("admin/dashboard.html", scope=scope, focus=focus,
                           trail=[o for o in orgs.ancestors(focus) if scope.contains(o)],
                           children=orgs.children(focus), child_counts=orgs.child_counts(focus),
                           o=overview, charts=dashboard_figures.chart_specs(overview),
                           funders=dashboard_figures.funder_rows(overview),
                           quiz=dashboard_figures.quiz_rows(overview))


@bp.route("/members", methods=["GET", "POST"])
@admin_required
def member_list():
    """The member register. The search box may hold a whole ID number, so it is posted and never
    put in a URL (access logs keep URLs); its result pages are posted from the same form. The
    filters alone stay in the query string, where links (the dashboard's, the pager's) carry them."""
    scope = current_scope()
    filters = request.form if request.method == "POST" else request.args
    q = (request.form.get("q") or "").strip()[:64]
    status = filters.get("status") if filters.get("status") in ("active", "left") else None
    category = filters.get("category") or None
    category = category if category in dict(category_choices()) else None
    org = orgs.get_in_scope(scope, filters.get("org", type=whole_number)) if filters.get("org") else None
    page = page_number(filters)
    stmt = members.search_members(org or scope, q, status, category)
    items, total = paginate(members.with_cards(stmt), page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("admin/members.html", items=items, total=total, page=page, pages=pages, q=q,
                           status=status, category=category, org=org, categories=category_choices())


@bp.route("/members/new", methods=["GET", "POST"])
@admin_required
def member_new():
    scope = current_scope()
    form = MemberForm()
    if request.method == "GET":
        start = request.args.get("org", type=whole_number)
        form.org_code.data = orgs.get_in_scope(scope, start).code if start else scope.code
    if form.validate_on_submit():
        org = orgs.get_by_code(form.org_code.data.strip())
        if org is None or not scope.contains(org):
            form.org_code.errors.append(_("没有这个工会代码，或不在您的管辖范围内。"))
        else:
            try:
                with unit_of_work():
                    member = members.create_member(current_actor(), org, name=form.name.data,
                                                   id_number=form.id_number.data, phone=form.phone.data,
                                                   category=form.category.data)
                flash(_("已登记入会。"), "success")
                return redirect(url_for("admin.member_detail", member_id=member.id))
            except ValidationError as exc:
                for name, message in exc.details.get("fields", {}).items():
                    getattr(form, name).errors.append(message)
            except DomainError as exc:
                flash(exc.message, "error")
    status = 400 if request.method == "POST" else 200
    return render_template("admin/member_new.html", form=form), status


@bp.get("/members/<int:member_id>")
@admin_required
def member_detail(member_id: int):
    member = members.get_member_in_scope(current_scope(), member_id)
    return render_template("admin/member_detail.html", member=member, form=ActionForm())


def _act(member_id: int, operation, done: str):
    """Run one card or membership action from a one-button form, then back to the member."""
    form = ActionForm()
    member = members.get_member_in_scope(current_scope(), member_id)
    if not form.validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            operation(member)
        flash(done, "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.member_detail", member_id=member_id))


def _card_of(member, card_id: int):
    card = next((c for c in member.cards if c.id == card_id), None)
    if card is None:
        abort(404)
    return card


@bp.post("/members/<int:member_id>/cards")
@admin_required
def card_issue(member_id: int):
    return _act(member_id, lambda m: members.issue_card(current_actor(), m), _("已发卡。"))


@bp.post("/members/<int:member_id>/cards/<int:card_id>/freeze")
@admin_required
def card_freeze(member_id: int, card_id: int):
    return _act(member_id, lambda m: members.freeze_card(current_actor(), _card_of(m, card_id)), _("已冻结此卡。"))


@bp.post("/members/<int:member_id>/cards/<int:card_id>/unfreeze")
@admin_required
def card_unfreeze(member_id: int, card_id: int):
    return _act(member_id, lambda m: members.unfreeze_card(current_actor(), _card_of(m, card_id)), _("已解冻此卡。"))


@bp.post("/members/<int:member_id>/cards/<int:card_id>/report-lost")
@admin_required
def card_report_lost(member_id: int, card_id: int):
    return _act(member_id, lambda m: members.report_lost_and_reissue(current_actor(), _card_of(m, card_id)),
                _("已挂失，原卡号立即停用，并补发新卡。"))


@bp.post("/members/<int:member_id>/leave")
@admin_required
def member_leave(member_id: int):
    return _act(member_id, lambda m: members.record_leave(current_actor(), m), _("已办理退会，会员卡已注销。"))


@bp.post("/members/<int:member_id>/rejoin")
@admin_required
def member_rejoin(member_id: int):
    return _act(member_id, lambda m: members.record_rejoin(current_actor(), m), _("已重新入会，请为其发卡。"))


@bp.post("/members/<int:member_id>/activation-code")
@admin_required
def member_activation_code(member_id: int):
    form = ActionForm()
    member = members.get_member_in_scope(current_scope(), member_id)
    if not form.validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            code = members.create_activation_code(current_actor(), member)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.member_detail", member_id=member_id))
    # Shown in this response only (not flashed into the cookie); it is stored hashed.
    return render_template("admin/member_detail.html", member=member, form=ActionForm(), activation_code=code,
                           code_days=members.ACTIVATION_CODE_DAYS)


@bp.get("/audit")
@admin_required
def audit_log():
    """The log in words (audit/readable.py), filtered by kind of action, account and China days. A
    filter that cannot be read is named on the page (400) and the others still apply."""
    scope = current_scope()
    found = audit_filters.parse(request.args)
    page = page_number()
    items, total = paginate(audit.entries_in_scope(scope, **found.query()), page, PER_PAGE)
    actors = audit_readable.account_names(audit.actors_in_scope(scope))
    return render_template("admin/audit.html", entries=audit_readable.readable(items), total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), found=found, groups=audit_labels.action_groups(),
                           actors=sorted(actors.items(), key=lambda item: item[1]),
                           system=audit.SYSTEM), 400 if found.errors else 200


# --- member import -----------------------------------------------------------------------------

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
