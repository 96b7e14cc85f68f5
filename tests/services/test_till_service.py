"""Till service: quote, confirm, refund, pay codes and statements."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, literal, select, text

from benefits import clock
from benefits.errors import Conflict, DomainError, NotAuthenticated, NotFound, ValidationError
from benefits.extensions import db
from benefits.spreadsheets import safe_cell
from benefits.members import service as members
from benefits.merchants import service as merchants
from benefits.promotions import rules as promotions
from benefits.promotions import service as offers
from benefits.promotions.models import PromotionRule
from benefits.transactions import service as till, settlement
from benefits.transactions.models import CardTransaction, PayToken, Refund
from tests import factories, till_factories as tf

# A Wednesday, 10:00 in China.
NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(app):
    clock.set_frozen(NOON)
    tree = factories.org_tree()
    m = tf.merchant(tree["bozhou"])
    other = tf.merchant(tree["bozhou"], name="华联超市", category="supermarket")
    member = factories.member(tree["gujing"], name="王芳")
    return {"tree": tree, "merchant": m, "other": other, "member": member, "card": member.current_card,
            "till": till.TillRef(store_id=m.stores[0].id),
            "other_till": till.TillRef(store_id=other.stores[0].id)}


def confirm(w, amount_fen, **kw):
    """The confirm's answer, as the stored transaction row."""
    body = till.confirm_transaction(w["till"], amount_fen=amount_fen, card_number=w["card"].number, **kw)
    return db.session.get(CardTransaction, body["id"])


def test_spend_200_save_40_quote_shows_shares_and_a_hint_below_threshold(world):
    tf.rule(world["tree"]["bozhou"])
    _card, q = till.quote_transaction(world["till"], amount_fen=25000, card_number=world["card"].number)
    assert (q.discount_fen, q.pay_fen) == (4000, 21000)
    assert q.applied[0].shares == {"union": 2000, "bank": 1200, "merchant": 800}
    _card, q = till.quote_transaction(world["till"], amount_fen=18800, card_number=world["card"].number)
    assert q.discount_fen == 0
    assert "再消费 12.00 元可减 40.00 元" in q.hints
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 0


def test_confirm_snapshots_the_rule_version_and_later_edits_do_not_change_it(world):
    rule = tf.rule(world["tree"]["bozhou"])
    txn = confirm(world, 25000)
    assert (txn.amount_fen, txn.discount_fen, txn.pay_fen) == (25000, 4000, 21000)
    assert (txn.union_fen, txn.bank_fen, txn.merchant_fen) == (2000, 1200, 800)
    snapshot = txn.applied[0]
    assert snapshot["name"] == "满200减40" and snapshot["terms"]["off_fen"] == 4000
    promotions.edit_rule(None, world["tree"]["bozhou"], rule, {
        "name": "满200减50", "kind": "threshold", "threshold_fen": 20000, "off_fen": 5000,
        "split": {"union": 100}})
    db.session.expire_all()
    again = db.session.get(CardTransaction, txn.id)
    assert again.applied[0]["name"] == "满200减40"
    assert again.applied[0]["version_id"] == snapshot["version_id"]
    assert again.applied[0]["terms"]["off_fen"] == 4000
    assert confirm(world, 25000).discount_fen == 5000


def test_budget_clamps_the_last_discount_and_then_stops(world):
    rule = tf.rule(world["tree"]["bozhou"], budget_fen=5000)
    first, second, third = confirm(world, 25000), confirm(world, 25000), confirm(world, 25000)
    assert [first.discount_fen, second.discount_fen, third.discount_fen] == [4000, 1000, 0]
    assert second.union_fen + second.bank_fen + second.merchant_fen == 1000
    db.session.refresh(rule)
    assert rule.budget_used_fen == 5000


