"""The till API: quote, confirm, refund, the day's transactions and statements.

A till authenticates with its store's terminal key (`Authorization: Bearer <key>` or
`X-Terminal-Key: <key>`); a signed-in cashier's session works too. Confirmations and refunds
require an `Idempotency-Key`: the same key with the same body replays the first answer, the same
key with a different body is a 409. Another merchant's transaction is a 404.
"""
from __future__ import annotations

import functools
import json

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock, idempotency
from ..database import transactional
from ..errors import Forbidden, NotAuthenticated, ValidationError
from ..extensions import Blueprint
from ..merchants import service as merchants
from . import service, settlement
from .schemas import (TillConfirmSchema, TillDayArgs, TillDaySchema, TillPaymentArgs, TillQuoteSchema,
                      TillRefundAnswerSchema, TillRefundArgs, TillRefundSchema, TillStatementListSchema,
                      TillStatementSchema, TillTransactionSchema)

URL_PREFIX = "/till"
blp = Blueprint("till_api", __name__, description="Merchant till (收银): quotes, card transactions, refunds, statements")

_transaction = TillTransactionSchema()
_refund = TillRefundSchema()


def terminal_key_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return (request.headers.get("X-Terminal-Key") or "").strip() or None


def till_caller_required(view):
    """Who may call the till API at all, answered before the body is read: a request with a
    terminal key (the service checks the key), or a cashier's session. Anyone else is refused
    401/403, not told what was wrong with their input."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not terminal_key_from_request():
            if not current_user.is_authenticated:
                raise NotAuthenticated(_("请使用终端密钥或收银员账号。"))
            if current_user.role != "merchant_staff":
                raise Forbidden(_("只有商家收银台和收银员可以使用收银接口。"))
        return view(*args, **kwargs)
    return wrapper


def till_ref(store_id: int | None = None) -> service.TillRef:
    """The till of this request; `till_caller_required` has let only a key or a cashier through."""
    key = terminal_key_from_request()
    if key:
        return service.TillRef(terminal_key=key)
    return service.cashier_till_ref(current_user, store_id)


def current_till() -> service.Till:
    return service.till_for(till_ref())


def idempotency_scope(action: str, ref: service.TillRef) -> str:
    """Keys are the till's own: one terminal key's, or one store's cashiers'."""
    if ref.terminal_key is not None:
        return f"till.{action}:key:{merchants.hash_terminal_key(ref.terminal_key)[:32]}"
    return f"till.{action}:store:{ref.store_id}"


def required_key() -> str:
    key = idempotency.request_key()
    if key is None:
        raise ValidationError(_("此请求需要 Idempotency-Key 请求头。"),
                              code="idempotency_key_required")
    return key


_REJECTED_JSON: dict = {}


def _rejected_json(r) -> str:
    """A rejection's JSON, kept: the engine reuses one immutable `Rejected` per rule version and
    reason, and a till near many offers lists dozens of them in every quote."""
    found = _REJECTED_JSON.get(r)
    if found is None:
        if len(_REJECTED_JSON) > 50_000:
            _REJECTED_JSON.clear()
        found = _REJECTED_JSON[r] = json.dumps(
            {"message": r.message, "name": r.name, "reason": r.reason, "rule_id": r.rule_id},
            ensure_ascii=False, separators=(",", ":"))
    return found


def quote_response(quote, card) -> Response:
    """TillQuoteSchema's shape, serialised by hand (marshmallow cost more than the rest of the
    quote). `rejected` lists the offers that did not apply for a reason the cashier can read out
    (limit reached, budget spent, not today, below the threshold …); offers that applied too
    but gave less than the chosen one are only counted (`other_offers`): a station near 70 offers
    would otherwise send 70 lines of "已有更优惠的活动" (7 KB) with every payment."""
    shown = []
    others = 0
    for r in quote.rejected:
        if r.reason == "not_best":
            others += 1
        else:
            shown.append(_rejected_json(r))
    head = json.dumps({
        "amount_fen": quote.amount_fen, "applied": [
            {"discount_fen": a.discount_fen, "name": a.name, "rule_id": a.rule_id, "shares": dict(a.shares),
             "version_id": a.version_id} for a in quote.applied],
        "discount_fen": quote.discount_fen, "hints": list(quote.hints), "member": member_brief(card),
        "other_offers": others, "pay_fen": quote.pay_fen, "shares": quote.shares_total(),
        "voucher_fen": quote.voucher_fen, "voucher_uses": [c.snapshot() for c in quote.covers],
        "vouchers": quote.voucher_list()},
        ensure_ascii=False, separators=(",", ":"))
    body = head[:-1] + ',"rejected":[' + ",".join(shown) + "]}\n"
    return Response(body, status=200, mimetype="application/json")


def member_brief(card) -> dict:
    name = card.member.name
    return {"name": name[:1] + "*" * (len(name) - 1), "card_tail": card.number[-4:],
            "category": card.member.category}


@blp.route("/quote")
class Quote(MethodView):
    decorators = [till_caller_required]

    @blp.arguments(TillPaymentArgs, error_status_code=400)
    @blp.response(200, TillQuoteSchema)
    def post(self, args):
        """What the member pays now: discount, the rule applied, funders' shares and hints. Writes nothing."""
        card, quote = service.quote_transaction(till_ref(args["store_id"]), amount_fen=args["amount"],
                                                card_number=args["card_number"], qr_token=args["qr_token"],
                                                voucher_ids=args["voucher_ids"])
        return quote_response(quote, card)


