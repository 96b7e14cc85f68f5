"""The till API: quote, confirm, refund, the day's transactions and statements.

A till authenticates with its store's terminal key (`Authorization: Bearer <key>` or
`X-Terminal-Key: <key>`); a signed-in cashier's session works too. Confirmations and refunds
require an `Idempotency-Key`: the same key with the same body replays the first answer, the same
key with a different body is a 409. Another merchant's transaction is a 404.
"""
from __future__ import annotations

import copy
import json
import functools
import http

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from .. import clock, idempotency
from ..database import hot_reads, retry_on_deadlock, transactional
from ..errors import Forbidden, NotAuthenticated, ValidationError
from ..money import MoneyFormatError, parse_yuan
from . import express, service
from .schemas import (TillDayArgs, TillDaySchema, TillPaymentArgs, TillQuoteSchema, TillRefundArgs, TillRefundSchema, TillStatementListSchema,
                      TillStatementSchema, TillTransactionSchema)

URL_PREFIX = "/till"
blp = Blueprint("till_api", __name__, description="Merchant till (收银): quotes, card transactions, refunds, statements")

_transaction = TillTransactionSchema()
_refund = TillRefundSchema()


_PAYMENT_FIELDS = frozenset(("card_number", "qr_token", "amount", "store_id"))


def _payment_fast(body) -> dict | None:
    """TillPaymentArgs' result for a plainly well-formed body, or None to let the schema judge
    (and word any error exactly as it always has). A till sends this body with every payment;
    the schema machinery cost more than the rest of a quote."""
    if not isinstance(body, dict) or not body.keys() <= _PAYMENT_FIELDS:
        return None
    number, token, amount, store = (body.get("card_number"), body.get("qr_token"), body.get("amount"),
                                    body.get("store_id"))
    if not isinstance(amount, str) or not (number or token):
        return None
    if number is not None and not (isinstance(number, str) and len(number) <= 19):
        return None
    if token is not None and not (isinstance(token, str) and len(token) <= 64):
        return None
    if store is not None and type(store) is not int:
        return None
    try:
        fen = parse_yuan(amount)
    except MoneyFormatError:
        return None
    return {"card_number": number, "qr_token": token, "amount": fen, "store_id": store}


def payment_arguments(view):
    """Like `@blp.arguments(TillPaymentArgs, error_status_code=400)` (same OpenAPI entry, same
    errors), with the common well-formed body checked by hand first."""
    schema = TillPaymentArgs()

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        parsed = _payment_fast(request.get_json(silent=True))
        if parsed is None:
            parsed = blp.ARGUMENTS_PARSER.parse(schema, request, location="json", error_status_code=400)
        return view(*args, parsed, **kwargs)

    wrapper._apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
    docs = wrapper._apidoc.setdefault("arguments", {})
    docs.setdefault("parameters", []).append({"in": "json", "required": True, "schema": schema})
    docs.setdefault("responses", {})[400] = http.HTTPStatus(400).name
    return wrapper


def terminal_key_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return (request.headers.get("X-Terminal-Key") or "").strip() or None


def current_till(store_id: int | None = None) -> service.Till:
    key = terminal_key_from_request()
    if key:
        return service.till_for_key(key)
    if not current_user.is_authenticated:
        raise NotAuthenticated("请使用终端密钥或收银员账号。 Use a terminal key or sign in as a cashier.")
    if current_user.role != "merchant_staff":
        raise Forbidden("Only merchant tills and cashiers may use the till API.")
    return service.till_for_cashier(current_user, store_id)


def current_till_with_card(args: dict, for_confirm: bool = False) -> tuple[service.Till, tuple | None]:
    """A terminal key reads the till and the typed card number's card in one statement."""
    key = terminal_key_from_request()
    if key:
        number = None if args["qr_token"] else args["card_number"]
        return service.till_for_key_fast(key, card_number=number, for_confirm=for_confirm, amount_fen=args["amount"])
    return current_till(args["store_id"]), None


def required_key() -> str:
    key = idempotency.request_key()
    if key is None:
        raise ValidationError("此请求需要 Idempotency-Key 请求头。 This request needs an Idempotency-Key header.",
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
        "other_offers": others, "pay_fen": quote.pay_fen, "shares": quote.shares_total()},
        ensure_ascii=False, separators=(",", ":"))
    body = head[:-1] + ',"rejected":[' + ",".join(shown) + "]}\n"
    return Response(body, status=200, mimetype="application/json")


