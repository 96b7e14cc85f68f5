"""Sign-in throttling as people meet it: behind one proxy, under attack, with and without Redis.

Every test here runs twice: with the Redis gate and with the in-process fallback (REDIS_URL=off).
Time is moved with the clock, never slept away.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import redis

from benefits import clock
from benefits.auth import throttle
from benefits.database import unit_of_work
from benefits.extensions import db
from tests import factories, prize_factories
from tests.api.conftest import error_code
from tests.conftest import make_app

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)
WRONG = "wrong-password"


@pytest.fixture(params=["redis", "in-process"])
def gate(request, app, redis_url):
    """The app's throttle state lives in Redis (all workers and hosts) or in this process."""
    clock.set_frozen(T0)
    if request.param == "in-process":
        yield None
        return
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    app.extensions["benefits_redis"] = r
    try:
        yield r
    finally:
        app.extensions["benefits_redis"] = None
        r.flushdb()
        r.close()


def login(client, username, password=factories.PASSWORD, address="10.0.0.1", **headers):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def page_login(client, username, password=factories.PASSWORD, address="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def later(seconds: float) -> None:
    clock.set_frozen(clock.now() + timedelta(seconds=seconds))


def test_forty_members_behind_one_proxy_all_sign_in(app, world, gate):
    """A room taking a quiz together: one address (the proxy's), 40 sign-ins in a row. Only
    failures count, so the 31st is not refused as it was when every attempt counted; a few
    mistyped passwords among them do not change that."""
    with unit_of_work():
        crowd = [prize_factories.member_user(world.tree["gujing"], name=f"会员{i}") for i in range(40)]
    answers = []
    for i, user in enumerate(crowd):
        client = app.test_client()
        if i % 8 == 0:  # five people mistype once first
            assert login(client, user.username, WRONG).status_code == 401
        answers.append(login(client, user.username).status_code if i % 2 else
                       page_login(client, user.username).status_code)
    assert answers == [302 if i % 2 == 0 else 200 for i in range(40)]
    if gate is not None:  # the Redis gate answered, not the in-process table
        assert gate.keys("benefits:{login}:addr:*")


def test_failures_from_one_address_are_throttled_and_the_refusal_says_when(app, world, gate):
    app.config["LOGIN_MAX_PER_ADDRESS"] = 6
    client = app.test_client()
    for i in range(6):  # spraying many accounts: the account limit never trips, the address one does
        assert login(client, f"guess-{i}", WRONG, address="203.0.113.9").status_code == 401
    refused = login(client, world.li.username, address="203.0.113.9")  # even a right password
    assert refused.status_code == 429 and error_code(refused) == "too_many_requests"
    assert refused.headers["Retry-After"] == "900"
    body = refused.get_json()["error"]
    assert "请在 15 分钟后再试" in body["message"] and body["details"]["retry_after_seconds"] == 900
    page = page_login(app.test_client(), "bozhou_admin", address="203.0.113.9")
    assert page.status_code == 429 and page.headers["Retry-After"] == "900"
    assert "请在 15 分钟后再试" in page.get_data(as_text=True)
    assert login(app.test_client(), world.li.username, address="203.0.113.10").status_code == 200
    later(600)
    wait = login(client, world.li.username, address="203.0.113.9")
    assert wait.status_code == 429 and wait.headers["Retry-After"] == "300" and "5 分钟" in wait.get_json()["error"]["message"]
    later(300)
    assert login(client, world.li.username, address="203.0.113.9").status_code == 200


def test_account_failures_bring_growing_delays_not_a_lock(app, world, gate):
    """Five wrong passwords, then each further failure doubles the wait (60 s, 120 s, 240 s …
    up to the cap); after waiting, the right password works again."""
    app.config.update(LOGIN_DELAY_SECONDS=60, LOGIN_DELAY_MAX_SECONDS=240)
    attacker = app.test_client()
    addresses = iter(f"198.51.100.{i}" for i in range(1, 100))  # a botnet: the address limit never trips
    for _ in range(5):
        assert login(attacker, "bozhou_admin", WRONG, next(addresses)).status_code == 401
    for wait in (60, 120, 240, 240):
        refused = login(attacker, "bozhou_admin", WRONG, next(addresses))
        assert refused.status_code == 429 and refused.headers["Retry-After"] == str(wait)
        minutes = wait // 60
        assert f"请在 {minutes} 分钟后再试" in refused.get_json()["error"]["message"]
        later(wait - 1)
        assert login(attacker, "bozhou_admin", WRONG, next(addresses)).status_code == 429
        later(1)
        assert login(attacker, "bozhou_admin", WRONG, next(addresses)).status_code == 401
    later(240)
    assert login(app.test_client(), "bozhou_admin", address=next(addresses)).status_code == 200
    # a success forgives the account: five more tries before any delay
    for _ in range(5):
        assert login(attacker, "bozhou_admin", WRONG, next(addresses)).status_code == 401


def test_owner_on_a_known_device_signs_in_while_an_attacker_is_delayed(app, world, gate):
    owner = app.test_client()
    assert page_login(owner, world.li.username, address="10.8.0.5").status_code == 302
    assert owner.get_cookie("known_device").http_only
    owner.post("/logout")
    attacker = app.test_client()
    assert login(attacker, world.wang.username, address="192.0.2.1").status_code == 200  # knows his own account
    for _ in range(5):
        assert login(attacker, world.li.username, WRONG, "192.0.2.1").status_code == 401
    assert login(attacker, world.li.username, address="192.0.2.1").status_code == 429
    assert login(app.test_client(), world.li.username, address="10.8.0.5").status_code == 429  # a new browser waits
    # The owner's browser is judged by its own failures: a typo or two and still in.
    assert login(owner, world.li.username, WRONG, "10.8.0.5").status_code == 401
    assert page_login(owner, world.li.username, address="10.8.0.5").status_code == 302
    assert login(owner, world.li.username, address="10.8.9.9").status_code == 200  # on the move, too
    # ... and its own failures bring its own delay, which the attacker cannot lift.
    for _ in range(5):
        assert login(owner, world.li.username, WRONG, "10.8.0.5").status_code == 401
    assert login(owner, world.li.username, address="10.8.0.5").status_code == 429
    assert login(attacker, world.li.username, address="192.0.2.1").status_code == 429
    # A forged or tampered cookie is no known device.
    forged = app.test_client()
    forged.set_cookie("known_device", owner.get_cookie("known_device").value[:-2] + "xx")
    assert login(forged, world.li.username, address="10.8.0.5").status_code == 429


def test_a_burst_of_parallel_guesses_gets_exactly_the_allowed_tries(app, gate):
    """Each attempt is counted before its password is checked, atomically: 64 guesses at once
    from 64 addresses get exactly LOGIN_MAX_PER_ACCOUNT tries, not one per thread."""
    def attempt(i: int) -> bool:
        with app.app_context():
            try:
                throttle.reserve("bozhou_admin", f"198.18.0.{i}")
                return True
            except throttle.Refused:
                return False
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(attempt, range(64))).count(True) == 5


