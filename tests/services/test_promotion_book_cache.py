"""The per-process rule book cache never serves a stale rule: a change made by another worker
(another app with its own cache, same database) is seen by this worker's very next quote."""
from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import Merchant, Store
from benefits.promotions import rules
from benefits.promotions.models import PromotionRule
from tests import factories, till_factories as tf
from tests.conftest import make_app

TUESDAY_NOON = datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc)
SPLIT = {"union": 50, "bank": 30, "merchant": 20}


def rule_data(**kw):
    data = {"name": "加油满200减40", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000, "split": SPLIT}
    data.update(kw)
    return data


@pytest.fixture
def shop(app):
    clock.set_frozen(TUESDAY_NOON)
    with unit_of_work():
        tree = factories.org_tree()
        w = SimpleNamespace(tree=tree, admin=factories.admin(tree["bozhou"], "bz"))
        w.fuel = Merchant(org=tree["qiaocheng"], name="中石化谯城站", category="fuel")
        db.session.add(w.fuel)
        db.session.flush()
        w.station = Store(merchant=w.fuel, name="一号站", address="谯城区")
        db.session.add(w.station)
        w.member = factories.member(tree["gujing"], name="李娜")
        w.rule = rules.create_rule(w.admin, tree["bozhou"], rule_data())
    w.ids = SimpleNamespace(admin=w.admin.id, bozhou=tree["bozhou"].id, rule=w.rule.id, fuel=w.fuel.id)
    return w


@pytest.fixture
def other_worker(app):
    """A second app on the same database: its own process-wide caches, like another gunicorn worker."""
    second = make_app(app.config["SQLALCHEMY_DATABASE_URI"])

    @contextlib.contextmanager
    def run():
        with second.app_context():
            try:
                with unit_of_work():
                    yield
            finally:
                db.session.remove()
    yield run
    with second.app_context():
        db.engine.dispose()


def quote(w, amount=25000):
    return tf.quote(member=w.member, card=w.member.current_card, merchant=w.fuel, store=w.station,
                         amount_fen=amount)


def other_edit(w, other_worker, **kw):
    from benefits.auth.models import User
    from benefits.orgs.models import Organisation
    with other_worker():
        rule = db.session.get(PromotionRule, w.ids.rule)
        rules.edit_rule(db.session.get(User, w.ids.admin), db.session.get(Organisation, w.ids.bozhou), rule,
                          rule_data(**kw))


def test_an_edit_by_another_worker_is_seen_by_the_next_quote(shop, other_worker):
    first = quote(shop)
    assert first.discount_fen == 4000            # this worker has now compiled and cached the book
    other_edit(shop, other_worker, name="加油满200减50", off_fen=5000)
    db.session.commit()                           # end this worker's read transaction, as a request would
    second = quote(shop)
    assert (second.discount_fen, second.applied[0].name) == (5000, "加油满200减50")
    assert second.applied[0].version_id != first.applied[0].version_id


def test_an_edit_of_scope_by_another_worker_takes_the_offer_away_at_once(shop, other_worker):
    assert quote(shop).discount_fen == 4000
    with other_worker():
        other = Merchant(org_id=shop.tree["qiaocheng"].id, name="别家加油站", category="fuel")
        db.session.add(other)
        db.session.flush()
        other_id = other.id
    other_edit(shop, other_worker, scope="merchants", merchant_ids=[other_id])
    db.session.commit()
    assert quote(shop).discount_fen == 0


def test_pause_resume_and_new_rules_by_another_worker_are_seen_at_once(shop, other_worker):
    assert quote(shop).discount_fen == 4000
    with other_worker():
        rules.set_status(None, db.session.get(PromotionRule, shop.ids.rule), "paused")
    db.session.commit()
    assert quote(shop).discount_fen == 0
    with other_worker():
        rules.set_status(None, db.session.get(PromotionRule, shop.ids.rule), "active")
    db.session.commit()
    assert quote(shop).discount_fen == 4000
    from benefits.orgs.models import Organisation
    with other_worker():
        rules.create_rule(None, db.session.get(Organisation, shop.ids.bozhou),
                            rule_data(name="加油满200减60", off_fen=6000))
    db.session.commit()
    best = quote(shop)
    assert (best.discount_fen, best.applied[0].name) == (6000, "加油满200减60")


def test_the_till_api_sees_another_workers_edit_on_the_next_request(app, client, shop, other_worker):
    from benefits.merchants import service as merchants
    with unit_of_work():
        _row, key = merchants.issue_terminal_key(None, shop.station, "test")
    headers = {"Authorization": f"Bearer {key}"}
    body = {"card_number": shop.member.current_card.number, "amount": "250.00"}
    assert client.post("/api/v1/till/quote", json=body, headers=headers).get_json()["discount_fen"] == 4000
    other_edit(shop, other_worker, off_fen=3000)
    db.session.commit()
    answer = client.post("/api/v1/till/quote", json=body, headers=headers).get_json()
    assert (answer["discount_fen"], answer["pay_fen"]) == (3000, 22000)
