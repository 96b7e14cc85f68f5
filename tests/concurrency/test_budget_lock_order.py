"""The lock order of a budget spread over slices, on PostgreSQL: payments in their own sessions
driven step by step into the interleaving that once deadlocked at the end of a budget.

A payment can hold a slice's row lock without having taken anything from it: its conditional
UPDATE found the slice with room, waited for the payment spending it and, rechecking the row
that payment committed (READ COMMITTED), found it spent. PostgreSQL keeps that row locked to the
end of the transaction all the same. The payment then comes for the rule row to refill the slice.
So whoever holds the rule row must never wait for a slice."""
from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Member
from benefits.merchants.models import Merchant
from benefits.promotions import service
from benefits.promotions.models import PromotionBudgetSlice, PromotionMemberUse, PromotionRule
from tests import factories, till_factories as tf

pytestmark = pytest.mark.services

BUDGET = 6_400_000
ROOM = 4000      # what slice 0 has left: one 满200减40 discount


class Session:
    """One database session, in a thread of its own (Flask-SQLAlchemy keeps a session per app
    context), so that a statement can wait for a lock while the test drives the others."""

    def __init__(self, app):
        self.app = app
        self.thread = ThreadPoolExecutor(1)
        self.pid = self.run(self._begin)

    def _begin(self) -> int:
        self.context = self.app.app_context()
        self.context.push()
        # nothing in this test may wait longer (a wait the test did not plan fails it, not hangs it)
        db.session.execute(text("SET LOCAL lock_timeout = '20s'"))
        return db.session.scalar(text("SELECT pg_backend_pid()"))

    def start(self, fn, *args):
        return self.thread.submit(fn, *args)

    def run(self, fn, *args):
        return self.start(fn, *args).result(timeout=30)

    def commit(self) -> None:
        self.run(db.session.commit)

    def close(self) -> None:
        def end():
            db.session.rollback()
            db.session.remove()
            self.context.pop()
        self.thread.submit(end).result(timeout=30)
        self.thread.shutdown()


def take(rule_id: int, number: int, want: int):
    """A payment's take of its discount from slice `number` (as `promotions.apply` does it)."""
    return service._take_from_slice(rule_id, number, want, budgeted=True)


def lock_rule_row(rule_id: int) -> None:
    """Hold the rule row as the end of a budget does while it folds the slices back. A lock, not
    an update: when it ends, the payment first in the row's queue gets the row (after an update
    the waiters would race for the new row version)."""
    db.session.execute(select(PromotionRule.id).where(PromotionRule.id == rule_id).with_for_update(key_share=True))


def outcome(future):
    try:
        return future.result(timeout=30)
    except Exception as exc:   # the deadlock detector's abort, named in the assertion
        return f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"


def finish(session: Session, future):
    """The step's outcome; its transaction committed unless it raised (then the error's text)."""
    result = outcome(future)
    if not isinstance(result, str):
        session.commit()
    return result


@contextlib.contextmanager
def watcher(app):
    """Waits until a session's statement is blocked on a lock (pg_stat_activity, read afresh each
    time on an autocommit connection: within a transaction it would not change)."""
    with app.app_context(), db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")

        def blocked(session: Session, statement: str = "") -> None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                row = conn.execute(text("SELECT wait_event_type, query FROM pg_stat_activity WHERE pid = :pid"),
                                   {"pid": session.pid}).first()
                if row is not None and row[0] == "Lock" and row[1].lstrip().startswith(statement):
                    return
                time.sleep(0.01)
            raise AssertionError(f"session {session.pid} never waited in {statement!r}: {row}")
        yield blocked


