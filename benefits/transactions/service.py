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

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, func, insert, select, update

from .. import clock
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..members import service as members
from ..members.models import Card, Member
from ..merchants import service as merchants
from ..merchants.models import Merchant, Store, TerminalKey
from ..money import format_yuan, split_fairly
from ..orgs.models import Organisation
from ..promotions import service as promotions
from ..promotions.engine import Quote
from ..vouchers import rules as voucher_rules
from ..vouchers import service as vouchers
from .models import FUNDERS, CardTransaction, PayToken, Refund

PAY_TOKEN_PREFIX = "Q"
PAY_TOKEN_LIFETIME = timedelta(seconds=60)
PAY_TOKEN_REFRESH_SECONDS = 30
MAX_AMOUNT_FEN = 10_000_000  # 100,000 yuan: larger amounts are a typing mistake at a till


# --- who is at the till -----------------------------------------------------------------------
#
# Quote and confirm run at every till payment. They need the till (store, merchant and its
# union) and the card (with its member and union) as plain values, and the promotions' live
# counters for that member at that price: ONE Core statement reads all of it (`_payment_read`),
# keyed by the terminal key's hash (a till) or by the store (a signed-in cashier). The engine and
# the transaction row need nothing else, so no ORM object is loaded on the way.

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
class Till:
    """The store a payment is taken at, and the terminal key or the cashier taking it."""
    merchant: TillMerchant | Merchant
    store: TillStore | Store
    user: object | None = None
    terminal_key_id: int | None = None


@dataclass(frozen=True)
class TillRef:
    """Who is at the till, before anything is read: a terminal key, or a cashier at a store."""
    terminal_key: str | None = None
    store_id: int | None = None
    user: object | None = None


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


def till_for_key(key: str) -> Till:
    row = merchants.authenticate_terminal(key)
    return Till(merchant=row.store.merchant, store=row.store, terminal_key_id=row.id)


def cashier_till_ref(user, store_id: int | None = None) -> TillRef:
    """A cashier's till: the store they are tied to, or the one they name, or the merchant's
    first open store."""
    link = merchants.staff_link(user)
    if link.store_id is not None:
        return TillRef(store_id=link.store_id, user=user)
    if store_id is not None:
        return TillRef(store_id=merchants.get_store(link.merchant, store_id).id, user=user)
    open_stores = [s for s in link.merchant.stores if s.is_open]
    if not open_stores:
        raise Conflict(_("此商家还没有门店。"), code="no_store")
    return TillRef(store_id=open_stores[0].id, user=user)


def till_for(ref: TillRef) -> Till:
    """The till named by `ref` (for requests that read no card: lists, refunds, statements)."""
    if ref.terminal_key is not None:
        return till_for_key(ref.terminal_key)
    store = db.session.get(Store, ref.store_id)
    return Till(merchant=store.merchant, store=store, user=ref.user)


_PAYMENT_READS: dict[tuple[str, str], object] = {}


def _payment_statement(till_by: str, card_by: str):
    """Built once per shape: the till (by terminal key hash, or by store id) with the card (by
    number or id), its member and union, and the member's offer counters at the price."""
    stmt = _PAYMENT_READS.get((till_by, card_by))
    if stmt is not None:
        return stmt
    tk, st, m, c, mb = (TerminalKey.__table__.c, Store.__table__.c, Merchant.__table__.c, Card.__table__.c,
                        Member.__table__.c)
    mo, bo = Organisation.__table__.alias("merchant_org"), Organisation.__table__.alias("member_org")
    card_match = c.number == bindparam("number") if card_by == "number" else c.id == bindparam("card_id")
    base = (Store.__table__.join(Merchant.__table__, m.id == st.merchant_id).join(mo, mo.c.id == m.org_id)
            .outerjoin(Card.__table__, card_match).outerjoin(Member.__table__, mb.id == c.member_id)
            .outerjoin(bo, bo.c.id == mb.org_id))
    cols = [st.id, st.name, st.is_open, m.id, m.name, m.status, m.category, m.accepts_card_number, mo.c.path,
            c.id, c.number, c.status, mb.id, mb.name, mb.status, mb.category, bo.c.path,
            *promotions.live_columns(c.member_id), vouchers.vouchers_column(c.member_id)]
    if till_by == "key":
        base = base.join(TerminalKey.__table__, tk.store_id == st.id)
        stmt = select(tk.id, tk.revoked_at, *cols).select_from(base).where(tk.key_hash == bindparam("key_hash"))
    else:
        stmt = select(*cols).select_from(base).where(st.id == bindparam("store_id"))
    _PAYMENT_READS[(till_by, card_by)] = stmt
    return stmt