def test_partial_then_final_refund_reverses_discount_and_shares_exactly(world):
    rule = tf.rule(world["tree"]["bozhou"], budget_fen=100000, per_member={"day": 1})
    txn = confirm(world, 25000)
    half = till.refund_transaction(world["till"], txn.id, pay_fen=10500, reason="退一半")
    assert (half.pay_fen, half.discount_fen) == (10500, 2000)
    assert (half.union_fen, half.bank_fen, half.merchant_fen) == (1000, 600, 400)
    assert half.by_rule == {str(rule.id): 2000} and not half.is_final
    db.session.refresh(rule)
    assert rule.budget_used_fen == 2000
    # the per-member daily use is still taken after a partial refund
    assert confirm(world, 25000).discount_fen == 0
    rest = till.refund_transaction(world["till"], txn.id, pay_fen=None)
    assert (rest.pay_fen, rest.discount_fen, rest.is_final) == (10500, 2000, True)
    txn = db.session.get(CardTransaction, txn.id)
    assert txn.status == "refunded" and txn.refundable_pay_fen == 0
    assert sum(r.union_fen for r in txn.refunds) == txn.union_fen
    assert sum(r.bank_fen for r in txn.refunds) == txn.bank_fen
    assert sum(r.merchant_fen for r in txn.refunds) == txn.merchant_fen
    db.session.refresh(rule)
    assert rule.budget_used_fen == 0
    # the full refund gave the member's daily use back
    assert confirm(world, 25000).discount_fen == 4000


def test_odd_partial_refunds_never_lose_or_invent_a_fen(world):
    tf.rule(world["tree"]["bozhou"], kind="percent", pay_bp=8800, threshold_fen=None, off_fen=None,
            split={"union": 33, "bank": 33, "merchant": 34})
    txn = confirm(world, 9999)          # 12% of 99.99 rounds down to 11.99
    assert (txn.discount_fen, txn.pay_fen) == (1199, 8800)
    for part in (1, 333, 2999, 77):
        till.refund_transaction(world["till"], txn.id, pay_fen=part)
    till.refund_transaction(world["till"], txn.id)
    txn = db.session.get(CardTransaction, txn.id)
    assert sum(r.pay_fen for r in txn.refunds) == 8800
    assert sum(r.discount_fen for r in txn.refunds) == 1199
    for funder in ("union", "bank", "merchant"):
        assert sum(getattr(r, funder + "_fen") for r in txn.refunds) == getattr(txn, funder + "_fen")


def test_refund_larger_than_paid_or_twice_is_refused_and_writes_nothing(world):
    txn = confirm(world, 5000)
    with pytest.raises(ValidationError) as info:
        till.refund_transaction(world["till"], txn.id, pay_fen=5001)
    assert info.value.code == "refund_too_large"
    with pytest.raises(ValidationError):
        till.refund_transaction(world["till"], txn.id, pay_fen=0)
    assert db.session.scalar(select(func.count(Refund.id))) == 0
    till.refund_transaction(world["till"], txn.id)
    with pytest.raises(Conflict):
        till.refund_transaction(world["till"], txn.id, pay_fen=1)


def test_another_merchants_transaction_is_not_found(world):
    txn = confirm(world, 5000)
    with pytest.raises(NotFound):
        till.get_transaction_for_merchant(world["other"], txn.id)
    with pytest.raises(NotFound):
        till.refund_transaction(world["other_till"], txn.id)
    assert db.session.scalar(select(func.count(Refund.id))) == 0


@pytest.mark.parametrize("status, code", [("frozen", "card_frozen"), ("lost", "card_lost"), ("cancelled", "card_cancelled")])
def test_unusable_cards_are_refused_with_a_readable_message(world, status, code):
    world["card"].status = status
    db.session.flush()
    with pytest.raises(DomainError) as info:
        confirm(world, 5000)
    assert info.value.code == code and "卡" in info.value.message
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 0


def test_unknown_card_and_bad_amounts(world):
    with pytest.raises(NotFound) as info:
        till.quote_transaction(world["till"], amount_fen=100, card_number="6231000000000000")
    assert info.value.code == "unknown_card"
    for bad in (0, -100, 10.5, "12", True):
        with pytest.raises(ValidationError):
            confirm(world, bad)
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 0


def test_merchant_that_only_scans_refuses_plain_card_numbers(world):
    world["merchant"].accepts_card_number = False
    with pytest.raises(ValidationError) as info:
        confirm(world, 5000)
    assert info.value.code == "card_number_not_accepted"
    token, _expires = till.issue_pay_token(world["member"])
    assert till.confirm_transaction(world["till"], amount_fen=5000, qr_token=token)["channel"] == "qr"


def test_suspended_merchant_cannot_take_payments(world):
    world["merchant"].status = "suspended"
    with pytest.raises(DomainError) as info:
        confirm(world, 5000)
    assert info.value.code == "merchant_inactive"


