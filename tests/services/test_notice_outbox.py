"""The outbox: a notice is written in the transaction of the change that causes it (a rolled
back change leaves none), exactly once per dedupe key, by every domain that causes one: voucher
issue (one statement per chunk), expiry and voiding, prize pickups, points about to expire;
`flask notices remind` run twice adds nothing."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.notices import kinds, outbox
from benefits.notices import service as notices
from benefits.notices.models import Notice
from benefits.points import service as points
from benefits.prizes import service as prizes
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher
from tests import factories, voucher_factories as vf
from tests.prize_factories import prize, world as prize_world

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)   # 10:00 in China


def _notices(kind: str | None = None) -> list[Notice]:
    stmt = select(Notice).order_by(Notice.id)
    if kind:
        stmt = stmt.where(Notice.kind == kind)
    return list(db.session.scalars(stmt))


def _count() -> int:
    return db.session.scalar(select(func.count(Notice.id)))


@pytest.fixture
def member(app):
    with unit_of_work():
        tree = factories.org_tree()
        m = factories.member(tree["gujing"], name="王芳", category="hardship")
    return m


def test_enqueue_is_idempotent_per_dedupe_key(member):
    params = {"programme": "医疗普惠", "amount_fen": 100000, "card_tail": "0171"}
    for _ in range(3):
        with unit_of_work():
            outbox.enqueue(member.id, "payout_made", params, "payout_made:1")
    [n] = _notices()
    assert (n.member_id, n.kind, n.status, n.attempts, n.params) == (member.id, "payout_made", "pending", 0, params)
    assert kinds.render(n.kind, n.params) == "医疗普惠慰问金 1000.00 元已发放到您尾号 0171 的会员卡，请注意查收。"


def test_a_rolled_back_change_leaves_no_notice(member):
    with pytest.raises(RuntimeError), unit_of_work():
        outbox.enqueue(member.id, "payout_made", {"programme": "医疗普惠", "amount_fen": 1, "card_tail": "0171"},
                       "payout_made:2")
        raise RuntimeError("the payout failed after the notice was written")
    assert _count() == 0


def test_bad_calls_write_nothing(member):
    with pytest.raises(KeyError), unit_of_work():
        outbox.enqueue(member.id, "payout_made", {"programme": "医疗普惠"}, "payout_made:3")
    with pytest.raises(kinds.UnknownKind), unit_of_work():
        outbox.enqueue(member.id, "payout_lost", {}, "payout_lost:3")
    with pytest.raises(TypeError), unit_of_work():
        outbox.enqueue(member.id, "points_expiring", {"points": 1.5, "date": "2026-12-31"}, "p:1")
    with pytest.raises(ValueError), unit_of_work():
        outbox.enqueue(member.id, "points_expiring", {"points": 1, "date": "2026-12-31"}, "")
    assert _count() == 0


def test_dates_and_times_are_stored_as_iso_text(member):
    with unit_of_work():
        outbox.enqueue(member.id, "pickup_expiring", {"item": "雨伞", "place": "古井集团工会",
                                                      "until": NOON, "redemption_id": 1}, "k:1")
        outbox.enqueue(member.id, "points_expiring", {"points": 5, "date": date(2026, 12, 31)}, "k:2")
    a, b = _notices()
    assert a.params["until"] == "2026-11-18T02:00:00+00:00" and b.params["date"] == "2026-12-31"
    assert "2026-11-18 10:00" in kinds.render(a.kind, a.params)


# --- vouchers ----------------------------------------------------------------------------------

@pytest.fixture
def vworld(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        poor = [factories.member(tree["gujing"], name=f"困难职工{i}", category="hardship") for i in range(3)]
        factories.member(tree["gujing"], name="普通会员")
        warm = vf.programme(tree["bozhou"])
    return {"tree": tree, "poor": poor, "warm": warm}


def test_issuing_writes_one_notice_per_voucher_in_the_same_statement(vworld):
    w = vworld
    with unit_of_work():
        assert vf.issue(w["warm"]).issued == 3
    issued = _notices("voucher_issued")
    by_member = {v.member_id: v.id for v in db.session.scalars(select(Voucher))}
    assert sorted(n.member_id for n in issued) == sorted(m.id for m in w["poor"])
    for n in issued:
        assert n.dedupe_key == f"voucher_issued:{by_member[n.member_id]}"
        assert n.params == {"programme": "扶贫暖心券", "value_fen": 55000, "valid_until": "2026-12-31",
                            "voucher_id": by_member[n.member_id]}
        assert kinds.render(n.kind, n.params) == "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。"
        assert n.created_at == NOON and n.status == "pending"
    with unit_of_work():
        assert vf.issue(w["warm"]).issued == 0          # the same batch again: no voucher, no notice
    assert _count() == 3


def test_a_rolled_back_issue_leaves_neither_vouchers_nor_notices(vworld):
    with pytest.raises(RuntimeError), unit_of_work():
        vf.issue(vworld["warm"])
        raise RuntimeError("the admin's request failed later")
    assert db.session.scalar(select(func.count(Voucher.id))) == 0 and _count() == 0


def test_expiry_notices_go_through_the_outbox_once(vworld):
    w = vworld
    with unit_of_work():
        vf.issue(w["warm"])
    with unit_of_work():
        assert vouchers.expire(date(2026, 12, 20)) == {"expired": 0, "noticed": 0}   # 11 days before: not yet
    with unit_of_work():
        assert vouchers.expire(date(2026, 12, 28)) == {"expired": 0, "noticed": 3}
    with unit_of_work():
        assert vouchers.notice_expiring(date(2026, 12, 29)) == 0                     # once per voucher
    expiring = _notices("voucher_expiring")
    assert len(expiring) == 3
    assert kinds.render("voucher_expiring", expiring[0].params) == \
        "您的扶贫暖心券将于 2026-12-31 到期，余额 550.00 元，请尽快使用。"
    assert all(v.expiry_noticed_at is not None for v in db.session.scalars(select(Voucher)))


def test_voiding_tells_the_member(vworld):
    w = vworld
    with unit_of_work():
        vf.issue(w["warm"])
    v = db.session.scalar(select(Voucher).where(Voucher.member_id == w["poor"][0].id))
    with unit_of_work():
        vouchers.void(None, v, "身份核查不符")
    [n] = _notices("voucher_voided")
    assert n.member_id == w["poor"][0].id and n.dedupe_key == f"voucher_voided:{v.id}"
    items, total = notices.member_notices(w["poor"][0].id)
    assert total == 2 and [i.text for i in items] == ["您的扶贫暖心券已被工会作废：身份核查不符",
                                                       "您收到一张扶贫暖心券，可用 550.00 元，2026-12-31 前有效。"]
    assert items[0].link == ("vouchers.detail", {"voucher_id": v.id})


# --- prize pickups -------------------------------------------------------------------------------

def _redeem(user, p, key, **args) -> dict:
    args = {"quantity": 1, "pickup_point_id": None, "delivery_address": None, "delivery_phone": None, **args}
    return prizes.redeem_prize(p.id, args, key, user_id=user.id, signed_in=lambda: user)


def test_a_pickup_notice_says_what_and_where_but_never_the_code(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        w = prize_world(10_000)
        umbrella = prize(w["admin"], w["point"], cost=100, name="雨伞", pickup_days=14)
        answer = _redeem(w["member"], umbrella, "r1")
    [n] = _notices("pickup_ready")
    text = kinds.render(n.kind, n.params)
    assert text == ("您的雨伞可以领取了：请于 2026-12-02 10:00 前到古井集团工会办公室（亳州市谯城区）领取，"
                    "核销码请在平台“我的兑换”中查看。")
    assert answer["pickup_code"] not in text and answer["pickup_code"] not in str(n.params)
    assert n.dedupe_key == f"pickup_ready:redemption:{answer['id']}" and n.member_id == w["member"].member_id


def test_a_refused_redemption_leaves_no_notice(app):
    with unit_of_work():
        w = prize_world(50)
        umbrella = prize(w["admin"], w["point"], cost=100)
    with pytest.raises(Exception), unit_of_work():
        _redeem(w["member"], umbrella, "poor")                  # 50 points for a 100-point prize
    assert _count() == 0


def test_a_high_value_prize_is_ready_only_once_approved(app):
    with unit_of_work():
        w = prize_world(10_000)
        fridge = prize(w["admin"], w["point"], cost=5000, name="冰箱", high_value=True)
        r = _redeem(w["member"], fridge, "hv")
    assert _notices("pickup_ready") == []
    with unit_of_work():
        prizes.approve(w["second"], w["second"].org, r["id"])
    assert [n.params["item"] for n in _notices("pickup_ready")] == ["冰箱"]


def test_pickup_reminders_come_within_48_hours_of_the_deadline_once(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        w = prize_world(10_000)
        umbrella = prize(w["admin"], w["point"], cost=100, pickup_days=3)
        kept = _redeem(w["member"], umbrella, "a")
        cancelled = _redeem(w["member"], umbrella, "b")
        prizes.cancel(w["member"].member, cancelled["id"], w["member"].id)
    with unit_of_work():
        assert prizes.remind_expiring_pickups() == 0             # 72 hours left
    clock.set_frozen(NOON + timedelta(hours=25))
    with unit_of_work():
        assert prizes.remind_expiring_pickups() == 1
    with unit_of_work():
        assert prizes.remind_expiring_pickups() == 0
    [n] = _notices("pickup_expiring")
    assert n.params["redemption_id"] == kept["id"]
    assert kinds.render(n.kind, n.params) == "您的雨伞将于 2026-11-21 10:00 截止领取，请尽快到古井集团工会办公室（亳州市谯城区）领取。"


# --- points ------------------------------------------------------------------------------------

def test_points_reminders_say_how_many_go_on_each_date_once(member):
    with unit_of_work():
        points.credit(member.id, 300, source_key="earn:a", reason="答题", expires_on=date(2026, 12, 31))
        points.credit(member.id, 200, source_key="earn:b", reason="答题", expires_on=date(2027, 1, 10))
        points.credit(member.id, 900, source_key="earn:c", reason="答题", expires_on=date(2027, 12, 31))
        points.debit(member.id, 120, source_key="spend:a", reason="兑换")   # the soonest to expire go first
    with unit_of_work():
        assert points.remind_expiring(date(2026, 12, 15)) == 2
    with unit_of_work():
        assert points.remind_expiring(date(2026, 12, 16)) == 0
    assert [(n.params["date"], n.params["points"]) for n in _notices("points_expiring")] == [
        ("2026-12-31", 180), ("2027-01-10", 200)]
    assert points.expiring_by(member.id, date(2026, 12, 31)) == 180


def test_flask_notices_remind_twice_adds_nothing(app, vworld):
    w = vworld
    with unit_of_work():
        vf.issue(w["warm"])
        points.credit(w["poor"][0].id, 50, source_key="earn:x", reason="答题", expires_on=date(2026, 12, 31))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["notices", "remind", "--today", "2026-12-26"])
    assert first.exit_code == 0, first.output
    assert "券 3 条" in first.output and "积分 1 条" in first.output
    second = runner.invoke(args=["notices", "remind", "--today", "2026-12-26"])
    assert "券 0 条，奖品领取 0 条，积分 0 条" in second.output
    assert len(_notices("voucher_expiring")) == 3 and len(_notices("points_expiring")) == 1
