"""The medical benefit's pure rules: out-of-pocket amounts, the budget, references, bank results."""
from __future__ import annotations

import pytest

from benefits.medical import rules


@pytest.mark.parametrize("text, fen", [("1000", 100_000), ("1000.5", 100_050), ("3250.50", 325_050), ("0", 0),
                                        ("0.01", 1), (" 12,345.67 ", 1_234_567), ("1，000.00", 100_000)])
def test_amounts_are_yuan_with_at_most_two_decimals_in_fen(text, fen):
    assert rules.out_of_pocket_fen(text) == fen


@pytest.mark.parametrize("text, reason", [("-10", "amount_negative"), ("- 0.5", "amount_negative"),
                                          ("-0", "amount_negative"), ("12.345", "amount_invalid"),
                                          ("abc", "amount_invalid"), ("", "amount_invalid"), ("1e3", "amount_invalid"),
                                          ("１２", "amount_invalid"), ("٢٥٠", "amount_invalid"),
                                          ("12.3.4", "amount_invalid"), ("1234567890123.00", "amount_invalid")])
def test_negative_and_malformed_amounts_are_refused_with_their_reason(text, reason):
    with pytest.raises(rules.BadAmount) as refused:
        rules.out_of_pocket_fen(text)
    assert refused.value.reason == reason


def test_a_batch_fits_the_budget_left_after_approved_batches_to_the_fen():
    assert rules.budget_fits(20_000, 100_000, 80_000)
    assert not rules.budget_fits(20_001, 100_000, 80_000)
    assert rules.budget_fits(0, 100_000, 100_000)


def test_references_name_the_year_and_the_payout_and_never_repeat():
    assert rules.reference(2020, 123) == "YL20200000000123"
    assert len({rules.reference(2020, n) for n in range(1, 2000)}) == 1999


@pytest.mark.parametrize("text, result", [("成功", "paid"), (" paid ", "paid"), ("SUCCESS", "paid"), ("已入账", "paid"),
                                          ("失败", "failed"), ("Failed", "failed"), ("退回", "failed"),
                                          ("", None), ("处理中", None)])
def test_bank_results_read_as_paid_or_failed(text, result):
    assert rules.return_result(text) == result


def test_every_reason_has_its_words():
    assert set(rules.REASONS) == set(rules.REASON_NAMES)
    assert rules.REASONS[-1] == "qualifies" and rules.REASONS[0] == "below_threshold"