@dataclass(frozen=True)
class PaymentRead:
    till: Till
    card: PayCard
    live: promotions.LiveState
    vouchers: list[voucher_rules.HeldVoucher]


def payment_read(ref: TillRef, *, amount_fen: int, day: date, card_number: str | None = None,
                  card_id: int | None = None) -> PaymentRead:
    """The till, the card, the member's offer counters and vouchers in one statement; 401 for an unknown
    or revoked terminal key, 404 for an unknown card, 409 for a card that cannot pay."""
    params = promotions.live_params(amount_fen, day)
    card_by = "number" if card_id is None else "id"
    params["number" if card_id is None else "card_id"] = card_number.strip() if card_id is None else card_id
    if ref.terminal_key is not None:
        params["key_hash"] = merchants.hash_terminal_key(ref.terminal_key)
        row = db.session.execute(_payment_statement("key", card_by), params).first()
        if row is None or row[1] is not None:
            raise merchants.invalid_terminal_key()
        key_id, row = row[0], row[2:]
    else:
        params["store_id"] = ref.store_id
        key_id, row = None, db.session.execute(_payment_statement("store", card_by), params).one()
    (store_id, store_name, is_open, merchant_id, merchant_name, status, category, accepts, merchant_path,
     card_id, number, card_status, member_id, name, member_status, member_category, member_path) = row[:17]
    till = Till(merchant=TillMerchant(merchant_id, merchant_name, status, category, bool(accepts), OrgRef(merchant_path)),
                store=TillStore(store_id, store_name, bool(is_open)), user=ref.user, terminal_key_id=key_id)
    merchants.check_can_trade(till.merchant, till.store)
    if card_id is None:
        raise NotFound(_("未找到此卡号。"), code="unknown_card")
    members.check_payable(card_status, member_status)
    card = PayCard(card_id, number, card_status, member_id,
                   PayMember(member_id, name, member_status, member_category, OrgRef(member_path)))
    return PaymentRead(till, card, promotions.live_from_columns(row[17:21], day), vouchers.held_from_column(row[21]))


# --- amounts and cards ------------------------------------------------------------------------

def check_amount(amount_fen) -> int:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationError(_("金额必须大于零。"), details={"fields": {"amount": _("须大于零")}})
    if amount_fen > MAX_AMOUNT_FEN:
        raise ValidationError(_("金额过大。"),
                              details={"fields": {"amount": _("最多 %(yuan)s 元", yuan=format_yuan(MAX_AMOUNT_FEN))}})
    return amount_fen


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def is_pay_token(code: str) -> bool:
    return (code or "").strip().startswith(PAY_TOKEN_PREFIX)


_QR_REFUSED = _l("付款码已失效，请让会员刷新后重新出示。")


def _card_id_from_token(token: str, *, consume: bool) -> int:
    """The card a pay code stands for; a confirm uses the code up (one conditional UPDATE)."""
    at = clock.now()
    digest = _token_hash(token)
    live = (PayToken.token_hash == digest, PayToken.used_at.is_(None), PayToken.expires_at > at)
    if consume:
        card_id = db.session.scalar(update(PayToken).where(*live).values(used_at=at).returning(PayToken.card_id)
                                    .execution_options(synchronize_session=False))
    else:
        card_id = db.session.scalar(select(PayToken.card_id).where(*live))
    if card_id is None:
        raise members.CardRefused(_QR_REFUSED, code="pay_code_refused")
    return card_id


