"""Money is an integer number of fen (分). Yuan strings exist only at the edges."""
from __future__ import annotations

import re

# [0-9], not \d: \d also matches Arabic-Indic "٢٥٠" and full-width "２５０", which int() reads as 250
_YUAN = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?")


class MoneyFormatError(ValueError):
    """Raised for a yuan amount that is not a non-negative number with at most two decimals."""


def parse_yuan(text: str | int, *, allow_zero: bool = False) -> int:
    """'12.3' -> 1230 fen. Rejects negatives, more than two decimals, digits other than 0-9, junk
    and (by default) zero."""
    if isinstance(text, bool):
        raise MoneyFormatError("amount must be a yuan string such as 12.34")
    if isinstance(text, int):
        text = str(text)
    if not isinstance(text, str):
        raise MoneyFormatError("amount must be a yuan string such as 12.34")
    match = _YUAN.fullmatch(text.strip())
    if not match:
        raise MoneyFormatError(f"{text!r} is not an amount in yuan with at most two decimals")
    whole, frac = match.group(1), (match.group(2) or "")
    fen = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
    if fen == 0 and not allow_zero:
        raise MoneyFormatError("amount must be more than zero")
    return fen


def format_yuan(fen: int) -> str:
    """1230 -> '12.30'; negative amounts keep their sign."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def percent_of_floor(fen: int, basis_points: int) -> int:
    """The part of `fen` given by basis points (1/100 of a percent), rounded down to the fen."""
    return (fen * basis_points) // 10_000


def split_fairly(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split `total` fen among named weights so that the parts sum to `total` exactly.

    Largest-remainder allocation: each part gets the floor of its exact share; the fen left
    over go one each to the largest remainders (ties broken by the order of `weights`).
    """
    if total < 0:
        return {k: -v for k, v in split_fairly(-total, weights).items()}
    weight_sum = sum(weights.values())
    if weight_sum <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be non-negative and not all zero")
    floors = {k: total * w // weight_sum for k, w in weights.items()}
    left = total - sum(floors.values())
    order = sorted(weights, key=lambda k: (-(total * weights[k] % weight_sum), list(weights).index(k)))
    for k in order[:left]:
        floors[k] += 1
    return floors
