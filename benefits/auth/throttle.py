"""Sign-in throttling: failures, never successes, count against an account and an address.

Why this shape:
- Behind a proxy (or a union office's one router) many honest people share an address, so only
  *failures* count against it; a room of members signing in together is never refused.
- A national ID number is not a secret, so the account limit must not hand anyone a way to lock
  a member out: past `LOGIN_MAX_PER_ACCOUNT` failures the account is not locked but *delayed*,
  each further failure doubling the wait (`LOGIN_DELAY_SECONDS` up to `LOGIN_DELAY_MAX_SECONDS`).
- The owner still signs in from where they usually do: a browser holding the signed known-device
  cookie for the account (devices.py) is judged by its *own* failures instead of the account's,
  and skips the address limit (its failures still count against the address).

Each attempt is counted as a failure atomically *before* the password is checked, so a burst of
parallel guesses cannot slip past the limit (no read-then-write race); a sign-in that succeeds
gives the count back (`release`). With Redis one Lua script does this for all gunicorn workers
and hosts; without Redis (or with it down) an in-process table serves the single-machine mode.
Time comes from `clock.now()` in both, so tests move it instead of sleeping.
"""
from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass

from flask import current_app

from .. import clock, counters

# KEYS[1]: the subject (an account, or an account on a known device), a hash {n, until}
# KEYS[2]: the client address, a hash {n, start} for a fixed window
# ARGV: now_ms, check_address (0/1), max_subject, max_address, window_ms, delay_ms, delay_cap_ms,
#       memory_ms
# Returns the milliseconds to wait (0: go ahead, the attempt is counted as a failure).
_RESERVE = counters.Gate("""
local now = tonumber(ARGV[1])
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if until_ms > now then return until_ms - now end
local window = tonumber(ARGV[5])
local start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
local failures = 0
if now - start < window then
  failures = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
else
  start = now
  redis.call('HSET', KEYS[2], 'start', start, 'n', 0)
  redis.call('PEXPIRE', KEYS[2], window)
end
if ARGV[2] == '1' and failures >= tonumber(ARGV[4]) then return start + window - now end
redis.call('HINCRBY', KEYS[2], 'n', 1)
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local over = n - tonumber(ARGV[3])
local wait = 0
if over >= 0 then
  wait = math.min(tonumber(ARGV[6]) * 2 ^ math.min(over, 30), tonumber(ARGV[7]))
  redis.call('HSET', KEYS[1], 'until', now + wait)
end
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[8]), wait))
return 0
""")

# The sign-in succeeded: forgive the subject, give the address its count back (in the same window).
_RELEASE = counters.Gate("""
redis.call('DEL', KEYS[1])
local start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
if tonumber(ARGV[1]) - start < tonumber(ARGV[2]) and tonumber(redis.call('HGET', KEYS[2], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'n', -1)
end
return 1
""")


@dataclass(frozen=True)
class KnownDevice:
    """A browser where some accounts signed in before (read from its signed cookie)."""
    id: str
    accounts: tuple[str, ...]  # account_digest() of each

    def knows(self, account: str) -> bool:
        return account_digest(account) in self.accounts


class Refused(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after  # whole seconds, at least 1


def account_digest(account: str) -> str:
    """Accounts appear in keys and cookies only hashed (a member's account is an ID number)."""
    return hashlib.sha256(account.strip().upper().encode()).hexdigest()[:32]


def _keys(account: str, address: str, device: KnownDevice | None) -> list[str]:
    # One script counts against the account and the address at once, so both keys carry the one
    # tag `login` and share a Redis Cluster slot: all throttling lives on one node of a cluster
    # (a few keys per failed sign-in, far below what one node serves).
    digest = account_digest(account)
    subject = (counters.key("login", "dev", device.id, digest) if device is not None and device.knows(account)
               else counters.key("login", "acct", digest))
    return [subject, counters.key("login", "addr", address or "-")]


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def reserve(account: str, address: str, device: KnownDevice | None = None) -> None:
    """Count this attempt as a failure before the password is checked; raise Refused when the
    account (or this known device) must still wait, or the address has failed too often."""
    cfg = current_app.config
    keys = _keys(account, address, device)
    known = device is not None and device.knows(account)
    args = [_now_ms(), 0 if known else 1, cfg["LOGIN_MAX_PER_ACCOUNT"], cfg["LOGIN_MAX_PER_ADDRESS"],
            cfg["LOGIN_WINDOW_SECONDS"] * 1000, cfg["LOGIN_DELAY_SECONDS"] * 1000,
            cfg["LOGIN_DELAY_MAX_SECONDS"] * 1000, cfg["LOGIN_ACCOUNT_MEMORY_SECONDS"] * 1000]
    wait_ms = _RESERVE.call(keys, args)
    if wait_ms is None:
        wait_ms = _local_reserve(keys, args)
    if int(wait_ms) > 0:
        raise Refused(max(1, math.ceil(int(wait_ms) / 1000)))


def release(account: str, address: str, device: KnownDevice | None = None) -> None:
    """The attempt succeeded: it was no failure after all."""
    keys = _keys(account, address, device)
    args = [_now_ms(), current_app.config["LOGIN_WINDOW_SECONDS"] * 1000]
    if _RELEASE.call(keys, args) is None:
        _local_release(keys, args)


# In-process mode (no Redis, or Redis down): the same rules over a table in this process.

_local: dict[str, dict[str, int]] = {}
_lock = threading.Lock()
_PRUNE_ABOVE = 10_000


def _local_reserve(keys: list[str], args: list[int]) -> int:
    now, check_address, max_subject, max_address, window, delay, delay_cap, memory = args
    with _lock:
        if len(_local) > _PRUNE_ABOVE:
            for k in [k for k, v in _local.items() if v["expires"] <= now]:
                del _local[k]
        subject = _live(keys[0], now)
        if subject.get("until", 0) > now:
            return subject["until"] - now
        addr = _live(keys[1], now)
        if now - addr.get("start", 0) >= window:
            addr = _local[keys[1]] = {"start": now, "n": 0, "expires": now + window}
        if check_address and addr["n"] >= max_address:
            return addr["start"] + window - now
        addr["n"] += 1
        n = subject["n"] = subject.get("n", 0) + 1
        wait = min(delay * 2 ** min(n - max_subject, 30), delay_cap) if n >= max_subject else 0
        if wait:
            subject["until"] = now + wait
        subject["expires"] = now + max(memory, wait)
        _local[keys[0]] = subject
        return 0


def _local_release(keys: list[str], args: list[int]) -> None:
    now, window = args
    with _lock:
        _local.pop(keys[0], None)
        addr = _live(keys[1], now)
        if addr and now - addr["start"] < window and addr["n"] > 0:
            addr["n"] -= 1


def _live(key: str, now: int) -> dict[str, int]:
    entry = _local.get(key)
    if entry is None or entry["expires"] <= now:
        _local.pop(key, None)
        return {}
    return entry


def reset_local() -> None:
    with _lock:
        _local.clear()
