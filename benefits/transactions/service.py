"""Card transactions at the till: quote, confirm, refund; merchant statements; dynamic pay QR.

What happens when a till retries: the API wraps `confirm_transaction` in `idempotency.run_once`,
so the same Idempotency-Key with the same body replays the first answer. Inside one SQL
transaction, confirmation consumes the QR token (conditional UPDATE), asks the promotions
service to apply the offer and consume budget and per-member uses (conditional UPDATEs, unique
rows), and records the transaction with a snapshot of the applied rule versions.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, literal_column, not_, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..errors import Conflict, NotFound, ValidationError
from ..database import defer_write, is_postgres, read_rows, run_rows
from ..extensions import db
from ..spreadsheets import safe_cell
from ..members import service as members
from ..members.models import Card, Member
from ..merchants import service as merchants
from ..merchants.models import Merchant, Store, TerminalKey
from ..money import split_fairly
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from .models import FUNDERS, CardTransaction, PayToken, Refund, Statement

PAY_TOKEN_PREFIX = "Q"
PAY_TOKEN_LIFETIME = timedelta(seconds=60)
PAY_TOKEN_REFRESH_SECONDS = 30
MAX_AMOUNT_FEN = 10_000_000  # 100,000 yuan: larger amounts are a typing mistake at a till


def _promotions():
    from ..promotions import service
    return service


@dataclass(frozen=True)
class Till:
    """Who is at the till: the store, and the cashier or the terminal key that signed in."""
    merchant: Merchant
    store: Store
    user: object | None = None
    terminal_key: TerminalKey | None = None
    next_transaction_id: int | None = None   # taken from the sequence with the till (PostgreSQL)
    live: object | None = None               # the card member's offer counters, read with the till (PostgreSQL)


def till_for_key(key: str) -> Till:
    row = merchants.authenticate_terminal(key)
    return Till(merchant=row.store.merchant, store=row.store, terminal_key=row)


# --- the hot path's plain data ----------------------------------------------------------------
#
# Quote and confirm run at every till payment. They read the till (terminal key, store, merchant
# and its union) and the card (with its member and union) as plain frozen values in one Core
# statement instead of loading ORM objects: the promotions engine and the transaction row only
# need these attributes. The ORM `Till` (cashier sessions, tests) has the same attribute names.

@dataclass(frozen=True)
class OrgRef:
    path: str


@dataclass(frozen=True)
class TillMerchant:
    id: int
    name: str
    status: str
    category: str
    accepts_card_number: bool
    org: OrgRef


@dataclass(frozen=True)
class TillStore:
    id: int
    name: str
    is_open: bool


@dataclass(frozen=True)
class TillKey:
    id: int


@dataclass(frozen=True)
class PayMember:
    id: int
    name: str
    status: str
    category: str
    org: OrgRef


@dataclass(frozen=True)
class PayCard:
    id: int
    number: str
    status: str
    member_id: int
    member: PayMember


_HOT_STATEMENTS: dict[str, object] = {}


def _card_columns():
    c, mb, bo = Card.__table__.c, Member.__table__.c, Organisation.__table__.alias("member_org")
    return (c.id, c.number, c.status, mb.id, mb.name, mb.status, mb.category, bo.c.path), (c, mb, bo)


def _hot_statement(name: str):
    """Built once: the till (by key hash) with the card (by number or id), or the card alone.
    A till name is "till[:number|:id][+live][+id]": `+live` adds the card member's offer
    counters (`promotions.live_columns`), `+id` the next transaction id (PostgreSQL)."""
    stmt = _HOT_STATEMENTS.get(name)
    if stmt is not None:
        return stmt
    card_cols, (c, mb, bo) = _card_columns()
    if name.startswith("till"):
        tk, st, m = TerminalKey.__table__.c, Store.__table__.c, Merchant.__table__.c
        mo = Organisation.__table__.alias("merchant_org")
        base = (TerminalKey.__table__.join(Store.__table__, st.id == tk.store_id)
                .join(Merchant.__table__, m.id == st.merchant_id).join(mo, mo.c.id == m.org_id))
        cols = [tk.id, tk.revoked_at, st.id, st.name, st.is_open, m.id, m.name, m.status, m.category,
                m.accepts_card_number, mo.c.path]
        head, *flags = name.split("+")
        by = head.partition(":")[2]
        if by:
            base = (base.outerjoin(Card.__table__, {"number": c.number == bindparam("number"),
                                                    "id": c.id == bindparam("card_id")}[by])
                    .outerjoin(Member.__table__, mb.id == c.member_id)
                    .outerjoin(bo, bo.c.id == mb.org_id))
            cols += card_cols
        if "live" in flags:
            cols += _promotions().live_columns(c.member_id)
        if "id" in flags:   # PostgreSQL: the id the confirmed transaction will have
            cols.append(literal_column("nextval(pg_get_serial_sequence('card_transactions', 'id'))"))
        stmt = select(*cols).select_from(base).where(tk.key_hash == bindparam("key_hash"))
    else:
        base = (Card.__table__.join(Member.__table__, mb.id == c.member_id).join(bo, bo.c.id == mb.org_id))
        stmt = select(*card_cols).select_from(base).where(
            {"number": c.number == bindparam("number"), "id": c.id == bindparam("card_id")}[name.partition(":")[2]])
    _HOT_STATEMENTS[name] = stmt
    return stmt


def _pay_card(row) -> PayCard:
    """The card a till may charge from (card id, number, status, member id, name, status,
    category, union path), or a refusal the cashier can read out."""
    if row is None or row[0] is None:
        raise NotFound("未找到此卡号。 No card with this number.", code="unknown_card")
    card_id, number, status, member_id, name, member_status, category, path = row
    members.check_payable(status, member_status)
    return PayCard(card_id, number, status, member_id, PayMember(member_id, name, member_status, category, OrgRef(path)))


def load_pay_card(*, number: str | None = None, card_id: int | None = None) -> PayCard:
    if card_id is not None:
        rows = read_rows(_hot_statement("card:id"), {"card_id": card_id})
    else:
        rows = read_rows(_hot_statement("card:number"), {"number": (number or "").strip()})
    return _pay_card(rows[0] if rows else None)


def till_for_key_fast(key: str, *, card_number: str | None = None, for_confirm: bool = False,
                      amount_fen: int | None = None) -> tuple[Till, tuple | None]:
    """The till for a terminal key as plain values, and (with `card_number`) the card's row read
    in the same statement: a till request starts with one round trip. On PostgreSQL, with
    `amount_fen`, the card member's offer counters at that price come in the same statement too
    (`Till.live`, handed to the promotions service), and a confirm takes the new transaction's
    id from its sequence there (`Till.next_transaction_id`), so the row can be written with the
    rest just before COMMIT. Raises 401 for an unknown or revoked key, like `till_for_key`."""
    by = "number" if card_number else ""
    postgres = is_postgres()
    with_live = postgres and bool(by) and isinstance(amount_fen, int) and 0 < amount_fen <= MAX_AMOUNT_FEN
    with_id = for_confirm and postgres
    name = ("till:" + by if by else "till") + ("+live" if with_live else "") + ("+id" if with_id else "")
    params = {"key_hash": merchants.hash_terminal_key(key)}
    if by:
        params["number"] = card_number.strip()
    if with_live:
        day = clock.business_day()
        params.update(_promotions().live_params(amount_fen, day))
    rows = read_rows(_hot_statement(name), params)
    row = rows[0] if rows else None
    if row is None or row[1] is not None:
        raise merchants.invalid_terminal_key()
    (key_id, _revoked, store_id, store_name, is_open, merchant_id, merchant_name, status, category, accepts,
     org_path) = row[:11]
    card_end = 19 if by else 11
    live = _promotions().live_from_columns(row[card_end:card_end + 4], day) if with_live else None
    till = Till(merchant=TillMerchant(merchant_id, merchant_name, status, category, bool(accepts), OrgRef(org_path)),
                store=TillStore(store_id, store_name, bool(is_open)), terminal_key=TillKey(key_id),
                next_transaction_id=row[-1] if with_id else None, live=live)
    return till, (tuple(row[11:card_end]) if by else None)


def till_for_cashier(user, store_id: int | None = None) -> Till:
    link = merchants.staff_link(user)
    if link.store_id is not None:
        store = link.store
    elif store_id is not None:
        store = merchants.get_store(link.merchant, store_id)
    else:
        open_stores = [s for s in link.merchant.stores if s.is_open]
        if not open_stores:
            raise Conflict("此商家还没有门店。 This merchant has no open store.", code="no_store")
        store = open_stores[0]
    return Till(merchant=link.merchant, store=store, user=user)


# --- amounts and cards ------------------------------------------------------------------------

def check_amount(amount_fen) -> int:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationError("金额必须大于零。 The amount must be more than zero.",
                              details={"fields": {"amount": "must be more than zero"}})
    if amount_fen > MAX_AMOUNT_FEN:
        raise ValidationError("金额过大。 The amount is too large for one card payment.",
                              details={"fields": {"amount": "at most 100000.00"}})
    return amount_fen


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def is_pay_token(code: str) -> bool:
    return (code or "").strip().startswith(PAY_TOKEN_PREFIX)


_QR_REFUSED = "付款码已失效，请让会员刷新后重新出示。 This pay code has expired or was already used; ask the member to refresh it."


def _card_from_token(token: str, *, consume: bool) -> Card:
    at = clock.now()
    digest = _token_hash(token)
    if consume:
        # consume and learn the card in one conditional UPDATE ... RETURNING
        card_id = db.session.scalar(
            update(PayToken)
            .where(PayToken.token_hash == digest, PayToken.used_at.is_(None), PayToken.expires_at > at)
            .values(used_at=at).returning(PayToken.card_id).execution_options(synchronize_session=False))
        if card_id is None:
            raise members.CardRefused(_QR_REFUSED, code="pay_code_refused")
    else:
        row = db.session.scalar(select(PayToken).where(PayToken.token_hash == digest))
        if row is None or row.used_at is not None or clock.as_utc(row.expires_at) <= at:
            raise members.CardRefused(_QR_REFUSED, code="pay_code_refused")
        card_id = row.card_id
    return load_pay_card(card_id=card_id)


def resolve_card(till: Till, *, card_number: str | None = None, qr_token: str | None = None,
                 consume: bool = False, card_row: tuple | None = None) -> tuple[PayCard, str]:
    """The card being charged and how it was presented ('qr' or 'card_number'). `card_row` is
    the card already read with the till (`till_for_key_fast`)."""
    if qr_token:
        return _card_from_token(qr_token, consume=consume), "qr"
    if not card_number:
        raise ValidationError("请输入会员卡号或扫描付款码。 Enter a card number or scan the member's pay code.",
                              details={"fields": {"card_number": "card number or pay code required"}})
    if not till.merchant.accepts_card_number:
        raise ValidationError("本商家只接受会员付款码。 This merchant only accepts the member's pay code.",
                              code="card_number_not_accepted")
    if card_row is not None:
        return _pay_card(card_row), "card_number"
    return load_pay_card(number=card_number), "card_number"


# --- quote and confirm ------------------------------------------------------------------------

def quote_transaction(till: Till, *, amount_fen: int, card_number: str | None = None,
                      qr_token: str | None = None, card_row: tuple | None = None, at: datetime | None = None):
    """Read-only: what the member would pay at `at` (default now). Returns (card, Quote)."""
    merchants.check_can_trade(till.merchant, till.store)
    check_amount(amount_fen)
    card, _channel = resolve_card(till, card_number=card_number, qr_token=qr_token, consume=False,
                                  card_row=card_row)
    quote = _promotions().quote(member=card.member, card=card, merchant=till.merchant, store=till.store,
                                amount_fen=amount_fen, at=at, live=till.live if card_row is not None else None)
    return card, quote


def funders_shares(quote) -> dict[str, int]:
    """Each funder's part of the quote's discount, summed over the applied rules."""
    return {f: sum(a.shares.get(f, 0) for a in quote.applied) for f in FUNDERS}


def applied_snapshot(quote) -> list[dict]:
    return [{"rule_id": a.rule_id, "version_id": a.version_id, "name": a.name,
             "discount_fen": a.discount_fen, "shares": dict(a.shares), "terms": a.terms}
            for a in quote.applied]


def confirm_transaction(till: Till, *, amount_fen: int, card_number: str | None = None,
                        qr_token: str | None = None, card_row: tuple | None = None) -> CardTransaction:
    """Record the payment and consume the offer, in the caller's SQL transaction."""
    merchants.check_can_trade(till.merchant, till.store)
    check_amount(amount_fen)
    card, channel = resolve_card(till, card_number=card_number, qr_token=qr_token, consume=True,
                                 card_row=card_row)
    at = clock.now()
    usage_key = "txn-" + uuid.uuid4().hex
    quote = _promotions().apply(member=card.member, card=card, merchant=till.merchant, store=till.store,
                                amount_fen=amount_fen, usage_key=usage_key, at=at,
                                live=till.live if card_row is not None else None)
    shares = funders_shares(quote)
    values = dict(
        merchant_id=till.merchant.id, store_id=till.store.id, card_id=card.id, member_id=card.member_id,
        amount_fen=amount_fen, discount_fen=quote.discount_fen, pay_fen=amount_fen - quote.discount_fen,
        union_fen=shares["union"], bank_fen=shares["bank"], merchant_fen=shares["merchant"],
        refunded_pay_fen=0, refunded_discount_fen=0, channel=channel, usage_key=usage_key,
        applied=applied_snapshot(quote), cashier_user_id=getattr(till.user, "id", None),
        terminal_key_id=till.terminal_key.id if till.terminal_key else None,
        business_day=clock.business_day(at), created_at=at, statement_id=None)
    # One INSERT … RETURNING id, then the row is attached to the session as it is (no flush, no
    # reload): every payment passes here.
    if till.next_transaction_id is not None:
        # the id came from the sequence with the till: the row goes with the commit
        values["id"] = till.next_transaction_id
        defer_write(_transaction_insert(with_id=True), values)
    else:
        values["id"] = run_rows(_transaction_insert(), values)[0][0]
    txn = CardTransaction(**values)
    make_transient_to_detached(txn)
    db.session.add(txn)
    set_committed_value(txn, "refunds", [])
    txn.quote_hints = tuple(quote.hints)
    txn.card_number = card.number
    return txn


