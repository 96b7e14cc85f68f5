"""What the till's concurrency tests share: a station with one budgeted offer and many members,
gunicorn workers to serve it, and a crowd of confirmations fired at once."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from benefits.database import unit_of_work
from tests import factories, till_factories as tf


def station(budget_fen: int, *, members: int = 40) -> tuple[str, list[str], int]:
    """A petrol station with a 满200减40 rule of `budget_fen` and `members` members: (terminal
    key, card numbers, rule id)."""
    with unit_of_work():
        tree = factories.org_tree()
        merchant = tf.merchant(tree["bozhou"])
        rule = tf.rule(tree["bozhou"], budget_fen=budget_fen)
        key = tf.terminal_key(merchant)
        cards = [factories.member(tree["gujing"], name=f"会员{i}").current_card.number for i in range(members)]
        return key, cards, rule.id


def serve(gunicorn_factory, postgres_url, redis_url):
    return gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}, workers=4, threads=4)


def fire(url: str, key: str, bodies: list[dict], idem: str | None = None) -> list[requests.Response]:
    """One confirmation per body, all released at once; each with its own Idempotency-Key unless
    `idem` gives them all the same one."""
    start = threading.Barrier(len(bodies))

    def one(body):
        session = requests.Session()
        start.wait()
        return session.post(url + "/api/v1/till/transactions", json=body, timeout=60,
                            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem or uuid.uuid4().hex})

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, bodies))
