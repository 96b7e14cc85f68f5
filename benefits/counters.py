"""The Redis gate: atomic Lua scripts that shed a crowd before the database is touched.

SQL stays the system of record. Every reservation made here is either confirmed by a committed
SQL transaction or released; `flask counters reconcile` rebuilds every gate from SQL. When Redis
is not configured or unreachable, `Gate.call` returns None and callers go straight to SQL.

Redis is one server or a Redis Cluster, chosen by `REDIS_URL` alone: `connect` is the one place
a URL becomes a client. Every key is spelled by `key()` (hot paths append to `prefix()`):
`benefits:{tag}:part:part`. The braces are a Redis Cluster hash tag: only the tag decides a key's
slot, so all the keys one script (or one MULTI) touches carry the same tag and live in one slot.
A tag names the one thing a script guards (`prize:7`, `promo:12`, `login`); per-member counters
are parts under that tag, never a tag of their own.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.connection import parse_url
from redis.exceptions import RedisClusterException, RedisClusterUnreachableError, SlotNotCoveredError
from redis.retry import Retry
from flask import current_app

from .database import after_commit, unit_of_work

log = logging.getLogger(__name__)

NAMESPACE = "benefits"
# `redis+cluster://` names a Redis Cluster; the rest of the URL is read as redis-py reads the
# scheme on the right.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
# What Redis being away raises (down, unreachable, a cluster with no node for a slot): the gates
# then let SQL decide. A cluster's other errors (one script's keys in two slots) are bugs, raised.
UNAVAILABLE = (redis.RedisError, OSError, RedisClusterUnreachableError, SlotNotCoveredError)
# A cluster that could not be reached is not asked again for this long; SQL decides meanwhile.
CLUSTER_RETRY_SECONDS = 2.0
# No retries: a gate that cannot answer at once is skipped (SQL decides), so an unreachable Redis
# costs a request one short timeout, not redis-py's seconds of backoff. (A single-connection
# client would save the pool checkout, ~50 µs per script call, but it connects when created, so
# an app could not start while Redis is down.)
_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}

Client = redis.Redis | RedisCluster
_reconcilers: dict[str, Callable[[Client], dict]] = {}


def prefix(tag: str) -> str:
    """`benefits:{tag}:`, how every key under `tag` starts."""
    return NAMESPACE + ":{" + tag + "}:"


def key(tag: str, *parts: object) -> str:
    """The one spelling of a key. A glob in `tag` or `parts` (`prize:*`) makes a SCAN pattern."""
    return prefix(tag) + ":".join(str(p) for p in parts)


def is_cluster(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def connect(url: str, **options) -> Client:
    """The client a Redis URL names (`options` override the gates' short timeouts).

    - `redis://[user:password@]host:port/db`, `rediss://…`, `unix:///path?db=n`: one server,
      read by redis-py's `Redis.from_url`;
    - `redis+cluster://[user:password@]host:port[,host:port…][?option=value…]`, with TLS
      `rediss+cluster://…`: a Redis Cluster. Any listed node is enough to find the others (list
      several, so that starting does not depend on one); database 0 only, as in any cluster;
      the query takes redis-py's URL options (`ssl_ca_certs`, …). A cluster client reads the
      slot map when created, so this connects at once (`init_app` defers it to first use)."""
    if is_cluster(url):
        nodes, settings = cluster_settings(url)
        return RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 0), **{**settings, **options})
    return redis.Redis.from_url(url, **{"retry": Retry(NoBackoff(), 0), "health_check_interval": 30,
                                        **_TIMEOUTS, **options})


def cluster_settings(url: str) -> tuple[list[ClusterNode], dict]:
    """(seed nodes, connection options) of a cluster URL; a ValueError says what is wrong."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for host in hosts.split(","):
        try:
            where = urlsplit("//" + host)
            if not where.hostname:
                raise ValueError("no host")
            nodes.append(ClusterNode(where.hostname, where.port or 6379))
        except ValueError as exc:
            raise ValueError(f"REDIS_URL: {host!r} is not host:port ({exc}); a cluster is "
                             "redis+cluster://host:port[,host:port…]") from None
    # Credentials, TLS and query options as redis-py reads them for one node of the cluster.
    one_node = urlunsplit((CLUSTER_SCHEMES[parts.scheme], (userinfo + "@" if userinfo else "") + hosts.split(",")[0],
                           parts.path, parts.query, ""))
    settings = {k: v for k, v in parse_url(one_node).items() if k not in ("host", "port")}
    if settings.pop("db", 0) != 0:
        raise ValueError("REDIS_URL: a Redis Cluster has database 0 only")
    return nodes, {**_TIMEOUTS, **settings}


class _ClusterLink:
    """A cluster client made on first use, not at start-up: RedisCluster reads the slot map when
    created, and an app must start (and serve through SQL) while its cluster is down. After a
    failed try, `get()` answers None for CLUSTER_RETRY_SECONDS without asking again."""

    def __init__(self, url: str):
        self.url = url
        cluster_settings(url)  # a malformed URL stops the app now, not at the first request
        self._client: RedisCluster | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def get(self) -> RedisCluster | None:
        if self._client is not None or time.monotonic() < self._next_try:
            return self._client
        if not self._lock.acquire(blocking=False):
            return None  # another thread is connecting: this request does not wait for it
        try:
            if self._client is None:
                self._client = connect(self.url)
        except (*UNAVAILABLE, RedisClusterException) as exc:
            self._next_try = time.monotonic() + CLUSTER_RETRY_SECONDS
            log.warning("redis gate unavailable, SQL decides alone: %s", exc)
        finally:
            self._lock.release()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def client() -> Client | None:
    """The shared client, or None when REDIS_URL is not set (or its cluster cannot be reached)."""
    r = current_app.extensions.get("benefits_redis")
    return r.get() if isinstance(r, _ClusterLink) else r


def init_app(app) -> None:
    url = app.config.get("REDIS_URL")
    if not url:
        app.extensions["benefits_redis"] = None
    elif is_cluster(url):
        app.extensions["benefits_redis"] = _ClusterLink(url)
    else:
        app.extensions["benefits_redis"] = connect(url)


class Gate:
    """One Lua script, run atomically through redis-py's `Script` (EVALSHA, loaded again when
    Redis lost its scripts). On a cluster every key it is given must share one hash tag."""

    def __init__(self, source: str):
        self.source = source
        self._bound: tuple[Client, Script] | None = None

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
        except UNAVAILABLE as exc:
            log.warning("redis gate unavailable, SQL decides alone: %s", exc)
            return None


def register_reconciler(name: str, fn: Callable[[Client], dict]) -> None:
    """Domains register a function that rebuilds their Redis counters from SQL."""
    _reconcilers[name] = fn


def reconcile_all() -> dict[str, dict]:
    """Every domain's counters rebuilt from SQL; {} without Redis. A configured cluster that
    cannot be reached raises, as an unreachable single server does."""
    r = client()
    if r is None:
        link = current_app.extensions.get("benefits_redis")
        if isinstance(link, _ClusterLink):
            raise redis.ConnectionError("the Redis Cluster named by REDIS_URL cannot be reached")
        return {}
    return {name: fn(r) for name, fn in sorted(_reconcilers.items())}


def rebuild_after_commit(tag: str, label: str, rebuild: Callable[[], None], *, cold: bool = False) -> None:
    """Run a gate's `rebuild` (read SQL, write the gate's keys) in a short transaction of its own
    once the current unit of work has committed (an admin change; a request that found the keys
    missing), so it sees the committed rows. `cold`: in a crowd on missing keys one request
    rebuilds them and the others skip. Redis away: a warning, and SQL decides meanwhile."""
    r = client()
    if r is None:
        return

    def run() -> None:
        try:
            if cold and not r.set(key(tag, "syncing"), "1", nx=True, ex=5):
                return
        except UNAVAILABLE as exc:
            log.warning("%s: could not sync Redis: %s", label, exc)
            return
        with unit_of_work():
            rebuild()
    after_commit(run)