@blp.route("/transactions")
class Transactions(MethodView):
    decorators = [till_caller_required]

    @blp.arguments(TillDayArgs, location="query", error_status_code=400)
    @blp.response(200, TillDaySchema)
    def get(self, args):
        """The merchant's transactions of one China business day (newest first)."""
        till = current_till()
        day = args["day"] or clock.business_day()
        items = service.transactions_of_day(till.merchant, day)
        return {"day": day, "summary": service.day_summary(items), "items": items}

    @blp.arguments(TillPaymentArgs, error_status_code=400)
    @blp.response(201, TillConfirmSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}])
    @transactional
    def post(self, args):
        """Confirm the payment: records the transaction and consumes the offer. Needs an Idempotency-Key."""
        ref = till_ref(args["store_id"])
        key = required_key()

        def confirm():
            return service.confirm_transaction(ref, amount_fen=args["amount"], card_number=args["card_number"],
                                               qr_token=args["qr_token"], voucher_ids=args["voucher_ids"]), 201

        body, status = idempotency.run_once(idempotency_scope("confirm", ref), key, args, confirm)
        return jsonify(body), status


@blp.route("/transactions/<int:transaction_id>")
class TransactionItem(MethodView):
    decorators = [till_caller_required]

    @blp.response(200, TillTransactionSchema)
    def get(self, transaction_id):
        """One transaction of this merchant with its refunds (another merchant's id is a 404)."""
        return service.get_transaction_for_merchant(current_till().merchant, transaction_id)


@blp.route("/transactions/<int:transaction_id>/refunds")
class Refunds(MethodView):
    decorators = [till_caller_required]

    @blp.arguments(TillRefundArgs, error_status_code=400)
    @blp.response(201, TillRefundAnswerSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}])
    @transactional
    def post(self, args, transaction_id):
        """Refund in full (no amount) or in part; the discount and funders' shares reverse pro rata."""
        ref = till_ref()
        key = required_key()

        def refund():
            row = service.refund_transaction(ref, transaction_id, pay_fen=args["amount"], reason=args["reason"])
            body = _refund.dump(row)
            body["transaction"] = _transaction.dump(service.get_transaction_for_merchant(
                service.till_for(ref).merchant, transaction_id))
            return body, 201

        body, status = idempotency.run_once(idempotency_scope("refund", ref), key,
                                            {**args, "transaction_id": transaction_id}, refund)
        return jsonify(body), status


@blp.route("/statements")
class Statements(MethodView):
    decorators = [till_caller_required]

    @blp.response(200, TillStatementListSchema)
    def get(self):
        """The open (not yet settled) period and the closed statements, newest first."""
        merchant = current_till().merchant
        totals = settlement.period_totals(merchant.id, None)
        open_period = {"id": None, "period_start": settlement.next_period_start(merchant), "period_end": None,
                       "closed_at": None, "union_owes_fen": totals["union_owes_fen"],
                       "bank_owes_fen": totals["bank_owes_fen"], "totals": totals}
        return {"open": open_period, "closed": settlement.statements_of(merchant)}


@blp.route("/statements/<int:statement_id>")
class StatementItem(MethodView):
    decorators = [till_caller_required]

    @blp.response(200, TillStatementSchema)
    def get(self, statement_id):
        return settlement.get_statement(current_till().merchant, statement_id)