def test_a_refill_never_waits_for_a_slice_that_a_payment_waiting_for_the_rule_row_holds(pg_app):
    with unit_of_work():
        tree = factories.org_tree()
        rule_id = tf.rule(tree["bozhou"], budget_fen=BUDGET).id
        # slice 0 has room for one discount; the rest of the budget is unallotted on the rule row
        db.session.add(PromotionBudgetSlice(rule_id=rule_id, slice=0, allot_fen=10_000 + ROOM, used_fen=10_000, uses=1))
        rules = PromotionRule.__table__
        db.session.execute(rules.update().values(budget_used_fen=10_000 + ROOM).where(rules.c.id == rule_id))
    spender, holder, refiller, loser = (Session(pg_app) for _ in range(4))
    try:
        with watcher(pg_app) as blocked:
            # spender takes slice 0's room (not committed yet)
            assert spender.run(take, rule_id, 0, 4000) == (4000, "slice")
            # holder holds the rule row (not committed yet)
            holder.run(lock_rule_row, rule_id)
            # refiller wants 5,000: slice 0 has too little, so it comes to refill it and queues
            # for the rule row
            refilling = refiller.start(take, rule_id, 0, 5000)
            blocked(refiller, "UPDATE promotion_rules")
            # loser wants 4,000 and sees slice 0's room: it queues behind the spender ...
            losing = loser.start(take, rule_id, 0, 4000)
            blocked(loser, "UPDATE promotion_budget_slices")
            # ... which commits: slice 0 is spent, but the loser's UPDATE has locked it; it comes
            # for the rule row, behind the refiller
            spender.commit()
            blocked(loser, "UPDATE promotion_rules")
            # the rule row passes to the refiller, which must now top up slice 0 — locked by the
            # loser, who waits for the rule row the refiller holds
            holder.commit()
            refilled = finish(refiller, refilling)
            lost = finish(loser, losing)
        # both paid, nothing aborted: the refiller gives its discount from the rule row it holds
        # instead of waiting for slice 0; then the loser refills slice 0 and takes from it
        assert (refilled, lost) == ((5000, "rule"), (4000, "slice"))
    finally:
        for session in (spender, holder, refiller, loser):
            session.close()
    db.session.expire_all()
    rule = db.session.get(PromotionRule, rule_id)
    given = 10_000 + 4000 + 5000 + 4000
    assert (rule.budget_spent_fen, rule.total_uses, rule.budget_left_fen) == (given, 4, BUDGET - given)
    assert db.session.scalar(select(func.sum(PromotionBudgetSlice.used_fen))
                             .where(PromotionBudgetSlice.rule_id == rule_id)) == given - 5000


def pay(member_id: int, merchant_id: int, usage_key: str) -> int:
    """A member's payment of 250.00 through `promotions.apply`; the discount it got."""
    member, merchant = db.session.get(Member, member_id), db.session.get(Merchant, merchant_id)
    return service.apply(member=member, card=member.current_card, merchant=merchant, store=merchant.stores[0],
                         amount_fen=25000, usage_key=usage_key).discount_fen


def refund(rule_id: int, usage_key: str) -> None:
    service.give_back(usage_key=usage_key, discount_back_by_rule={rule_id: 4000}, full_refund=True)


def test_a_refund_gives_the_use_back_before_it_takes_the_rule_row(pg_app):
    # A rule with a global limit counts its uses on its row: a payment takes the member's daily use
    # first, then the rule row. A full refund of the member's earlier payment must take them in
    # that order too, or each waits for what the other holds.
    clock.set_frozen(datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc))   # both payments on one China day
    with unit_of_work():
        tree = factories.org_tree()
        merchant_id = tf.merchant(tree["bozhou"]).id
        rule_id = tf.rule(tree["bozhou"], budget_fen=BUDGET, global_limit=100, per_member={"day": 2}).id
        member_id = factories.member(tree["gujing"]).id
    with unit_of_work():
        assert pay(member_id, merchant_id, "first") == 4000
    holder, refunder, payer = (Session(pg_app) for _ in range(3))
    try:
        with watcher(pg_app) as blocked:
            holder.run(lock_rule_row, rule_id)
            # the refund queues for the rule row ...
            refunding = refunder.start(refund, rule_id, "first")
            blocked(refunder, "UPDATE promotion_rules")
            # ... and so does the member's new payment (or for the member's use, if the refund
            # took it first)
            paying = payer.start(pay, member_id, merchant_id, "second")
            blocked(payer)
            holder.commit()
            refunded = finish(refunder, refunding)
            paid = finish(payer, paying)
        assert (refunded, paid) == (None, 4000)
    finally:
        for session in (holder, refunder, payer):
            session.close()
    db.session.expire_all()
    rule = db.session.get(PromotionRule, rule_id)
    assert (rule.budget_spent_fen, rule.total_uses) == (4000, 1)
    assert db.session.scalar(select(PromotionMemberUse.uses).where(PromotionMemberUse.rule_id == rule_id)) == 1
