"""PostgreSQL express path for a till's confirm: the whole SQL step in ONE autocommit statement.

The common confirm — a terminal key, a typed card number, an offer whose counters have room —
is, in the portable path, a BEGIN, the till read, the Idempotency-Key claim, one or more
conditional updates per applied rule, the deferred writes and COMMIT, all through the session's
unit of work. Here, on the hot-read connection (`database.hot_reads`, autocommit), the till read
is the first statement (it brings the card, the member's offer counters and the new transaction
id, as for a quote), the engine computes the quote in Python exactly as `promotions.apply` does
on its first attempt, and one statement of CTEs does what `idempotency.run_once`,
`promotions.apply` (`_consume`, `_record_usages`) and `service.confirm_transaction` write:

- the Idempotency-Key record, inserted with the finished answer (`ON CONFLICT DO NOTHING`: a key
  already used, or being used, inserts nothing); every other step depends on it;
- per applied rule, in the order the portable path takes them: the member's per-period uses
  (one conditional upsert per period, `uses < limit`), then the rule's use and discount from a
  budget slice (`used + discount <= allotment`, rule active) or, for a rule with a global use
  limit, from its row (`uses < limit`, `used + discount <= budget`);
- the usage rows and the card transaction (its id from the sequence, read with the till).

Each step runs only if the one before it happened, so the lock order is the portable path's
(key, member uses, slice or rule row; the inserts' foreign keys take KEY SHARE locks, which the
end-of-budget fold's FOR NO KEY UPDATE lets through). If any step does not happen, the final
SELECT raises, the statement (its own transaction) leaves nothing behind, and `try_confirm`
returns None: the caller runs the portable path, which gives the exact answer — a replay, a 409
for another body, the next best offer, a refill of the slice, the clamp at the end of a budget.
Anything unusual (a refusal, a rule's limit of 0, the Redis gate granting less than the whole
discount) goes the portable way before the statement is sent. The express path only ever
accepts a subset of what the portable path accepts, with the same answer and the same rows.

The Redis gate stays in front as in the portable path: the discount is reserved before the
statement, stays taken when it committed (as a portable commit keeps it) and is given back
before falling back. No ORM session is made: the reservations are held here, not in one.
"""
from __future__ import annotations

import json
import logging
import random
import uuid
from types import SimpleNamespace

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from .. import clock
from ..database import hot_reads, is_postgres, run_rows
from ..errors import DomainError
from ..extensions import db
from ..idempotency import fingerprint
from ..promotions import gate
from ..promotions import service as promotions
from . import service

log = logging.getLogger(__name__)

# How many confirms this process took the express way, and how many it sent back to the
# portable path (for tests; per process, never persisted).
stats = {"express": 0, "declined": 0}

_CLAIM = """claim AS (
  INSERT INTO idempotency_records (scope, key, fingerprint, status_code, response, created_at)
  VALUES (CAST(:scope AS text), CAST(:ikey AS text), CAST(:fp AS text), 201, CAST(:body AS json),
          CAST(:at AS timestamptz))
  ON CONFLICT (scope, key) DO NOTHING
  RETURNING id)"""

_USE = """{name} AS (
  INSERT INTO promotion_member_uses (rule_id, member_id, period, uses)
  SELECT CAST(:rule{i} AS integer), CAST(:member AS integer), CAST(:period{i}_{j} AS text), 1
  WHERE EXISTS (SELECT 1 FROM {prev})
  ON CONFLICT (rule_id, member_id, period) DO UPDATE SET uses = promotion_member_uses.uses + 1
  WHERE promotion_member_uses.uses < CAST(:limit{i}_{j} AS integer)
  RETURNING 1)"""

_RULE_ACTIVE = "EXISTS (SELECT 1 FROM promotion_rules r WHERE r.id = CAST(:rule{i} AS integer) AND r.status = 'active')"

