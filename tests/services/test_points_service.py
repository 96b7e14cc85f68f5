from datetime import date

import pytest
from sqlalchemy import select, text

from benefits.audit.models import AuditEntry
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from tests import factories


@pytest.fixture
def member(app):
    tree = factories.org_tree()
    return factories.member(tree["gujing"])


def kinds(member_id):
    return [(e.kind, e.amount) for e in db.session.scalars(
        select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id))]


def test_reconcile_finds_a_balance_corrupted_on_purpose_and_the_cli_exits_non_zero(app, member):
    points.credit(member.id, 40, source_key="t:1", reason="答题")
    points.debit(member.id, 15, source_key="t:2", reason="兑换雨伞")
    db.session.commit()
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["points", "reconcile"])
    assert ok.exit_code == 0 and "match" in ok.output
    db.session.execute(text("UPDATE points_accounts SET balance = balance + 7 WHERE member_id = :m"), {"m": member.id})
    db.session.commit()
    assert points.reconcile() == [{"member_id": member.id, "balance": 32, "ledger_sum": 25}]
    bad = runner.invoke(args=["points", "reconcile"])
    assert bad.exit_code == 1 and f"member {member.id}: balance 32 but ledger sums to 25" in bad.output


def test_expiry_takes_what_was_not_spent_first_and_is_safe_to_rerun(app, member):
    points.credit(member.id, 100, source_key="t:a", reason="2024 答题", expires_on=date(2025, 12, 31))
    points.credit(member.id, 50, source_key="t:b", reason="2025 答题", expires_on=date(2026, 12, 31))
    points.adjust(None, member, 10, "补录", source_key="t:adj")  # adjustments don't expire
    points.debit(member.id, 70, source_key="t:c", reason="兑换")
    points.credit(member.id, 20, kind="refund", source_key="t:d", reason="取消兑换退回")
    assert points.expire(date(2025, 12, 31)) == []  # expires at the end of that day, not before
    first = points.expire(date(2026, 1, 1))
    assert [(e.kind, e.amount) for e in first] == [("expire", -50)]  # 100 − (70 − 20) used
    assert points.expire(date(2026, 1, 1)) == [] and points.expire(date(2026, 6, 1)) == []
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["points", "expire", "--today", "2027-01-01"])
    assert result.exit_code == 0 and "expired 50 points in 1 entries" in result.output
    assert points.balance(member.id) == 10 and points.reconcile() == []
    again = app.test_cli_runner().invoke(args=["points", "expire", "--today", "2027-01-01"])
    assert "expired 0 points" in again.output


def test_admin_adjustment_needs_a_reason_is_audited_and_cannot_go_below_zero(app, member):
    tree_admin = factories.admin(member.org)
    with pytest.raises(points.ValidationError):
        points.adjust(tree_admin, member, 5, "  ")
    entry = points.adjust(tree_admin, member, 5, "比武奖励")
    assert entry.kind == "adjust" and entry.reason == "管理员调整：比武奖励" and entry.actor_user_id == tree_admin.id
    with pytest.raises(points.InsufficientPoints):
        with db.session.begin_nested():
            points.adjust(tree_admin, member, -6, "扣错了")
    assert points.balance(member.id) == 5
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "points.adjust")).all()
    assert len(audit) == 1 and audit[0].after["amount"] == 5


def test_the_same_source_key_posts_once(app, member):
    points.credit(member.id, 5, source_key="quiz-attempt:1", reason="答题")
    with pytest.raises(points.DuplicateEntry):
        points.credit(member.id, 5, source_key="quiz-attempt:1", reason="答题")
    assert points.balance(member.id) == 5 and kinds(member.id) == [("earn", 5)]