def _transaction_insert(with_id: bool = False):
    stmt = _HOT_STATEMENTS.get(("insert", with_id))
    if stmt is None:
        t = CardTransaction.__table__
        if with_id:
            stmt = insert(t).values({c.name: bindparam(c.name) for c in t.c})
        else:
            stmt = insert(t).values({c.name: bindparam(c.name) for c in t.c if c.name != "id"}).returning(t.c.id)
        _HOT_STATEMENTS[("insert", with_id)] = stmt
    return stmt


def transaction_body(txn: CardTransaction) -> dict:
    """TillTransactionSchema's dump of a transaction just recorded (no refunds yet), built by
    hand for the confirm answer; a test checks it against the schema."""
    return {
        "id": txn.id, "merchant_id": txn.merchant_id, "store_id": txn.store_id, "card_tail": txn.card_number[-4:],
        "amount_fen": txn.amount_fen, "discount_fen": txn.discount_fen, "pay_fen": txn.pay_fen,
        "shares": {"union": txn.union_fen, "bank": txn.bank_fen, "merchant": txn.merchant_fen},
        "refunded_pay_fen": 0, "refunded_discount_fen": 0, "refundable_pay_fen": txn.pay_fen, "status": "completed",
        "channel": txn.channel,
        "applied": [{"rule_id": a["rule_id"], "version_id": a["version_id"], "name": a["name"],
                     "discount_fen": a["discount_fen"], "shares": dict(a["shares"]), "terms": a["terms"]}
                    for a in txn.applied],
        "business_day": txn.business_day.isoformat(), "created_at": txn.created_at.isoformat(), "refunds": []}


