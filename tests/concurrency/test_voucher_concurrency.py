"""Vouchers under real concurrency: till confirmations fired all at once at real gunicorn workers
draw on the same balance vouchers (compare-and-set debit, read again on a race), two real
processes issue one programme's batches at once (the programme row's lock per chunk), and one
Idempotency-Key sent ten times at once debits a voucher once."""
from __future__ import annotations

import multiprocessing as mp
import re
import traceback
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benefits import clock, create_app
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Card, Member
from benefits.orgs.models import Organisation
from benefits.transactions.models import CardTransaction
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher, VoucherBatch, VoucherProgramme, VoucherUse
from config import TestingConfig
from tests import factories, voucher_factories as vf
from tests.concurrency.till_crowd import fire, serve, station

pytestmark = [pytest.mark.concurrency, pytest.mark.services]

CHINESE = re.compile(r"[\u4e00-\u9fff]")
FACE, TOPUP = 8000, 2000          # 80.00 face value + 20.00 from the merchant = 100.00 to spend
VALUE = FACE + TOPUP
PRICE = 3500                      # 35.00: under the station's 满200减40, so no discount


def _voucher_programme(org, **terms) -> VoucherProgramme:
    """Balance vouchers of 100.00 (80.00 face, funded 60/40 by union and bank, + 20.00 top-up),
    valid around today as the gunicorn workers' clock sees it."""
    today = clock.business_day()
    data = {"face_fen": FACE, "topup_bp": None, "topup_fen": TOPUP, "split": {"union": 60, "bank": 40},
            "valid_from": today - timedelta(days=1), "valid_until": today + timedelta(days=30)}
    data.update(terms)
    return vf.programme(org, name="工会消费券", **data)


def _voucher_station(members: int) -> tuple[str, list[str], list[int]]:
    """The till crowd's station (a petrol station with 满200减40, `members` members) whose
    members each hold one 100.00 balance voucher: (terminal key, card numbers, voucher ids in
    the cards' order)."""
    key, cards, _rule_id = station(10_000_000, members=members)
    with unit_of_work():
        bozhou = db.session.scalar(select(Organisation).where(Organisation.code == "3416"))
        issued = vf.issue(_voucher_programme(bozhou), categories=("ordinary",))
        assert issued.issued == members
        by_card = dict(db.session.execute(select(Card.number, Voucher.id)
                                          .join(Voucher, Voucher.member_id == Card.member_id)).all())
    return key, cards, [by_card[c] for c in cards]


def _assert_refusal(response) -> None:
    """A 409 in the API's one error envelope, with a sentence the cashier can read out."""
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert CHINESE.search(body["error"]["message"]), body


def _assert_vouchers_add_up() -> dict[int, tuple[int, int]]:
    """Every voucher's balance is within its value and is what its uses left of it; the card
    transactions' voucher part is exactly their uses. Returns {voucher id: (balance, Σ uses)}."""
    db.session.expire_all()
    u = VoucherUse
    used = {vid: (amount, face, union, bank, topup) for vid, amount, face, union, bank, topup in db.session.execute(
        select(u.voucher_id, func.sum(u.amount_fen), func.sum(u.face_fen), func.sum(u.union_fen),
               func.sum(u.bank_fen), func.sum(u.topup_fen)).group_by(u.voucher_id))}
    out = {}
    for v in db.session.scalars(select(Voucher)):
        amount, face, union, bank, topup = used.get(v.id, (0, 0, 0, 0, 0))
        assert 0 <= v.balance_fen <= v.value_fen and 0 <= v.face_left_fen <= v.balance_fen, v.id
        assert amount == v.value_fen - v.balance_fen and face == v.face_fen - v.face_left_fen, v.id
        assert union + bank == face and face + topup == amount, v.id
        assert (v.status == "spent") == (v.balance_fen == 0), v.id
        out[v.id] = (v.balance_fen, amount)
    t = CardTransaction
    assert db.session.scalar(select(func.coalesce(func.sum(t.voucher_fen), 0))) == \
        db.session.scalar(select(func.coalesce(func.sum(u.amount_fen), 0)))
    # …and transaction by transaction, with the funders' parts
    per_use = {k: (a, un, b, tp) for k, a, un, b, tp in db.session.execute(
        select(u.usage_key, func.sum(u.amount_fen), func.sum(u.union_fen), func.sum(u.bank_fen),
               func.sum(u.topup_fen)).group_by(u.usage_key))}
    for key, fen, union, bank, topup in db.session.execute(
            select(t.usage_key, t.voucher_fen, t.voucher_union_fen, t.voucher_bank_fen, t.voucher_topup_fen)):
        assert per_use.get(key, (0, 0, 0, 0)) == (fen, union, bank, topup), key
    assert set(per_use) <= set(db.session.scalars(select(t.usage_key)))
    return out


