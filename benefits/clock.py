"""The one source of time. Store UTC; business days are in Asia/Shanghai.

Tests move time with `freeze(...)`; production code calls `now()` and never datetime.now().
"""
from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def china_now() -> datetime:
    return now().astimezone(CHINA)


def business_day(at: datetime | None = None) -> date:
    """The calendar day in China for `at` (default: now)."""
    at = at or now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(CHINA).date()


def china_day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a China business day, in UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """The same instant, aware and in UTC; a naive value is taken to be UTC, as every stored time is."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@contextlib.contextmanager
def freeze(at: datetime):
    """Pin `now()` for the block (tests)."""
    global _frozen
    previous = _frozen
    _frozen = as_utc(at)
    try:
        yield
    finally:
        _frozen = previous


def set_frozen(at: datetime | None) -> None:
    global _frozen
    _frozen = as_utc(at) if at is not None else None
