"""Drawing questions at random from the bank without scanning or sorting it.

Each job type numbers its questions 1..n (`JobType.next_position`), so a draw samples positions
and looks up exactly those rows. A per-process cache maps positions to question ids; it is keyed
by a stamp of the job type table that changes whenever a job type or question is added.
"""
from __future__ import annotations

import bisect
import os
import random

from flask import current_app
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, or_, select

from ..extensions import db
from .models import JobType, Question

_JT, _Q = JobType.__table__, Question.__table__


def bank_stamp_columns() -> tuple:
    """Two scalar subqueries over the small job type table that change whenever a job type or
    question is added (every new question reserves its position from `next_position`); a read
    that draws carries them, so checking the cache costs no query of its own."""
    return (select(func.coalesce(func.sum(_JT.c.next_position), 0)).scalar_subquery().label("bank_positions"),
            select(func.count(_JT.c.id)).scalar_subquery().label("bank_job_types"))


_SPANS = select(_JT.c.id, _JT.c.next_position - 1)
_POSITIONS = select(_Q.c.job_type_id, _Q.c.position, _Q.c.id).where(
    _Q.c.job_type_id == any_(bindparam("job_type_ids", type_=ARRAY(Integer))))


class _Bank:
    """What a draw needs to know about the bank, cached per process and app while the stamp is
    unchanged: each job type's question count n (its questions hold positions 1..n) and, loaded
    on first use, its question ids by position. Questions are never deleted or moved, so a
    position's id never changes; whether a question is enabled is checked by the draw's own
    query, so a disabled question is never drawn and a re-enabled one is drawn again at once."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.spans = {jt: n for jt, n in db.session.execute(_SPANS)}
        self._ids: dict[int, list] = {}

    def ids(self, job_type_ids) -> dict[int, list]:
        missing = [jt for jt in job_type_ids if jt not in self._ids]
        if missing:
            loaded = {jt: [None] * self.spans.get(jt, 0) for jt in missing}
            for jt, position, qid in db.session.execute(_POSITIONS, {"job_type_ids": missing}):
                if 0 < position <= len(loaded[jt]):
                    loaded[jt][position - 1] = qid
            self._ids.update(loaded)
        return self._ids


def _cached_bank(stamp: tuple) -> _Bank:
    cached = current_app.extensions.get("quiz_bank")
    if cached is None or cached.stamp != stamp:
        cached = current_app.extensions["quiz_bank"] = _Bank(stamp)
    return cached


def draw_rng() -> random.Random:
    """A generator for one draw (its sample and its option orders), seeded afresh with 256 bits
    from the OS, so nothing seen of one draw tells anything about another; unlike
    `random.SystemRandom` it makes no system call for each of the draw's eighty-odd numbers."""
    return random.Random(os.urandom(32))


def _sample_slots(job_type_ids: list[int], count: int, spans: dict[int, int], rng) -> tuple[list, int]:
    """A random sample of (job type, position) slots, a few more than `count` in case some are
    disabled, and the number of slots there are; O(count), no scan or sort of the bank."""
    starts, types, total = [], [], 0
    for jt in sorted(set(job_type_ids)):
        n = spans.get(jt, 0)
        if n > 0:
            starts.append(total)
            types.append(jt)
            total += n
    picks = rng.sample(range(total), min(total, count + count // 2 + 2)) if total else []
    slots = []
    for pick in picks:
        k = bisect.bisect_right(starts, pick) - 1
        slots.append((types[k], pick - starts[k] + 1))
    return slots, total


# What a member may see of a drawn question (no answer, no explanation), plus its job type.
_COLUMNS = (_Q.c.id, _Q.c.job_type_id, _Q.c.kind, _Q.c.stem, _Q.c.options)
_BY_ID = select(*_COLUMNS).where(_Q.c.id == any_(bindparam("ids", type_=ARRAY(Integer))))
_ENABLED_BY_ID = _BY_ID.where(_Q.c.is_enabled.is_(True))


def draw(job_type_ids: list[int], tags: list[str], count: int, stamp: tuple, rng: random.Random) -> list:
    """`count` distinct enabled questions at random (fewer if the bank has fewer), as rows of
    `_COLUMNS`. Without tags the sampled positions become ids through the bank cache and one
    `id = ANY(...) AND is_enabled` query fetches them (O(count) index lookups). With tags, or when
    too many sampled questions are disabled, it samples the matching ids of those job types."""
    if not tags:
        cached = _cached_bank(stamp)
        slots, total = _sample_slots(job_type_ids, count, cached.spans, rng)
        by_type = cached.ids({jt for jt, _ in slots})
        ids = [qid for qid in (by_type[jt][p - 1] if p <= len(by_type[jt]) else None for jt, p in slots)
               if qid is not None]
        if ids:
            found = {r.id: r for r in db.session.execute(_ENABLED_BY_ID, {"ids": ids})}
            order = [found[i] for i in ids if i in found]
            if len(order) >= count or len(order) == len(found) == total:
                return order[:count]
    stmt = select(_Q.c.id).where(_Q.c.job_type_id.in_(job_type_ids), _Q.c.is_enabled.is_(True))
    if tags:
        stmt = stmt.where(or_(*[_Q.c.tags.contains(f",{t},", autoescape=True) for t in tags]))
    ids = list(db.session.scalars(stmt))
    return by_ids(rng.sample(ids, min(count, len(ids))))


def by_ids(ids: list[int]) -> list:
    """Questions as rows of `_COLUMNS`, in the order of `ids`."""
    found = {r.id: r for r in db.session.execute(_BY_ID, {"ids": ids})}
    return [found[i] for i in ids if i in found]
