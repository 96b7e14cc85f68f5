"""People's data: national ID numbers (GB 11643) and phones — validation and masking."""
from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE = re.compile(r"^1[3-9]\d{9}$")


class InvalidIdNumber(ValueError):
    """An ID number refused: `reason` is a stable code (id_number_length …), str() the sentence
    for people, in the request's language."""
    MESSAGES = {
        "id_number_invalid": _l("身份证号无效"),
        "id_number_length": _l("身份证号应为18位"),
        "id_number_shape": _l("身份证号应为17位数字加一位数字或X"),
        "id_number_birth_date": _l("身份证号中的出生日期不存在"),
        "id_number_check_digit": _l("身份证号校验位错误"),
    }

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.MESSAGES[self.reason])


class InvalidPhone(ValueError):
    def __str__(self) -> str:
        return str(_l("手机号应为11位大陆手机号"))


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS))
    return _CHECK[total % 11]


def normalise_id_number(raw: str) -> str:
    """Return the canonical 18-character ID (upper-case X) or raise InvalidIdNumber with a reason."""
    if not isinstance(raw, str):
        raise InvalidIdNumber("id_number_invalid")
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidIdNumber("id_number_length")
    if not _ID_SHAPE.match(value):
        raise InvalidIdNumber("id_number_shape")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("id_number_birth_date") from None
    if born.year < 1900 or born > date.today():
        raise InvalidIdNumber("id_number_birth_date")
    if id_check_digit(value[:17]) != value[17]:
        raise InvalidIdNumber("id_number_check_digit")
    return value


def is_valid_id_number(raw: str) -> bool:
    try:
        normalise_id_number(raw)
    except InvalidIdNumber:
        return False
    return True


def mask_id_number(value: str | None) -> str:
    """3401**********1234 — first four and last four only."""
    if not value:
        return ""
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def normalise_phone(raw: str | None) -> str | None:
    if raw is None or str(raw).strip() == "":
        return None
    value = re.sub(r"[\s-]", "", str(raw))
    if value.startswith("+86"):
        value = value[3:]
    if not _PHONE.match(value):
        raise InvalidPhone()
    return value


def mask_phone(value: str | None) -> str:
    """138****5678."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def make_id_number(region: str, born: date, sequence: int) -> str:
    """Build a valid ID number (demo data and tests): 6-digit region, birth date, 3-digit sequence."""
    first17 = f"{region}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + id_check_digit(first17)


_MOBILE_IN_TEXT = re.compile(r"(?<![0-9.])1[3-9][0-9]{9}(?![0-9.])")


def mask_phones_in(text: str) -> str:
    """Every mainland mobile number standing alone in free text, masked (138****5678)."""
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m[0]), text)