def _read_payment(ref: TillRef, *, amount_fen: int, at: datetime, card_number: str | None,
                  qr_token: str | None, consume: bool) -> tuple[PaymentRead, str]:
    """The payment's read and how the card was presented ('qr' or 'card_number')."""
    check_amount(amount_fen)
    day = clock.business_day(at)
    if qr_token:
        card_id = _card_id_from_token(qr_token, consume=consume)
        return payment_read(ref, amount_fen=amount_fen, day=day, card_id=card_id), "qr"
    if not card_number:
        raise ValidationError(_("请输入会员卡号或扫描付款码。"),
                              details={"fields": {"card_number": _("请输入会员卡号或付款码")}})
    read = payment_read(ref, amount_fen=amount_fen, day=day, card_number=card_number)
    if not read.till.merchant.accepts_card_number:
        raise ValidationError(_("本商家只接受会员付款码。"),
                              code="card_number_not_accepted")
    return read, "card_number"


def _purchase(read: PaymentRead, amount_fen: int, at: datetime):
    return promotions.purchase(member=read.card.member, card=read.card, merchant=read.till.merchant,
                               store=read.till.store, amount_fen=amount_fen, at=at)


# --- quote and confirm ------------------------------------------------------------------------

NOT_COMBINED_HINT = "所选的券不与优惠活动同享，本次不计优惠。"
VOUCHERS_CHANGED = _l("券余额刚刚在别处变化，请再次确认收款。")


@dataclass(frozen=True)
class TillQuote:
    """What the member pays: the discount (the engine's `Quote`), then the vouchers applied on
    what is left, and the card's other vouchers with what stops them here."""
    quote: Quote
    offered: list[vouchers.Offered]
    covers: list[voucher_rules.Cover]

    amount_fen = property(lambda self: self.quote.amount_fen)
    discount_fen = property(lambda self: self.quote.discount_fen)
    applied = property(lambda self: self.quote.applied)
    rejected = property(lambda self: self.quote.rejected)
    hints = property(lambda self: self.quote.hints)

    @property
    def voucher_fen(self) -> int:
        return sum(c.amount_fen for c in self.covers)

    @property
    def pay_fen(self) -> int:
        return self.quote.pay_fen - self.voucher_fen

    def shares_total(self) -> dict[str, int]:
        return self.quote.shares_total()

    def voucher_list(self) -> list[dict]:
        paid = {c.voucher_id: c.amount_fen for c in self.covers}
        out = []
        for o in self.offered:
            would = paid.get(o.voucher.id)
            if would is None:   # what it would pay if added now (one that does not combine: on the full price)
                left = self.pay_fen if o.voucher.terms.combinable else self.amount_fen - self.voucher_fen
                would = 0 if o.refusal or left <= 0 else voucher_rules.cover(o.voucher, left).amount_fen
            out.append(o.as_dict(would))
        return out


def _without_discount(amount_fen: int) -> Quote:
    return Quote(amount_fen=amount_fen, discount_fen=0, pay_fen=amount_fen, hints=(NOT_COMBINED_HINT,))


def quote_transaction(ref: TillRef, *, amount_fen: int, card_number: str | None = None,
                      qr_token: str | None = None, voucher_ids=(), at: datetime | None = None):
    """Read-only: what the member would pay at `at` (default now). Returns (card, TillQuote)."""
    at = at or clock.now()
    read, _channel = _read_payment(ref, amount_fen=amount_fen, at=at, card_number=card_number, qr_token=qr_token,
                                   consume=False)
    p = _purchase(read, amount_fen, at)
    offered, chosen = vouchers.choose(read.vouchers, voucher_ids, p, clock.business_day(at), read.card.member_id)
    quote = _without_discount(amount_fen) if voucher_rules.drops_discount(chosen) else promotions.quote(p, read.live)
    return read.card, TillQuote(quote, offered, voucher_rules.plan(chosen, quote.pay_fen))


