"""Merchant pages: the union admin's onboarding console and the cashier's till, day list and statements."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import clock, idempotency
from ..auth.access import admin_required, current_actor, current_scope, merchant_staff_required
from ..database import unit_of_work
from ..errors import DomainError, ValidationError
from ..extensions import db
from ..money import MoneyFormatError, parse_yuan
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter
from ..pagination import paginate
from ..pii import mask_phone
from ..transactions import service as transactions
from . import service
from .forms import (ActionForm, CashierForm, CloseStatementForm, ConfirmForm, MerchantForm, RefundForm, StoreForm,
                    TerminalKeyForm, TillForm, category_names, status_names)

bp = Blueprint("merchants", __name__)


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
    page = max(request.args.get("page", 1, type=int), 1)
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
        keys=service.terminal_keys_of(merchant), statements=transactions.statements_of(merchant),
        open_totals=transactions.period_totals(merchant.id, None), new_key=new_key, **_labels(), **context), status


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
                    raise ValidationError("organisation not in your scope")
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
                transactions.close_statement(current_actor(), merchant, form.through.data)
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
    return _statement_page(merchant, transactions.get_statement(merchant, statement_id), admin=True)


@bp.get("/admin/merchants/report")
@admin_required
def merchant_report():
    today = clock.business_day()
    try:
        start = date.fromisoformat(request.args.get("start") or today.replace(day=1).isoformat())
        end = date.fromisoformat(request.args.get("end") or today.isoformat())
        rows = transactions.merchant_report(current_scope(), start, end)
    except ValueError:
        flash(_("日期格式应为 YYYY-MM-DD。"), "error")
        start, end = today.replace(day=1), today
        rows = transactions.merchant_report(current_scope(), start, end)
    totals = {k: sum(r[k] for r in rows) for k in ("transactions", "refunds", "amount_fen", "discount_fen",
                                                    "union_fen", "bank_fen", "merchant_fen")}
    return render_template("merchants/admin_report.html", rows=rows, totals=totals, start=start, end=end, **_labels())


# --- cashier: the till ------------------------------------------------------------------------

def _cashier_till(store_id: int | None = None) -> transactions.Till:
    return transactions.till_for_cashier(current_user, store_id)


def _payment(code: str) -> dict:
    code = (code or "").strip()
    return {"qr_token": code} if transactions.is_pay_token(code) else {"card_number": code}


def _amount_fen(text: str) -> int:
    try:
        return parse_yuan(text or "")
    except MoneyFormatError:
        raise ValidationError(_("金额格式不对：请输入大于零、最多两位小数的金额，如 128.50。"),
                              details={"fields": {"amount": "invalid"}}) from None


@bp.route("/till", methods=["GET", "POST"])
@merchant_staff_required
def terminal():
    till = _cashier_till()
    form = TillForm()
    quote = card = error = confirm = None
    if form.validate_on_submit():
        try:
            amount = _amount_fen(form.amount.data)
            card, quote = transactions.quote_transaction(till, amount_fen=amount, **_payment(form.code.data))
            confirm = ConfirmForm(formdata=None, data={"code": form.code.data.strip(), "amount": form.amount.data.strip(),
                                                       "key": uuid.uuid4().hex})
        except DomainError as exc:
            error = exc.message
    elif request.method == "POST":
        error = _("请输入会员卡号（或扫描付款码）和消费金额。")
    status = 200 if request.method == "GET" or quote is not None else 400
    return render_template("merchants/terminal.html", till=till, form=form, quote=quote, card=card, error=error,
                           confirm=confirm), status


@bp.post("/till/confirm")
@merchant_staff_required
def terminal_confirm():
    till = _cashier_till()
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("请重新输入后确认。"), "error")
        return redirect(url_for("merchants.terminal"))
    try:
        amount = _amount_fen(form.amount.data)
        payment = _payment(form.code.data)
        with unit_of_work():
            def confirm():
                txn = transactions.confirm_transaction(till, amount_fen=amount, **payment)
                return {"id": txn.id}, 201
            body, _status = idempotency.run_once(f"till.page:{till.merchant.id}", form.key.data,
                                                 {"amount": amount, **payment}, confirm)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("merchants.terminal"))
    flash(_("交易已完成。"), "success")
    return redirect(url_for("merchants.till_transaction", transaction_id=body["id"]))


@bp.get("/till/transactions")
@merchant_staff_required
def till_transactions():
    till = _cashier_till()
    try:
        day = date.fromisoformat(request.args["day"]) if request.args.get("day") else clock.business_day()
    except ValueError:
        day = clock.business_day()
    items = transactions.transactions_of_day(till.merchant, day)
    return render_template("merchants/till_transactions.html", till=till, day=day, items=items,
                           summary=transactions.day_summary(items), prev_day=day - timedelta(days=1),
                           next_day=day + timedelta(days=1) if day < clock.business_day() else None)


@bp.get("/till/transactions/<int:transaction_id>")
@merchant_staff_required
def till_transaction(transaction_id: int):
    till = _cashier_till()
    txn = transactions.get_transaction_for_merchant(till.merchant, transaction_id)
    form = RefundForm(formdata=None, data={"key": uuid.uuid4().hex})
    return render_template("merchants/till_transaction.html", till=till, txn=txn, form=form)


@bp.post("/till/transactions/<int:transaction_id>/refund")
@merchant_staff_required
def till_refund(transaction_id: int):
    till = _cashier_till()
    transactions.get_transaction_for_merchant(till.merchant, transaction_id)
    form = RefundForm()
    if form.validate_on_submit():
        try:
            pay_fen = _amount_fen(form.amount.data) if (form.amount.data or "").strip() else None
            with unit_of_work():
                def refund():
                    row = transactions.refund_transaction(till, transaction_id, pay_fen=pay_fen, reason=form.reason.data)
                    return {"id": row.id}, 201
                idempotency.run_once(f"till.page-refund:{till.merchant.id}", form.key.data,
                                     {"transaction_id": transaction_id, "pay_fen": pay_fen}, refund)
            flash(_("退款已完成。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(url_for("merchants.till_transaction", transaction_id=transaction_id))


@bp.get("/till/statements")
@merchant_staff_required
def till_statements():
    merchant = _cashier_till().merchant
    return render_template("merchants/till_statements.html", merchant=merchant,
                           statements=transactions.statements_of(merchant),
                           open_totals=transactions.period_totals(merchant.id, None),
                           open_start=transactions.next_period_start(merchant))


@bp.get("/till/statements/<int:statement_id>")
@merchant_staff_required
def till_statement(statement_id: int):
    merchant = _cashier_till().merchant
    return _statement_page(merchant, transactions.get_statement(merchant, statement_id), admin=False)


@bp.get("/till/statements/open")
@merchant_staff_required
def till_statement_open():
    return _statement_page(_cashier_till().merchant, None, admin=False)


def _statement_page(merchant, statement, admin: bool):
    sales, refunds = transactions.statement_lines(merchant, statement.id if statement else None)
    totals = statement.totals if statement else transactions.period_totals(merchant.id, None)
    return render_template("merchants/statement.html", merchant=merchant, statement=statement, totals=totals,
                           sales=sales, refunds=refunds, admin=admin)


@bp.get("/till/statements/<statement_id>.csv")
@merchant_staff_required
def till_statement_csv(statement_id: str):
    merchant = _cashier_till().merchant
    statement = None if statement_id == "open" else transactions.get_statement(
        merchant, int(statement_id) if statement_id.isdigit() else 0)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(transactions.statement_rows_for_csv(merchant, statement))
    name = f"statement-{merchant.id}-{statement_id}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