def test_known_device_still_counts_against_its_address(app, world, gate):
    """A known device skips the address limit for its own account, but its failures are still
    evidence against the address (a stolen cookie cannot be used to spray others)."""
    app.config["LOGIN_MAX_PER_ADDRESS"] = 3
    owner = app.test_client()
    assert login(owner, world.li.username, address="10.9.0.1").status_code == 200
    for _ in range(3):
        assert login(owner, world.li.username, WRONG, "10.9.0.1").status_code == 401
    assert login(owner, "bozhou_admin", address="10.9.0.1").status_code == 429  # another account: address limit
    assert login(owner, world.li.username, address="10.9.0.1").status_code == 200  # its own account: still in


def test_activation_failures_are_throttled_and_successes_are_not(app, world, gate):
    with unit_of_work():
        newcomers = [factories.member(world.tree["gujing"], name=f"新会员{i}") for i in range(8)]
    app.config["LOGIN_MAX_PER_ADDRESS"] = 3
    for m in newcomers[:6]:  # six activations from one office: none counts
        ok = app.test_client().post("/api/v1/auth/activate", json={
            "id_number": m.id_number, "card_number": m.current_card.number, "password": "long-enough"},
            environ_base={"REMOTE_ADDR": "10.1.0.1"})
        assert ok.status_code == 201
    guesser = app.test_client()
    for _ in range(3):
        wrong = guesser.post("/api/v1/auth/activate", json={
            "id_number": newcomers[6].id_number, "card_number": "6231999999999999", "password": "long-enough"},
            environ_base={"REMOTE_ADDR": "10.1.0.2"})
        assert wrong.status_code == 401
    refused = guesser.post("/api/v1/auth/activate", json={
        "id_number": newcomers[7].id_number, "card_number": newcomers[7].current_card.number, "password": "long-enough"},
        environ_base={"REMOTE_ADDR": "10.1.0.2"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"


def test_redis_down_falls_back_to_the_in_process_table(database_url, world):
    down = make_app(database_url, REDIS_URL="redis://127.0.0.1:1/6")
    try:
        with down.app_context():
            client = down.test_client()
            for _ in range(5):
                assert login(client, "bozhou_admin", WRONG).status_code == 401
            refused = login(client, "bozhou_admin")
            assert refused.status_code == 429 and "请在 1 分钟后再试" in refused.get_json()["error"]["message"]
            db.session.remove()
    finally:
        with down.app_context():
            db.engine.dispose()


@pytest.fixture
def proxied(database_url, world):
    """The app as production runs it behind nginx: TRUSTED_PROXIES=1."""
    app = make_app(database_url, TRUSTED_PROXIES=1, LOGIN_MAX_PER_ADDRESS=3)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_behind_a_trusted_proxy_the_client_address_counts(proxied):
    client = proxied.test_client()
    for _ in range(3):  # from 198.51.100.7, through the proxy at 10.0.0.1
        assert login(client, "nobody", WRONG, "10.0.0.1", **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
    refused = login(client, "bozhou_admin", address="10.0.0.1", **{"X-Forwarded-For": "198.51.100.7"})
    assert refused.status_code == 429
    # A forged hop on the left changes nothing: the proxy appended the address it saw.
    forged = login(client, "bozhou_admin", address="10.0.0.1", **{"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})
    assert forged.status_code == 429
    # Everyone else behind the same proxy signs in.
    other = login(proxied.test_client(), "bozhou_admin", address="10.0.0.1", **{"X-Forwarded-For": "198.51.100.8"})
    assert other.status_code == 200


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, world):
    """TRUSTED_PROXIES=0 (the default): a client cannot dodge the address limit by naming
    another address in X-Forwarded-For."""
    app.config["LOGIN_MAX_PER_ADDRESS"] = 3
    client = app.test_client()
    for i in range(3):
        assert login(client, "nobody", WRONG, "203.0.113.50", **{"X-Forwarded-For": f"192.0.2.{i}"}).status_code == 401
    dodge = login(client, "bozhou_admin", address="203.0.113.50", **{"X-Forwarded-For": "192.0.2.200"})
    assert dodge.status_code == 429
