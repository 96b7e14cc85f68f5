"""Deferred writes (benefits.database.defer_write): sent together just before COMMIT on
PostgreSQL (at once elsewhere), seen by reads in the same transaction, and all-or-nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from benefits import clock
from benefits.database import defer_write, unit_of_work
from benefits.extensions import db
from benefits.idempotency import IdempotencyRecord

RECORDS = IdempotencyRecord.__table__


def _record(key: str) -> dict:
    return {"scope": "test", "key": key, "fingerprint": "f", "status_code": 200, "response": {"ok": True},
            "created_at": clock.now()}


_STMT = insert(RECORDS).values({c.name: bindparam(c.name) for c in RECORDS.c if c.name != "id"})


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(IdempotencyRecord))


def test_deferred_rows_are_written_with_the_commit_and_seen_by_reads_before_it(app):
    with unit_of_work():
        defer_write(_STMT, _record("a"))
        defer_write(_STMT, _record("b"))
        assert count() == 2          # a read in the same transaction sees them
        defer_write(_STMT, _record("c"))
    assert count() == 3


def test_a_failing_deferred_write_fails_the_commit_and_nothing_is_written(app):
    with pytest.raises(IntegrityError):
        with unit_of_work():
            defer_write(_STMT, _record("same"))
            defer_write(_STMT, _record("same"))   # the unique (scope, key) refuses the second
    db.session.rollback()
    assert count() == 0


def test_a_rollback_drops_what_was_deferred(app):
    with pytest.raises(RuntimeError):
        with unit_of_work():
            defer_write(_STMT, _record("x"))
            raise RuntimeError("the request failed")
    with unit_of_work():
        pass
    assert count() == 0


def test_inside_a_savepoint_a_deferred_write_runs_at_once_and_its_rollback_takes_it_back(app):
    with unit_of_work():
        defer_write(_STMT, _record("outer"))
        savepoint = db.session.begin_nested()
        defer_write(_STMT, _record("inner"))
        savepoint.rollback()
    assert count() == 1
    assert db.session.scalar(select(IdempotencyRecord.key)) == "outer"