# --- reading transactions ---------------------------------------------------------------------

def get_transaction_for_merchant(merchant: Merchant, transaction_id: int) -> CardTransaction:
    txn = db.session.get(CardTransaction, transaction_id)
    if txn is None or txn.merchant_id != merchant.id:
        raise NotFound("未找到此交易。 No such transaction at this merchant.", code="unknown_transaction")
    return txn


def transactions_of_day(merchant: Merchant, day: date, store: Store | None = None) -> list[CardTransaction]:
    stmt = select(CardTransaction).where(CardTransaction.merchant_id == merchant.id,
                                         CardTransaction.business_day == day)
    if store is not None:
        stmt = stmt.where(CardTransaction.store_id == store.id)
    return list(db.session.scalars(stmt.order_by(CardTransaction.id.desc())))


def day_summary(transactions: list[CardTransaction]) -> dict:
    return {"count": len(transactions),
            "amount_fen": sum(t.amount_fen for t in transactions),
            "discount_fen": sum(t.discount_fen - t.refunded_discount_fen for t in transactions),
            "pay_fen": sum(t.pay_fen - t.refunded_pay_fen for t in transactions),
            "refunded_pay_fen": sum(t.refunded_pay_fen for t in transactions)}


def member_transactions(member: Member, limit: int = 100) -> list[CardTransaction]:
    return list(db.session.scalars(select(CardTransaction).where(CardTransaction.member_id == member.id)
                                   .order_by(CardTransaction.id.desc()).limit(limit)))


