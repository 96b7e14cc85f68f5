"""Medical-benefit approvals under real concurrency: real gunicorn worker processes receive many
approvals of one batch at the same moment (a double click, two admins, retries) and pay it
once; two batches racing for the last of the budget leave exactly one approved and the budget
never overspent by a fen."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.medical import service as medical
from benefits.medical.models import MedicalAward, MedicalBatch, MedicalPayout, MedicalProgramme, PayoutFile
from tests import factories, medical_factories as mf

pytestmark = [pytest.mark.concurrency, pytest.mark.services]

AMOUNT = 20_000


def _sessions(url: str, usernames: list[str]) -> list[requests.Session]:
    sessions = []
    for username in usernames:
        session = requests.Session()
        signed_in = session.post(url + "/api/v1/auth/login", json={"username": username,
                                                                    "password": factories.PASSWORD}, timeout=120)
        assert signed_in.status_code == 200, signed_in.text
        sessions.append(session)
    return sessions


def _fire(url: str, calls: list[tuple[requests.Session, int]]) -> list[requests.Response]:
    """Every (session, batch id) approval at the same moment, one thread each."""
    start = threading.Barrier(len(calls))

    def one(call):
        session, batch_id = call
        start.wait(timeout=120)
        return session.post(f"{url}/api/v1/medical/batches/{batch_id}/approve", json={}, timeout=120)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def _world(members: int, budget_fen: int):
    """Bozhou's programme, its creator (who builds the batches) and three other admins, and
    `members` members with cards whose out-of-pocket costs qualify."""
    with unit_of_work():
        tree = factories.org_tree()
        creator = factories.admin(tree["bozhou"], "medical_creator")
        for i in range(3):
            factories.admin(tree["bozhou"] if i < 2 else tree["province"], f"medical_approver{i}")
        people = [factories.member(tree["gujing"], name=f"会员{i}") for i in range(members)]
        programme = mf.programme(tree["bozhou"], amount_fen=AMOUNT, budget_fen=budget_fen)
    return programme.id, creator, people


def _import(programme_id: int, people) -> None:
    with unit_of_work():
        mf.import_claims(db.session.get(MedicalProgramme, programme_id),
                         mf.claims_csv([mf.claim(m, "3000") for m in people]))


def _batch(programme_id: int, creator) -> int:
    with unit_of_work():
        return medical.create_batch(creator, db.session.get(MedicalProgramme, programme_id)).id


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_twelve_approvals_of_one_batch_at_once_pay_it_once(pg_app, postgres_url, redis_url, gunicorn_factory):
    programme_id, creator, people = _world(30, AMOUNT * 100)
    _import(programme_id, people)
    batch_id = _batch(programme_id, creator)
    server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}, workers=4, threads=4)
    approvers = _sessions(server.url, [f"medical_approver{i % 3}" for i in range(12)])
    own = _sessions(server.url, ["medical_creator"])

    responses = _fire(server.url, [(s, batch_id) for s in approvers + own])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 11, 403: 1}, [r.text[:200] for r in responses]
    codes = Counter(r.json()["error"]["code"] for r in responses if r.status_code != 200)
    assert codes == {"batch_not_pending": 11, "second_admin_required": 1}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert winner["payouts"] == 30 and winner["payout_file"]["total_fen"] == 30 * AMOUNT

    assert _count(PayoutFile) == 1 and _count(MedicalPayout) == 30
    assert db.session.scalar(select(func.count(func.distinct(MedicalPayout.award_id)))) == 30
    assert _count(MedicalAward, MedicalAward.status == "approved") == 30
    programme = db.session.get(MedicalProgramme, programme_id)
    assert programme.committed_fen == 30 * AMOUNT
    batch = db.session.get(MedicalBatch, batch_id)
    assert batch.status == "approved" and batch.decided_by_user_id != batch.created_by_user_id


def test_two_batches_racing_for_the_last_of_the_budget_leave_one_approved(pg_app, postgres_url, redis_url,
                                                                         gunicorn_factory):
    # room for 15 payments: each batch of 10 fits alone, both do not
    programme_id, creator, people = _world(20, AMOUNT * 15)
    _import(programme_id, people[:10])
    first = _batch(programme_id, creator)
    _import(programme_id, people[10:])
    second = _batch(programme_id, creator)
    server = gunicorn_factory({"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}, workers=4, threads=4)
    sessions = _sessions(server.url, [f"medical_approver{i % 3}" for i in range(12)])

    responses = _fire(server.url, [(s, first if i % 2 else second) for i, s in enumerate(sessions)])

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 11}, [r.text[:200] for r in responses]
    [approved] = [r.json()["batch"]["id"] for r in responses if r.status_code == 200]
    other = second if approved == first else first
    refused = Counter((call_batch, r.json()["error"]["code"])
                      for call_batch, r in zip([first if i % 2 else second for i in range(12)], responses)
                      if r.status_code == 409)
    # the winner's own repeats: not pending; the other batch's: over the budget, every time
    assert refused == {(approved, "batch_not_pending"): 5, (other, "over_budget"): 6}
    db.session.expire_all()
    programme = db.session.get(MedicalProgramme, programme_id)
    assert programme.committed_fen == 10 * AMOUNT <= programme.budget_fen
    assert db.session.get(MedicalBatch, other).status == "pending"
    assert _count(MedicalPayout) == 10 and _count(MedicalAward, MedicalAward.status == "approved") == 10
    assert db.session.scalar(select(func.coalesce(func.sum(MedicalPayout.amount_fen), 0))) == 10 * AMOUNT
