"""Vouchers end to end in the services: issue, quote and confirm at the till, refunds, settlement,
voiding, expiry and the programme's report."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.errors import Conflict, ValidationError
from benefits.extensions import db
from benefits.notices import service as notices
from benefits.transactions import service as till, settlement
from benefits.transactions.models import CardTransaction
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher, VoucherUse
from tests import factories, till_factories as tf, voucher_factories as vf

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # a Wednesday, 10:00 in China


@pytest.fixture
def world(app):
    clock.set_frozen(NOON)
    tree = factories.org_tree()
    shop = tf.merchant(tree["bozhou"], name="亳州扶贫农产品店", category="retail")
    fuel = tf.merchant(tree["bozhou"], name="中石化亳州站", category="fuel")
    poor = factories.member(tree["gujing"], name="王芳", category="hardship")
    ordinary = factories.member(tree["gujing"], name="李强")
    return {"tree": tree, "shop": shop, "fuel": fuel, "poor": poor, "ordinary": ordinary,
            "till": till.TillRef(store_id=shop.stores[0].id), "fuel_till": till.TillRef(store_id=fuel.stores[0].id)}


def _voucher(member) -> Voucher:
    return db.session.scalar(select(Voucher).where(Voucher.member_id == member.id))


def _pay(w, amount_fen, member=None, ref=None, **kw):
    member = member or w["poor"]
    body = till.confirm_transaction(ref or w["till"], amount_fen=amount_fen, card_number=member.current_card.number, **kw)
    return db.session.get(CardTransaction, body["id"]), body


def test_fuyang_warm_heart_voucher_550_spent_300_then_250_at_the_designated_shop(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], scope="merchants", merchant_ids=[w["shop"].id])
    assert (p.face_fen, p.topup_fen, p.value_fen) == (50000, 5000, 55000)
    result = vf.issue(p)
    assert result.issued == 1 and _voucher(w["ordinary"]) is None
    v = _voucher(w["poor"])
    card, q = till.quote_transaction(w["till"], amount_fen=30000, card_number=w["poor"].current_card.number)
    [offer] = q.voucher_list()
    assert offer["usable"] and offer["covers_fen"] == 30000 and not offer["chosen"] and q.pay_fen == 30000
    _card, q = till.quote_transaction(w["till"], amount_fen=30000, card_number=w["poor"].current_card.number,
                                      voucher_ids=[v.id])
    assert (q.voucher_fen, q.pay_fen) == (30000, 0)

    first, body = _pay(w, 30000, voucher_ids=[v.id])
    assert body["voucher_fen"] == 30000 and body["pay_fen"] == 0
    # 300 of 550: the face part in proportion (272.72 → 272.72 rounded down), the rest top-up
    assert (first.voucher_fen, first.voucher_union_fen, first.voucher_bank_fen, first.voucher_topup_fen) == \
        (30000, 27272, 0, 2728)
    second, _ = _pay(w, 25000, voucher_ids=[v.id])
    # the payment that empties the balance takes exactly the face value left
    assert (second.voucher_union_fen, second.voucher_topup_fen) == (50000 - 27272, 5000 - 2728)
    db.session.refresh(v)
    assert (v.balance_fen, v.face_left_fen, v.status) == (0, 0, "spent")

    totals = settlement.period_totals(w["shop"].id, None)
    assert totals["sales"]["voucher_fen"] == 55000 and totals["sales"]["voucher_union_fen"] == 50000
    assert totals["sales"]["voucher_topup_fen"] == 5000 and totals["union_owes_fen"] == 50000
    report = vouchers.programme_report(p)
    assert report["spent"]["value_fen"] == 55000 and report["spent"]["union_fen"] == 50000
    assert report["outstanding"]["value_fen"] == 0


def test_a_voucher_is_refused_elsewhere_when_expired_and_below_min_spend(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], scope="merchants", merchant_ids=[w["shop"].id], min_spend_fen=10000)
    vf.issue(p)
    v = _voucher(w["poor"])
    with pytest.raises(vouchers.VoucherRefused, match="不能在本店使用"):
        _pay(w, 30000, ref=w["fuel_till"], voucher_ids=[v.id])
    with pytest.raises(vouchers.VoucherRefused, match="满 100.00 元"):
        _pay(w, 5000, voucher_ids=[v.id])
    clock.set_frozen(datetime(2027, 1, 1, 2, 0, tzinfo=timezone.utc))
    with pytest.raises(vouchers.VoucherRefused, match="过期"):
        _pay(w, 30000, voucher_ids=[v.id])
    with pytest.raises(vouchers.VoucherRefused, match="不属于此卡的会员"):
        _pay(w, 30000, member=w["ordinary"], voucher_ids=[v.id])
    db.session.refresh(v)
    assert v.balance_fen == 55000 and db.session.scalar(select(func.count(VoucherUse.id))) == 0


def test_discount_first_then_the_voucher_and_a_voucher_that_does_not_combine_drops_the_discount(world):
    w = world
    tf.rule(w["tree"]["bozhou"], name="9折", kind="percent", pay_bp=9000, split={"union": 100})
    both = vf.programme(w["tree"]["bozhou"], name="消费券", face_fen=10000, topup_bp=None, combinable=True)
    alone = vf.programme(w["tree"]["bozhou"], name="独享券", face_fen=10000, topup_bp=None, combinable=False)
    vf.issue(both)
    vf.issue(alone)
    v_both = db.session.scalar(select(Voucher).where(Voucher.programme_id == both.id))
    v_alone = db.session.scalar(select(Voucher).where(Voucher.programme_id == alone.id))
    _c, q = till.quote_transaction(w["till"], amount_fen=30000, card_number=w["poor"].current_card.number,
                                   voucher_ids=[v_both.id])
    assert (q.discount_fen, q.voucher_fen, q.pay_fen) == (3000, 10000, 17000)
    _c, q = till.quote_transaction(w["till"], amount_fen=30000, card_number=w["poor"].current_card.number,
                                   voucher_ids=[v_alone.id])
    assert (q.discount_fen, q.voucher_fen, q.pay_fen) == (0, 10000, 20000) and till.NOT_COMBINED_HINT in q.hints


def test_refunds_give_the_balance_back_pro_rata_and_exactly_at_the_end(world):
    w = world
    tf.rule(w["tree"]["bozhou"], name="9折", kind="percent", pay_bp=9000, split={"union": 60, "bank": 40})
    p = vf.programme(w["tree"]["bozhou"], face_fen=10000, topup_fen=1000, topup_bp=None,
                     split={"union": 60, "bank": 40})
    vf.issue(p)
    v = _voucher(w["poor"])
    txn, _ = _pay(w, 33333, voucher_ids=[v.id])           # 9折: 3333 off; voucher 11000; pays 19000
    assert (txn.discount_fen, txn.voucher_fen, txn.pay_fen) == (3333, 11000, 19000)
    till.refund_transaction(w["till"], txn.id, pay_fen=9500)   # half of what the member paid
    db.session.refresh(txn)
    db.session.refresh(v)
    assert txn.refunded_voucher_fen == 5500 and v.balance_fen == 5500 and v.status == "active"
    till.refund_transaction(w["till"], txn.id)                 # the rest
    db.session.refresh(txn)
    db.session.refresh(v)
    assert txn.refunded_voucher_fen == 11000 and (v.balance_fen, v.face_left_fen) == (11000, 10000)
    totals = settlement.period_totals(w["shop"].id, None)
    net = totals["net"]
    assert (net["voucher_fen"], net["voucher_union_fen"], net["voucher_bank_fen"], net["voucher_topup_fen"]) == (0, 0, 0, 0)
    assert net["discount_fen"] == 0 and totals["union_owes_fen"] == 0 and totals["bank_owes_fen"] == 0


def test_a_single_payment_voucher_forfeits_the_rest_unless_the_whole_payment_is_refunded(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], face_fen=20000, topup_bp=None, spend_mode="single")
    vf.issue(p)
    v = _voucher(w["poor"])
    txn, _ = _pay(w, 15000, voucher_ids=[v.id])
    db.session.refresh(v)
    assert txn.voucher_fen == 15000 and (v.balance_fen, v.status) == (0, "spent")
    with pytest.raises(vouchers.VoucherRefused, match="余额已用完"):
        _pay(w, 1000, voucher_ids=[v.id])
    till.refund_transaction(w["till"], txn.id)
    db.session.refresh(v)
    assert (v.balance_fen, v.face_left_fen, v.status) == (20000, 20000, "active")
    assert vouchers.programme_report(p)["forfeited"]["value_fen"] == 0


def test_a_refund_after_expiry_returns_the_balance_to_a_closed_voucher(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], face_fen=10000, topup_bp=None, valid_until=date(2026, 11, 30))
    vf.issue(p)
    v = _voucher(w["poor"])
    txn, _ = _pay(w, 4000, voucher_ids=[v.id])
    clock.set_frozen(datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc))
    assert vouchers.expire()["expired"] == 1
    till.refund_transaction(w["till"], txn.id)
    db.session.refresh(v)
    assert (v.status, v.balance_fen) == ("expired", 10000)
    report = vouchers.programme_report(p)
    assert report["expired"]["value_fen"] == 10000 and report["outstanding"]["value_fen"] == 0


def test_a_refund_after_the_statement_closed_is_an_adjustment_in_the_next_one(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], face_fen=10000, topup_bp=1000, split={"union": 60, "bank": 40})
    vf.issue(p)
    v = _voucher(w["poor"])
    txn, _ = _pay(w, 11000, voucher_ids=[v.id])        # the whole 110.00: face 100.00, top-up 10.00
    clock.set_frozen(datetime(2026, 11, 19, 2, 0, tzinfo=timezone.utc))
    closed = settlement.close_statement(None, w["shop"], date(2026, 11, 18))
    assert closed.union_owes_fen == 6000 and closed.bank_owes_fen == 4000
    assert closed.totals["sales"]["voucher_topup_fen"] == 1000

    till.refund_transaction(w["till"], txn.id, pay_fen=0)   # paid wholly by the voucher: whole refund
    db.session.refresh(closed)
    assert closed.union_owes_fen == 6000                    # a closed statement never changes
    open_ = settlement.period_totals(w["shop"].id, None)
    adj = open_["adjustments"]
    assert (adj["count"], adj["voucher_fen"], adj["voucher_union_fen"], adj["voucher_bank_fen"],
            adj["voucher_topup_fen"]) == (1, 11000, 6000, 4000, 1000)
    assert open_["refunds"]["count"] == 0
    assert (open_["union_owes_fen"], open_["bank_owes_fen"]) == (-6000, -4000)
    db.session.refresh(v)
    assert (v.balance_fen, v.face_left_fen) == (11000, 10000)


def test_issuing_again_issues_nobody_twice_and_never_beyond_the_budget(world):
    w = world
    more = [factories.member(w["tree"]["gujing"], category="hardship") for _ in range(4)]
    p = vf.programme(w["tree"]["bozhou"], face_fen=10000, topup_bp=None, budget_fen=30000)
    preview = vouchers.preview(p, vouchers.Target(member_categories=("hardship",)))
    assert (preview.members, preview.can_issue, preview.fits) == (5, 3, False)
    first = vf.issue(p)
    assert (first.issued, first.not_issued_for_budget) == (3, 2)
    again = vf.issue(p)
    assert again.issued == 0 and again.batch.id == first.batch.id
    db.session.refresh(p)
    assert (p.issued_fen, p.issued_count) == (30000, 3)
    assert db.session.scalar(select(func.count(Voucher.id))) == 3 and more


def test_per_member_limit_lets_a_second_round_through_once(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"], face_fen=10000, topup_bp=None, per_member=2)
    assert vf.issue(p).issued == 1
    assert vf.issue(p, round=2).issued == 1
    assert vf.issue(p, round=3).issued == 0
    assert db.session.scalar(select(func.count(Voucher.id)).where(Voucher.member_id == w["poor"].id)) == 2


def test_voiding_needs_a_reason_and_is_audited_and_the_till_refuses_it(world):
    w = world
    p = vf.programme(w["tree"]["bozhou"])
    vf.issue(p)
    v = _voucher(w["poor"])
    with pytest.raises(ValidationError):
        vouchers.void(None, v, "  ")
    vouchers.void(None, v, "重复发放")
    with pytest.raises(Conflict):
        vouchers.void(None, v, "再次作废")
    with pytest.raises(vouchers.VoucherRefused, match="作废"):
        _pay(w, 1000, voucher_ids=[v.id])
    items, _total = notices.member_notices(w["poor"].id)
    assert [m.kind for m in items] == ["voucher_voided", "voucher_issued"]
    assert items[0].text == "您的扶贫暖心券已被工会作废：重复发放"


def test_programme_validation_reports_each_field(world):
    with pytest.raises(ValidationError) as caught:
        vouchers.create_programme(None, world["tree"]["bozhou"], {
            "name": "", "face_fen": -1, "split": {"union": 50, "bank": 20}, "valid_from": "2026-13-01",
            "valid_until": "x", "budget_fen": None, "spend_mode": "often"})
    fields = caught.value.details["fields"]
    assert {"name", "face_fen", "split", "valid_from", "valid_until", "budget_fen", "spend_mode"} <= set(fields)


def test_a_list_of_id_and_card_numbers_reports_every_bad_row(world, app):
    from benefits.vouchers import targets
    w = world
    far = factories.member(w["tree"]["magang"])
    p = vf.programme(w["tree"]["bozhou"])
    csv_bytes = ("身份证号\n" + "\n".join([w["poor"].id_number, "123", far.id_number, w["poor"].id_number,
                                          "110101199003074514"]) + "\n").encode()
    entries = targets.read_file("名单.csv", csv_bytes)
    ids, errors = targets.resolve(p, entries)
    assert ids == [w["poor"].id]
    assert [(e.row, e.reason) for e in errors] == [(3, "id_number_invalid"), (4, "not_in_union"), (5, "duplicate"),
                                                   (6, "unknown_member")]
    ids, errors = targets.resolve(p, targets.entries_from_lists(card_numbers=[w["ordinary"].current_card.number, "9"]))
    assert ids == [w["ordinary"].id] and [e.reason for e in errors] == ["unknown_card"]