# The three ways a rule's use and discount are taken (`promotions.service._consume`).
_TAKES = {
    # a budget slice with enough unspent allotment (`_slice_take(budgeted=True)`)
    "slice": """{name} AS (
  UPDATE promotion_budget_slices s SET used_fen = s.used_fen + CAST(:want{i} AS bigint), uses = s.uses + 1
  WHERE s.rule_id = CAST(:rule{i} AS integer) AND s.slice = CAST(:slice{i} AS integer)
    AND s.allot_fen IS NOT NULL AND s.used_fen + CAST(:want{i} AS bigint) <= s.allot_fen
    AND """ + _RULE_ACTIVE + """ AND EXISTS (SELECT 1 FROM {prev})
  RETURNING 1)""",
    # a rule without budget: its slice only counts (`_slice_take(budgeted=False)`, then the
    # first use's insert), one upsert
    "count": """{name} AS (
  INSERT INTO promotion_budget_slices (rule_id, slice, allot_fen, used_fen, uses)
  SELECT CAST(:rule{i} AS integer), CAST(:slice{i} AS integer), NULL, CAST(:want{i} AS bigint), 1
  WHERE """ + _RULE_ACTIVE + """ AND EXISTS (SELECT 1 FROM {prev})
  ON CONFLICT (rule_id, slice) DO UPDATE
    SET used_fen = promotion_budget_slices.used_fen + excluded.used_fen, uses = promotion_budget_slices.uses + 1
  WHERE promotion_budget_slices.allot_fen IS NULL
  RETURNING 1)""",
    # a rule with a global use limit: its own row (`_take_from_rule_row`'s first UPDATE)
    "rule": """{name} AS (
  UPDATE promotion_rules SET uses_count = uses_count + 1, budget_used_fen = budget_used_fen + CAST(:want{i} AS bigint)
  WHERE id = CAST(:rule{i} AS integer) AND status = 'active'
    AND (global_limit IS NULL OR uses_count < global_limit)
    AND (budget_fen IS NULL OR budget_used_fen + CAST(:want{i} AS bigint) <= budget_fen)
    AND EXISTS (SELECT 1 FROM {prev})
  RETURNING 1)""",
}

_USAGE = """{name} AS (
  INSERT INTO promotion_usages (usage_key, rule_id, version_id, member_id, merchant_id, store_id, business_day,
                                amount_fen, discount_fen, union_fen, bank_fen, merchant_fen, returned_fen,
                                returned_union_fen, returned_bank_fen, returned_merchant_fen, use_returned, created_at)
  SELECT CAST(:usage_key AS text), CAST(:rule{i} AS integer), CAST(:version{i} AS integer), CAST(:member AS integer),
         CAST(:merchant AS integer), CAST(:store AS integer), CAST(:day AS date), CAST(:amount AS bigint),
         CAST(:want{i} AS bigint), CAST(:union{i} AS bigint), CAST(:bank{i} AS bigint), CAST(:merchant{i} AS bigint),
         0, 0, 0, 0, false, CAST(:at AS timestamptz)
  WHERE EXISTS (SELECT 1 FROM {prev})
  RETURNING 1)"""

_TRANSACTION = """txn AS (
  INSERT INTO card_transactions (id, merchant_id, store_id, card_id, member_id, amount_fen, discount_fen, pay_fen,
                                 union_fen, bank_fen, merchant_fen, refunded_pay_fen, refunded_discount_fen, channel,
                                 usage_key, applied, cashier_user_id, terminal_key_id, business_day, created_at,
                                 statement_id)
  SELECT CAST(:id AS integer), CAST(:merchant AS integer), CAST(:store AS integer), CAST(:card AS integer),
         CAST(:member AS integer), CAST(:amount AS integer), CAST(:discount AS integer), CAST(:pay AS integer),
         CAST(:union AS integer), CAST(:bank AS integer), CAST(:merchant_share AS integer), 0, 0, 'card_number',
         CAST(:usage_key AS text), CAST(:applied AS json), NULL, CAST(:terminal_key AS integer), CAST(:day AS date),
         CAST(:at AS timestamptz), NULL
  WHERE EXISTS (SELECT 1 FROM {prev})
  RETURNING id)"""

