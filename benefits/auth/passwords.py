"""What a new password must not be: short, common, or the account's own name.

Pure rules over plain strings (no app), and the one place a password is hashed and checked.
A member's account name is their national ID number,
which is not a secret, so a password taken from it (the birth date, the last eight digits) is as
guessable as "123456" and is refused the same way.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def problem(password: str | None, account: str = "") -> str | None:
    """Why this password may not be set, or None when it may."""
    if not password or len(password) < MIN_LENGTH:
        return "too_short"
    folded = password.strip().lower()
    if folded in common_passwords():
        return "common"
    account = (account or "").strip().lower()
    # The password inside the account name (a birth date), or the name inside the password.
    if account and (folded in account or (len(account) >= 4 and account in folded)):
        return "like_account"
    return None


def make_hash(password: str) -> str:
    """The stored form of a password, by the method configured (PASSWORD_HASH_METHOD: werkzeug's
    scrypt with its default cost in production; a cheaper cost in the tests, whose accounts are
    made by the thousand). Verification reads the method from the stored hash itself."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check(stored_hash: str | None, password: str) -> bool:
    """Whether the password matches; an unknown account is checked against a dummy hash of the
    same method, so both cost the same."""
    return check_password_hash(stored_hash or _dummy_hash(), password or "")


def _dummy_hash() -> str:
    return _dummy_for(current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_for(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)
