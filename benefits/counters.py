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


class Gate:
    """One Lua script, registered lazily per client, called atomically."""

    def __init__(self, source: str):
        self.source = source
        self._scripts: dict[int, object] = {}

    def call(self, keys: list[str], args: list[object]):
        r = client()
        if r is None:
            return None
        script = self._scripts.get(id(r))
        if script is None:
            script = self._scripts[id(r)] = r.register_script(self.source)
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:
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
