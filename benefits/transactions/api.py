"""The till API: quote, confirm, refund, the day's transactions and statements.

A till authenticates with its store's terminal key (`Authorization: Bearer <key>` or
`X-Terminal-Key: <key>`); a signed-in cashier's session works too. Confirmations and refunds
require an `Idempotency-Key`: the same key with the same body replays the first answer, the same
key with a different body is a 409. Another merchant's transaction is a 404.
"""
from __future__ import annotations

import contextlib

from flask import jsonify, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from .. import clock, idempotency
from ..database import transactional
from ..errors import Forbidden, NotAuthenticated, ValidationError
from ..extensions import db
from . import service
from .schemas import (TillDayArgs, TillDaySchema, TillPaymentArgs, TillQuoteSchema, TillRefundArgs, TillRefundSchema, TillStatementListSchema,
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


def current_till(store_id: int | None = None) -> service.Till:
    key = terminal_key_from_request()
    if key:
        return service.till_for_key(key)
    if not current_user.is_authenticated:
        raise NotAuthenticated("请使用终端密钥或收银员账号。 Use a terminal key or sign in as a cashier.")
    if current_user.role != "merchant_staff":
        raise Forbidden("Only merchant tills and cashiers may use the till API.")
    return service.till_for_cashier(current_user, store_id)


@contextlib.contextmanager
def read_only_statements():
    """For a block that writes nothing: run its statements in autocommit, which spares the BEGIN
    and ROLLBACK round trips (each statement reads committed data either way). Afterwards the
    connection goes back to the pool, so nothing else ever runs in autocommit."""
    session = db.session()
    if session.in_transaction():
        yield
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        yield
    finally:
        session.commit()   # no statement is sent: it only releases the connection


def required_key() -> str:
    key = idempotency.request_key()
    if key is None:
        raise ValidationError("此请求需要 Idempotency-Key 请求头。 This request needs an Idempotency-Key header.",
                              code="idempotency_key_required")
    return key


def member_brief(card) -> dict:
    name = card.member.name
    return {"name": name[:1] + "*" * (len(name) - 1), "card_tail": card.number[-4:],
            "category": card.member.category}


@blp.route("/quote")
class Quote(MethodView):
    @blp.arguments(TillPaymentArgs, error_status_code=400)
    @blp.response(200, TillQuoteSchema)
    def post(self, args):
        """What the member pays now: discount, the rule applied, funders' shares and hints. Writes nothing."""
        with read_only_statements():
            till = current_till(args["store_id"])
            card, quote = service.quote_transaction(till, amount_fen=args["amount"], card_number=args["card_number"],
                                                    qr_token=args["qr_token"])
            # Built by hand in TillQuoteSchema's shape: dumping ~70 rejected offers through
            # marshmallow cost more than the rest of the quote.
            return jsonify({
                "amount_fen": quote.amount_fen, "discount_fen": quote.discount_fen, "pay_fen": quote.pay_fen,
                "shares": quote.shares_total(),
                "applied": [{"rule_id": a.rule_id, "version_id": a.version_id, "name": a.name,
                             "discount_fen": a.discount_fen, "shares": dict(a.shares)} for a in quote.applied],
                "rejected": [{"rule_id": r.rule_id, "name": r.name, "reason": r.reason, "message": r.message}
                             for r in quote.rejected],
                "hints": list(quote.hints), "member": member_brief(card)})


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

    @blp.arguments(TillPaymentArgs, error_status_code=400)
    @blp.response(201, TillTransactionSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": True, "schema": {"type": "string"}}])
    @transactional
    def post(self, args):
        """Confirm the payment: records the transaction and consumes the offer. Needs an Idempotency-Key."""
        till = current_till(args["store_id"])
        key = required_key()

        def confirm():
            txn = service.confirm_transaction(till, amount_fen=args["amount"], card_number=args["card_number"],
                                              qr_token=args["qr_token"])
            body = _transaction.dump(txn)
            body["hints"] = list(getattr(txn, "quote_hints", ()))
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
