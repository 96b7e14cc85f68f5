"""The password rules: length, the bundled common-password list, and nothing taken from the account."""
import pytest

from benefits.auth import passwords
from tests import factories


@pytest.mark.parametrize("password", [
    "123456", "a123456", "woaini1314", "5201314", "qq123456", "1qaz2wsx", "88888888", "11111111",
    "iloveyou", "password", "WoAiNi1314", "Password", " 88888888 ", "gonghui123", "a12345678", "zxcvbnm123",
])
def test_common_passwords_are_refused_whatever_their_case(password):
    assert passwords.problem(password) in ("common", "too_short")
    assert len(password) < passwords.MIN_LENGTH or passwords.problem(password) == "common"


def test_the_list_is_bundled_and_sizeable():
    common = passwords.common_passwords()
    assert 5000 < len(common) < 50000
    assert {"123456", "a123456", "woaini1314", "5201314", "qq123456", "1qaz2wsx", "88888888", "11111111",
            "iloveyou", "password"} <= common
    assert all(p == p.strip().lower() and not p.startswith("#") for p in common)


@pytest.mark.parametrize("password", [factories.PASSWORD, "demo-pass-2026", "bench-pass-2026", "long-enough",
                                      "password-xx", "new-password-1", "古井工会2026会员"])
def test_the_demo_and_test_passwords_are_accepted(password):
    assert passwords.problem(password) is None


def test_a_password_taken_from_the_id_number_or_user_name_is_refused():
    id_number = "341602198001010011"
    assert passwords.problem("19800101", id_number) == "like_account"  # the birth date
    assert passwords.problem("198001010011", id_number) == "like_account"
    assert passwords.problem("bozhou_admin!", "bozhou_admin") == "like_account"
    assert passwords.problem("oliver-2026", "li") is None  # a short name inside a password is chance
    assert passwords.problem("short") == "too_short" and passwords.problem("") == "too_short"