def test_pay_code_is_accepted_once_and_refused_after_a_minute(world):
    token, expires_at = till.issue_pay_token(world["member"])
    assert token.startswith("Q") and clock.as_utc(expires_at) == NOON + timedelta(seconds=60)
    assert db.session.scalar(select(PayToken.token_hash)) != token  # only the hash is stored
    card, _q = till.quote_transaction(world["till"], amount_fen=5000, qr_token=token)
    assert card.id == world["card"].id
    till.confirm_transaction(world["till"], amount_fen=5000, qr_token=token)
    with pytest.raises(DomainError) as info:
        till.confirm_transaction(world["till"], amount_fen=5000, qr_token=token)
    assert info.value.code == "pay_code_refused"
    late, _ = till.issue_pay_token(world["member"])
    clock.set_frozen(NOON + timedelta(seconds=61))
    with pytest.raises(DomainError):
        till.quote_transaction(world["till"], amount_fen=5000, qr_token=late)
    with pytest.raises(DomainError):
        till.confirm_transaction(world["till"], amount_fen=5000, qr_token=late)
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1


def test_pay_code_of_a_card_frozen_after_issue_is_refused(world):
    token, _ = till.issue_pay_token(world["member"])
    members.freeze_card(None, world["card"])
    with pytest.raises(DomainError) as info:
        till.confirm_transaction(world["till"], amount_fen=5000, qr_token=token)
    assert info.value.code == "card_frozen"


def test_statement_with_refund_after_close_as_adjustment_in_next(world):
    tf.rule(world["tree"]["bozhou"])
    day1 = NOON
    t1 = confirm(world, 25000)                       # discount 40: union 20, bank 12
    t2 = confirm(world, 10000)                       # no discount
    till.refund_transaction(world["till"], t2.id, pay_fen=2000)
    clock.set_frozen(day1 + timedelta(days=1))
    first = settlement.close_statement(None, world["merchant"], clock.business_day(day1))
    assert first.period_start == first.period_end == clock.business_day(day1)
    assert first.totals["sales"]["count"] == 2 and first.totals["sales"]["amount_fen"] == 35000
    assert first.totals["refunds"]["pay_fen"] == 2000
    assert (first.union_owes_fen, first.bank_owes_fen) == (2000, 1200)
    # a refund of a settled sale lands in the next statement as an adjustment
    till.refund_transaction(world["till"], t1.id, pay_fen=10500)
    t3 = confirm(world, 20000)
    clock.set_frozen(day1 + timedelta(days=2))
    second = settlement.close_statement(None, world["merchant"], clock.business_day(day1 + timedelta(days=1)))
    assert second.totals["adjustments"]["count"] == 1
    assert second.totals["adjustments"]["union_fen"] == 1000
    assert second.totals["sales"]["count"] == 1 and t3.discount_fen == 4000
    assert (second.union_owes_fen, second.bank_owes_fen) == (2000 - 1000, 1200 - 600)
    db.session.refresh(first)
    assert first.union_owes_fen == 2000  # a closed statement never changes
    with pytest.raises(ValidationError):
        settlement.close_statement(None, world["merchant"], clock.business_day(day1))
    with pytest.raises(ValidationError):
        settlement.close_statement(None, world["merchant"], clock.business_day())


def test_statement_csv_escapes_formulas(world):
    txn = confirm(world, 5000)
    till.refund_transaction(world["till"], txn.id, pay_fen=100, reason="=HYPERLINK(\"http://x\")")
    rows = settlement.statement_rows_for_csv(world["merchant"], None)
    cells = [c for row in rows for c in row]
    assert "'=HYPERLINK(\"http://x\")" in cells
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert safe_cell("-1.00") == "'-1.00" and safe_cell("@SUM") == "'@SUM" and safe_cell("12") == "12"


def test_member_savings_month_and_year(world):
    tf.rule(world["tree"]["bozhou"])
    confirm(world, 25000)
    clock.set_frozen(datetime(2026, 3, 5, 2, 0, tzinfo=timezone.utc))
    confirm(world, 20000)
    clock.set_frozen(NOON)
    t = confirm(world, 30000)
    till.refund_transaction(world["till"], t.id, pay_fen=13000)  # half back: 20 of the 40 discount returned
    assert till.member_savings(world["member"]) == {"month_fen": 4000 + 2000, "year_fen": 4000 + 4000 + 2000}


