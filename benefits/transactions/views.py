"""Card payment pages: the member's dynamic pay QR, transactions and savings, and the partner
merchants of their union with today's offers; the cashier's till, day list, refunds and
statements."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock, idempotency
from ..auth.access import member_required, merchant_staff_required
from ..database import unit_of_work
from ..errors import DomainError, ValidationError, error_body
from ..extensions import db
from ..inputs import row_id
from ..merchants import service as merchants
from ..money import MoneyFormatError, format_yuan, parse_yuan
from ..promotions import rules as promotion_rules
from ..promotions import service as promotions
from ..templating import qr_svg
from ..vouchers.service import VoucherRefused
from . import service, settlement
from .forms import ConfirmForm, RefundForm, TillForm

bp = Blueprint("transactions", __name__)


def _new_code() -> dict:
    with unit_of_work():
        token, expires_at = service.issue_pay_token(current_user.member)
    return {"token": token, "expires_at": expires_at.isoformat(), "svg": str(qr_svg(token)),
            "refresh_seconds": service.PAY_TOKEN_REFRESH_SECONDS}


@bp.get("/me/pay")
@member_required
def pay():
    try:
        code, error = _new_code(), None
    except DomainError as exc:
        code, error = None, exc.message
    return render_template("transactions/pay.html", code=code, error=error), 200 if code else 409


@bp.post("/me/pay/code")
@member_required
def pay_code():
    """A fresh one-time pay code (the page calls this every 30 seconds). A JSON endpoint, so a
    refusal (a frozen or lost card) is the JSON error envelope, not the HTML error page."""
    try:
        response = jsonify(_new_code())
    except DomainError as exc:
        response = jsonify(error_body(exc.code, exc.message, exc.details))
        response.status_code = exc.status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me/transactions")
@member_required
def my_transactions():
    member = current_user.member
    return render_template("transactions/mine.html", items=service.member_transactions(member),
                           savings=service.member_savings(member))


@bp.get("/me/merchants")
@member_required
def nearby_merchants():
    member = current_user.member
    rows = db.session.scalars(merchants.programme_merchants(member.org)).all()
    at = clock.now()
    listing = [(m, promotions.offers_for(merchant=m, at=at)) for m in rows]
    listing.sort(key=lambda pair: (not pair[1], pair[0].category, pair[0].id))
    return render_template("transactions/nearby.html", listing=listing)


# --- cashier: the till ------------------------------------------------------------------------

def _till_ref(store_id: int | None = None) -> service.TillRef:
    return service.cashier_till_ref(current_user, store_id)


def _cashier_till() -> service.Till:
    return service.till_for(_till_ref())


def _payment(code: str) -> dict:
    code = (code or "").strip()
    return {"qr_token": code} if service.is_pay_token(code) else {"card_number": code}


def _amount_fen(text: str) -> int:
    try:
        return parse_yuan(text or "")
    except MoneyFormatError:
        raise ValidationError(_("金额格式不对：请输入大于零、最多两位小数的金额，如 128.50。"),
                              details={"fields": {"amount": _("格式不对")}}) from None


def _page_message(exc: DomainError, key_reused: str | None = None) -> str:
    """What a till page says about a refusal: the service's sentence, or the page's own for a
    retried form whose key was used with other values."""
    if exc.code == "idempotency_key_reused":
        return key_reused or _("这笔收款已用不同的金额或券提交过，请重新计算后再确认收款。")
    return exc.message


def _till_page(ref: service.TillRef, till: service.Till, form: TillForm, voucher_ids: list[int], *,
               error: str | None = None, error_status: int = 400):
    """The till with the quote for the form's card and amount and the chosen vouchers. A voucher
    the till refuses is said (as the page's error) and the quote shown without vouchers, so the
    cashier sees every voucher of the card with what stops it; `error` (a confirm's refusal) is
    said above the fresh quote."""
    quote = card = confirm = None
    code, amount_text = (form.code.data or "").strip(), (form.amount.data or "").strip()
    try:
        amount = _amount_fen(amount_text)
        payment = _payment(code)
        try:
            card, quote = service.quote_transaction(ref, amount_fen=amount, voucher_ids=voucher_ids, **payment)
        except VoucherRefused as exc:
            if not voucher_ids:
                raise
            if error is None:
                error, error_status = _page_message(exc), exc.status
            voucher_ids = []
            card, quote = service.quote_transaction(ref, amount_fen=amount, **payment)
        confirm = ConfirmForm(formdata=None, data={"code": code, "amount": amount_text, "key": uuid.uuid4().hex,
                                                   "voucher": voucher_ids})
    except DomainError as exc:
        quote = card = confirm = None
        error = error or _page_message(exc)
    if error is None:
        status = 200
    else:
        status = error_status if quote is not None else 400
    return render_template("transactions/terminal.html", till=till, form=form, quote=quote, card=card, error=error,
                           confirm=confirm, vouchers=quote.voucher_list() if quote is not None else []), status


@bp.route("/till", methods=["GET", "POST"])
@merchant_staff_required
def terminal():
    ref = _till_ref()
    till = service.till_for(ref)
    form = TillForm()
    if request.method == "GET":
        return render_template("transactions/terminal.html", till=till, form=form, quote=None, card=None,
                               error=None, confirm=None, vouchers=[])
    if not form.validate() and set(form.errors) - {"voucher"}:
        return render_template("transactions/terminal.html", till=till, form=form, quote=None, card=None,
                               error=_("请输入会员卡号（或扫描付款码）和消费金额。"), confirm=None, vouchers=[]), 400
    if form.voucher.errors:   # ids that are not ids: quote without vouchers and say so
        return _till_page(ref, till, form, [], error=str(form.voucher.errors[0]))
    return _till_page(ref, till, form, form.voucher.data)


@bp.post("/till/confirm")
@merchant_staff_required
def terminal_confirm():
    ref = _till_ref()
    form = ConfirmForm()
    valid = form.validate_on_submit()
    if not valid and set(form.errors) - {"voucher"}:
        flash(_("请重新输入后确认。"), "error")
        return redirect(url_for("transactions.terminal"))
    till_form = TillForm(formdata=None, data={"code": form.code.data.strip(), "amount": form.amount.data.strip()})
    if not valid:
        return _till_page(ref, service.till_for(ref), till_form, [], error=str(form.voucher.errors[0]))
    voucher_ids = form.voucher.data
    try:
        amount = _amount_fen(form.amount.data)
        payment = _payment(form.code.data)
        with unit_of_work():
            def confirm():
                return service.confirm_transaction(ref, amount_fen=amount, voucher_ids=voucher_ids, **payment), 201
            body, _status = idempotency.run_once(f"till.page:store:{ref.store_id}", form.key.data,
                                                 {"amount": amount, **payment, "voucher_ids": voucher_ids}, confirm)
    except DomainError as exc:
        # the payment was not taken: the till again, with why and a fresh quote to confirm
        return _till_page(ref, service.till_for(ref), till_form, voucher_ids, error=_page_message(exc),
                          error_status=exc.status)
    flash(_("交易已完成。"), "success")
    return redirect(url_for("transactions.till_transaction", transaction_id=body["id"]))


@bp.get("/till/transactions")
@merchant_staff_required
def till_transactions():
    till = _cashier_till()
    try:
        day = date.fromisoformat(request.args["day"]) if request.args.get("day") else clock.business_day()
    except ValueError:
        day = clock.business_day()
    items = service.transactions_of_day(till.merchant, day)
    return render_template("transactions/till_transactions.html", till=till, day=day, items=items,
                           numbers=service.receipt_numbers(till.merchant.id, items),
                           summary=service.day_summary(items), prev_day=day - timedelta(days=1),
                           next_day=day + timedelta(days=1) if day < clock.business_day() else None)


@bp.get("/till/transactions/<int:transaction_id>")
@merchant_staff_required
def till_transaction(transaction_id: int):
    till = _cashier_till()
    txn = service.get_transaction_for_merchant(till.merchant, transaction_id)
    form = RefundForm(formdata=None, data={"key": uuid.uuid4().hex})
    return render_template("transactions/till_transaction.html", till=till, txn=txn, form=form,
                           number=service.receipt_numbers(till.merchant.id, [txn])[txn.id],
                           versions=promotion_rules.version_numbers([a["version_id"] for a in txn.applied or ()]))


@bp.post("/till/transactions/<int:transaction_id>/refund")
@merchant_staff_required
def till_refund(transaction_id: int):
    till = _cashier_till()
    txn = service.get_transaction_for_merchant(till.merchant, transaction_id)
    form = RefundForm()
    if form.validate_on_submit():
        typed = (form.amount.data or "").strip()
        if not typed and txn.pay_fen > 0:
            # the amount is always said out loud: an empty field never refunds everything
            flash(_("请填写退还会员的金额；全部退款请填 %(yuan)s。", yuan=format_yuan(txn.refundable_pay_fen)), "error")
            return redirect(url_for("transactions.till_transaction", transaction_id=transaction_id))
        try:
            pay_fen = _amount_fen(typed) if typed else None
            with unit_of_work():
                def refund():
                    row = service.refund_transaction(_till_ref(), transaction_id, pay_fen=pay_fen, reason=form.reason.data)
                    return {"id": row.id}, 201
                idempotency.run_once(f"till.page-refund:{till.merchant.id}", form.key.data,
                                     {"transaction_id": transaction_id, "pay_fen": pay_fen}, refund)
            flash(_("退款已完成。"), "success")
        except DomainError as exc:
            flash(_page_message(exc, _("这次退款已用不同的金额提交过，请刷新页面后重试。")), "error")
    return redirect(url_for("transactions.till_transaction", transaction_id=transaction_id))


@bp.get("/till/statements")
@merchant_staff_required
def till_statements():
    merchant = _cashier_till().merchant
    return render_template("transactions/till_statements.html", merchant=merchant,
                           statements=settlement.statements_of(merchant),
                           open_totals=settlement.period_totals(merchant.id, None),
                           open_start=settlement.next_period_start(merchant))


@bp.get("/till/statements/<int:statement_id>")
@merchant_staff_required
def till_statement(statement_id: int):
    merchant = _cashier_till().merchant
    return statement_page(merchant, settlement.get_statement(merchant, statement_id), admin=False)


@bp.get("/till/statements/open")
@merchant_staff_required
def till_statement_open():
    return statement_page(_cashier_till().merchant, None, admin=False)


def statement_page(merchant, statement, admin: bool):
    sales, refunds = settlement.statement_lines(merchant, statement.id if statement else None)
    totals = statement.totals if statement else settlement.period_totals(merchant.id, None)
    numbers = service.receipt_numbers(merchant.id, [*sales, *{r.transaction for r in refunds}])
    return render_template("merchants/statement.html", merchant=merchant, statement=statement, totals=totals,
                           sales=sales, refunds=refunds, admin=admin, numbers=numbers)


@bp.get("/till/statements/<statement_id>.csv")
@merchant_staff_required
def till_statement_csv(statement_id: str):
    merchant = _cashier_till().merchant
    # row_id, not str.isdigit: '²'.isdigit() is true and int('²') raises
    statement = None if statement_id == "open" else settlement.get_statement(merchant, row_id(statement_id) or 0)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(settlement.statement_rows_for_csv(merchant, statement))
    name = f"statement-{merchant.id}-{statement_id}.csv"
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