def test_200_confirmations_on_50_balance_vouchers_never_overdraw_and_add_up(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    # 4 payments of 35.00 on each 100.00 voucher, all 200 at once: 140 > 100, so whichever of a
    # voucher's payments comes third gets what is left (30.00) and the fourth is refused — and a
    # till that kept losing the race to the others may be refused too. Money, not counts, is exact.
    key, cards, voucher_ids = _voucher_station(50)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    bodies = [{"card_number": cards[i % 50], "amount": "35.00", "voucher_ids": [voucher_ids[i % 50]]}
              for i in range(200)]
    responses = fire(server.url, key, bodies)

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, {r.status_code: r.text[:300] for r in responses}
    covered: dict[int, list[int]] = defaultdict(list)
    refused: dict[int, list[str]] = defaultdict(list)
    for body, r in zip(bodies, responses):
        vid = body["voucher_ids"][0]
        if r.status_code == 409:
            _assert_refusal(r)
            refused[vid].append(r.json()["error"]["code"])
            continue
        answer = r.json()
        assert answer["discount_fen"] == 0 and answer["voucher_fen"] + answer["pay_fen"] == PRICE
        assert [u["voucher_id"] for u in answer["vouchers"]] == body["voucher_ids"]
        assert sum(u["amount_fen"] for u in answer["vouchers"]) == answer["voucher_fen"] > 0
        covered[vid].append(answer["voucher_fen"])

    left = _assert_vouchers_add_up()
    for vid in voucher_ids:
        paid = sorted(covered[vid], reverse=True)
        # each payment took min(balance, 35.00) of the balance as it then was, one after another
        assert paid == [min(PRICE, VALUE - PRICE * i) for i in range(len(paid))], (vid, paid)
        assert left[vid] == (VALUE - sum(paid), sum(paid))
        assert len(paid) + len(refused[vid]) == 4
        # refused: the voucher was used up meanwhile, or (with balance left) the till lost every retry
        assert set(refused[vid]) <= ({"voucher_spent", "voucher_unavailable", "vouchers_changed"}
                                     if left[vid][0] == 0 else {"vouchers_changed"}), (vid, refused[vid])
    assert db.session.scalar(select(func.count(CardTransaction.id))) == statuses[201]
    assert db.session.scalar(select(func.count(VoucherUse.id))) == statuses[201]
    assert sum(r.json()["voucher_fen"] for r in responses if r.status_code == 201) == \
        db.session.scalar(select(func.sum(VoucherUse.amount_fen)))


def test_the_same_idempotency_key_ten_times_on_a_voucher_debits_once_with_ten_identical_answers(
        pg_app, postgres_url, redis_url, flush_redis, gunicorn_factory):
    key, cards, [voucher_id] = _voucher_station(1)
    server = serve(gunicorn_factory, postgres_url, redis_url)
    body = {"card_number": cards[0], "amount": "35.00", "voucher_ids": [voucher_id]}
    responses = fire(server.url, key, [body] * 10, idem="till-voucher-retry-1")

    assert [r.status_code for r in responses] == [201] * 10, [r.text[:200] for r in responses]
    assert len({r.content for r in responses}) == 1
    assert responses[0].json()["voucher_fen"] == PRICE
    assert _assert_vouchers_add_up() == {voucher_id: (VALUE - PRICE, PRICE)}
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 1
    assert db.session.scalar(select(func.count(VoucherUse.id))) == 1


# --- two batch issues of one programme at once, in two real processes ---------------------------

MEMBERS = 60          # in 古井集团: 30 hardship, 30 ordinary (and 5 in 马钢, outside the programme)
ROOM = 45             # the budget covers 45 vouchers: less than either target
CHUNK = 7             # member ids per chunk, so the two processes' chunks interleave


def _issue_worker(database_url, programme_id, target_spec, barrier, results):
    """One process: its own app and database connection, issuing as the CLI does (a commit per chunk)."""
    try:
        app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
        with app.app_context():
            vouchers.CHUNK = CHUNK
            programme = db.session.get(VoucherProgramme, programme_id)
            org = db.session.get(Organisation, target_spec["org_id"]) if target_spec.get("org_id") else None
            target = vouchers.Target(member_categories=tuple(target_spec.get("categories", ())), org=org)
            db.session.commit()
            barrier.wait(timeout=60)
            with unit_of_work():
                result = vouchers.issue(None, programme, target, commit_each=db.session.commit)
            results.put(("ok", result.batch.id, result.issued, result.face_fen))
            db.session.remove()
    except Exception:  # noqa: BLE001 - the parent reports what went wrong
        results.put(("error", traceback.format_exc()))


def _issue_at_once(database_url: str, programme_id: int, specs: list[dict]) -> list[tuple]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(len(specs)), ctx.Queue()
    procs = [ctx.Process(target=_issue_worker, args=(database_url, programme_id, spec, barrier, results))
             for spec in specs]
    for p in procs:
        p.start()
    collected = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return collected


# Two different batches of one programme at once deadlock: each batch's INSERT into
# Two batches of one programme: each inserts its batch row (a foreign key: KEY SHARE on the
# programme row) and then locks the programme row per chunk; the chunk's lock is FOR NO KEY
# UPDATE, so the two queue instead of deadlocking.
@pytest.mark.parametrize("overlapping", [False, True],
                         ids=["same-target", "overlapping-targets"])
def test_two_batch_issues_at_once_issue_nobody_twice_and_stay_within_the_budget(pg_app, overlapping):
    with unit_of_work():
        tree = factories.org_tree()
        for i in range(MEMBERS):
            factories.member(tree["gujing"], name=f"会员{i}", category="hardship" if i % 2 else "ordinary",
                             with_card=False)
        for i in range(5):
            factories.member(tree["magang"], name=f"马钢{i}", category="hardship", with_card=False)
        programme = _voucher_programme(tree["bozhou"], budget_fen=ROOM * FACE + FACE - 1)
        gujing, programme_id = tree["gujing"].id, programme.id
    # same target: two admins start the same batch; overlapping: 困难职工 and all of 古井集团
    specs = ([{"categories": ["hardship"]}, {"org_id": gujing}] if overlapping
             else [{"org_id": gujing}, {"org_id": gujing}])
    results = _issue_at_once(pg_app.config["SQLALCHEMY_DATABASE_URI"], programme_id, specs)

    errors = [r[1] for r in results if r[0] == "error"]
    assert not errors, "\n".join(errors)
    db.session.expire_all()
    programme = db.session.get(VoucherProgramme, programme_id)
    v = Voucher
    count, face = db.session.execute(select(func.count(v.id), func.coalesce(func.sum(v.face_fen), 0))).one()
    # nobody twice: one voucher per member (per_member 1), no (programme, member, seq) repeated
    assert db.session.scalar(select(func.count(func.distinct(v.member_id)))) == count
    assert db.session.scalar(select(func.count()).select_from(
        select(v.programme_id, v.member_id, v.seq).group_by(v.programme_id, v.member_id, v.seq)
        .having(func.count() > 1).subquery())) == 0
    # the budget: all of the room used (each target alone is larger), never more
    assert programme.issued_fen == face == ROOM * FACE <= programme.budget_fen
    assert programme.issued_count == count == ROOM
    # every voucher went to someone the target named, in the programme's union
    in_scope = set(db.session.scalars(select(Member.id).where(Member.org_id == gujing)))
    assert set(db.session.scalars(select(v.member_id))) <= in_scope
    # the batches' own counts, the processes' answers and the vouchers agree
    batches = db.session.scalars(select(VoucherBatch)).all()
    assert len(batches) == (2 if overlapping else 1)
    for b in batches:
        assert (b.issued_count, b.issued_fen) == db.session.execute(
            select(func.count(v.id), func.coalesce(func.sum(v.face_fen), 0)).where(v.batch_id == b.id)).one()
    assert sum(b.issued_count for b in batches) == ROOM and sum(b.issued_fen for b in batches) == ROOM * FACE
    assert sum(r[2] for r in results) == ROOM and sum(r[3] for r in results) == ROOM * FACE
    for batch_id in {r[1] for r in results}:
        assert sum(r[2] for r in results if r[1] == batch_id) == db.session.get(VoucherBatch, batch_id).issued_count