_STATEMENTS: dict[tuple, object] = {}


class Unusual(Exception):
    """A confirm the express statement does not do: the portable path does it."""


def _statement(shape: tuple):
    """The statement for a shape — per applied rule, its limited periods and how its use is
    taken — built once per process. Each CTE waits for the one before it (`EXISTS … prev`)."""
    stmt = _STATEMENTS.get(shape)
    if stmt is not None:
        return stmt
    ctes, steps, prev = [_CLAIM], ["claim"], "claim"
    for i, (periods, take) in enumerate(shape):
        for j in range(len(periods)):
            name = f"use{i}_{j}"
            ctes.append(_USE.format(name=name, prev=prev, i=i, j=j))
            steps.append(name)
            prev = name
        name = f"take{i}"
        ctes.append(_TAKES[take].format(name=name, prev=prev, i=i))
        steps.append(name)
        prev = name
    for i in range(len(shape)):
        name = f"usage{i}"
        ctes.append(_USAGE.format(name=name, prev=prev, i=i))
        steps.append(name)
        prev = name
    ctes.append(_TRANSACTION.format(prev=prev))
    # Nothing done unless the transaction row went in; then the text-to-integer cast fails and
    # names the first step that did not happen (for the log), rolling the statement back.
    missing = " ".join(f"WHEN NOT EXISTS (SELECT 1 FROM {s}) THEN '{s}'" for s in steps)
    sql = ("WITH " + ",\n".join(ctes) + "\nSELECT CASE WHEN EXISTS (SELECT 1 FROM txn) THEN 1 ELSE "
           "CAST('till express refused: ' || CASE " + missing + " ELSE 'txn' END AS integer) END")
    stmt = _STATEMENTS[shape] = text(sql)
    return stmt


def _take_kind(terms: dict) -> str:
    if terms.get("global_limit") is not None:
        return "rule"
    return "slice" if terms.get("budget_fen") is not None else "count"


def _plan(till, card, quote, amount_fen: int, at, scope: str, key: str, payload: dict) -> tuple[tuple, dict]:
    """(shape, parameters) of the statement for this quote — `params["body"]` is the answer's
    JSON text; `Unusual` when the statement could not do what the portable path would (that path
    then does it)."""
    day = clock.business_day(at)
    keys = promotions.period_keys(day)
    usage_key = "txn-" + uuid.uuid4().hex
    shares = service.funders_shares(quote)
    applied = service.applied_snapshot(quote)
    txn = SimpleNamespace(
        id=till.next_transaction_id, merchant_id=till.merchant.id, store_id=till.store.id, card_number=card.number,
        amount_fen=amount_fen, discount_fen=quote.discount_fen, pay_fen=amount_fen - quote.discount_fen,
        union_fen=shares["union"], bank_fen=shares["bank"], merchant_fen=shares["merchant"], channel="card_number",
        applied=applied, business_day=day, created_at=at)
    body = service.transaction_body(txn)
    body["hints"] = list(quote.hints)
    params = {
        # the stored answer is the answer: jsonify's bytes (sorted keys, compact, Chinese as is),
        # so the first answer and every replay of it read the same
        "scope": scope, "ikey": key, "fp": fingerprint(payload), "at": at, "day": day,
        "body": json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        "member": card.member_id, "merchant": till.merchant.id, "store": till.store.id, "amount": amount_fen,
        "usage_key": usage_key, "id": till.next_transaction_id, "card": card.id, "discount": quote.discount_fen,
        "pay": amount_fen - quote.discount_fen, "union": shares["union"], "bank": shares["bank"],
        "merchant_share": shares["merchant"], "applied": json.dumps(applied), "terminal_key": till.terminal_key.id}
    shape = []
    slices = promotions.SLICES
    for i, a in enumerate(quote.applied):
        periods = tuple(a.terms["per_member"].items())
        if any(limit < 1 for _p, limit in periods):
            raise Unusual("a per-member limit of 0")
        kind = _take_kind(a.terms)
        shape.append((tuple(p for p, _l in periods), kind))
        params.update({f"rule{i}": a.rule_id, f"version{i}": a.version_id, f"want{i}": a.discount_fen,
                       f"union{i}": a.shares.get("union", 0), f"bank{i}": a.shares.get("bank", 0),
                       f"merchant{i}": a.shares.get("merchant", 0)})
        if kind != "rule":   # one of the rule's slices, picked at random as `_consume` picks it
            params[f"slice{i}"] = random.randrange(slices)
        for j, (period, limit) in enumerate(periods):
            params[f"period{i}_{j}"] = keys[period]
            params[f"limit{i}_{j}"] = limit
    return tuple(shape), params


