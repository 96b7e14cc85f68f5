"""Prize service: every limit holds in SQL alone (no Redis)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.errors import DomainError, ValidationError
from benefits.extensions import db
from benefits.points import service as points
from benefits.prizes import rules
from benefits.prizes import service as prizes
from benefits.prizes.models import PrizeCounter, Redemption
from tests import factories
from tests.prize_factories import prize, rich_member, world


def _redeem(user, p, quantity=1, key=None, **args) -> dict:
    """The one redemption, as the API calls it for a signed-in `user`: its answer."""
    args = {"quantity": quantity, "pickup_point_id": None, "delivery_address": None, "delivery_phone": None, **args}
    return prizes.redeem_prize(p.id, args, key, user_id=user.id, signed_in=lambda: user)


def _n(status=None) -> int:
    stmt = select(func.count(Redemption.id))
    if status:
        stmt = stmt.where(Redemption.status == status)
    return db.session.scalar(stmt)


def test_redeem_takes_stock_points_and_gives_a_code(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], stock=3, cost=300)
        r = _redeem(w["member"], p, key="a")
    assert len(r["pickup_code"]) == 10 and r["points_balance"] == 700
    deadline = clock.as_utc(db.session.get(Redemption, r["id"]).pickup_deadline)
    assert deadline > clock.now() + timedelta(days=13)
    db.session.refresh(p)
    assert p.stock == 2 and p.stocks[0].stock == 2
    assert points.balance(w["member"].member.id) == 700
    assert points.reconcile() == []


def test_stock_never_goes_below_zero_and_refusal_changes_nothing(app):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], stock=1, cost=100)
        _redeem(w["member"], p, key="one")
    with pytest.raises(rules.SoldOut), unit_of_work():
        _redeem(w["member"], p, key="two")
    assert _n() == 1
    assert points.balance(w["member"].member.id) == 9_900


def test_limits_per_day_month_lifetime_and_daily_quota(app):
    with unit_of_work():
        w = world(100_000)
        p = prize(w["admin"], w["point"], stock=100, cost=10, per_day_limit=2, per_month_limit=3, lifetime_limit=4)
    member = w["member"]
    day1 = clock.now()
    with clock.freeze(day1):
        for key in ("d1a", "d1b"):
            with unit_of_work():
                _redeem(member, p, key=key)
        with pytest.raises(rules.MemberLimitReached) as exc, unit_of_work():
            _redeem(member, p, key="d1c")
        assert exc.value.details == {"period": "day"}
    with clock.freeze(day1 + timedelta(days=1)):
        with unit_of_work():
            _redeem(member, p, key="d2a")
        same_month = clock.business_day().month == clock.business_day(day1).month
        if same_month:
            with pytest.raises(rules.MemberLimitReached), unit_of_work():
                _redeem(member, p, key="d2b")
    assert _n() == 3
    with unit_of_work():
        other = rich_member(w["tree"]["gujing"], 1000)
        q = prize(w["admin"], w["point"], stock=100, cost=1, name="消毒液", daily_quota=2)
        _redeem(other, q, quantity=2, key="quota1")
    with pytest.raises(rules.QuotaReached), unit_of_work():
        _redeem(member, q, key="quota2")


def test_cancel_returns_points_stock_and_counters(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], stock=2, cost=400, per_day_limit=1)
        r = _redeem(w["member"], p, key="c1")
    with unit_of_work():
        prizes.cancel(w["member"].member, r["id"], w["member"].id)
    db.session.refresh(p)
    assert p.stock == 2 and p.stocks[0].stock == 2
    assert points.balance(w["member"].member.id) == 1000
    assert db.session.scalar(select(PrizeCounter.count).where(PrizeCounter.subject != "all")) == 0
    with pytest.raises(rules.NotCancellable), unit_of_work():
        prizes.cancel(w["member"].member, r["id"], w["member"].id)
    assert points.balance(w["member"].member.id) == 1000
    with unit_of_work():  # the day limit is free again
        _redeem(w["member"], p, key="c2")


def test_expire_returns_points_and_stock_once(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], stock=2, cost=100, pickup_days=1)
        r = _redeem(w["member"], p, key="e1")
    later = clock.now() + timedelta(days=2)
    with clock.freeze(later):
        with unit_of_work():
            assert prizes.due_for_expiry() == [r["id"]]
            assert prizes.expire(r["id"]) is not None
        with unit_of_work():
            assert prizes.expire(r["id"]) is None
            assert prizes.due_for_expiry() == []
    assert points.balance(w["member"].member.id) == 1000
    db.session.refresh(p)
    assert p.stock == 2


def test_eligibility_by_subtree_and_category(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], eligible_org_id=w["tree"]["qiaocheng"].id, eligible_categories=["hardship"])
        outsider = rich_member(w["tree"]["bozhou"], 1000, name="外人")
        hardship = rich_member(w["tree"]["gujing"], 1000, name="困难职工", category="hardship")
    with app.test_request_context():                    # the pictures' URLs
        assert prizes.mall_page(w["member"].member, 1000, 1, 50) == ([], 0)
        items, total = prizes.mall_page(hardship.member, 1000, 1, 50)
    assert [x["id"] for x in items] == [p.id] and total == 1
    with pytest.raises(rules.PrizeNotFound):
        prizes.prize_for_member(outsider.member, p.id)
    with pytest.raises(rules.NotEligible), unit_of_work():
        _redeem(w["member"], p, key="x")
    assert _n() == 0


def test_opening_and_closing_times(app):
    with unit_of_work():
        w = world(1000)
        start = clock.now() + timedelta(hours=1)
        p = prize(w["admin"], w["point"], opens_at=start, closes_at=start + timedelta(days=1))
    assert rules.prize_state(p) == "not_open"
    with pytest.raises(rules.PrizeNotOpen), unit_of_work():
        _redeem(w["member"], p, key="early")
    with clock.freeze(start + timedelta(days=2)):
        assert rules.prize_state(p) == "closed"
        with pytest.raises(rules.PrizeClosed), unit_of_work():
            _redeem(w["member"], p, key="late")
    assert _n() == 0 and points.balance(w["member"].member.id) == 1000


@pytest.mark.parametrize("quantity", [0, -1, 10**9, "3", None, 1.5, True])
def test_bad_quantity_is_refused(app, quantity):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"])
    with pytest.raises(ValidationError), unit_of_work():
        _redeem(w["member"], p, quantity=quantity, key="q")
    assert _n() == 0


def test_pickup_code_once_only_at_its_point_before_deadline(app):
    with unit_of_work():
        w = world(1000)
        other_point = prizes.create_pickup_point(w["admin"], w["admin"].org, name="古井集团工会二号领取点",
                                                 office_org_id=w["tree"]["gujing"].id)  # the same staff's
        p = prize(w["admin"], w["point"], cost=100)
        r = _redeem(w["member"], p, key="p1")
        code = r["pickup_code"]
    staff = w["staff"]
    with pytest.raises(rules.PickupRefused) as exc:
        prizes.find_for_pickup(staff, other_point.id, code)
    assert exc.value.code == "pickup_code_other_point"
    with pytest.raises(DomainError) as exc:
        prizes.find_for_pickup(staff, w["point"].id, "ZZZZZZZZZZ")
    assert exc.value.code == "pickup_code_unknown"
    found = prizes.find_for_pickup(staff, w["point"].id, code.lower())
    assert rules.mask_name(found.member.name) == "王**"
    with unit_of_work():
        prizes.hand_over(staff, w["point"].id, code)
    with pytest.raises(rules.PickupRefused) as exc, unit_of_work():
        prizes.hand_over(staff, w["point"].id, code)
    assert exc.value.code == "pickup_code_used"
    with pytest.raises(rules.NotCancellable), unit_of_work():
        prizes.cancel(w["member"].member, r["id"], None)
    with unit_of_work():
        r2 = _redeem(w["member"], p, key="p2")
    with clock.freeze(clock.now() + timedelta(days=30)):
        with pytest.raises(rules.PickupRefused) as exc, unit_of_work():
            prizes.hand_over(staff, w["point"].id, r2["pickup_code"])
        assert exc.value.code == "pickup_code_expired"


def test_staff_of_other_offices_and_admins_cannot_use_the_point(app):
    """Only the counter's own staff: not another office's (not even the county office above it),
    and no admin, even the one whose union owns the point and the prize."""
    with unit_of_work():
        w = world(1000)
        outsiders = [factories.pickup_staff(w["tree"]["magang"], username="magang_pickup"),
                     factories.pickup_staff(w["tree"]["qiaocheng"], username="qiaocheng_pickup"),
                     w["admin"], factories.admin(w["tree"]["gujing"], username="gujing_admin")]
        code = _redeem(w["member"], prize(w["admin"], w["point"], cost=100), key="o1")["pickup_code"]
    assert [p.id for p in prizes.staff_points(w["staff"])] == [w["point"].id]
    for outsider in outsiders:
        assert prizes.staff_points(outsider) == []
        with pytest.raises(DomainError) as exc, unit_of_work():
            prizes.hand_over(outsider, w["point"].id, code)
        assert exc.value.code == "pickup_point_not_found"
    assert db.session.scalar(select(Redemption.status)) == "redeemed"


def test_high_value_needs_a_different_admin(app):
    with unit_of_work():
        w = world(10_000)
        p = prize(w["admin"], w["point"], cost=5000, name="冰箱", high_value=True)
        r = _redeem(w["member"], p, key="hv")
    assert r["approval"] == "pending"
    with pytest.raises(rules.PickupRefused) as exc, unit_of_work():
        prizes.hand_over(w["staff"], w["point"].id, r["pickup_code"])
    assert exc.value.code == "awaiting_approval"
    with pytest.raises(DomainError) as exc, unit_of_work():
        prizes.approve(w["admin"], w["admin"].org, r["id"])
    assert exc.value.code == "second_admin_required"
    with unit_of_work():
        prizes.approve(w["second"], w["second"].org, r["id"])
    with unit_of_work():
        assert prizes.hand_over(w["staff"], w["point"].id, r["pickup_code"]).status == "handed_over"


def test_restock_and_history_show_every_change(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], stock=1, cost=100)
        prizes.restock(w["admin"], w["admin"].org, p, 4, w["point"].id, note="第二批")
        r = _redeem(w["member"], p, key="h1")
        prizes.cancel(w["member"].member, r["id"], None)
    history = prizes.stock_history(p)
    assert [(e["reason"], e["delta"]) for e in history][::-1] == [("initial", 1), ("restock", 4), ("redeem", -1),
                                                                  ("cancel", 1)]
    report = prizes.report(p)
    assert report["stock_left"] == 5 and report["cancelled"] == 1 and report["redeemed"] == 1


def test_image_upload_checks_type_and_size(app):
    with unit_of_work():
        w = world(0)
        p = prize(w["admin"], w["point"])
        with pytest.raises(ValidationError):
            prizes.set_image(w["admin"], p, b"<svg onload=alert(1)>")
        with pytest.raises(ValidationError):
            prizes.set_image(w["admin"], p, b"\x89PNG\r\n\x1a\n" + b"0" * prizes.MAX_IMAGE_BYTES)
        image = prizes.set_image(w["admin"], p, b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    assert image.content_type == "image/png" and p.image_id == image.id


def test_flask_prizes_expire_command(app):
    with unit_of_work():
        w = world(1000)
        p = prize(w["admin"], w["point"], stock=2, cost=100, pickup_days=1)
        _redeem(w["member"], p, key="cli1")
        _redeem(w["member"], p, key="cli2")
    runner = app.test_cli_runner()
    assert "expired 0 redemption(s)" in runner.invoke(args=["prizes", "expire"]).output
    with clock.freeze(clock.now() + timedelta(days=1, minutes=1)):
        assert "expired 2 redemption(s)" in runner.invoke(args=["prizes", "expire"]).output
        assert "expired 0 redemption(s)" in runner.invoke(args=["prizes", "expire"]).output
    db.session.expire_all()
    assert points.balance(w["member"].member.id) == 1000
    assert p.stock == 2
    assert _n("expired") == 2
