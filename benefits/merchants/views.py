"""Merchant pages: the union admin's onboarding console (the cashier's till is in `transactions`)."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import charts, clock, periods
from ..auth.access import admin_required, current_actor, current_scope
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter
from ..pagination import page_number, paginate
from ..pii import mask_phone
from ..transactions import settlement
from . import service
from ..transactions.views import statement_page
from .forms import (ActionForm, CashierForm, CloseStatementForm, MerchantForm, StoreForm, TerminalKeyForm,
                    category_names, status_names)

bp = Blueprint("merchants", __name__)
TOP_MERCHANTS = 10     # merchants drawn in the report's chart (the table lists every one)


def _owner_choices(scope: Organisation) -> list[tuple[int, str]]:
    orgs = db.session.scalars(select(Organisation).where(subtree_filter(scope), Organisation.level != "grassroots")
                              .order_by(Organisation.path).limit(500))
    return [(o.id, o.name) for o in orgs] or [(scope.id, scope.name)]


def _labels() -> dict:
    return {"category_names": category_names(), "status_names": status_names()}


# --- union admin: onboarding -----------------------------------------------------------------

@bp.get("/admin/merchants")
@admin_required
def merchant_list():
    scope = current_scope()
    q, status, category = request.args.get("q", ""), request.args.get("status") or None, request.args.get("category") or None
    page = page_number()
    items, total = paginate(service.merchants_in_scope(scope, q=q, status=status, category=category), page, 50)
    return render_template("merchants/admin_list.html", items=items, total=total, page=page,
                           pages=max(1, -(-total // 50)), q=q, status=status, category=category, **_labels())


@bp.route("/admin/merchants/new", methods=["GET", "POST"])
@admin_required
def merchant_new():
    scope = current_scope()
    form = MerchantForm()
    form.org_id.choices = _owner_choices(scope)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                org = db.session.get(Organisation, form.org_id.data)
                merchant = service.create_merchant(
                    current_actor(), scope, org, name=form.name.data, category=form.category.data,
                    status=form.status.data, contact_name=form.contact_name.data,
                    contact_phone=form.contact_phone.data, accepts_card_number=form.accepts_card_number.data)
                merchant_id = merchant.id
            flash(_("商家已创建。请添加门店、收银员和终端密钥。"), "success")
            return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))
        except DomainError as exc:
            _form_errors(form, exc)
    return render_template("merchants/admin_form.html", form=form, merchant=None), 400 if form.errors else 200


def _form_errors(form, exc: DomainError) -> None:
    fields = (exc.details or {}).get("fields") or {}
    for name, message in fields.items():
        if hasattr(form, name):
            getattr(form, name).errors = [*getattr(form, name).errors, str(message)]
    flash(exc.message, "error")


def _detail_forms(merchant):
    store_choices = [(s.id, s.name) for s in merchant.stores]
    cashier = CashierForm(prefix="cashier")
    cashier.store_id.choices = [(0, _("全部门店"))] + store_choices
    key = TerminalKeyForm(prefix="key")
    key.store_id.choices = store_choices
    edit = MerchantForm(prefix="edit", obj=merchant)
    # The phone is PII: never echoed back; an empty field keeps the stored number.
    edit.contact_phone.data = ""
    edit.contact_phone.render_kw = {"placeholder": mask_phone(merchant.contact_phone)}
    edit.org_id.choices = _owner_choices(current_scope())
    yesterday = clock.business_day() - timedelta(days=1)
    close = CloseStatementForm(prefix="close", data={"through": yesterday})
    return {"store_form": StoreForm(prefix="store"), "cashier_form": cashier, "key_form": key, "edit_form": edit,
            "close_form": close, "action_form": ActionForm()}


def _render_detail(merchant, status: int = 200, new_key: str | None = None, **forms):
    context = _detail_forms(merchant)
    context.update(forms)
    return render_template(
        "merchants/admin_detail.html", merchant=merchant, staff=service.staff_of(merchant),
        keys=service.terminal_keys_of(merchant), statements=settlement.statements_of(merchant),
        open_totals=settlement.period_totals(merchant.id, None), new_key=new_key, **_labels(), **context), status


@bp.get("/admin/merchants/<int:merchant_id>")
@admin_required
def merchant_detail(merchant_id: int):
    return _render_detail(service.get_merchant_in_scope(current_scope(), merchant_id))


@bp.post("/admin/merchants/<int:merchant_id>/edit")
@admin_required
def merchant_edit(merchant_id: int):
    scope = current_scope()
    merchant = service.get_merchant_in_scope(scope, merchant_id)
    form = MerchantForm(prefix="edit")
    form.org_id.choices = _owner_choices(scope)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                org = db.session.get(Organisation, form.org_id.data)
                if org is None or not scope.contains(org):
                    raise ValidationError(_("该组织不在您的管辖范围内。"))
                merchant.org_id = org.id
                service.update_merchant(current_actor(), merchant, name=form.name.data, category=form.category.data,
                                        status=form.status.data, contact_name=form.contact_name.data,
                                        contact_phone=form.contact_phone.data or merchant.contact_phone,
                                        accepts_card_number=form.accepts_card_number.data)
            flash(_("已保存。"), "success")
            return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))
        except DomainError as exc:
            _form_errors(form, exc)
    merchant = service.get_merchant_in_scope(scope, merchant_id)
    return _render_detail(merchant, 400, edit_form=form)


@bp.post("/admin/merchants/<int:merchant_id>/stores")
@admin_required
def store_add(merchant_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    form = StoreForm(prefix="store")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                service.add_store(current_actor(), merchant, name=form.name.data, address=form.address.data)
            flash(_("门店已添加。"), "success")
            return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))
        except DomainError as exc:
            _form_errors(form, exc)
    return _render_detail(merchant, 400, store_form=form)


@bp.post("/admin/merchants/<int:merchant_id>/cashiers")
@admin_required
def cashier_add(merchant_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    form = CashierForm(prefix="cashier")
    form.store_id.choices = [(0, "")] + [(s.id, s.name) for s in merchant.stores]
    if form.validate_on_submit():
        try:
            with unit_of_work():
                store = service.get_store(merchant, form.store_id.data) if form.store_id.data else None
                service.create_cashier(current_actor(), merchant, username=form.username.data,
                                       display_name=form.display_name.data, password=form.password.data, store=store)
            flash(_("收银员账号已创建。"), "success")
            return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))
        except DomainError as exc:
            _form_errors(form, exc)
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    return _render_detail(merchant, 400, cashier_form=form)


@bp.post("/admin/merchants/<int:merchant_id>/keys")
@admin_required
def key_issue(merchant_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    form = TerminalKeyForm(prefix="key")
    form.store_id.choices = [(s.id, s.name) for s in merchant.stores]
    if form.validate_on_submit():
        with unit_of_work():
            _row, key = service.issue_terminal_key(current_actor(), service.get_store(merchant, form.store_id.data),
                                                   form.label.data)
        # Shown once, on this response only; never stored in plain text or in the session.
        merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
        return _render_detail(merchant, 201, new_key=key)
    return _render_detail(merchant, 400, key_form=form)


@bp.post("/admin/merchants/<int:merchant_id>/keys/<int:key_id>/revoke")
@admin_required
def key_revoke(merchant_id: int, key_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    if ActionForm().validate_on_submit():
        try:
            with unit_of_work():
                service.revoke_terminal_key(current_actor(), service.get_terminal_key(merchant, key_id))
            flash(_("密钥已吊销。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))


@bp.post("/admin/merchants/<int:merchant_id>/statements")
@admin_required
def statement_close(merchant_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    form = CloseStatementForm(prefix="close")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                settlement.close_statement(current_actor(), merchant, form.through.data)
            flash(_("结算单已生成。"), "success")
            return redirect(url_for("merchants.merchant_detail", merchant_id=merchant_id))
        except DomainError as exc:
            _form_errors(form, exc)
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    return _render_detail(merchant, 400, close_form=form)


@bp.get("/admin/merchants/<int:merchant_id>/statements/<int:statement_id>")
@admin_required
def admin_statement(merchant_id: int, statement_id: int):
    merchant = service.get_merchant_in_scope(current_scope(), merchant_id)
    return statement_page(merchant, settlement.get_statement(merchant, statement_id), admin=True)


@bp.get("/admin/merchants/report")
@admin_required
def merchant_report():
    scope = current_scope()
    period, error = periods.from_args_or_default(request.args, periods.month_to_date())
    rows = settlement.merchant_report(scope, period.start, period.end)
    days = settlement.daily_spend(scope, period)
    top = sorted((r for r in rows if r["amount_fen"] or r["discount_fen"]),
                 key=lambda r: (-r["amount_fen"], r["merchant"].id))[:TOP_MERCHANTS]
    charts_ = {
        "merchants": charts.chart("hbar", [r["merchant"].name for r in top],
                                  [(_("交易额"), [r["amount_fen"] for r in top]),
                                   (_("优惠"), [r["discount_fen"] for r in top])], money=True),
        "days": charts.chart("line", [charts.day_label(d["day"]) for d in days],
                             [(_("交易额"), [d["amount_fen"] for d in days]),
                              (_("优惠"), [d["discount_fen"] for d in days])], money=True),
    }
    return render_template("merchants/admin_report.html", rows=rows, totals=settlement.report_totals(rows),
                           period=period, period_error=error, charts=charts_, top_n=TOP_MERCHANTS,
                           **_labels()), 400 if error else 200