def member_brief(card) -> dict:
    name = card.member.name
    return {"name": name[:1] + "*" * (len(name) - 1), "card_tail": card.number[-4:],
            "category": card.member.category}


@blp.route("/quote")
class Quote(MethodView):
    @payment_arguments
    @blp.response(200, TillQuoteSchema)
    def post(self, args):
        """What the member pays now: discount, the rule applied, funders' shares and hints. Writes nothing."""
        with hot_reads():
            till, card_row = current_till_with_card(args)
            card, quote = service.quote_transaction(till, amount_fen=args["amount"], card_number=args["card_number"],
                                                    qr_token=args["qr_token"], card_row=card_row)
            return quote_response(quote, card)


@blp.route("/transactions")
class Transactions(MethodView):
    @blp.arguments(TillDayArgs, location="query", error_status_code=400)
    @blp.response(200, TillDaySchema)
    def get(self, args):
        """The merchant's transactions of one China business day (newest first)."""
        till = current_till()
        day = args["day"] or clock.business_day()
        items = service.transactions_of_day(till.merchant, day)
        return {"day": day, "summary": service.day_summary(items), "items": items}

    @payment_arguments
    @blp.response(201, TillTransactionSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}])
    def post(self, args):
        """Confirm the payment: records the transaction and consumes the offer. Needs an Idempotency-Key."""
        terminal_key = terminal_key_from_request()
        if terminal_key and args["card_number"] and not args["qr_token"]:
            # PostgreSQL's express path: one autocommit statement, or nothing written and the
            # portable unit of work below gives the answer (see express.py)
            try:
                key = idempotency.request_key()
            except ValidationError:
                key = None
            body = express.try_confirm(terminal_key, key, args) if key is not None else None
            if body is not None:
                return Response(body + "\n", status=201, mimetype="application/json")
        return retry_on_deadlock(lambda: self._confirm(args))

    @transactional
    def _confirm(self, args):
        till, card_row = current_till_with_card(args, for_confirm=True)
        key = required_key()

        def confirm():
            txn = service.confirm_transaction(till, amount_fen=args["amount"], card_number=args["card_number"],
                                              qr_token=args["qr_token"], card_row=card_row)
            body = service.transaction_body(txn)
            body["hints"] = list(txn.quote_hints)
            return body, 201

        payload = {**args, "store_id": till.store.id}
        body, status = idempotency.run_once(f"till.confirm:{till.merchant.id}", key, payload, confirm)
        return jsonify(body), status


@blp.route("/transactions/<int:transaction_id>")
class TransactionItem(MethodView):
    @blp.response(200, TillTransactionSchema)
    def get(self, transaction_id):
        """One transaction of this merchant with its refunds (another merchant's id is a 404)."""
        return service.get_transaction_for_merchant(current_till().merchant, transaction_id)


@blp.route("/transactions/<int:transaction_id>/refunds")
class Refunds(MethodView):
    @blp.arguments(TillRefundArgs, error_status_code=400)
    @blp.response(201, TillRefundSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}])
    @transactional
    def post(self, args, transaction_id):
        """Refund in full (no amount) or in part; the discount and funders' shares reverse pro rata."""
        till = current_till()
        key = required_key()

        def refund():
            row = service.refund_transaction(till, transaction_id, pay_fen=args["amount"], reason=args["reason"])
            body = _refund.dump(row)
            body["transaction"] = _transaction.dump(service.get_transaction_for_merchant(till.merchant, transaction_id))
            return body, 201

        body, status = idempotency.run_once(f"till.refund:{till.merchant.id}", key,
                                            {**args, "transaction_id": transaction_id}, refund)
        return jsonify(body), status


@blp.route("/statements")
class Statements(MethodView):
    @blp.response(200, TillStatementListSchema)
    def get(self):
        """The open (not yet settled) period and the closed statements, newest first."""
        merchant = current_till().merchant
        totals = service.period_totals(merchant.id, None)
        open_period = {"id": None, "period_start": service.next_period_start(merchant), "period_end": None,
                       "closed_at": None, "union_owes_fen": totals["union_owes_fen"],
                       "bank_owes_fen": totals["bank_owes_fen"], "totals": totals}
        return {"open": open_period, "closed": service.statements_of(merchant)}


@blp.route("/statements/<int:statement_id>")
class StatementItem(MethodView):
    @blp.response(200, TillStatementSchema)
    def get(self, statement_id):
        return service.get_statement(current_till().merchant, statement_id)
