"""`database.transactional`: a unit of work PostgreSQL aborted to break a deadlock (or a
serialization failure) runs again, at most three times; any other error is not retried."""
import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from benefits.database import transactional


def _aborted(kind=psycopg.errors.DeadlockDetected):
    return sa_exc.OperationalError("UPDATE …", {}, kind("deadlock detected"))


def test_a_deadlocked_unit_of_work_runs_again(app):
    calls = []

    @transactional
    def operation():
        calls.append(1)
        if len(calls) < 3:
            raise _aborted()
        return "done"

    assert operation() == "done" and len(calls) == 3


def test_it_gives_up_after_three_tries_and_does_not_retry_other_errors(app):
    calls = []

    @transactional
    def always():
        calls.append(1)
        raise _aborted(psycopg.errors.SerializationFailure)

    with pytest.raises(sa_exc.OperationalError):
        always()
    assert len(calls) == 3

    @transactional
    def other():
        calls.append(2)
        raise sa_exc.OperationalError("SELECT 1", {}, psycopg.errors.QueryCanceled("cancelled"))

    with pytest.raises(sa_exc.OperationalError):
        other()
    assert calls.count(2) == 1
