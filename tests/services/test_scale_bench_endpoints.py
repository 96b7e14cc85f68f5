"""The benchmark ceilings (mounted only with BENCHMARK_ENDPOINTS) and the bench harness's wrk glue."""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import text

from bench.harness import _TICK, Scenario, _script, cpu_per_request, cpu_snapshot, parse_wrk
from benefits.extensions import db
from tests.conftest import make_app

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:4000/bench/bare
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.12ms    1.02ms  20.00ms   80.00%
  Latency Distribution
     50%  850.00us
     75%    3.50ms
     90%    4.00ms
     99%    1.20s
  5200 requests in 3.00s, 0.80MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:   1733.10
Transfer/sec:      0.80MB
BENCH_NON2XX 7
"""


def test_ceiling_endpoints_only_in_benchmark_configuration(database_url):
    plain = make_app(database_url)
    assert plain.test_client().get("/bench/bare").status_code == 404
    with plain.app_context():
        db.engine.dispose()

    app = make_app(database_url, BENCHMARK_ENDPOINTS=True)
    client = app.test_client()
    bare = client.get("/bench/bare")
    assert bare.status_code == 200 and bare.get_json() == {"ok": True}
    with app.app_context():
        before = db.session.execute(text("SELECT count(*) FROM bench_log")).scalar() \
            if _has_table("bench_log") else 0
    for _ in range(3):
        assert client.post("/bench/write?id=2").status_code == 200
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM bench_log")).scalar() == before + 3
        value = db.session.execute(text("SELECT value FROM bench_counters WHERE id = 2")).scalar()
        db.session.execute(text("UPDATE bench_counters SET value = 2000000000 WHERE id = 2"))
        db.session.commit()
    read = client.get("/bench/read")   # one primary-key SELECT: a row exists, nothing is written
    assert read.status_code == 200 and read.get_json() == {"ok": True}
    capped = client.post("/bench/write?id=2")  # the UPDATE's condition says no: nothing logged
    assert capped.status_code == 409 and capped.get_json() == {"ok": False}
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM bench_log")).scalar() == before + 3
        db.session.execute(text("DROP TABLE bench_log"))
        db.session.execute(text("DROP TABLE bench_counters"))
        db.session.commit()
        db.engine.dispose()
    assert value >= 3


def _has_table(name: str) -> bool:
    from sqlalchemy import inspect
    return inspect(db.engine).has_table(name)


def test_wrk_output_is_parsed_in_milliseconds():
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed == {"requests_per_second": 1733.1, "requests": 5200, "p50_ms": 0.85, "p99_ms": 1200.0,
                      "non_2xx": 7, "socket_errors": 3}


def test_scenario_script_carries_method_body_and_cookie():
    script = _script(Scenario(name="x", method="POST", path="/api/v1/auth/login", body='{"a": "b"}',
                              headers={"Cookie": "session=abc"}))
    assert 'wrk.method = "POST"' in script and 'wrk.body = "{\\"a\\": \\"b\\"}"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert 'wrk.headers["Cookie"] = "session=abc"' in script
    assert "BENCH_NON2XX" in script


def test_cpu_per_request_counts_app_database_and_machine_ticks_between_snapshots():
    before = cpu_snapshot(os.getpid())
    if before is None:
        pytest.skip("no /proc on this system")
    assert os.getpid() in before["app"]
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:   # burn a little CPU in "the app"
        pass
    after = cpu_snapshot(os.getpid())
    per = cpu_per_request(before, after, 10)
    assert per["app"] >= 0.03 * 1e6 / 10 - 1e6 / _TICK / 10   # ≥ 30 ms of the 50 burnt, over 10 requests
    assert per["all"] >= per["app"] * 0.5 and per["db"] >= 0
    assert cpu_per_request(before, after, 0) is None and cpu_per_request(None, after, 5) is None


def test_the_quotes_read_alone_reads_the_till_and_card_and_answers_a_fixed_body(database_url):
    from benefits import clock
    from benefits.database import unit_of_work
    from tests import factories, till_factories as tf
    from tests.conftest import wipe
    app = make_app(database_url, BENCHMARK_ENDPOINTS=True)
    try:
        with app.app_context():
            with unit_of_work():
                tree = factories.org_tree()
                key = tf.terminal_key(tf.merchant(tree["bozhou"]))
                card = factories.member(tree["gujing"]).current_card.number
            client = app.test_client()
            headers = {"Authorization": f"Bearer {key}"}
            assert client.post("/bench/till-read", json={"card_number": card, "amount": "250.00"},
                               headers=headers).get_json() == {"ok": True}
            # the till's own read refuses as a quote would
            assert client.post("/bench/till-read", json={"card_number": "6231000000000000", "amount": "250.00"},
                               headers=headers).status_code == 404
            assert client.post("/bench/till-read", json={"card_number": card, "amount": "250.00"},
                               headers={"Authorization": "Bearer tk_wrong"}).status_code == 401
            db.session.remove()
    finally:
        clock.set_frozen(None)
        wipe(app)
