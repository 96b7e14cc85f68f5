"""The embedded servers behind `make run` and the tests (devservers.py): a second start finds the
same server and data, a server killed rather than stopped comes back with its data, and `stop`
stops both."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import devservers


@pytest.fixture
def folder():
    folder = Path(tempfile.mkdtemp(prefix="benefits-devservers-"))
    yield folder
    devservers.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _run(url: str, *statements: str):
    """Run the statements in one transaction; the last one's single value, if it returns rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(statement)) for statement in statements]
            return results[-1].scalar() if results[-1].returns_rows else None
    finally:
        engine.dispose()


def test_restart_reuses_the_data_even_after_a_kill(folder):
    url = devservers.database_url(folder, "kept")
    _run(url, "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (42)")
    assert devservers.database_url(folder, "kept") == url
    redis.Redis.from_url(devservers.redis_url(folder)).set("k", "v")

    # Killed, not stopped, and its pid since taken by another process (as after a reboot): the
    # pid file and the socket's lock file would make PostgreSQL refuse to start.
    pid_file = folder / "postgres" / "postmaster.pid"
    lines = pid_file.read_text().splitlines(keepends=True)
    psutil.Process(int(lines[0])).send_signal(signal.SIGKILL)
    psutil.Process(int(lines[0])).wait(10)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        os.chmod(pid_file, 0o600)
        pid_file.write_text(f"{stranger.pid}\n" + "".join(lines[1:]))
        assert devservers.status(folder)["postgres"] is False
        assert devservers.database_url(folder, "kept") == url
        assert _run(url, "SELECT n FROM kept") == 42
    finally:
        stranger.kill()
        stranger.wait()

    assert devservers.stop(folder) == ["postgres", "redis"]
    assert devservers.status(folder) == {"postgres": False, "redis": False}
    assert devservers.database_url(folder, "kept") == url  # a clean stop keeps the data too
    assert _run(url, "SELECT n FROM kept") == 42


def test_a_folder_too_deep_for_a_unix_socket_still_works(folder):
    deep = folder / ("d" * 60) / ("e" * 60)
    redis_socket = Path(devservers.redis_url(deep).removeprefix("unix://"))
    assert len(str(redis_socket)) <= devservers.SOCKET_PATH_MAX
    assert redis.Redis(unix_socket_path=str(redis_socket)).ping()
    url = devservers.database_url(deep)
    assert _run(url, "SELECT 1") == 1
    assert devservers.stop(deep) == ["postgres", "redis"]
    # the short socket folders outside `deep` are left empty by a clean stop
    for socket_folder in (redis_socket.parent, Path(make_url(url).query["host"])):
        assert not socket_folder.is_relative_to(folder)
        socket_folder.rmdir()