def test_merchant_report_is_scoped_and_net_of_refunds(world):
    tf.rule(world["tree"]["bozhou"])
    txn = confirm(world, 25000)
    till.confirm_transaction(world["other_till"], amount_fen=3000, card_number=world["card"].number)
    till.refund_transaction(world["till"], txn.id, pay_fen=10500)
    day = clock.business_day()
    rows = {r["merchant"].id: r for r in settlement.merchant_report(world["tree"]["bozhou"], day, day)}
    mine = rows[world["merchant"].id]
    assert (mine["transactions"], mine["refunds"], mine["amount_fen"], mine["discount_fen"]) == (1, 1, 25000 - 12500, 2000)
    assert rows[world["other"].id]["amount_fen"] == 3000
    assert settlement.merchant_report(world["tree"]["maanshan"], day, day) == []


def test_terminal_keys_are_hashed_and_revocable(world):
    row, key = merchants.issue_terminal_key(None, world["merchant"].stores[0], "收银机")
    assert row.key_hash != key and key.startswith(row.key_prefix)
    assert till.till_for_key(key).merchant.id == world["merchant"].id
    merchants.revoke_terminal_key(None, row)
    with pytest.raises(NotAuthenticated):
        till.till_for_key(key)


def test_admin_scope_hides_other_unions_merchants(world):
    with pytest.raises(NotFound):
        merchants.get_merchant_in_scope(world["tree"]["maanshan"], world["merchant"].id)
    with pytest.raises(NotFound):
        merchants.create_merchant(None, world["tree"]["maanshan"], world["tree"]["bozhou"], name="x", category="fuel")
    with pytest.raises(ValidationError) as info:
        merchants.create_merchant(None, world["tree"]["bozhou"], world["tree"]["bozhou"], name="", category="cars",
                                  contact_phone="12")
    assert set(info.value.details["fields"]) == {"name", "category", "contact_phone"}


def test_rule_global_limit_counts_uses(world):
    rule = tf.rule(world["tree"]["bozhou"], global_limit=1)
    assert confirm(world, 25000).discount_fen == 4000
    assert confirm(world, 25000).discount_fen == 0
    db.session.refresh(rule)
    assert rule.uses_count == 1


def test_the_confirm_answer_built_by_hand_is_the_schemas_dump(world):
    from benefits.transactions.schemas import TillTransactionSchema
    tf.rule(world["tree"]["bozhou"])
    body = till.confirm_transaction(world["till"], amount_fen=25000, card_number=world["card"].number)
    assert body.pop("hints") == []
    db.session.flush()
    db.session.expire_all()
    stored = TillTransactionSchema().dump(db.session.get(CardTransaction, body["id"]))
    assert body == stored
    assert body["discount_fen"] == 4000 and body["card_tail"] == world["card"].number[-4:]


def _read(key_or_ref, card_number, amount_fen=25000):
    ref = key_or_ref if isinstance(key_or_ref, till.TillRef) else till.TillRef(terminal_key=key_or_ref)
    return till.payment_read(ref, amount_fen=amount_fen, day=clock.business_day(), card_number=card_number)


def test_the_till_reads_key_card_and_counters_in_one_statement_and_refuses_what_cannot_pay(world):
    key = tf.terminal_key(world["merchant"])
    read = _read(key, world["card"].number)
    assert (read.till.merchant.id, read.till.store.id) == (world["merchant"].id, world["merchant"].stores[0].id)
    assert (read.card.id, read.card.member.name) == (world["card"].id, "王芳")
    assert _read(world["till"], world["card"].number).card == read.card      # a cashier's store: the same read
    with pytest.raises(NotFound):
        _read(key, "6231000000000000")
    with pytest.raises(NotAuthenticated):
        _read("tk_not-a-key", world["card"].number)
    members.freeze_card(None, world["card"])
    db.session.flush()
    with pytest.raises(members.CardRefused) as refused:
        _read(key, world["card"].number)
    assert refused.value.code == "card_frozen"


def test_the_till_reads_only_the_counters_that_could_bind_at_the_price(world):
    """The member's offer counters come in the till's own statement: only rules that could bind
    at this price (no uses left, or less budget left than the price), and the member's uses in
    the current periods; every other candidate is open."""
    bozhou = world["tree"]["bozhou"]
    tight = tf.rule(bozhou, name="预算将尽", budget_fen=3000)                   # less left than the price
    roomy = tf.rule(bozhou, name="预算充足", kind="percent", pay_bp=9000, budget_fen=10_000_000)
    capped = tf.rule(bozhou, name="名额已满", kind="percent", pay_bp=9500, global_limit=1, combinable=True)
    daily = tf.rule(bozhou, name="每日一次", kind="percent", pay_bp=8000, per_member={"day": 1})
    confirm(world, 25000)                         # takes the daily rule's use today
    other = factories.member(world["tree"]["gujing"], name="李四")
    till.confirm_transaction(world["till"], amount_fen=25000, card_number=other.current_card.number)
    db.session.flush()
    key = tf.terminal_key(world["merchant"])
    live = _read(key, world["card"].number).live
    assert capped.id in live.counters and tight.id in live.counters
    assert roomy.id not in live.counters and daily.id not in live.counters
    assert live.used == {daily.id: {"day": 1}}
    # a price below what is left of the tight budget: that rule cannot bind, so it is not read
    assert tight.id not in _read(key, world["card"].number, amount_fen=2000).live.counters


