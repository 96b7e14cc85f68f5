"""A report's period: China business days from `start` to `end`, both included.

Every report that covers a period (the merchant report, a rule's, a prize's and the quiz
report's days, the console's month) takes a `Period`, and `check` is the one rule of what a
period may be: not reversed, at most MAX_DAYS long (a day-by-day chart of ten years helps nobody
and costs a scan). Pages read the two dates from their query string with `from_args`; the API
reads them with its schema and passes them to the same `check` through the service.

Messages are in the request's language (the Chinese sentence is the message id).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import clock
from .errors import ValidationError

MAX_DAYS = 366
# what PostgreSQL's dates and the China-day bounds in UTC can hold without overflowing, with room
_EARLIEST, _LATEST = date(1970, 1, 1), date(2999, 12, 31)

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

BAD_DATE = _l("日期格式不对，请用日期选择器选择，或按 2026-12-01 的格式填写。")
REVERSED = _l("结束日期早于开始日期，请重新选择。")
TOO_LONG = _l("查询范围最长 366 天，请缩短日期范围。")
OUT_OF_RANGE = _l("日期超出可查询的范围。")


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[the first day's 00:00, the day after the last's 00:00) China time, in UTC: for columns
        that hold an instant rather than a business day."""
        return clock.china_day_bounds_utc(self.start)[0], clock.china_day_bounds_utc(self.end)[1]


def check(start: date, end: date) -> Period:
    """The period from `start` to `end`, or a 400 naming the field at fault."""
    for name, value in (("start", start), ("end", end)):
        if not _EARLIEST <= value <= _LATEST:
            raise ValidationError(OUT_OF_RANGE, code="bad_date", details={"fields": {name: [_("超出范围")]}})
    if end < start:
        raise ValidationError(REVERSED, code="period_reversed", details={"fields": {"end": [_("早于开始日期")]}})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationError(TOO_LONG, code="period_too_long",
                              details={"fields": {"end": [_("最多在开始日期后 %(n)s 天", n=MAX_DAYS)]}})
    return Period(start, end)


def month_to_date(today: date | None = None) -> Period:
    """From the 1st of this month (China time) to today."""
    today = today or clock.business_day()
    return Period(today.replace(day=1), today)


def last_days(n: int, today: date | None = None) -> Period:
    today = today or clock.business_day()
    return Period(today - timedelta(days=n - 1), today)


def _date(text: str | None, field: str, default: date) -> date:
    text = (text or "").strip()
    if not text:
        return default
    try:
        # fromisoformat also takes "20261201" and week dates ("2026-W48-1"); a date picker sends
        # YYYY-MM-DD, and nothing else is taken
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(BAD_DATE, code="bad_date", details={"fields": {field: [_("不是日期（年-月-日）")]}}) \
            from None


def from_args(args, default: Period) -> Period:
    """The period a page's query string asks for (`start`, `end`; either may be left out and
    takes the default's), checked."""
    return check(_date(args.get("start"), "start", default.start), _date(args.get("end"), "end", default.end))


def from_args_or_default(args, default: Period) -> tuple[Period, str | None]:
    """For a page: the period asked for, or the default with the message saying what was wrong
    with the one asked for (the page shows it above the default's figures, with a 400)."""
    try:
        return from_args(args, default), None
    except ValidationError as exc:
        return default, exc.message
