"""The Redis gate: atomic Lua scripts that shed a crowd before the database is touched.

SQL stays the system of record. Every reservation made here is either confirmed by a committed
SQL transaction or released; `flask counters reconcile` rebuilds every gate from SQL. When Redis
is not configured or unreachable, `Gate.call` returns None and callers go straight to SQL.

Keys are `benefits:{tag}:...`; the braces are a Redis Cluster hash tag, so every key one
script touches lives in one slot.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from typing import Callable

import redis
from redis.exceptions import NoScriptError
from flask import current_app

log = logging.getLogger(__name__)

_reconcilers: dict[str, Callable[[redis.Redis], dict]] = {}


def key(tag: str, *parts: object) -> str:
    return "benefits:{" + tag + "}:" + ":".join(str(p) for p in parts)


def client() -> redis.Redis | None:
    """The shared client, or None when REDIS_URL is not set."""
    return current_app.extensions.get("benefits_redis")


def init_app(app) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["benefits_redis"] = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30)
    else:
        app.extensions["benefits_redis"] = None


def _resp(*parts) -> bytes:
    """One Redis command in the RESP protocol (str, int and bytes parts), as redis-py packs it."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


_held = threading.local()


class Gate:
    """One Lua script, called atomically with EVALSHA (loaded again if Redis lost it)."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def call(self, keys: list[str], args: list[object]):
        """The script's answer, on a connection this thread keeps from the client's pool: the
        hot paths call a gate at every payment or redemption, and redis-py's per-call pool
        checkout, health check and retry wrapper cost several times the script itself. Same
        answers as redis-py's `register_script` (tested). Any Redis trouble is logged and
        answers None (the SQL path decides); the connection is dropped and the next call
        connects afresh."""
        r = client()
        if r is None:
            return None
        command = _resp("EVALSHA", self.sha, len(keys), *keys, *args)
        held = getattr(_held, "conn", None)
        conn = None
        try:
            if held is None or held[0] is not r or held[1] != os.getpid():
                _held.conn = None
                held = _held.conn = (r, os.getpid(), r.connection_pool.get_connection())
            conn = held[2]
            try:
                conn.send_packed_command([command], check_health=False)
                return conn.read_response()
            except NoScriptError:  # Redis restarted or flushed its scripts: load it, once
                conn.send_packed_command([_resp("SCRIPT", "LOAD", self.source)], check_health=False)
                conn.read_response()
                conn.send_packed_command([command], check_health=False)
                return conn.read_response()
        except (redis.RedisError, OSError) as exc:
            if conn is not None:
                conn.disconnect()
            log.warning("redis gate unavailable, falling back to SQL: %s", exc)
            return None


def register_reconciler(name: str, fn: Callable[[redis.Redis], dict]) -> None:
    """Domains register a function that rebuilds their Redis counters from SQL."""
    _reconcilers[name] = fn


def reconcile_all() -> dict[str, dict]:
    r = client()
    if r is None:
        return {}
    return {name: fn(r) for name, fn in sorted(_reconcilers.items())}
