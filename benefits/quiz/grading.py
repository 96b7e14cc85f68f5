"""Pure quiz logic over plain values: option shuffling maps and grading. No app needed."""
from __future__ import annotations

import random

from .models import LETTERS


def shuffled_order(option_count: int, rng: random.Random) -> str:
    """A per-attempt option order: shown letter i is original letter order[i]."""
    letters = list(LETTERS[:option_count])
    rng.shuffle(letters)
    return "".join(letters)


def to_original(order: str, shown: str) -> str:
    return "".join(sorted(order[LETTERS.index(s)] for s in shown))


def to_shown(order: str, original: str) -> str:
    if len(original) == 1:  # most answers: no sort needed (a view maps two per question)
        return LETTERS[order.index(original)]
    return "".join(sorted(LETTERS[order.index(o)] for o in original))


def item_points(kind: str, answer: str, chosen: str | None, points: int, partial_credit: bool) -> tuple[bool, int]:
    """(exactly right?, points earned). Partial credit: a multiple-choice answer with no wrong
    option earns its share of the right options, rounded down; any wrong option earns nothing."""
    if not chosen:
        return False, 0
    if chosen == answer:
        return True, points
    if kind == "multiple" and partial_credit and set(chosen) <= set(answer):
        return False, points * len(chosen) // len(answer)
    return False, 0


def percent(correct: int, total: int) -> int:
    return 0 if total == 0 else correct * 100 // total
