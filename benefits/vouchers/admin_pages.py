"""Union admin pages for voucher programmes (券活动): list, create, detail with the report, the
batch issue (预览 then 确认发放), closing a programme and voiding a voucher.

Every page is scoped to the admin's own union subtree: a programme or voucher outside it is a
404 (the service's `get_programme` / `get_voucher_in_scope`). A file's resolved member list is
carried from the preview to the confirmation in a signed hidden field, and checked against the
programme's union again when it comes back."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..extensions import db
from ..inputs import whole_number
from ..members.importing import ImportRefused
from ..members.models import Member
from ..merchants.models import Merchant, Store
from ..orgs import service as orgs
from ..pagination import page_number, paginate
from . import rules, service, targets
from .blueprint import bp
from .forms import ActionForm, IssueForm, ProgrammeForm, VoidForm
from .models import VOUCHER_STATUSES, Voucher

PER_PAGE = 50
SHOWN_ROW_ERRORS = 500
LIST_TOKEN_MAX_AGE = 24 * 3600   # a preview's member list is good for a day
ISSUE_ERROR_FIELDS = {"org_id": "org_code"}


def mask_name(name: str | None) -> str:
    name = name or ""
    return name[:1] + "*" * max(1, len(name) - 1)


# --- list and create ------------------------------------------------------------------------------

@bp.get("/admin/vouchers")
@admin_required
def admin_list():
    programmes = service.programmes_in_scope(current_scope())
    return render_template("vouchers/admin_list.html", programmes=programmes)


def _merchant_choices(form: ProgrammeForm) -> None:
    in_scope = Merchant.org_id.in_(orgs.subtree_ids_select(current_scope()))
    merchants = db.session.execute(select(Merchant.id, Merchant.name).where(in_scope).order_by(Merchant.name)).all()
    form.merchant_ids.choices = [(m.id, m.name) for m in merchants]
    stores = db.session.execute(select(Store.id, Merchant.name, Store.name).join(Merchant)
                                .where(in_scope).order_by(Merchant.name, Store.name)).all()
    form.store_ids.choices = [(s[0], f"{s[1]} · {s[2]}") for s in stores]


@bp.route("/admin/vouchers/new", methods=["GET", "POST"])
@admin_required
def admin_new():
    scope = current_scope()
    form = ProgrammeForm()
    _merchant_choices(form)
    if request.method == "GET":
        return render_template("vouchers/admin_new.html", form=form, errors=[])
    valid = form.validate_on_submit()     # the CSRF token
    if getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
        flash(_("页面已过期，请刷新后重新提交。"), "error")
    data = form.draft()
    try:
        if not valid or form.page_errors():
            service.clean_programme(data, scope)   # only for its messages on the other fields
        else:
            with unit_of_work():
                programme = service.create_programme(current_actor(), scope, data)
            flash(_("券活动“%(name)s”已创建，可以发券了。", name=programme.name), "success")
            return redirect(url_for("vouchers.admin_detail", programme_id=programme.id))
    except ValidationError as exc:
        form.add_service_errors(exc.details.get("fields", {}))
    except DomainError as exc:
        flash(exc.message, "error")
    return render_template("vouchers/admin_new.html", form=form, errors=form.error_summary()), 400


# --- detail, close, void ----------------------------------------------------------------------------

def _with_parts(part: dict, split) -> dict:
    """A report line with union / bank / top-up parts (forfeited value has only its face part:
    split by the programme's shares, as what was never spent is)."""
    out = dict(part)
    if "union_fen" not in out:
        shares = rules.funders_split(int(out.get("face_fen", 0)), split)
        out.update(union_fen=shares["union"], bank_fen=shares["bank"])
    if "topup_fen" not in out:
        out["topup_fen"] = int(out.get("value_fen", 0)) - int(out.get("face_fen", 0))
    return out


@bp.get("/admin/vouchers/<int:programme_id>")
@admin_required
def admin_detail(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    report = service.programme_report(programme)
    lines = [(key, _with_parts(report[key], programme.split))
             for key in ("issued", "spent", "forfeited", "expired", "voided", "outstanding")]
    status = request.args.get("status") if request.args.get("status") in VOUCHER_STATUSES else None
    stmt = (select(Voucher).where(Voucher.programme_id == programme.id)
            .options(selectinload(Voucher.member).selectinload(Member.cards)).order_by(Voucher.id.desc()))
    if status:
        stmt = stmt.where(Voucher.status == status)
    page = page_number()
    vouchers, total = paginate(stmt, page, PER_PAGE)
    return render_template("vouchers/admin_detail.html", programme=programme, report=report, lines=lines,
                           where=service.describe_scope(programme), batches=service.batches_of(programme),
                           vouchers=vouchers, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                           status=status, mask_name=mask_name, action_form=ActionForm(), void_form=VoidForm())


@bp.post("/admin/vouchers/<int:programme_id>/close")
@admin_required
def admin_close(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            service.close_programme(current_actor(), programme)
        flash(_("券活动已结束发放；已发出的券在有效期内仍可使用。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("vouchers.admin_detail", programme_id=programme_id))


@bp.post("/admin/vouchers/<int:voucher_id>/void")
@admin_required
def admin_void(voucher_id: int):
    voucher = service.get_voucher_in_scope(current_scope(), voucher_id)
    programme_id = voucher.programme_id
    form = VoidForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        with unit_of_work():
            service.void(current_actor(), voucher, form.reason.data or "")
        flash(_("已作废第 %(id)s 号券。", id=voucher_id), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    page = request.form.get("page", type=whole_number)
    return redirect(url_for("vouchers.admin_detail", programme_id=programme_id,
                            **({"page": page} if page and page > 1 else {})) + "#vouchers")


# --- batch issue ------------------------------------------------------------------------------------

def _refusal_messages() -> dict:
    return {
        "unsupported_file_type": _("只能上传 .csv 或 .xlsx 文件。"),
        "bad_encoding": _("文件编码无法识别，请保存为 UTF-8 或 GBK。"),
        "bad_csv": _("文件无法读取，请检查格式。"),
        "bad_xlsx": _("不是有效的 XLSX 工作簿。"),
        "xlsx_too_large": _("XLSX 文件解压后过大。"),
        "xlsx_zip_bomb": _("XLSX 文件压缩比异常，已拒绝。"),
        "xlsx_dtd": _("XLSX 文件含有 DTD 声明（<!DOCTYPE>），正常的工作簿没有，已拒绝。"),
    }


class _Refused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class _List:
    """A file's members as resolved for one programme, and its bad rows (the first few shown)."""
    name: str
    rows: int
    ids: list[int]
    error_count: int
    errors: list = field(default_factory=list)   # [row, kind, message, masked value]
    token: str = ""


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="vouchers.issue-list")


def _read_list(programme, upload) -> _List:
    limit = current_app.config["WEB_IMPORT_MAX_ROWS"]
    try:
        entries = targets.read_file(upload.filename or "upload", upload.read(), max_rows=limit)
    except ImportRefused as exc:
        if exc.code == "too_many_rows":
            raise _Refused(_("网页一次最多 %(n)s 行；更大的名单请联系系统管理员用命令行发放。", n=limit)) from None
        raise
    ids, errors = targets.resolve(programme, entries)
    shown = [[e.row, e.column, e.message, e.value] for e in errors[:SHOWN_ROW_ERRORS]]
    listed = _List(upload.filename or "", len(entries), ids, len(errors), shown)
    listed.token = _signer().dumps({"p": programme.id, "name": listed.name, "rows": listed.rows, "ids": ids,
                                    "n": listed.error_count, "errors": shown})
    return listed


def _load_list(programme, token: str) -> _List:
    try:
        data = _signer().loads(token, max_age=LIST_TOKEN_MAX_AGE)
    except BadSignature:
        raise _Refused(_("名单已失效，请重新上传文件。")) from None
    if not isinstance(data, dict) or data.get("p") != programme.id:
        raise _Refused(_("名单已失效，请重新上传文件。"))
    ids = [int(i) for i in data.get("ids") or ()]
    # checked again: only members of the programme's union (inside the admin's scope) stay
    if ids:
        inside = set(db.session.scalars(select(Member.id).where(
            Member.id.in_(ids), Member.org_id.in_(orgs.subtree_ids_select(programme.org)))))
        ids = [i for i in ids if i in inside]
    return _List(str(data.get("name") or ""), int(data.get("rows") or 0), ids, int(data.get("n") or 0),
                 list(data.get("errors") or ()), token)


def _round(form: IssueForm) -> int | None:
    text = (form.round.data or "").strip() or "1"
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100:
        form.round.errors.append(_("轮次须为 1–100 的整数"))
        return None
    return int(text)


def _target(programme, form: IssueForm) -> tuple[service.Target | None, _List | None]:
    """The target the form names (None when a field is wrong: the field says why)."""
    number = _round(form)
    categories = list(dict.fromkeys(form.member_categories.data or []))
    code = (form.org_code.data or "").strip()
    org = None
    if code:
        org = orgs.get_by_code(code[:64])
        if org is None or not current_scope().contains(org):
            form.org_code.errors.append(_("没有这个组织代码，或不在您的管辖范围内。"))
            org = None
    listed = None
    if form.file.data:
        listed = _read_list(programme, form.file.data)
    elif form.list_token.data:
        listed = _load_list(programme, form.list_token.data)
    if listed is not None and (categories or code):
        form.file.errors.append(_("按名单发放时，请不要再选会员类别或组织。"))
    if any(f.errors for f in form):
        return None, listed
    if listed is not None:
        return service.Target(member_ids=tuple(listed.ids), source_name=listed.name, round=number), listed
    return service.Target(member_categories=tuple(categories), org=org, round=number), None


def _issue_page(programme, form, status: int = 200, **context):
    return render_template("vouchers/admin_issue.html", programme=programme, form=form,
                           max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"],
                           max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
                           **context), status


@bp.route("/admin/vouchers/<int:programme_id>/issue", methods=["GET", "POST"])
@admin_required
def admin_issue(programme_id: int):
    programme = service.get_programme(current_scope(), programme_id)
    try:
        form = IssueForm()
    except RequestEntityTooLarge:
        # the body was refused before it was read: the page with the reason, not a bare 413
        return _issue_page(programme, IssueForm(formdata=None), 413, refused=_("文件太大，超过上传限制。"))
    if request.method == "GET":
        return _issue_page(programme, form)
    if not form.validate_on_submit():
        return _issue_page(programme, form, 400, refused=_("页面已过期，请刷新后重新提交。"))
    if programme.status != "active":
        return _issue_page(programme, form, 409, refused=_("此券活动已结束发放，不能再发券。"))
    confirming = request.form.get("action") == "issue"
    listed = None
    try:
        target, listed = _target(programme, form)
        if target is None:
            return _issue_page(programme, form, 400, listed=listed)
        carry = {"member_categories": list(target.member_categories), "org_code": (form.org_code.data or "").strip(),
                 "round": target.round, "list_token": listed.token if listed else ""}
        if confirming and not (listed and listed.error_count and not form.skip_errors.data):
            with unit_of_work():
                result = service.issue(current_actor(), programme, target)
            return _issue_page(programme, IssueForm(formdata=None), result=result, listed=listed)
        preview = service.preview(programme, target)
        refused = None
        if confirming:
            refused = _("文件中有 %(n)s 行有问题，未发放。请勾选“跳过有问题的行”后再确认，或修改文件后重新上传。",
                        n=listed.error_count)
        return _issue_page(programme, form, 400 if refused else 200, preview=preview, listed=listed, carry=carry,
                           refused=refused)
    except _Refused as exc:
        return _issue_page(programme, form, exc.status, refused=exc.message, listed=listed)
    except ImportRefused as exc:
        return _issue_page(programme, form, 400, refused=_refusal_messages().get(exc.code, exc.message))
    except ValidationError as exc:
        fields = exc.details.get("fields", {})
        for name, messages in fields.items():
            target_field = getattr(form, ISSUE_ERROR_FIELDS.get(name, name), None) or form.member_categories
            target_field.errors.extend(m for m in messages if m not in target_field.errors)
        return _issue_page(programme, form, 400, refused=None if fields else exc.message, listed=listed)
    except DomainError as exc:
        return _issue_page(programme, form, exc.status, refused=exc.message, listed=listed)
