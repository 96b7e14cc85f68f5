"""What a new password must not be: short, common, or the account's own name.

Pure rules over plain strings (no app). A member's account name is their national ID number,
which is not a secret, so a password taken from it (the birth date, the last eight digits) is as
guessable as "123456" and is refused the same way.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

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
