"""The outbox: a notice is written in the caller's transaction, with the change that causes it.

Callers (vouchers, prizes, points, medical payouts, festival gifts) call `enqueue` for one
notice, or build an INSERT … SELECT with `notices_from` when one statement writes many (a
voucher batch of 473,216 members writes its notices in the same statement as its vouchers).
Nothing here commits: the caller's unit of work does, so a rolled-back change leaves no notice.
Idempotent: the dedupe key is unique and a repeat adds nothing (ON CONFLICT DO NOTHING).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Select, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import clock
from ..extensions import db
from . import kinds
from .models import Notice

_JSON_SCALARS = (str, int, bool, type(None))


def _plain(params: dict) -> dict:
    """JSON values only; a date becomes its ISO day, a time its ISO UTC instant (for
    `{x:china_time}`)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, datetime):
            value = clock.as_utc(value).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif not isinstance(value, _JSON_SCALARS) or isinstance(value, float):
            raise TypeError(f"notice param {key!r} must be text, a whole number, a date or a time")
        out[key] = value
    return out


def enqueue(member_id: int, kind: str, params: dict, dedupe_key: str) -> None:
    """Writes one notice in the caller's transaction (db.session; the caller commits), so it
    exists exactly when the change that causes it does. Idempotent: a second call with the same
    dedupe_key adds nothing (INSERT ... ON CONFLICT DO NOTHING).

    `params` are the values the kind's template names (kinds.py), plus any its link needs.
    An unknown kind or a missing placeholder raises before anything is written."""
    if not dedupe_key or len(dedupe_key) > 160:
        raise ValueError("a notice needs a dedupe key of at most 160 characters")
    values = _plain(params)
    kinds.render(kind, values)          # KeyError / UnknownKind now, not when it is sent
    at = clock.now()
    db.session.execute(pg_insert(Notice.__table__).values(
        member_id=member_id, kind=kind, params=values, dedupe_key=dedupe_key, status="pending", attempts=0,
        next_attempt_at=at, created_at=at).on_conflict_do_nothing(index_elements=["dedupe_key"]))


def notices_from(kind: str, rows: Select):
    """The INSERT … SELECT that writes one `kind` notice per row of `rows`, whose columns are
    (member_id, params as a JSON object, dedupe_key), skipping dedupe keys already written.
    Not executed: run it, or make it a CTE of the statement that makes the change (so both are
    one statement). The caller's SQL builds the params: tests render every kind from them."""
    kinds.kind(kind)
    at = clock.now()
    t = Notice.__table__.c
    source = rows.add_columns(literal(kind), literal("pending"), literal(0), literal(at, t.next_attempt_at.type),
                              literal(at, t.created_at.type))
    return (pg_insert(Notice.__table__)
            .from_select(["member_id", "params", "dedupe_key", "kind", "status", "attempts", "next_attempt_at",
                          "created_at"], source)
            .on_conflict_do_nothing(index_elements=["dedupe_key"]))