def funders_shares(quote) -> dict[str, int]:
    """Each funder's part of the quote's discount, summed over the applied rules."""
    return {f: sum(a.shares.get(f, 0) for a in quote.applied) for f in FUNDERS}


def applied_snapshot(quote) -> list[dict]:
    return [{"rule_id": a.rule_id, "version_id": a.version_id, "name": a.name,
             "discount_fen": a.discount_fen, "shares": dict(a.shares), "terms": a.terms}
            for a in quote.applied]


_INSERT_TRANSACTION = insert(CardTransaction.__table__).returning(CardTransaction.__table__.c.id)


def confirm_transaction(ref: TillRef, *, amount_fen: int, card_number: str | None = None,
                        qr_token: str | None = None, voucher_ids=()) -> dict:
    """Take the payment, in the caller's SQL transaction: read (till, card, counters, vouchers),
    choose and take the offer (`promotions.apply`), debit the chosen vouchers on what is left
    (`vouchers.spend`, read again when another till changed one), record the transaction.
    Returns the answer's body."""
    at = clock.now()
    read, channel = _read_payment(ref, amount_fen=amount_fen, at=at, card_number=card_number, qr_token=qr_token,
                                  consume=True)
    day = clock.business_day(at)
    p = _purchase(read, amount_fen, at)
    _offered, chosen = vouchers.choose(read.vouchers, voucher_ids, p, day, read.card.member_id)

    def reread():
        return payment_read(ref, amount_fen=amount_fen, day=day, card_id=read.card.id).live

    usage_key = "txn-" + uuid.uuid4().hex
    if voucher_rules.drops_discount(chosen):
        quote = _without_discount(amount_fen)
    else:
        quote = promotions.apply(p, read.card.member_id, read.live, reread, usage_key=usage_key)
    for _attempt in range(vouchers.ATTEMPTS):
        covers = voucher_rules.plan(chosen, quote.pay_fen)
        if vouchers.spend(covers, member_id=read.card.member_id, merchant_id=read.till.merchant.id,
                          usage_key=usage_key, day=day):
            break
        _offered, chosen = vouchers.choose(vouchers.held_vouchers(read.card.member_id), voucher_ids, p, day,
                                           read.card.member_id)
    else:
        raise vouchers.VoucherRefused(VOUCHERS_CHANGED, code="vouchers_changed")
    shares = funders_shares(quote)
    voucher_fen = sum(c.amount_fen for c in covers)
    values = dict(
        merchant_id=read.till.merchant.id, store_id=read.till.store.id, card_id=read.card.id,
        member_id=read.card.member_id, amount_fen=amount_fen, discount_fen=quote.discount_fen,
        pay_fen=quote.pay_fen - voucher_fen, union_fen=shares["union"], bank_fen=shares["bank"],
        merchant_fen=shares["merchant"], voucher_fen=voucher_fen,
        voucher_union_fen=sum(c.union_fen for c in covers), voucher_bank_fen=sum(c.bank_fen for c in covers),
        voucher_topup_fen=sum(c.topup_fen for c in covers), vouchers=[c.snapshot() for c in covers],
        refunded_pay_fen=0, refunded_discount_fen=0, refunded_voucher_fen=0, channel=channel,
        usage_key=usage_key, applied=applied_snapshot(quote), cashier_user_id=getattr(ref.user, "id", None),
        terminal_key_id=read.till.terminal_key_id, business_day=day, created_at=at, statement_id=None)
    values["id"] = db.session.scalar(_INSERT_TRANSACTION, values)
    body = transaction_body(values, read.card.number)
    body["hints"] = list(quote.hints)
    return body