def member_savings(member: Member) -> dict:
    """Discount kept (net of refunds) this month and this year, China business days."""
    today = clock.business_day()
    saved = CardTransaction.discount_fen - CardTransaction.refunded_discount_fen

    def since(start: date) -> int:
        return int(db.session.scalar(select(func.coalesce(func.sum(saved), 0)).where(
            CardTransaction.member_id == member.id, CardTransaction.business_day >= start)) or 0)

    return {"month_fen": since(today.replace(day=1)), "year_fen": since(today.replace(month=1, day=1))}


# --- refunds ----------------------------------------------------------------------------------

def _refunded_so_far(txn: CardTransaction) -> tuple[dict[str, int], dict[int, int]]:
    by_funder = {f: 0 for f in FUNDERS}
    by_rule: dict[int, int] = {}
    for refund in txn.refunds:
        for f in FUNDERS:
            by_funder[f] += getattr(refund, f + "_fen")
        for rule_id, fen in (refund.by_rule or {}).items():
            by_rule[int(rule_id)] = by_rule.get(int(rule_id), 0) + fen
    return by_funder, by_rule


def _split(total: int, remaining: dict) -> dict:
    if total == 0:
        return {k: 0 for k in remaining}
    return split_fairly(total, remaining)


def refund_transaction(till: Till, transaction_id: int, *, pay_fen: int | None = None,
                       reason: str = "") -> Refund:
    """Give the member back `pay_fen` (default: all that is left). The discount and every funder's
    share are reversed pro rata; a refund that completes the reversal returns exactly the rest."""
    txn = get_transaction_for_merchant(till.merchant, transaction_id)
    left_pay = txn.pay_fen - txn.refunded_pay_fen
    left_discount = txn.discount_fen - txn.refunded_discount_fen
    if left_pay == 0 and left_discount == 0:
        raise Conflict("此交易已全额退款。 This transaction is already fully refunded.", code="already_refunded")
    if pay_fen is None:
        pay_fen = left_pay
    if not isinstance(pay_fen, int) or isinstance(pay_fen, bool) or pay_fen < 0 or (pay_fen == 0 and left_pay > 0):
        raise ValidationError("退款金额必须大于零。 The refund must be more than zero.",
                              details={"fields": {"amount": "must be more than zero"}})
    if pay_fen > left_pay:
        raise ValidationError(
            f"退款金额超过可退金额 {left_pay / 100:.2f} 元。 The refund is larger than what is left to refund.",
            code="refund_too_large", details={"fields": {"amount": "larger than what is left"},
                                              "refundable_fen": left_pay})
    is_final = pay_fen == left_pay
    new_refunded_pay = txn.refunded_pay_fen + pay_fen
    new_refunded_discount = txn.discount_fen if is_final else txn.discount_fen * new_refunded_pay // txn.pay_fen
    discount_back = new_refunded_discount - txn.refunded_discount_fen

    by_funder_done, by_rule_done = _refunded_so_far(txn)
    funders = _split(discount_back, {f: getattr(txn, f + "_fen") - by_funder_done[f] for f in FUNDERS})
    rules_left = {int(a["rule_id"]): a["discount_fen"] - by_rule_done.get(int(a["rule_id"]), 0) for a in txn.applied}
    by_rule = _split(discount_back, rules_left) if rules_left else {}

    result = db.session.execute(
        update(CardTransaction)
        .where(CardTransaction.id == txn.id, CardTransaction.refunded_pay_fen == txn.refunded_pay_fen,
               CardTransaction.refunded_discount_fen == txn.refunded_discount_fen)
        .values(refunded_pay_fen=new_refunded_pay, refunded_discount_fen=new_refunded_discount)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("另一笔退款刚刚完成，请刷新后重试。 Another refund just went through; reload and retry.",
                       code="refund_race")
    at = clock.now()
    refund = Refund(transaction_id=txn.id, merchant_id=txn.merchant_id, pay_fen=pay_fen,
                    discount_fen=discount_back, union_fen=funders["union"], bank_fen=funders["bank"],
                    merchant_fen=funders["merchant"], by_rule={str(k): v for k, v in by_rule.items() if v},
                    is_final=is_final, reason=(reason or "").strip()[:255],
                    cashier_user_id=getattr(till.user, "id", None),
                    terminal_key_id=till.terminal_key.id if till.terminal_key else None,
                    business_day=clock.business_day(at), created_at=at)
    db.session.add(refund)
    db.session.flush()
    db.session.expire(txn)
    if txn.applied:
        _promotions().give_back(usage_key=txn.usage_key, discount_back_by_rule={k: v for k, v in by_rule.items() if v},
                                full_refund=is_final)
    return refund


# --- dynamic pay QR ---------------------------------------------------------------------------

def issue_pay_token(member: Member) -> tuple[str, datetime]:
    """A fresh one-time pay code for the member's active card, valid for about a minute."""
    card = member.current_card
    if card is None:
        raise NotFound("您还没有可用的会员卡。 You have no usable card.", code="no_card")
    load_pay_card(card_id=card.id)
    at = clock.now()
    db.session.execute(delete(PayToken).where(PayToken.card_id == card.id, PayToken.expires_at < at - timedelta(minutes=5))
                       .execution_options(synchronize_session=False))
    token = PAY_TOKEN_PREFIX + secrets.token_urlsafe(18)
    expires_at = at + PAY_TOKEN_LIFETIME
    db.session.add(PayToken(card_id=card.id, token_hash=_token_hash(token), expires_at=expires_at, created_at=at))
    db.session.flush()
    return token, expires_at


# --- statements -------------------------------------------------------------------------------

_SUMS = ("amount_fen", "discount_fen", "pay_fen", "union_fen", "bank_fen", "merchant_fen")


def _sum_row(columns, stmt) -> dict:
    row = db.session.execute(stmt.with_only_columns(
        func.count(), *[func.coalesce(func.sum(c), 0) for c in columns])).one()
    return {"count": int(row[0]), **{name: int(v) for name, v in zip(_SUMS, row[1:])}}


def period_totals(merchant_id: int, statement_id: int | None) -> dict:
    """Sales, refunds of those sales, adjustments (refunds of sales settled in an earlier statement)
    and the net that the union and the bank owe. `statement_id=None`: the open period."""
    T, R = CardTransaction, Refund
    in_txn = T.statement_id.is_(None) if statement_id is None else T.statement_id == statement_id
    in_refund = R.statement_id.is_(None) if statement_id is None else R.statement_id == statement_id
    sales = _sum_row([T.amount_fen, T.discount_fen, T.pay_fen, T.union_fen, T.bank_fen, T.merchant_fen],
                     select(T.id).where(T.merchant_id == merchant_id, in_txn))
    refund_cols = [R.pay_fen + R.discount_fen, R.discount_fen, R.pay_fen, R.union_fen, R.bank_fen, R.merchant_fen]
    refund_base = select(R.id).join(T, T.id == R.transaction_id).where(R.merchant_id == merchant_id, in_refund)
    refunds = _sum_row(refund_cols, refund_base.where(in_txn))
    adjustments = _sum_row(refund_cols, refund_base.where(not_(in_txn) if statement_id is not None
                                                          else T.statement_id.is_not(None)))
    net = {k: sales[k] - refunds[k] - adjustments[k] for k in _SUMS}
    return {"sales": sales, "refunds": refunds, "adjustments": adjustments, "net": net,
            "union_owes_fen": net["union_fen"], "bank_owes_fen": net["bank_fen"]}


def statements_of(merchant: Merchant) -> list[Statement]:
    return list(db.session.scalars(select(Statement).where(Statement.merchant_id == merchant.id)
                                   .order_by(Statement.period_start.desc())))


def get_statement(merchant: Merchant, statement_id: int) -> Statement:
    statement = db.session.get(Statement, statement_id)
    if statement is None or statement.merchant_id != merchant.id:
        raise NotFound("未找到此结算单。 No such statement.")
    return statement


def next_period_start(merchant: Merchant) -> date | None:
    last = db.session.scalar(select(func.max(Statement.period_end)).where(Statement.merchant_id == merchant.id))
    if last is not None:
        return last + timedelta(days=1)
    first = db.session.scalar(select(func.min(CardTransaction.business_day))
                              .where(CardTransaction.merchant_id == merchant.id))
    return first


def close_statement(actor, merchant: Merchant, through: date) -> Statement:
    """Close the merchant's open period through `through` (a China business day already over).
    Refunds made later for these sales stay open and appear as adjustments in the next statement."""
    if through >= clock.business_day():
        raise ValidationError("只能结算已经结束的日期。 Only days that are over can be settled.",
                              details={"fields": {"through": "must be before today"}})
    start = next_period_start(merchant) or through
    if through < start:
        raise ValidationError("此日期已经结算过。 This period is already settled.", code="already_settled",
                              details={"fields": {"through": f"must be on or after {start}"}})
    statement = Statement(merchant_id=merchant.id, period_start=start, period_end=through, closed_at=clock.now(),
                          closed_by_user_id=getattr(actor, "id", None), union_owes_fen=0, bank_owes_fen=0, totals={})
    try:
        with db.session.begin_nested():
            db.session.add(statement)
            db.session.flush()
    except IntegrityError:
        raise Conflict("此期间正在或已经结算。 This period is being or has been settled.", code="already_settled") from None
    for model in (CardTransaction, Refund):
        db.session.execute(update(model).where(model.merchant_id == merchant.id, model.statement_id.is_(None),
                                               model.business_day <= through)
                           .values(statement_id=statement.id).execution_options(synchronize_session=False))
    totals = period_totals(merchant.id, statement.id)
    statement.totals, statement.union_owes_fen, statement.bank_owes_fen = totals, totals["union_owes_fen"], totals["bank_owes_fen"]
    db.session.flush()
    from ..audit import service as audit
    audit.record(actor, "statement.close", "statement", statement.id, org_id=merchant.org_id,
                 after={"merchant_id": merchant.id, "period_start": str(start), "period_end": str(through),
                        "union_owes_fen": statement.union_owes_fen, "bank_owes_fen": statement.bank_owes_fen})
    return statement


def statement_lines(merchant: Merchant, statement_id: int | None):
    """Every sale and refund of a statement (or of the open period), oldest first."""
    T, R = CardTransaction, Refund
    in_txn = T.statement_id.is_(None) if statement_id is None else T.statement_id == statement_id
    in_refund = R.statement_id.is_(None) if statement_id is None else R.statement_id == statement_id
    sales = db.session.scalars(select(T).where(T.merchant_id == merchant.id, in_txn).order_by(T.id)).all()
    refunds = db.session.scalars(select(R).where(R.merchant_id == merchant.id, in_refund).order_by(R.id)).all()
    return list(sales), list(refunds)


# --- admin reports ----------------------------------------------------------------------------

def merchant_report(scope: Organisation, start: date, end: date) -> list[dict]:
    """Per merchant in scope: transactions, gross volume, discount and funders' shares for
    [start, end] (China days), with refunds made in those days subtracted."""
    if end < start:
        raise ValidationError("结束日期早于开始日期。 The end date is before the start date.",
                              details={"fields": {"end": "before start"}})
    T, R = CardTransaction, Refund
    in_scope = Merchant.org_id.in_(subtree_ids_select(scope))
    merchants_rows = db.session.scalars(select(Merchant).where(in_scope).order_by(Merchant.id)).all()
    sales = {row[0]: row[1:] for row in db.session.execute(
        select(T.merchant_id, func.count(), func.sum(T.amount_fen), func.sum(T.discount_fen), func.sum(T.union_fen),
               func.sum(T.bank_fen), func.sum(T.merchant_fen))
        .join(Merchant, Merchant.id == T.merchant_id)
        .where(in_scope, T.business_day >= start, T.business_day <= end).group_by(T.merchant_id))}
    refunds = {row[0]: row[1:] for row in db.session.execute(
        select(R.merchant_id, func.count(), func.sum(R.pay_fen + R.discount_fen), func.sum(R.discount_fen),
               func.sum(R.union_fen), func.sum(R.bank_fen), func.sum(R.merchant_fen))
        .join(Merchant, Merchant.id == R.merchant_id)
        .where(in_scope, R.business_day >= start, R.business_day <= end).group_by(R.merchant_id))}
    report = []
    for m in merchants_rows:
        s = [int(v or 0) for v in sales.get(m.id, (0,) * 6)]
        r = [int(v or 0) for v in refunds.get(m.id, (0,) * 6)]
        report.append({"merchant": m, "transactions": s[0], "refunds": r[0],
                       "amount_fen": s[1] - r[1], "discount_fen": s[2] - r[2],
                       "union_fen": s[3] - r[3], "bank_fen": s[4] - r[4], "merchant_fen": s[5] - r[5]})
    return report


def statement_rows_for_csv(merchant: Merchant, statement: Statement | None) -> list[list[str]]:
    from ..money import format_yuan
    sales, refunds = statement_lines(merchant, statement.id if statement else None)
    rows = [["type", "id", "transaction_id", "day", "store", "rules", "amount", "discount", "member_paid",
             "union_share", "bank_share", "merchant_share"]]
    stores = {s.id: s.name for s in merchant.stores}
    for t in sales:
        rows.append(["sale", t.id, t.id, t.business_day, stores.get(t.store_id, ""),
                     " + ".join(a["name"] for a in t.applied), *[format_yuan(getattr(t, k)) for k in _SUMS]])
    for r in refunds:
        kind = "refund" if (statement is None and r.transaction.statement_id is None) or \
            (statement is not None and r.transaction.statement_id == statement.id) else "adjustment"
        rows.append([kind, r.id, r.transaction_id, r.business_day, stores.get(r.transaction.store_id, ""), r.reason,
                     *[format_yuan(v) for v in (r.amount_fen, r.discount_fen, r.pay_fen, r.union_fen, r.bank_fen, r.merchant_fen)]])
    totals = statement.totals if statement else period_totals(merchant.id, None)
    rows.append(["net", "", "", "", "", "", *[format_yuan(totals["net"][k]) for k in _SUMS]])
    return [[safe_cell(v) for v in row] for row in rows]
