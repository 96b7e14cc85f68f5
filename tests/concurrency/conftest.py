"""Which Redis the concurrency tests' servers use. By default the session's one Redis server
(`redis_url` of tests/conftest.py); a test marked with `tests.redis_cluster.on_redis(...)` runs
once per kind it names, `cluster` being a real three-master Redis Cluster started the first time
a test asks for it and stopped, its folder removed, when the session ends."""
from __future__ import annotations

import pytest

from tests.redis_cluster import LocalCluster


@pytest.fixture(scope="session")
def redis_cluster():
    with LocalCluster(masters=3) as cluster:
        yield cluster


@pytest.fixture
def redis_url(request, redis_url):
    kind = getattr(request, "param", "node")
    if kind == "cluster":
        return request.getfixturevalue("redis_cluster").url
    if kind == "off":
        return None
    assert kind == "node", kind
    return redis_url
