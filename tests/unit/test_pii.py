from datetime import date

import pytest

from benefits.pii import (InvalidIdNumber, make_id_number, mask_id_number, mask_phone, normalise_id_number,
                          normalise_phone)

VALID = "11010519491231002X"  # the standard's own example


def test_valid_id_with_x_check_digit_and_lower_case():
    assert normalise_id_number(VALID) == VALID
    assert normalise_id_number(VALID.lower()) == VALID


@pytest.mark.parametrize("raw,reason", [
    ("110105194912310021", "check digit"),
    ("11010519491331002X", "date of birth"),
    ("1101051949123100", "18 characters"),
    ("11010519491231002Y", "digit or X"),
    ("110105209912310028", "date of birth"),
])
def test_invalid_ids_say_why(raw, reason):
    with pytest.raises(InvalidIdNumber, match=reason):
        normalise_id_number(raw)


def test_generated_ids_are_valid():
    for seq in range(50):
        normalise_id_number(make_id_number("341602", date(1985, 6, 15), seq))


def test_masks():
    assert mask_id_number("340102198506151234") == "3401**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number(None) == ""


def test_phone():
    assert normalise_phone("+86 138-1234-5678") == "13812345678"
    with pytest.raises(ValueError):
        normalise_phone("12345")