def test_the_tills_statement_keeps_its_prepared_plan_once_the_tables_have_statistics(world):
    """PostgreSQL plans a prepared statement afresh at each execution when it thinks its generic
    plan dear. Once autovacuum had analysed the rules, the till's statement (card, member, offer
    counters) was planned at every quote, ~400 µs of server CPU each. With statistics present
    and mostly roomy rules, it must keep its generic plan (psycopg prepares a statement after
    five executions; PostgreSQL then tries five custom plans before settling)."""
    rule = tf.rule(world["tree"]["bozhou"], name="预算充足", kind="percent", pay_bp=9000, budget_fen=10_000_000)
    table = PromotionRule.__table__
    copied = [c for c in table.c if c.name != "id"]
    db.session.execute(insert(table).from_select(
        [c.name for c in copied],
        select(*copied).where(table.c.id == rule.id).join(func.generate_series(1, 400).alias("n"), literal(True))))
    db.session.execute(text("ANALYZE promotion_rules"))
    key = tf.terminal_key(world["merchant"])
    for _ in range(25):
        _read(key, world["card"].number)
    generic, custom = db.session.execute(text(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%JOIN terminal_keys%' AND statement LIKE '%json_agg%'")).one()
    assert custom <= 5 and generic >= 10, (generic, custom)


def test_a_rule_paused_after_the_counters_were_read_gives_nothing_at_the_confirm(world):
    """The quote uses the book of the stamp it read with the counters; the confirm's take checks
    the rule is still active, reads again and chooses without it."""
    first = tf.rule(world["tree"]["bozhou"], name="满200减40")
    db.session.flush()
    key = tf.terminal_key(world["merchant"])
    read = _read(key, world["card"].number)
    p = offers.purchase(member=read.card.member, card=read.card, merchant=read.till.merchant, store=read.till.store,
                        amount_fen=25000, at=clock.now())
    assert offers.quote(p, read.live).discount_fen == 4000
    promotions.set_status(None, first, "paused")     # moves the stamp after the counters were read
    db.session.flush()
    assert offers.quote(p, read.live).discount_fen == 4000      # as it stood when read
    assert offers.quote(p, _read(key, world["card"].number).live).discount_fen == 0
    assert confirm(world, 25000).discount_fen == 0


def test_the_quote_answer_built_by_hand_is_the_schemas_dump(world):
    from benefits.transactions.api import member_brief, quote_response
    from benefits.transactions.schemas import TillQuoteSchema
    bozhou = world["tree"]["bozhou"]
    tf.rule(bozhou)                                                        # applies
    tf.rule(bozhou, name="9折", kind="percent", pay_bp=9000)               # gives less: counted only
    tf.rule(bozhou, name="周末满200减40", days_of_week=[6, 7])              # not today: listed
    tf.rule(bozhou, name="满500减100", threshold_fen=50000, off_fen=10000)  # below threshold: listed, hint
    card, q = till.quote_transaction(world["till"], amount_fen=25000, card_number=world["card"].number)
    shown = [r for r in q.rejected if r.reason != "not_best"]
    expected = TillQuoteSchema().dump({
        "amount_fen": q.amount_fen, "discount_fen": q.discount_fen, "pay_fen": q.pay_fen, "shares": q.shares_total(),
        "applied": q.applied, "rejected": shown, "other_offers": len(q.rejected) - len(shown), "hints": q.hints,
        "member": member_brief(card), "voucher_fen": q.voucher_fen,
        "voucher_uses": [c.snapshot() for c in q.covers], "vouchers": q.voucher_list()})
    assert json.loads(quote_response(q, card).get_data()) == expected
    assert expected["other_offers"] == 1 and {r["reason"] for r in expected["rejected"]} == {"wrong_day",
                                                                                               "below_threshold"}
