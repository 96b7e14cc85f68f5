"""Two admins change one card at the same moment, against real gunicorn workers: a freeze and a
report-lost (and two report-losts) fired together. Before the card row was locked, about half
such pairs ended in a 500 (the second write revived the lost card beside its replacement and
the unique index on live cards refused it). Now the second one waits, reads the card again and
is either applied after the first (freeze, then report-lost) or refused with a 409."""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import session
from flask_login import login_user
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Card
from tests import factories

pytestmark = [pytest.mark.services, pytest.mark.concurrency]
UA = "card-race-test"
PAIRS = 12


def session_cookie(app, user) -> str:
    """A signed session for `user`, as signing in sets it (Flask-Login's `login_user`)."""
    with app.test_request_context("/", headers={"User-Agent": UA}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        login_user(user)
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


def fire(server, cookie: str, paths: list[str]) -> list[tuple[int, dict]]:
    """POST every path at once (threads released by one barrier), as one admin in two tabs."""
    barrier = threading.Barrier(len(paths))

    def one(path):
        with requests.Session() as s:
            s.headers.update({"User-Agent": UA})
            s.cookies.set("session", cookie, domain="127.0.0.1")
            barrier.wait()
            response = s.post(server.url + path, json={}, timeout=60)
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(one, paths))


@pytest.fixture
def admin_and_cards(pg_app):
    with unit_of_work():
        tree = factories.org_tree()
        admin = factories.admin(tree["bozhou"], username="race_admin")
        card_ids = [factories.member(tree["gujing"], name=f"会员{i}", phone=None).current_card.id for i in range(PAIRS)]
        cookie = session_cookie(pg_app, admin)
    return cookie, card_ids


@pytest.fixture
def server(postgres_url, redis_url, gunicorn_factory):
    started = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "BENEFITS_ENV": "testing"},
                               workers=4, threads=2 * PAIRS // 4)
    time.sleep(2)   # every worker booted
    return started


def _one_live_card_each(card_ids):
    db.session.expire_all()
    for card_id in card_ids:
        old = db.session.get(Card, card_id)
        live = db.session.scalars(select(Card).where(Card.member_id == old.member_id,
                                                     Card.status.in_(("active", "frozen")))).all()
        assert old.status == "lost" and len(live) == 1 and live[0].replaces_card_id == card_id


def test_freeze_and_report_lost_at_once(pg_app, admin_and_cards, server):
    cookie, card_ids = admin_and_cards
    paths = [p for card_id in card_ids for p in (f"/api/v1/cards/{card_id}/freeze", f"/api/v1/cards/{card_id}/report-lost")]
    results = fire(server, cookie, paths)
    outcome = Counter((path.rsplit("/", 1)[1], status, body.get("error", {}).get("code"))
                      for path, (status, body) in zip(paths, results))
    assert set(outcome) <= {("freeze", 200, None), ("report-lost", 200, None), ("freeze", 409, "card_status")}, outcome
    assert outcome[("report-lost", 200, None)] == PAIRS          # reporting a card lost always goes through
    assert outcome[("freeze", 200, None)] + outcome[("freeze", 409, "card_status")] == PAIRS
    _one_live_card_each(card_ids)
    # every change that was answered 200 is in the audit log, and nothing else
    freezes = db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "card.freeze"))
    assert freezes == outcome[("freeze", 200, None)]
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "card.lost")) == PAIRS


def test_report_lost_twice_at_once_issues_one_new_card(pg_app, admin_and_cards, server):
    cookie, card_ids = admin_and_cards
    paths = [f"/api/v1/cards/{card_id}/report-lost" for card_id in card_ids for _ in range(2)]
    results = fire(server, cookie, paths)
    outcome = Counter((status, body.get("error", {}).get("code")) for status, body in results)
    assert outcome == {(200, None): PAIRS, (409, "card_status"): PAIRS}, outcome
    _one_live_card_each(card_ids)
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "card.reissue")) == PAIRS
