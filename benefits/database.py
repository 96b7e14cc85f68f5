"""The one place that commits: a unit of work wrapped around each request's service calls."""
from __future__ import annotations

import contextlib
import functools
import threading

import psycopg
from psycopg.rows import namedtuple_row

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

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


def retry_on_deadlock(operation, attempts: int = 3):
    """Run a whole unit of work (`transactional`) again when PostgreSQL broke a deadlock by
    aborting it: everything it did was rolled back (the Redis gates release their reservations
    on rollback), so running it again is safe. A belt: the budget slices' lock order
    (`promotions.service`) removed the cycle two payments once met at the end of a budget, but a
    rule's edit can still meet a payment in one; the loser retries instead of answering 500."""
    for attempt in range(attempts):
        try:
            return operation()
        except sa_exc.OperationalError as exc:
            if attempt == attempts - 1 or not isinstance(exc.orig, psycopg.errors.DeadlockDetected):
                raise


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


# ---------------------------------------------------------------- hot reads
#
# A till quote is a few reads and no write, thousands of times a minute. On PostgreSQL
# `hot_reads()` runs them on a pooled connection put in autocommit (no BEGIN/ROLLBACK round
# trips; each statement reads committed data). A one-statement write run inside it (the quiz's
# start and submit, `quiz/express.py`) commits by itself: atomic as one statement is, and
# nothing else is written in the block and `read_rows()` sends each statement's SQL,
# compiled once, straight to psycopg, without the session and result machinery. Elsewhere (SQLite,
# or inside a unit of work that has already begun) `read_rows()` runs the same statement through
# the session, so the services read the same rows either way.

_hot = threading.local()
_compiled: dict = {}


@contextlib.contextmanager
def hot_reads():
    # `db.session.registry.has()` first: a quote that never touches the ORM does not create (and
    # tear down) a session just to learn that it has no transaction
    if (getattr(_hot, "conn", None) is not None or not is_postgres()
            or (db.session.registry.has() and db.session().in_transaction())):
        yield
        return
    fairy = db.engine.raw_connection()
    conn = fairy.driver_connection
    broken = False
    try:
        conn.autocommit = True
        _hot.conn = conn
        yield
    except BaseException as exc:
        broken = isinstance(exc, (psycopg.OperationalError, sa_exc.OperationalError))
        raise
    finally:
        _hot.conn = None
        if broken or conn.closed:
            fairy.invalidate()
        else:
            conn.autocommit = False
        fairy.close()


def _compile(stmt) -> tuple[str, dict, dict]:
    found = _compiled.get(stmt)
    if found is None:
        compiled = stmt.compile(dialect=db.engine.dialect)
        found = _compiled[stmt] = (compiled.string, dict(compiled.params), dict(compiled._bind_processors))
    return found


def _driver_execute(conn, stmt, params: dict, row_factory=None):
    sql, defaults, processors = _compile(stmt)
    values = {**defaults, **params}
    for name, process in processors.items():
        if name in values:
            values[name] = process(values[name])
    cursor = conn.cursor(row_factory=row_factory) if row_factory else conn.cursor()
    with _as_sqlalchemy_errors(sql, values):
        if not conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # The transaction's first statement: psycopg would send BEGIN and wait for it on its
            # own; in a pipeline BEGIN and the statement travel together (one round trip).
            with conn.pipeline():
                cursor.execute(sql, values, prepare=True)
            return cursor
        return cursor.execute(sql, values, prepare=True)


@contextlib.contextmanager
def _as_sqlalchemy_errors(sql, values):
    """psycopg's errors as SQLAlchemy raises them (IntegrityError, OperationalError …), so
    callers and error handlers see the same exceptions on every path."""
    try:
        yield
    except psycopg.Error as exc:
        raise sa_exc.DBAPIError.instance(sql, values, exc, psycopg.Error) from exc


def _driver_connection():
    """psycopg's connection for the statement: the hot-read one, or the session's (in its
    transaction); None off PostgreSQL."""
    conn = getattr(_hot, "conn", None)
    if conn is None and is_postgres():
        conn = db.session.connection().connection.driver_connection
    return conn


def run_rows(stmt, params: dict, *, named: bool = False) -> list:
    """Rows of a Core statement built once per process (SELECT, or a write with RETURNING), run
    in the session's transaction. On PostgreSQL its SQL, compiled once, goes straight to psycopg
    as a prepared statement: the hot paths run a handful of these per request, and SQLAlchemy's
    execution machinery cost more than the statements. `named`: rows with attribute access and
    `_asdict()` (as SQLAlchemy's rows have) instead of plain tuples."""
    conn = _driver_connection()
    if conn is None:
        rows = db.session.connection().execute(stmt, params).all()
        return rows if named else [tuple(row) for row in rows]
    return _driver_execute(conn, stmt, params, namedtuple_row if named else None).fetchall()


def run_count(stmt, params: dict) -> int:
    """Rows changed by a Core UPDATE/DELETE built once per process (see `run_rows`)."""
    conn = _driver_connection()
    if conn is None:
        return db.session.connection().execute(stmt, params).rowcount
    return _driver_execute(conn, stmt, params).rowcount


read_rows = run_rows   # for statements that only read (inside `hot_reads` they run in autocommit)


# ---------------------------------------------------------------- deferred writes
#
# A write whose result nobody reads before the commit (the usage rows of a payment, the
# transaction row whose id was taken from its sequence beforehand, the stored idempotent answer)
# can wait for the commit: on PostgreSQL the deferred writes go to the server together, in one
# psycopg pipeline (one round trip), just before COMMIT, in the same transaction. Any error they
# raise fails the commit, so nothing is half-written. Elsewhere they run at once.

_DEFERRED = "deferred_writes"


def defer_write(stmt, params: dict) -> None:
    # Inside a savepoint the write runs at once: a rollback to the savepoint must take it back,
    # and only the outermost transaction's rollback drops what is queued.
    if not is_postgres() or db.session().in_nested_transaction():
        run_count(stmt, params)
        return
    db.session().connection()   # the transaction begins now, as it would with an immediate write
    db.session.info.setdefault(_DEFERRED, []).append((stmt, params))


def _send_deferred(session: Session) -> None:
    """The deferred writes, in one pipeline. They run before the session's own flush (they
    reference only committed rows, and ORM changes may concern the rows they insert)."""
    writes = session.info.pop(_DEFERRED, None)
    if not writes:
        return
    conn = session.connection().connection.driver_connection
    with _as_sqlalchemy_errors("deferred writes", writes), conn.pipeline():
        for stmt, params in writes:
            _driver_execute(conn, stmt, params)


@event.listens_for(Session, "before_commit")
def _deferred_before_commit(session: Session) -> None:
    _send_deferred(session)


@event.listens_for(Session, "before_flush")
def _deferred_before_flush(session: Session, _context, _instances) -> None:
    _send_deferred(session)


@event.listens_for(Session, "do_orm_execute")
def _deferred_before_reads(orm_execute_state) -> None:
    """Anything read through the session in the same transaction sees the deferred rows."""
    _send_deferred(orm_execute_state.session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_deferred_writes(session: Session, previous_transaction) -> None:
    """Only the outermost transaction's rollback drops the queue (a savepoint's does not: what
    was deferred before it belongs to the outer transaction; inside one nothing is deferred)."""
    if previous_transaction.parent is None:
        session.info.pop(_DEFERRED, None)
