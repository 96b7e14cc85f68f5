"""The audit log's filters as a query string carries them: a kind of action (one action, or every
action of an area as `area:prizes`), an account (a user id, or `system`) and a range of China
days. Whatever is typed, the answer is a filter and the problems with it, never an exception:
a filter that cannot be read is left out and named in `errors`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l

from .. import clock
from ..inputs import row_id
from . import labels
from .service import SYSTEM

AREA_PREFIX = "area:"
# Days outside these years are typing mistakes (and far enough from datetime's limits).
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass
class AuditFilter:
    action: str = ""          # as given back to the form: an action, `area:<area>` or ""
    actor: str = ""           # as given back to the form: a user id, SYSTEM or ""
    start: date | None = None
    end: date | None = None
    errors: dict[str, object] = field(default_factory=dict)

    def query(self) -> dict:
        """Keyword arguments for `service.entries_in_scope`."""
        out: dict = {}
        if self.action.startswith(AREA_PREFIX):
            out["actions"] = labels.actions_in_area(self.action[len(AREA_PREFIX):])
        elif self.action:
            out["action"] = self.action
        if self.actor:
            out["actor"] = SYSTEM if self.actor == SYSTEM else int(self.actor)
        if self.start:
            out["since"] = clock.china_day_bounds_utc(self.start)[0]
        if self.end:
            out["before"] = clock.china_day_bounds_utc(self.end)[1]
        return out


def _day(text: str) -> date:
    day = date.fromisoformat(text)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(text)
    return day


def parse(args) -> AuditFilter:
    found = AuditFilter()
    action = (args.get("action") or "").strip()[:80]
    if action.startswith(AREA_PREFIX) and action[len(AREA_PREFIX):] in labels.AREAS:
        found.action = action
    elif action in labels.ACTIONS:
        found.action = action
    elif action:
        found.errors["action"] = _l("没有这种操作。")
    actor = (args.get("actor") or "").strip()[:16]
    if actor == SYSTEM or (actor and row_id(actor) is not None):
        found.actor = actor if actor == SYSTEM else str(row_id(actor))
    elif actor:
        found.errors["actor"] = _l("没有这个操作人。")
    for name in ("start", "end"):
        text = (args.get(name) or "").strip()[:32]
        if not text:
            continue
        try:
            setattr(found, name, _day(text))
        except ValueError:
            found.errors[name] = _l("日期应为 %(first)s 至 %(last)s 年间的 年-月-日（如 2026-01-31）。",
                                    first=FIRST_YEAR, last=LAST_YEAR)
    if found.start and found.end and found.end < found.start:
        found.errors["end"] = _l("结束日期不能早于开始日期。")
        found.end = None
    return found

