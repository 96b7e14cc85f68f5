"""Voucher arithmetic: top-up, the face/top-up and funder parts, pro-rata refunds, combining."""
from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timezone

import pytest

from benefits.promotions import engine
from benefits.vouchers import rules

DAY = date(2026, 11, 18)
AT = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


def held(balance=55000, face_left=50000, value=55000, vid=1, **terms) -> rules.HeldVoucher:
    t = {"programme_id": 7, "name": "扶贫暖心券", "owner_path": "/1/2/", **terms}
    return rules.HeldVoucher(vid, balance, face_left, value, date(2026, 11, 1), date(2026, 12, 31), rules.VoucherTerms(**t))


def purchase(amount=30000, merchant_id=5, category="retail", path="/1/2/9/", store_id=50) -> engine.Purchase:
    return engine.Purchase(amount_fen=amount, at=AT, merchant_id=merchant_id, merchant_category=category,
                           merchant_org_path=path, store_id=store_id)


def test_top_up_by_percentage_rounds_down_or_is_a_fixed_amount():
    assert rules.topup_fen(50000, percent_bp=1000) == 5000
    assert rules.topup_fen(33333, percent_bp=1000) == 3333
    assert rules.topup_fen(50000, fixed_fen=2000) == 2000
    assert rules.topup_fen(50000) == 0


def test_cover_splits_face_and_top_up_and_the_last_payment_takes_what_is_left():
    v = held()
    first = rules.cover(v, 30000)
    assert (first.amount_fen, first.face_fen, first.topup_fen) == (30000, 27272, 2728)
    rest = rules.cover(held(balance=25000, face_left=50000 - 27272), 99999)
    assert (rest.amount_fen, rest.face_fen, rest.topup_fen) == (25000, 22728, 2272)
    assert first.face_fen + rest.face_fen == 50000 and first.topup_fen + rest.topup_fen == 5000


def test_funders_share_the_face_part_to_the_fen():
    c = rules.cover(held(split=(("union", 60), ("bank", 40))), 33333)
    assert c.union_fen + c.bank_fen == c.face_fen and abs(c.union_fen - c.face_fen * 0.6) < 1


@pytest.mark.parametrize("seed", range(20))
def test_any_sequence_of_payments_spends_exactly_the_face_value_and_the_top_up(seed):
    rnd = random.Random(seed)
    face, top = rnd.randint(1, 100000), rnd.randint(0, 20000)
    balance, face_left, faces, tops = face + top, face, 0, 0
    while balance:
        c = rules.cover(held(balance=balance, face_left=face_left, value=face + top), rnd.randint(1, face + top))
        balance, face_left = balance - c.amount_fen, face_left - c.face_fen
        assert 0 <= face_left <= balance
        faces, tops = faces + c.face_fen, tops + c.topup_fen
    assert (faces, tops) == (face, top)


def test_a_single_payment_voucher_forfeits_what_the_price_does_not_use():
    c = rules.cover(held(balance=20000, face_left=20000, value=20000, spend_mode="single"), 15000)
    assert (c.amount_fen, c.forfeited_fen, c.forfeited_face_fen) == (15000, 5000, 5000)


def test_refusals_read_out_to_the_member():
    assert rules.refusal(held(), purchase(), DAY) is None
    assert rules.refusal(held(), purchase(), date(2027, 1, 1))[0] == "expired"
    assert rules.refusal(held(), purchase(), date(2026, 10, 1))[0] == "not_yet_valid"
    assert rules.refusal(held(scope="merchants", merchant_ids=(6,)), purchase(), DAY)[0] == "out_of_scope"
    assert rules.refusal(held(scope="categories", categories=("fuel",)), purchase(), DAY)[0] == "out_of_scope"
    assert rules.refusal(held(), purchase(path="/1/3/"), DAY)[0] == "out_of_scope"  # another city's merchant
    assert rules.refusal(held(min_spend_fen=50000), purchase(), DAY) == ("below_min_spend", "消费满 500.00 元才能使用此券。")


def _terms(**kw) -> engine.RuleTerms:
    base = dict(rule_id=1, version_id=1, name="r", kind="percent", owner_path="/1/")
    base.update(kw)
    return engine.RuleTerms(**base)


@pytest.mark.parametrize("rule,amount,discount", [
    (_terms(name="9折", pay_bp=9000), 30000, 3000),
    (_terms(name="满200减40", kind="threshold", threshold_fen=20000, off_fen=4000), 25000, 4000),
])
def test_the_discount_comes_first_and_the_voucher_pays_what_is_left(rule, amount, discount):
    quote = engine.evaluate(purchase(amount=amount), engine.prepare([rule]), {})
    assert quote.discount_fen == discount
    covers = rules.plan([held(balance=10000, face_left=10000, value=10000)], quote.pay_fen)
    assert sum(c.amount_fen for c in covers) == 10000
    assert amount - discount - 10000 == quote.pay_fen - 10000


def test_vouchers_in_turn_and_a_voucher_that_does_not_combine_drops_the_discount():
    a, b = held(balance=5000, face_left=5000, value=5000, vid=1), held(balance=9000, face_left=9000, value=9000, vid=2)
    covers = rules.plan([a, b], 12000)
    assert [(c.voucher_id, c.amount_fen) for c in covers] == [(1, 5000), (2, 7000)]
    assert rules.plan([a, b], 4000) == [rules.cover(a, 4000)]
    assert not rules.drops_discount([a]) and rules.drops_discount([held(combinable=False)])


def test_refunded_share_is_pro_rata_rounded_down_and_exact_at_the_end():
    assert rules.refunded_share(11000, 19000, 9500, False) == 5500
    assert rules.refunded_share(11000, 19000, 9501, False) == 5500
    assert rules.refunded_share(11000, 19000, 19000, True) == 11000
    assert rules.refunded_share(11000, 0, 0, True) == 11000


def test_returns_spread_over_uses_and_give_back_each_use_exactly_its_parts():
    uses = [rules.UseLeft(1, 30000, 27272, 0, 2728, 0, 0, 0, 0), rules.UseLeft(2, 7000, 4000, 3000, 0, 0, 0, 0, 0)]
    part = rules.returns(uses, 18500)
    assert sum(r.back_fen for r in part) == 18500
    done = {u.id: u for u in uses}
    for r in part:
        u = done[r.use_id]
        done[r.use_id] = rules.UseLeft(u.id, u.amount_fen, u.union_fen, u.bank_fen, u.topup_fen,
                                       u.returned_fen + r.back_fen, u.returned_union_fen + r.union_fen,
                                       u.returned_bank_fen + r.bank_fen, u.returned_topup_fen + r.topup_fen)
    rest = rules.returns(list(done.values()), sum(u.amount_fen - u.returned_fen for u in done.values()))
    for r in rest:
        u = done[r.use_id]
        assert u.returned_union_fen + r.union_fen == u.union_fen
        assert u.returned_bank_fen + r.bank_fen == u.bank_fen
        assert u.returned_topup_fen + r.topup_fen == u.topup_fen
    assert list(itertools.chain(rules.returns(uses, 0))) == []
