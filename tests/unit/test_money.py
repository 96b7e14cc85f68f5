import pytest

from benefits.money import MoneyFormatError, format_yuan, parse_yuan, percent_of_floor, split_fairly


@pytest.mark.parametrize("text,fen", [("12.3", 1230), ("12.34", 1234), ("12", 1200), ("0.01", 1), (" 200 ", 20000)])
def test_parse_yuan_accepts_up_to_two_decimals(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["12.345", "-1", "abc", "", "1e3", "12.", ".5", "01.00", "1,000", None, 1.5, True])
def test_parse_yuan_rejects_junk(text):
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


def test_zero_is_refused_unless_allowed():
    with pytest.raises(MoneyFormatError):
        parse_yuan("0.00")
    assert parse_yuan("0", allow_zero=True) == 0


def test_format_yuan():
    assert format_yuan(1230) == "12.30"
    assert format_yuan(5) == "0.05"
    assert format_yuan(-150) == "-1.50"


def test_percent_rounds_down_to_the_fen():
    # 10 % off 9.99 is 0.999 -> 0.99
    assert percent_of_floor(999, 1000) == 99


@pytest.mark.parametrize("total", [0, 1, 2, 3, 100, 4001, 99999])
def test_split_fairly_sums_exactly(total):
    parts = split_fairly(total, {"union": 3333, "bank": 3333, "merchant": 3334})
    assert sum(parts.values()) == total
    assert all(p >= 0 for p in parts.values())


def test_split_fairly_largest_remainder():
    # 10 fen split 50/30/20 exactly
    assert split_fairly(10, {"union": 50, "bank": 30, "merchant": 20}) == {"union": 5, "bank": 3, "merchant": 2}
    # 1 fen among thirds goes to the first of the tied largest remainders
    assert split_fairly(1, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 0, "c": 0}
    # 7 fen 60/40: 4.2 and 2.8 -> 4 + 3
    assert split_fairly(7, {"union": 60, "bank": 40}) == {"union": 4, "bank": 3}


def test_split_negative_mirrors_positive():
    assert split_fairly(-7, {"union": 60, "bank": 40}) == {"union": -4, "bank": -3}