def transaction_body(t: dict, card_number: str) -> dict:
    """TillTransactionSchema's dump of a transaction just recorded (no refunds yet), from the
    values inserted: the confirm answer needs no read back. A test checks it against the schema."""
    return {
        "id": t["id"], "merchant_id": t["merchant_id"], "store_id": t["store_id"], "card_tail": card_number[-4:],
        "amount_fen": t["amount_fen"], "discount_fen": t["discount_fen"], "pay_fen": t["pay_fen"],
        "shares": {"union": t["union_fen"], "bank": t["bank_fen"], "merchant": t["merchant_fen"]},
        "voucher_fen": t["voucher_fen"],
        "voucher_shares": {"union": t["voucher_union_fen"], "bank": t["voucher_bank_fen"],
                           "topup": t["voucher_topup_fen"]},
        "vouchers": [dict(v) for v in t["vouchers"]],
        "refunded_pay_fen": 0, "refunded_discount_fen": 0, "refunded_voucher_fen": 0,
        "refundable_pay_fen": t["pay_fen"], "status": "completed",
        "channel": t["channel"],
        "applied": [{"rule_id": a["rule_id"], "version_id": a["version_id"], "name": a["name"],
                     "discount_fen": a["discount_fen"], "shares": dict(a["shares"]), "terms": a["terms"]}
                    for a in t["applied"]],
        "business_day": t["business_day"].isoformat(), "created_at": t["created_at"].isoformat(), "refunds": []}


# --- reading transactions ---------------------------------------------------------------------

def get_transaction_for_merchant(merchant: Merchant, transaction_id: int) -> CardTransaction:
    txn = db.session.get(CardTransaction, transaction_id)
    if txn is None or txn.merchant_id != merchant.id:
        raise NotFound(_("未找到此交易。"), code="unknown_transaction")
    return txn


def receipt_numbers(merchant_id: int, transactions) -> dict[int, str]:
    """Numbers people can read for the merchant's transactions: the business day and the
    transaction's place in that day at this merchant ("20261206-0042", 流水号). Ids only grow
    and transactions are never deleted, so a number never changes once given; one query for
    all the days the transactions fall on."""
    days = {t.business_day for t in transactions}
    if not days:
        return {}
    t = CardTransaction.__table__.c
    rows = db.session.execute(
        select(t.id, t.business_day, func.row_number().over(partition_by=t.business_day, order_by=t.id))
        .where(t.merchant_id == merchant_id, t.business_day.in_(days)))
    wanted = {t.id for t in transactions}
    return {tid: f"{day:%Y%m%d}-{n:04d}" for tid, day, n in rows if tid in wanted}


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