def _reserve(quote) -> list[tuple[int, int, int]] | None:
    """The Redis gate's reservations for every applied rule's whole discount (as `_consume` asks
    them), as (rule, fen, uses) held, or None — with nothing held — if any rule is shed or
    granted less. They are not kept in an ORM session (this path has none): `_release` gives
    them back if the statement does not commit, else they stay taken, as a portable commit
    keeps them."""
    held: list[tuple[int, int, int]] = []
    for a in quote.applied:
        want, shed, taken = gate.reserve_untracked(a.rule_id, a.discount_fen, a.terms)
        if taken is not None:
            held.append((a.rule_id, *taken))
        if shed or want != a.discount_fen:
            _release(held)
            return None
    return held


def _release(held: list[tuple[int, int, int]]) -> None:
    for rule_id, fen, uses in held:
        gate.give_back(rule_id, fen, uses)


def try_confirm(terminal_key: str, idempotency_key: str, args: dict) -> str | None:
    """The confirm's answer (status 201, JSON text) when the one statement committed; None when
    nothing was written (anything unusual, any step refused, a used key, a database error): run
    the portable path then. `args` is the parsed payment body (a typed card number, no pay code)."""
    if not is_postgres() or (db.session.registry.has() and db.session().in_transaction()):
        return None   # no autocommit connection to be had: the unit of work decides
    held: list[tuple[int, int, int]] = []
    try:
        with hot_reads():
            try:
                till, card_row = service.till_for_key_fast(terminal_key, card_number=args["card_number"],
                                                           for_confirm=True, amount_fen=args["amount"])
                if till.live is None or till.next_transaction_id is None or card_row is None:
                    return _declined("no live counters")
                at = clock.now()
                amount = args["amount"]
                card, quote = service.quote_transaction(till, amount_fen=amount, card_number=args["card_number"],
                                                        card_row=card_row, at=at)
                shape, params = _plan(till, card, quote, amount, at, f"till.confirm:{till.merchant.id}",
                                      idempotency_key, {**args, "store_id": till.store.id})
            except (DomainError, Unusual) as exc:
                return _declined(exc)
            reserved = _reserve(quote)
            if reserved is None:
                return _declined("gate")
            held = reserved
            run_rows(_statement(shape), params)
    except sa_exc.DBAPIError as exc:
        _release(held)
        refused = "till express refused" in str(exc.orig)
        return _declined(exc.orig, logging.DEBUG if refused else logging.WARNING)
    except BaseException:
        _release(held)
        raise
    # Committed: the gate's reservations stay taken, as the portable unit of work's commit keeps them.
    if db.session.registry.has() and db.session().in_transaction():
        # only a first quote of the rule book (`promotions._build`, once per process or after a
        # rule changed) reads through the session: end that read-only transaction here
        db.session.commit()
    stats["express"] += 1
    return params["body"]


def _declined(why, level: int = logging.DEBUG) -> None:
    stats["declined"] += 1
    log.log(level, "till express path declined: %s", why)
    return None
