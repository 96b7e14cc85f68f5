"""Posting to the ledger (`points.service.post`, the one posting): balance moves and entries agree."""
from __future__ import annotations

from datetime import date

import pytest

from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from tests import factories


@pytest.fixture
def member(app):
    return factories.member(factories.org_tree()["gujing"])


def test_credit_and_debit_return_the_entry_with_the_balance_after(app, member):
    first = points.credit(member.id, 30, source_key="t:1", reason="答题", expires_on=date(2027, 12, 31))
    spent = points.debit(member.id, 12, source_key="t:2", reason="兑换")
    assert (first.amount, first.balance_after, first.kind, first.expires_on) == (30, 30, "earn", date(2027, 12, 31))
    assert (spent.amount, spent.balance_after, spent.kind) == (-12, 18, "spend")
    assert db.session.get(PointsEntry, spent.id) is spent  # in the session, no second query needed
    db.session.commit()
    assert spent.balance_after == 18 and spent.created_at is not None  # reloads like any loaded entry
    assert points.balance(member.id) == 18 and points.reconcile() == []


def test_a_debit_the_balance_cannot_cover_writes_nothing(app, member):
    points.credit(member.id, 5, source_key="t:1", reason="答题")
    with pytest.raises(points.InsufficientPoints) as refused:
        points.debit(member.id, 6, source_key="t:2", reason="兑换")
    assert refused.value.details == {"needed": 6, "balance": 5}
    assert points.balance(member.id) == 5 and points.entry_by_source("t:2") is None
    with pytest.raises(points.InsufficientPoints):
        points.debit(factories.member(member.org).id, 1, source_key="t:3", reason="没有账户")


def test_a_taken_source_key_leaves_the_balance_as_it_was(app, member):
    points.credit(member.id, 5, source_key="t:1", reason="答题")
    with pytest.raises(points.DuplicateEntry):
        points.debit(member.id, 2, source_key="t:1", reason="兑换")
    with pytest.raises(points.DuplicateEntry):
        points.earn(member.id, 7, source_key="t:1", reason="答题")
    assert points.balance(member.id) == 5 and points.reconcile() == []


def test_earn_posts_an_earn_entry_and_returns_the_balance(app, member):
    assert points.earn(member.id, 4, source_key="t:1", reason="答题", expires_on=date(2027, 12, 31)) == 4
    assert points.earn(member.id, 6, source_key="t:2", reason="答题") == 10
    entry = points.entry_by_source("t:2")
    assert (entry.kind, entry.amount, entry.balance_after) == ("earn", 6, 10)
    with pytest.raises(points.ValidationError):
        points.earn(member.id, 0, source_key="t:3", reason="答题")


def test_an_entry_rolled_back_with_its_transaction_does_not_stand_in_for_the_next(app, member):
    points.credit(member.id, 10, source_key="t:1", reason="答题")
    db.session.commit()
    refused = points.debit(member.id, 3, source_key="t:2", reason="兑换")  # still referenced afterwards
    assert refused.balance_after == 7
    db.session.rollback()  # e.g. a redemption refused after its debit
    entry = points.debit(member.id, 4, source_key="t:3", reason="兑换")
    assert (entry.amount, entry.balance_after, entry.source_key) == (-4, 6, "t:3")
    db.session.commit()
    assert points.entry_by_source("t:2") is None and points.entry_by_source("t:3") is entry
    assert points.balance(member.id) == 6 and points.reconcile() == []