def refund_transaction(ref: TillRef, transaction_id: int, *, pay_fen: int | None = None,
                       reason: str = "") -> Refund:
    """Give the member back `pay_fen` (default: all that is left). The discount and every funder's
    share are reversed pro rata; a refund that completes the reversal returns exactly the rest."""
    till = till_for(ref)
    txn = get_transaction_for_merchant(till.merchant, transaction_id)
    left_pay = txn.pay_fen - txn.refunded_pay_fen
    left_discount = txn.discount_fen - txn.refunded_discount_fen
    left_voucher = txn.voucher_fen - txn.refunded_voucher_fen
    if left_pay == 0 and left_discount == 0 and left_voucher == 0:
        raise Conflict(_("此交易已全额退款。"), code="already_refunded")
    if pay_fen is None:
        pay_fen = left_pay
    if not isinstance(pay_fen, int) or isinstance(pay_fen, bool) or pay_fen < 0 or (pay_fen == 0 and left_pay > 0):
        raise ValidationError(_("退款金额必须大于零。"), details={"fields": {"amount": _("须大于零")}})
    if pay_fen > left_pay:
        message = (_("退款金额超过可退金额 %(yuan)s 元。", yuan=format_yuan(left_pay)) if left_pay
                   else _("这笔交易会员没有付现金（由券或优惠支付），只能整笔退款：请不填金额。"))
        raise ValidationError(message, code="refund_too_large",
                              details={"fields": {"amount": _("超过可退金额")}, "refundable_fen": left_pay})
    is_final = pay_fen == left_pay
    new_refunded_pay = txn.refunded_pay_fen + pay_fen
    new_refunded_discount = voucher_rules.refunded_share(txn.discount_fen, txn.pay_fen, new_refunded_pay, is_final)
    new_refunded_voucher = voucher_rules.refunded_share(txn.voucher_fen, txn.pay_fen, new_refunded_pay, is_final)
    discount_back = new_refunded_discount - txn.refunded_discount_fen
    voucher_back = new_refunded_voucher - txn.refunded_voucher_fen

    by_funder_done, by_rule_done = _refunded_so_far(txn)
    funders = _split(discount_back, {f: getattr(txn, f + "_fen") - by_funder_done[f] for f in FUNDERS})
    rules_left = {int(a["rule_id"]): a["discount_fen"] - by_rule_done.get(int(a["rule_id"]), 0) for a in txn.applied}
    by_rule = _split(discount_back, rules_left) if rules_left else {}

    result = db.session.execute(
        update(CardTransaction)
        .where(CardTransaction.id == txn.id, CardTransaction.refunded_pay_fen == txn.refunded_pay_fen,
               CardTransaction.refunded_discount_fen == txn.refunded_discount_fen,
               CardTransaction.refunded_voucher_fen == txn.refunded_voucher_fen)
        .values(refunded_pay_fen=new_refunded_pay, refunded_discount_fen=new_refunded_discount,
                refunded_voucher_fen=new_refunded_voucher)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict(_("另一笔退款刚刚完成，请刷新后重试。"),
                       code="refund_race")
    at = clock.now()
    day = clock.business_day(at)
    voucher_parts = vouchers.give_back(txn.usage_key, voucher_back, final=is_final, day=day) if voucher_back else \
        {"union": 0, "bank": 0, "topup": 0}
    refund = Refund(transaction_id=txn.id, merchant_id=txn.merchant_id, pay_fen=pay_fen,
                    discount_fen=discount_back, union_fen=funders["union"], bank_fen=funders["bank"],
                    merchant_fen=funders["merchant"], voucher_fen=voucher_back,
                    voucher_union_fen=voucher_parts["union"], voucher_bank_fen=voucher_parts["bank"],
                    voucher_topup_fen=voucher_parts["topup"],
                    by_rule={str(k): v for k, v in by_rule.items() if v},
                    is_final=is_final, reason=(reason or "").strip()[:255],
                    cashier_user_id=getattr(till.user, "id", None),
                    terminal_key_id=till.terminal_key_id, business_day=day, created_at=at)
    db.session.add(refund)
    db.session.flush()
    db.session.expire(txn)
    if txn.applied:
        promotions.give_back(usage_key=txn.usage_key, discount_back_by_rule={k: v for k, v in by_rule.items() if v},
                                full_refund=is_final)
    return refund


# --- dynamic pay QR ---------------------------------------------------------------------------

def issue_pay_token(member: Member) -> tuple[str, datetime]:
    """A fresh one-time pay code for the member's active card, valid for about a minute."""
    card = member.current_card
    if card is None:
        raise NotFound(_("您还没有可用的会员卡。"), code="no_card")
    members.check_payable(card.status, member.status)
    at = clock.now()
    db.session.execute(delete(PayToken).where(PayToken.card_id == card.id, PayToken.expires_at < at - timedelta(minutes=5))
                       .execution_options(synchronize_session=False))
    token = PAY_TOKEN_PREFIX + secrets.token_urlsafe(18)
    expires_at = at + PAY_TOKEN_LIFETIME
    db.session.add(PayToken(card_id=card.id, token_hash=_token_hash(token), expires_at=expires_at, created_at=at))
    db.session.flush()
    return token, expires_at
