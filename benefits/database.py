"""The one place that commits: a unit of work wrapped around each request's service calls."""
from __future__ import annotations

import contextlib
import functools

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db


@contextlib.contextmanager
def unit_of_work():
    """Commit if the block finishes, roll back if it raises (services only flush)."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def transactional(view):
    """Decorator for api/views functions: one commit per request at the boundary."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return view(*args, **kwargs)
    return wrapper


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()
