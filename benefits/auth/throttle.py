"""Login throttling per account and per address.

Every attempt is counted atomically *before* the password is checked (no read-then-write race):
with Redis, one Lua script increments both counters in one slot, so the limit holds across all
gunicorn workers and hosts; without Redis, an in-process counter serves the single-machine mode.
"""
from __future__ import annotations

import hashlib
import threading
import time

from flask import current_app

from .. import counters

_HIT = counters.Gate("""
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local b = redis.call('INCR', KEYS[2])
if b == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {a, b}
""")

_local: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()


def _keys(account: str, address: str) -> list[str]:
    digest = hashlib.sha256(account.strip().upper().encode()).hexdigest()[:32]
    return [counters.key("login", "acct", digest), counters.key("login", "addr", address or "-")]


def _local_hit(k: str, window: int) -> int:
    with _lock:
        count, started = _local.get(k, (0, time.monotonic()))
        if time.monotonic() - started > window:
            count, started = 0, time.monotonic()
        _local[k] = (count + 1, started)
        return count + 1


def hit(account: str, address: str) -> bool:
    """Count one attempt; True if it is within both limits."""
    cfg = current_app.config
    window = cfg["LOGIN_WINDOW_SECONDS"]
    keys = _keys(account, address)
    counts = _HIT.call(keys, [window])
    if counts is None:
        counts = [_local_hit(k, window) for k in keys]
    return int(counts[0]) <= cfg["LOGIN_MAX_PER_ACCOUNT"] and int(counts[1]) <= cfg["LOGIN_MAX_PER_ADDRESS"]


def clear_account(account: str) -> None:
    """A successful sign-in forgives the account's earlier failures."""
    k = _keys(account, "")[0]
    r = counters.client()
    if r is not None:
        try:
            r.delete(k)
            return
        except Exception:  # noqa: BLE001 - Redis down: the local counter is all we have
            pass
    with _lock:
        _local.pop(k, None)


def reset_local() -> None:
    with _lock:
        _local.clear()
