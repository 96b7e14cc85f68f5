"""The PostgreSQL express confirm (benefits/transactions/express.py): one autocommit statement with
every effect of the portable unit of work — the same answers and the same rows — and a clean
fallback, nothing written, whenever a step says no.

Each scenario runs twice on the same freshly emptied database (ids restart, the clock is
frozen, budget slices are picked deterministically): once as it is, once with the express path
switched off; the answers and every row the confirms touch must be identical, and the first
run must really have gone the express way as often as expected."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Card
from benefits.merchants import service as merchants
from benefits.merchants.models import TerminalKey
from benefits.promotions import service as promotions
from benefits.transactions import express, service
from tests import factories, till_factories as tf
from tests.conftest import make_app, wipe

NOON = datetime(2026, 11, 18, 2, 0, 0, 123456, tzinfo=timezone.utc)   # 10:00 in Shanghai, a Wednesday


@pytest.fixture(params=["no_redis", "redis"])
def pg(request, postgres_url):
    """PostgreSQL, without and with the Redis gate in front."""
    redis_url = None
    if request.param == "redis":
        from tests.conftest import require_service
        redis_url = require_service("TEST_REDIS_URL")
    app = make_app(postgres_url, REDIS_URL=redis_url)
    with app.app_context():
        yield app
        db.session.remove()
    clock.set_frozen(None)
    wipe(app)
    _flush_redis(app)


def _flush_redis(app):
    with app.app_context():
        from benefits import counters
        r = counters.client()
        if r is not None:
            r.flushdb()


@pytest.fixture
def fixed_slice(monkeypatch):
    """Both paths pick budget slice 3: the rows each writes can be compared one for one."""
    import benefits.promotions.service as promo_service
    import benefits.transactions.express as express_module
    fixed = type("R", (), {"randrange": staticmethod(lambda n: 3)})
    monkeypatch.setattr(promo_service, "random", fixed)
    monkeypatch.setattr(express_module, "random", fixed)


@pytest.fixture
def stale_live(monkeypatch):
    """`stale_live.hold()`: from then on every till read hands over the offer counters of the
    next read — as if other tills' confirms committed between this till's read and its write;
    `stale_live.off()`: fresh reads again."""
    real = service.till_for_key_fast
    state: dict = {}

    def wrapped(key, **kwargs):
        till, row = real(key, **kwargs)
        if state.get("hold") and till.live is not None:
            state.setdefault("live", till.live)
            till = dataclasses.replace(till, live=state["live"])
        return till, row

    def hold():
        state.clear()
        state["hold"] = True

    monkeypatch.setattr(service, "till_for_key_fast", wrapped)
    return type("Stale", (), {"hold": staticmethod(hold), "off": staticmethod(state.clear)})


@pytest.fixture
def declines(monkeypatch):
    """The step named by each refused express statement (other declines as their reason)."""
    seen: list[str] = []
    real = express._declined

    def spy(why, *args):
        text_ = str(why)
        seen.append(text_.rpartition("till express refused: ")[2].rstrip('"') if "refused" in text_ else text_)
        return real(why, *args)
    monkeypatch.setattr(express, "_declined", spy)
    return seen


# --- the worlds -----------------------------------------------------------------------------

def _world(rules: list[dict], members: int = 3):
    with unit_of_work():
        tree = factories.org_tree()
        m = tf.merchant(tree["bozhou"])
        key = tf.terminal_key(m)
        for r in rules:
            tf.rule(tree["bozhou"], **r)
        cards = []
        for i in range(members):
            card = factories.member(tree["gujing"], name=f"会员{i}").current_card
            card.number = f"62311118{i:08d}"   # the same in both runs (fingerprints, card tails)
            cards.append(card.number)
    return key, cards


def _confirm(client, key, card, amount="250.00", idem=None, token=None):
    body = {"card_number": card, "amount": amount}
    if token:
        body = {"qr_token": token, "amount": amount}
    headers = {"Authorization": f"Bearer {key}"}
    if idem:
        headers["Idempotency-Key"] = idem
    return client.post("/api/v1/till/transactions", json=body, headers=headers)


_TABLES = {
    "card_transactions": "SELECT * FROM card_transactions ORDER BY created_at, card_id, amount_fen",
    "promotion_usages": "SELECT * FROM promotion_usages ORDER BY created_at, rule_id, member_id",
    "promotion_member_uses": "SELECT * FROM promotion_member_uses ORDER BY rule_id, member_id, period",
    "promotion_budget_slices": "SELECT * FROM promotion_budget_slices ORDER BY rule_id, slice",
    "promotion_rules": "SELECT id, budget_fen, budget_used_fen, global_limit, uses_count, status "
                       "FROM promotion_rules ORDER BY id",
    "idempotency_records": "SELECT scope, key, fingerprint, status_code, response, created_at "
                           "FROM idempotency_records ORDER BY scope, key",
}
_VOLATILE = {"id", "usage_key"}   # sequence values and random keys: compared by how they link up


def _snapshot(app) -> dict:
    db.session.remove()
    found = {}
    for name, sql in _TABLES.items():
        rows = [dict(r._mapping) for r in db.session.execute(text(sql))]
        if name in ("card_transactions", "promotion_usages"):
            for r in rows:
                r["txn_link"] = r.pop("usage_key")
                r.pop("id")
        found[name] = rows
    # every usage row belongs to exactly one transaction row (same usage key)
    links = {t["txn_link"] for t in found["card_transactions"]}
    assert {u["txn_link"] for u in found["promotion_usages"]} <= links
    for t in found["card_transactions"]:
        t["txn_link"] = sorted((u["rule_id"], u["discount_fen"]) for u in found["promotion_usages"]
                               if u["txn_link"] == t["txn_link"])
    for u in found["promotion_usages"]:
        u.pop("txn_link")
    for r in found["idempotency_records"]:
        r["response"] = _answer(r["response"])
    from benefits import counters
    client = counters.client()
    found["redis"] = sorted((k, client.get(k)) for k in client.keys("benefits:{promo:*")) if client else None
    db.session.remove()
    return found


def _answer(body):
    """An answer without the transaction id (sequence values differ when one path fell back)."""
    if isinstance(body, dict) and "id" in body and "refunds" in body:
        return {k: v for k, v in body.items() if k != "id"}
    return body


def _compare(app, monkeypatch, scenario, expect_express: int):
    """Run `scenario(client)` (a list of responses) with the express path and without, on the
    same empty database: the same answers, the same rows, the same gate counters."""
    results = []
    for on in (True, False):
        wipe(app)
        _flush_redis(app)
        clock.set_frozen(NOON)
        before = dict(express.stats)
        with monkeypatch.context() as patch:
            if not on:
                patch.setattr(express, "try_confirm", lambda *a, **k: None)
            responses = scenario(app.test_client())
        answers = [(r.status_code, _answer(r.get_json())) for r in responses]
        results.append((answers, _snapshot(app), express.stats["express"] - before["express"]))
    (answers, rows, taken), (portable_answers, portable_rows, none) = results
    assert none == 0
    for i, (mine, theirs) in enumerate(zip(answers, portable_answers)):
        assert mine == theirs, f"answer {i} differs"
    assert len(answers) == len(portable_answers)
    for table in rows:
        assert rows[table] == portable_rows[table], f"{table} differs"
    assert taken == expect_express, f"express path taken {taken} times, expected {expect_express}"
    return answers, rows


# --- scenarios ------------------------------------------------------------------------------

def test_plain_confirms_are_one_statement_with_every_effect(pg, monkeypatch, fixed_slice):
    # 满200减40 (budget slices) with day and month limits, a 9.5折 that combines (no budget: its
    # slices only count), and one with a global limit (rule row)
    rules = [dict(budget_fen=10_000_000, per_member={"day": 2, "month": 5}),
             dict(name="九五折", kind="percent", pay_bp=9500, combinable=True, priority=1),
             dict(name="限量满100减10", threshold_fen=10000, off_fen=1000, global_limit=50, budget_fen=500_000,
                  combinable=True, priority=2)]

    def scenario(client):
        key, cards = _world(rules)
        out = [_confirm(client, key, cards[i % 3], idem=f"k{i}") for i in range(6)]
        out.append(_confirm(client, key, cards[0], "88.00", idem="small"))       # no 满减: only 9.5折
        out.append(_confirm(client, key, cards[1], "3.00", idem="tiny"))
        return out

    answers, rows = _compare(pg, monkeypatch, scenario, expect_express=7)   # the first finds no slice yet
    assert all(status == 201 for status, _ in answers)
    first = answers[0][1]
    assert [a["name"] for a in first["applied"]] == ["满200减40", "限量满100减10", "九五折"]
    assert first["discount_fen"] == 4000 + 1000 + 1000 and first["pay_fen"] == 25000 - 6000
    assert len(rows["card_transactions"]) == 8 and len(rows["promotion_usages"]) == 6 * 3 + 1 + 1
    assert {(u["period"], u["uses"]) for u in rows["promotion_member_uses"]} == {("d2026-11-18", 2),
                                                                                 ("m2026-11", 2)}


def test_a_per_member_limit_taken_meanwhile_falls_back_to_the_next_best(pg, monkeypatch, fixed_slice, stale_live,
                                                                        declines):
    rules = [dict(budget_fen=1_000_000, per_member={"day": 1}),
             dict(name="满200减20", off_fen=2000, budget_fen=1_000_000)]

    def scenario(client):
        stale_live.off()
        key, cards = _world(rules)
        out = [_confirm(client, key, cards[1], idem=k) for k in ("w1", "w2")]   # both rules' slice 3 allotted
        stale_live.hold()     # from here on, the member's day looks unused to the till read
        out += [_confirm(client, key, cards[0], idem=k) for k in "abc"]
        return out

    answers, rows = _compare(pg, monkeypatch, scenario, expect_express=1)
    assert [a["applied"][0]["name"] for _s, a in answers] == ["满200减40", "满200减20", "满200减40", "满200减20",
                                                             "满200减20"]
    assert declines[-2:] == ["use0_0", "use0_0"]   # the member's day, refused in the statement


def test_a_member_limit_already_used_is_seen_in_the_read_and_goes_express(pg, monkeypatch, fixed_slice):
    rules = [dict(budget_fen=1_000_000, per_member={"day": 1}), dict(name="满200减20", off_fen=2000)]

    def scenario(client):
        key, cards = _world(rules)
        return [_confirm(client, key, cards[0], idem=k) for k in "abcd"]

    answers, _rows = _compare(pg, monkeypatch, scenario, expect_express=3)
    assert [a["discount_fen"] for _s, a in answers] == [4000, 2000, 2000, 2000]


def test_a_global_limit_reached_meanwhile(pg, monkeypatch, fixed_slice, stale_live, declines):
    rules = [dict(global_limit=2, budget_fen=1_000_000), dict(name="满200减20", off_fen=2000)]

    def scenario(client):
        stale_live.off()
        key, cards = _world(rules)
        out = [_confirm(client, key, cards[0], idem="a")]
        stale_live.hold()
        out += [_confirm(client, key, cards[i % 3], idem=f"b{i}") for i in range(4)]
        return out

    answers, rows = _compare(pg, monkeypatch, scenario, expect_express=2)   # then the stale counters fail
    assert [a["discount_fen"] for _s, a in answers] == [4000, 4000, 2000, 2000, 2000]
    assert rows["promotion_rules"][0]["uses_count"] == 2
    # the rule row's use, refused in the statement — or shed first by the Redis gate
    assert declines[-3:] == ["gate" if pg.config["REDIS_URL"] else "take0"] * 3


def test_slices_refilled_and_the_end_of_a_budget_go_the_portable_way(pg, monkeypatch, fixed_slice, declines):
    # 5,000 fen of budget with chunks of at least 1/64: the first confirm refills slice 3 with
    # 4,000; the second gets the 1,000 left (refill again); then the budget is spent
    rules = [dict(budget_fen=5000)]

    def scenario(client):
        key, cards = _world(rules)
        return [_confirm(client, key, cards[i % 3], idem=f"k{i}") for i in range(4)]

    answers, rows = _compare(pg, monkeypatch, scenario, expect_express=2)   # the two after the budget
    assert [a["discount_fen"] for _s, a in answers] == [4000, 1000, 0, 0]
    assert rows["promotion_budget_slices"][0]["used_fen"] == 5000
    assert declines == ["take0", "take0"]   # no slice yet; a slice without enough allotment


def test_a_budget_taken_meanwhile_is_clamped_by_the_portable_path(pg, monkeypatch, fixed_slice, stale_live):
    rules = [dict(budget_fen=100_000)]

    def scenario(client):
        stale_live.off()
        key, cards = _world(rules)
        out = [_confirm(client, key, cards[0], idem="a")]
        with unit_of_work():   # another till spent all but 1,500 meanwhile, slices folded back
            promotions.fold_slices(db.session.scalar(text("SELECT id FROM promotion_rules")))
            db.session.execute(text("UPDATE promotion_rules SET budget_used_fen = budget_fen - 1500"))
        stale_live.hold()
        out += [_confirm(client, key, cards[1], idem="b"), _confirm(client, key, cards[2], idem="c")]
        return out

    answers, _rows = _compare(pg, monkeypatch, scenario, expect_express=0)
    assert [a["discount_fen"] for _s, a in answers] == [4000, 1500, 0]


def test_replays_conflicts_and_refusals_write_nothing_more(pg, monkeypatch, fixed_slice):
    rules = [dict(budget_fen=1_000_000)]

    def scenario(client):
        key, cards = _world(rules)
        out = [_confirm(client, key, cards[0], idem="warm")]                     # refills slice 3
        out.append(_confirm(client, key, cards[0], idem="same"))                # express
        out.append(_confirm(client, key, cards[0], idem="same"))                # replay
        out.append(_confirm(client, key, cards[0], "251.00", idem="same"))      # 409
        out.append(_confirm(client, key, cards[0]))                             # no key: 400
        out.append(_confirm(client, key, cards[0], idem="x" * 101))             # key too long: 400
        out.append(_confirm(client, key, "6231999999999999", idem="unknown"))    # 404
        with unit_of_work():
            db.session.scalar(select(Card).where(Card.number == cards[1])).status = "frozen"
        out.append(_confirm(client, key, cards[1], idem="frozen"))              # 409 card_frozen
        out.append(_confirm(client, key, cards[2], "0.00", idem="zero"))         # 400
        out.append(_confirm(client, key, cards[2], "100000.01", idem="huge"))    # 400
        with unit_of_work():
            merchants.revoke_terminal_key(None, db.session.scalar(select(TerminalKey)))
        out.append(_confirm(client, key, cards[2], idem="revoked"))             # 401
        return out

    answers, rows = _compare(pg, monkeypatch, scenario, expect_express=1)
    assert [s for s, _a in answers] == [201, 201, 201, 409, 400, 400, 404, 409, 400, 400, 401]
    assert answers[2] == answers[1]
    assert [answers[i][1]["error"]["code"] for i in (3, 6, 7, 10)] == [
        "idempotency_key_reused", "unknown_card", "card_frozen", "invalid_terminal_key"]
    assert len(rows["card_transactions"]) == 2 and len(rows["idempotency_records"]) == 2


def test_the_answer_is_the_schema_dump_of_the_row(pg, fixed_slice):
    from benefits.transactions.models import CardTransaction
    from benefits.transactions.schemas import TillTransactionSchema
    clock.set_frozen(NOON)
    key, cards = _world([dict(budget_fen=1_000_000)])
    client = pg.test_client()
    _confirm(client, key, cards[0], idem="warm")
    before = express.stats["express"]
    r = _confirm(client, key, cards[0], idem="k")
    assert r.status_code == 201 and express.stats["express"] == before + 1
    db.session.remove()
    txn = db.session.get(CardTransaction, r.get_json()["id"])
    dumped = TillTransactionSchema().dump(txn)
    assert {**dumped, "hints": r.get_json()["hints"]} == r.get_json()
    # the express answer is the stored answer's text: a retry (the portable path's replay,
    # through jsonify) reads byte for byte the same
    replay = _confirm(client, key, cards[0], idem="k")
    assert replay.status_code == 201 and replay.data == r.data


def test_pay_codes_never_take_the_express_path(pg):
    clock.set_frozen(NOON)
    key, cards = _world([dict(budget_fen=1_000_000)])
    member_id = db.session.scalar(select(Card.member_id).where(Card.number == cards[0]))
    from benefits.members.models import Member
    with unit_of_work():
        token, _exp = service.issue_pay_token(db.session.get(Member, member_id))
    before = dict(express.stats)
    r = _confirm(pg.test_client(), key, None, token=token, idem="qr")
    assert r.status_code == 201 and r.get_json()["channel"] == "qr"
    assert express.stats == before


def test_off_postgresql_the_express_path_declines_and_the_portable_path_answers(app):
    clock.set_frozen(NOON)
    key, cards = _world([dict(budget_fen=1_000_000)])
    args = {"card_number": cards[0], "qr_token": None, "amount": 25000, "store_id": None}
    if db.engine.dialect.name == "sqlite":
        assert express.try_confirm(key, "b", args) is None
    r = _confirm(app.test_client(), key, cards[0], idem="a")
    assert r.status_code == 201 and r.get_json()["discount_fen"] == 4000
