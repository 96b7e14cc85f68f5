"""`database.retry_on_deadlock`: a unit of work PostgreSQL aborted to break a deadlock runs again."""
import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from benefits.database import retry_on_deadlock


def _failing(errors):
    calls = []

    def operation():
        calls.append(1)
        if errors:
            raise sa_exc.OperationalError("UPDATE …", {}, errors.pop(0))
        return "done"
    return operation, calls


def test_a_deadlock_victim_runs_again_until_it_succeeds():
    operation, calls = _failing([psycopg.errors.DeadlockDetected("deadlock detected")] * 2)
    assert retry_on_deadlock(operation) == "done" and len(calls) == 3


def test_it_gives_up_after_its_attempts_and_never_retries_other_errors():
    operation, calls = _failing([psycopg.errors.DeadlockDetected("deadlock detected")] * 3)
    with pytest.raises(sa_exc.OperationalError):
        retry_on_deadlock(operation)
    assert len(calls) == 3
    operation, calls = _failing([psycopg.errors.AdminShutdown("terminating connection")])
    with pytest.raises(sa_exc.OperationalError):
        retry_on_deadlock(operation)
    assert len(calls) == 1
