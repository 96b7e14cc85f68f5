"""The one transaction boundary: each request's (or command's) unit of work commits or rolls back
here, once, and the Redis reservations made inside it are given back here when it rolls back.
Services only flush."""
from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from typing import Callable

import psycopg
from sqlalchemy import exc as sa_exc

from .extensions import db

log = logging.getLogger(__name__)


_current: contextvars.ContextVar["_Boundary | None"] = contextvars.ContextVar("unit_of_work", default=None)


class _Boundary:
    """What the open unit of work must do once it knows its outcome."""
    __slots__ = ("on_rollback", "after_commit")

    def __init__(self):
        self.on_rollback: list[Callable[[], None]] = []
        self.after_commit: list[Callable[[], None]] = []


@contextlib.contextmanager
def unit_of_work():
    """The one transaction boundary. Commit if the block finishes, roll back if it raises
    (services only flush). What the block registered with `on_rollback` (Redis reservations)
    runs after a rollback, what it registered with `after_commit` after the commit. A unit of
    work opened inside another joins it: the outermost one decides."""
    if _current.get() is not None:
        yield db.session
        return
    boundary = _Boundary()
    token = _current.set(boundary)
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _run_all(reversed(boundary.on_rollback))
        raise
    finally:
        _current.reset(token)
    _run_all(boundary.after_commit)


def _run_all(callbacks) -> None:
    # Redis trouble after the SQL outcome is known must not change the answer: the gates log it
    # and `flask counters reconcile` rebuilds them from SQL.
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.exception("unit of work callback failed")


def on_rollback(undo: Callable[[], None]) -> None:
    """Run `undo` if the current unit of work rolls back (a Redis reservation's give-back).
    Every request and command runs its services inside one; a caller driving services without
    one (a test) owns its transaction, and nothing is undone for it."""
    boundary = _current.get()
    if boundary is not None:
        boundary.on_rollback.append(undo)


def after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current unit of work has committed (stock given back to a gate
    after a cancellation committed); without one (a test driving services), at once."""
    boundary = _current.get()
    if boundary is None:
        action()
    else:
        boundary.after_commit.append(action)


def end_request(error: BaseException | None) -> None:
    """A request's reads outside a unit of work (a quote, a page) leave a transaction open that
    wrote nothing: end it with COMMIT when the request went well. A ROLLBACK would do as well for
    the data, but psycopg forgets every statement it prepared on a connection when it sees one
    (a rollback may have undone the objects they refer to), so each request would plan its
    statements afresh (measured: 2.7 ms of PostgreSQL per till read against 0.1 ms). Anything
    the session still holds unflushed, or a failed request, is rolled back."""
    if not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction():
        return
    if error is None and not (session.new or session.dirty or session.deleted):
        session.commit()
    else:
        session.rollback()


def transactional(view):
    """Decorator for api/views functions: one commit per request at the boundary. A unit of
    work that PostgreSQL aborted to break a deadlock, or that met a serialization failure, left
    nothing behind (its reservations were given back), so it runs again, at most three times."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        for attempt in range(3):
            try:
                with unit_of_work():
                    return view(*args, **kwargs)
            except sa_exc.OperationalError as exc:
                if attempt == 2 or not isinstance(exc.orig, _RETRYABLE):
                    raise
    return wrapper


_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
