"""Shared fixtures. Every test that needs PostgreSQL or Redis gets a real one: the servers named
by TEST_DATABASE_URL / TEST_REDIS_URL (CI: the machine's own), otherwise embedded servers
(devservers.py) started in a temporary folder when a test first asks, and stopped at the end
of the session."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import devservers
from benefits import clock, counters, create_app
from benefits.auth import throttle
from benefits.extensions import db
from config import TestingConfig, normalise_database_url
from tests import logscan

ROOT = Path(__file__).resolve().parent.parent
_schemas_made: set[str] = set()


def pytest_configure(config):
    # After the whole suite, no log the tests produced may hold a whole ID number.
    config.pluginmanager.register(logscan, "logscan")


def ensure_postgres_database(url: str) -> str:
    url = normalise_database_url(url)
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        # A test database is thrown away: its commits need not wait for the disk (a setting of
        # this database alone; the server's other databases keep theirs).
        conn.execute(text(f'ALTER DATABASE "{parsed.database}" SET synchronous_commit = off'))
    admin.dispose()
    return url


@pytest.fixture(scope="session")
def embedded_servers():
    """The session's folder for embedded servers; whichever of them started is stopped at the end.
    A folder of its own under /tmp rather than pytest's: the embedded PostgreSQL runs as a user of
    its own when the tests run as root, so every folder above its data is opened to others, and
    pytest keeps its base folder private to its owner."""
    folder = Path(tempfile.mkdtemp(prefix="benefits-test-"))
    yield folder
    devservers.stop(folder)
    logscan.keep(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(embedded_servers) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return ensure_postgres_database(url)
    url = devservers.database_url(embedded_servers, database="benefits_test")
    # The session's server is thrown away at its end, so nothing needs to reach the disk: without
    # these flushes the tests run about twice as fast.
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(text(f"ALTER SYSTEM SET {setting} = off"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url(database_url) -> str:
    """The same database as `database_url`: the name tests use where real processes share it."""
    return database_url


@pytest.fixture(scope="session")
def redis_url(embedded_servers) -> str:
    return os.environ.get("TEST_REDIS_URL") or devservers.redis_url(embedded_servers)


class ApiClient(FlaskClient):
    """Calls the JSON API as the site's scripts and API clients do: an unsafe call given no body
    is still sent as JSON, which a call with the session cookie must be (benefits/security.py).
    Forms and uploads keep the content type the test gives them."""

    def open(self, *args, **kwargs):
        path = args[0] if args and isinstance(args[0], str) else ""
        if (path.startswith("/api/") and kwargs.get("method", "GET") in ("POST", "PUT", "PATCH", "DELETE")
                and not {"json", "data", "content_type"} & kwargs.keys()):
            kwargs["content_type"] = "application/json"
        return super().open(*args, **kwargs)


def make_app(database_url: str, **overrides):
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None, **overrides})
    app.test_client_class = ApiClient

    # Tests hold one app context open, and Flask reuses it for every test-client request, so
    # `g` (where Flask-Login caches the user, Flask-WTF the CSRF token and Flask-Babel the locale)
    # would leak from one request into the next. Each request must find its user, token and
    # language itself, as in production.
    @app.before_request
    def _forget_request_state():
        from flask import g
        from flask_babel import refresh
        g.pop("_login_user", None)
        g.pop("csrf_token", None)      # Flask-WTF's token of the session the last request had
        refresh()
    with app.app_context():
        if database_url not in _schemas_made:
            db.drop_all()
            db.create_all()
            _schemas_made.add(database_url)
    return app


# A test leaves a few small tables written: DELETE from just those (in an order the foreign keys
# allow) takes milliseconds, where TRUNCATE … CASCADE of every table takes a quarter of a second.
# A test that wrote many rows (the scale tests), or a delete the keys refuse, gets the TRUNCATE.
_DELETE_AT_MOST = 2000


def wipe(app) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in db.metadata.sorted_tables]
        probe = " UNION ALL ".join(
            f"SELECT {i}, (SELECT count(*) FROM (SELECT 1 FROM \"{name}\" LIMIT {_DELETE_AT_MOST + 1}) AS s)"
            for i, name in enumerate(tables))
        with db.engine.connect() as conn:
            written = [(tables[i], n) for i, n in conn.execute(text(probe)) if n]
            conn.rollback()
            try:
                with conn.begin():
                    if sum(n for _, n in written) > _DELETE_AT_MOST:
                        raise _TooMany
                    for name, _ in reversed(written):
                        conn.execute(text(f'DELETE FROM "{name}"'))
            except (_TooMany, DBAPIError):
                conn.rollback()
                with conn.begin():
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            # Ids start again at 1, as after TRUNCATE … RESTART IDENTITY (a rolled-back insert
            # moves a sequence too, so every sequence that was read is reset).
            conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                              "FROM pg_sequences WHERE last_value IS NOT NULL"))
            conn.commit()
        db.engine.dispose()


class _TooMany(Exception):
    pass


# Making an app takes about 0.3 s (its routes and the OpenAPI document), more than most tests:
# the `app` fixture hands every test the same app of its database, put back after the test as it
# was made (its settings, and its extensions, where the rule book and the quiz bank are cached).
# Tests that need an app of other settings call make_app themselves.
_shared_apps: dict[str, tuple] = {}


def _test_app(database_url: str):
    if database_url not in _shared_apps:
        made = make_app(database_url)
        _shared_apps[database_url] = (made, dict(made.config), dict(made.extensions))
    app, config, extensions = _shared_apps[database_url]
    throttle.reset_local()
    try:
        with app.app_context():
            yield app
            db.session.remove()
    finally:
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)
        clock.set_frozen(None)
        wipe(app)


@pytest.fixture
def app(database_url):
    yield from _test_app(database_url)


@pytest.fixture
def pg_app(postgres_url):
    yield from _test_app(postgres_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def flush_redis(redis_url):
    """A client of the tests' Redis (one server or a cluster: `counters.connect` reads the URL as
    the app does), emptied before and after the test."""
    r = counters.connect(redis_url, socket_timeout=10)
    r.flushdb()
    yield r
    r.flushdb()
    r.close()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = "password-123"):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """Real gunicorn worker processes serving the app (concurrency and browser tests)."""

    def __init__(self, env: dict[str, str], workers: int = 4, threads: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "BENEFITS_ENV": "testing", **env}
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        self.log = open(artifacts / f"gunicorn-{self.port}.log", "w")
        logscan.produced(Path(self.log.name))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
             "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
             # the access log too: it keeps every URL, where no ID number may be (tests/logscan.py)
             "--access-logfile", "-",
             # the default control socket is one path per host, shared by every gunicorn on it
             "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        # Ready when a worker answers, not when the socket accepts: on a loaded machine a worker
        # takes several seconds to import and make the app, and a browser's first page would
        # wait for it against its own timeout.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/static/app.css", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not answer in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def gunicorn_factory():
    started: list[Gunicorn] = []

    def start(env: dict[str, str], workers: int = 4, threads: int = 1) -> Gunicorn:
        server = Gunicorn(env, workers, threads)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@contextlib.contextmanager
def statements_sent():
    """The SQL statements the block sends, as SQLAlchemy hands them to the driver. Start the
    block with a fresh session (`db.session.remove()`), as each request in production does, or
    the identity map of an earlier step may spare a read."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
