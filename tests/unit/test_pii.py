from datetime import date

import pytest

from benefits.pii import (InvalidIdNumber, make_id_number, mask_id_number, mask_phone, normalise_id_number,
                          normalise_phone)

VALID = "11010519491231002X"  # the standard's own example


def test_valid_id_with_x_check_digit_and_lower_case():
    assert normalise_id_number(VALID) == VALID
    assert normalise_id_number(VALID.lower()) == VALID


@pytest.mark.parametrize("raw,reason,says", [
    ("110105194912310021", "id_number_check_digit", "身份证号校验位错误"),
    ("11010519491331002X", "id_number_birth_date", "身份证号中的出生日期不存在"),
    ("1101051949123100", "id_number_length", "身份证号应为18位"),
    ("11010519491231002Y", "id_number_shape", "身份证号应为17位数字加一位数字或X"),
    ("110105209912310028", "id_number_birth_date", "身份证号中的出生日期不存在"),
])
def test_invalid_ids_say_why(raw, reason, says):
    """A stable reason code, and the sentence for people (Chinese outside a request)."""
    with pytest.raises(InvalidIdNumber) as refused:
        normalise_id_number(raw)
    assert refused.value.reason == reason and str(refused.value) == says


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
