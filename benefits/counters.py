"""The Redis gate: atomic Lua scripts that shed a crowd before the database is touched.

SQL stays the system of record. Every reservation made here is either confirmed by a committed
SQL transaction or released; `flask counters reconcile` rebuilds every gate from SQL. When Redis
is not configured or unreachable, `Gate.call` returns None and callers go straight to SQL.

Keys are `benefits:{tag}:...`; the braces are a Redis Cluster hash tag, so every key one
script touches lives in one slot.
"""
from __future__ import annotations

import logging
from typing import Callable

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry
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
        # No retries: a gate that cannot answer at once is skipped (SQL decides), so an unreachable
        # Redis costs a request one short timeout, not redis-py's seconds of backoff. (A
        # single-connection client would save the pool checkout, ~50 µs per script call, but it
        # connects when created, so an app could not start while Redis is down.)
        app.extensions["benefits_redis"] = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30,
            retry=Retry(NoBackoff(), 0))
    else:
        app.extensions["benefits_redis"] = None


class Gate:
    """One Lua script, run atomically through redis-py's `Script` (EVALSHA, loaded again when
    Redis lost its scripts)."""

    def __init__(self, source: str):
        self.source = source
        self._bound: tuple[redis.Redis, Script] | None = None

    def call(self, keys: list[str], args: list[object]):
        """The script's answer, or None when Redis is off or in trouble (logged): callers then
        let SQL alone decide, which is always exact."""
        r = client()
        if r is None:
            return None
        bound = self._bound
        if bound is None or bound[0] is not r:
            bound = self._bound = (r, r.register_script(self.source))
        try:
            return bound[1](keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            log.warning("redis gate unavailable, SQL decides alone: %s", exc)
            return None


def register_reconciler(name: str, fn: Callable[[redis.Redis], dict]) -> None:
    """Domains register a function that rebuilds their Redis counters from SQL."""
    _reconcilers[name] = fn


def reconcile_all() -> dict[str, dict]:
    r = client()
    if r is None:
        return {}
    return {name: fn(r) for name, fn in sorted(_reconcilers.items())}
