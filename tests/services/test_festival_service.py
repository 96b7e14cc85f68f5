"""Festival gifts in the service layer, on real PostgreSQL (and Redis for the gate): set-up and
its refusals, the one claim per member and its rows, refusals that leave nothing behind, the
pickup counter and expiry shared with the prize mall, delivery, the report and its CSV."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from benefits import clock, counters
from benefits.database import unit_of_work
from benefits.errors import DomainError
from benefits.extensions import db
from benefits.festival import export, gate, rules, schemas
from benefits.festival import service as festival
from benefits.festival.models import FestivalGift
from benefits.idempotency import IdempotencyRecord
from benefits.notices.models import Notice
from benefits.prizes import service as prizes
from benefits.prizes.models import Prize, Redemption
from tests import factories
from tests.conftest import make_app, statements_sent, wipe
from tests.festival_factories import campaign, world
from tests.prize_factories import member_user, pickup_point

CODE_ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


def claim(user, c, gift, key=None, **contact):
    """The service's claim as a request makes it: in a unit of work, the user as signed in.
    `c` and `gift` may be objects or ids."""
    args = {"gift_id": getattr(gift, "id", gift), "delivery_address": contact.get("address"),
            "delivery_phone": contact.get("phone")}
    user_id = user.id
    with unit_of_work():
        return festival.claim_gift(getattr(c, "id", c), args, key, user_id=user_id, signed_in=lambda: user)


def work(fn, *args, **kwargs):
    """`fn` in a unit of work of its own, as a request runs it."""
    with unit_of_work():
        return fn(*args, **kwargs)


def refused(code: str, fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code, (caught.value.code, caught.value.message, caught.value.details)
    return caught.value


def state(campaign_id: int) -> dict:
    """Everything a claim writes, to compare before and after a refusal."""
    db.session.expire_all()
    return {"stock": db.session.scalar(select(func.sum(FestivalGift.stock)).where(FestivalGift.campaign_id == campaign_id)),
            "claims": db.session.scalar(select(func.count(Redemption.id))),
            "notices": db.session.scalar(select(func.count(Notice.id))),
            "idempotency": db.session.scalar(select(func.count(IdempotencyRecord.id)))}


def _gift(c, prize) -> FestivalGift:
    return next(g for g in c.gifts if g.prize_id == prize.id)


# --- set-up -----------------------------------------------------------------------------------

def test_set_up_refuses_every_bad_field_and_writes_nothing(app):
    with unit_of_work():
        w = world()
        other_city_admin = factories.admin(w["tree"]["maanshan"], "maanshan_festival")
        their_point = pickup_point(other_city_admin, w["tree"]["magang"], name="马钢工会")
        at = clock.now()
        data = {"name": " ", "opens_at": at, "closes_at": at - timedelta(hours=1),
                "pickup_until": date(2000, 1, 1), "eligible_org_id": w["tree"]["magang"].id,
                "eligible_categories": ["ordinary", "astronaut"],
                "gifts": [{"prize_id": w["rice"].id, "pickup_point_id": None, "stock": 5},
                          {"prize_id": w["pears"].id, "pickup_point_id": w["point"].id, "stock": -1},
                          {"prize_id": 987654, "pickup_point_id": None, "stock": 1},
                          {"prize_id": w["rice"].id, "pickup_point_id": their_point.id, "stock": 1}]}
        error = refused("validation_error", festival.create_campaign, w["admin"], w["admin"].org, data)
    assert set(error.details["fields"]) == {
        "name", "closes_at", "eligible_org_id", "eligible_categories", "pickup_until",
        "gifts.0.pickup_point_id", "gifts.1.pickup_point_id", "gifts.1.stock", "gifts.2.prize_id",
        "gifts.3.pickup_point_id"}
    assert db.session.scalar(select(func.count()).select_from(FestivalGift)) == 0


def test_the_same_item_twice_at_one_point_is_refused(app):
    with unit_of_work():
        w = world()
        gifts = [(w["rice"], w["point"], 5), (w["rice"], w["point"], 3)]
        error = refused("validation_error", campaign, w["admin"], gifts)
    assert "gifts.1.prize_id" in error.details["fields"]
    with unit_of_work():
        c = campaign(w["admin"], [(w["rice"], w["point"], 5), (w["pears"], None, 2)])
    refused("gift_exists", work, festival.add_gift, w["admin"], w["admin"].org, c,
            {"prize_id": w["pears"].id, "pickup_point_id": None, "stock": 1})
    db.session.expire_all()
    assert len(c.gifts) == 2


# --- the claim --------------------------------------------------------------------------------

def test_a_claim_is_a_zero_point_redemption_with_a_pickup_code_and_a_notice(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 3)], pickup_until=date(2027, 2, 20),
                     closes_at=datetime(2027, 2, 10, 16, 0, tzinfo=timezone.utc))
    gift = _gift(c, w["rice"])
    body = claim(w["member"], c, gift)
    r = db.session.get(Redemption, body["id"])
    assert (r.campaign_id, r.member_id, r.prize_id, r.points_spent, r.quantity) == \
        (c.id, w["member"].member.id, w["rice"].id, 0, 1)
    assert len(r.pickup_code) == 10 and set(r.pickup_code) <= CODE_ALPHABET
    # good to the end of 20 February in China
    assert clock.as_utc(r.pickup_deadline) == datetime(2027, 2, 20, 16, 0, tzinfo=timezone.utc)
    assert body["pickup_code"] == r.pickup_code and body["item_name"] == "大米油礼包"
    assert body["pickup_point"]["id"] == w["point"].id
    db.session.refresh(gift)
    assert (gift.stock, gift.allocated) == (2, 3)
    notice = db.session.scalar(select(Notice))
    assert (notice.member_id, notice.kind, notice.dedupe_key) == \
        (w["member"].member.id, "pickup_ready", f"festival-claim:{r.id}")
    assert notice.params["item"] == "大米油礼包" and notice.params["place"] == w["point"].name
    assert r.pickup_code not in str(notice.params)
    # the prize's own stock, report and history know nothing of it
    assert db.session.get(Prize, w["rice"].id).stock == 0
    assert prizes.report(w["rice"])["redeemed"] == 0
    assert all(e["redemption_id"] is None for e in prizes.stock_history(w["rice"]))


def test_one_gift_per_member_refusals_leave_nothing_behind(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 1), (w["pears"], None, 5)])
        late = member_user(w["tree"]["gujing"], name="迟到者")
    claim(w["member"], c, _gift(c, w["rice"]))
    before = state(c.id)
    refused("already_claimed", claim, w["member"], c, _gift(c, w["pears"]), address="亳州市谯城区光明路66号")
    refused("sold_out", claim, late, c, _gift(c, w["rice"]))
    assert state(c.id) == before


def test_who_may_claim_when(app):
    with unit_of_work():
        w = world()
        retiree = member_user(w["tree"]["gujing"], name="退休者", category="retiree")
        left = member_user(w["tree"]["gujing"], name="离会者")
        left.member.status = "left"
        at = clock.now()
        hardship_only = campaign(w["admin"], [(w["rice"], w["point"], 5)], categories=("hardship", "ordinary"))
        later = campaign(w["admin"], [(w["rice"], w["point"], 5)], name="元宵节", opens_at=at + timedelta(days=1),
                         closes_at=at + timedelta(days=2))
        over = campaign(w["admin"], [(w["rice"], w["point"], 5)], name="中秋节", opens_at=at - timedelta(days=2),
                        closes_at=at - timedelta(days=1))
    before = state(hardship_only.id)
    refused("not_eligible", claim, retiree, hardship_only, hardship_only.gifts[0])
    refused("not_eligible", claim, left, hardship_only, hardship_only.gifts[0])
    refused("campaign_not_found", claim, w["outsider"], hardship_only, hardship_only.gifts[0])
    refused("campaign_not_open", claim, w["member"], later, later.gifts[0])
    refused("campaign_closed", claim, w["member"], over, over.gifts[0])
    refused("validation_error", claim, w["member"], hardship_only, later.gifts[0])  # another campaign's gift
    refused("validation_error", claim, w["member"], hardship_only, 2**31)
    assert state(hardship_only.id) == before
    assert [x.id for x in festival.campaigns_for_member(w["member"].member)] == [hardship_only.id, later.id]
    assert festival.campaigns_for_member(retiree.member) == [later]
    assert festival.campaigns_for_member(w["outsider"].member) == []


def test_the_same_key_replays_and_another_body_is_a_conflict(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 5), (w["pears"], None, 5)])
    first = claim(w["member"], c, _gift(c, w["rice"]), key="tap")
    assert claim(w["member"], c, _gift(c, w["rice"]), key="tap") == first
    refused("idempotency_key_reused", claim, w["member"], c, _gift(c, w["pears"]), key="tap", address="亳州市谯城区")
    refused("already_claimed", claim, w["member"], c, _gift(c, w["rice"]), key="another tap")
    db.session.expire_all()
    assert _gift(c, w["rice"]).stock == 4


# --- at the counter, expiry, delivery ---------------------------------------------------------

def test_the_prize_counter_hands_a_gift_over_and_the_member_cannot_cancel_it(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 5)])
    body = claim(w["member"], c, c.gifts[0])
    refused("not_cancellable", work, prizes.cancel, w["member"].member, body["id"], w["member"].id)
    with unit_of_work():
        found = prizes.find_for_pickup(w["staff"], w["point"].id, body["pickup_code"].lower())
        assert found.id == body["id"]
        r = prizes.hand_over(w["staff"], w["point"].id, body["pickup_code"])
    assert r.status == "handed_over" and r.handed_over_by_user_id == w["staff"].id
    refused("pickup_code_used", work, prizes.hand_over, w["staff"], w["point"].id, body["pickup_code"])
    assert festival.report(c)["handed_over"] == 1


def test_expiry_closes_a_gift_claim_without_touching_points_or_prize_stock(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 5)])
    body = claim(w["member"], c, c.gifts[0])
    with clock.freeze(clock.as_utc(db.session.get(Redemption, body["id"]).pickup_deadline) + timedelta(seconds=1)):
        with unit_of_work():
            assert prizes.due_for_expiry() == [body["id"]]
            assert prizes.expire(body["id"]).status == "expired"
        refused("pickup_code_expired", work, prizes.find_for_pickup, w["staff"], w["point"].id, body["pickup_code"])
    db.session.expire_all()
    assert db.session.get(Prize, w["rice"].id).stock == 0 and c.gifts[0].stock == 4


def test_a_delivery_gift_keeps_the_address_shows_it_masked_and_is_marked_sent(app):
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["pears"], None, 5)])
    refused("validation_error", claim, w["member"], c, c.gifts[0], address="短")
    body = claim(w["member"], c, c.gifts[0], address="安徽省亳州市谯城区光明路66号", phone="138 5678 5678")
    assert body["pickup_code"] is None and body["delivery_address"] == "安徽省亳州市谯城区光明路66号"
    assert body["delivery_phone"] == "138****5678"
    r = db.session.get(Redemption, body["id"])
    assert (r.pickup_code, r.pickup_deadline, r.delivery_phone) == (None, None, "13856785678")
    assert db.session.scalar(select(func.count(Notice.id))) == 0  # no pickup code, no pickup notice
    listed = [schemas.admin_claim_view(x) for x in db.session.scalars(festival.claims_of(c))]
    assert listed[0]["delivery_address"] == "安徽省亳州市****" and listed[0]["member_name"] == "王**"
    assert listed[0]["delivery_phone"] == "138****5678"
    # and the prize console does not list it, with its full address
    assert db.session.scalars(prizes.redemptions_in_scope(w["admin"].org)).all() == []
    with unit_of_work():
        sent = festival.mark_delivered(w["admin"], w["admin"].org, c, body["id"])
    assert sent.status == "handed_over"


def test_mask_address():
    assert rules.mask_address("安徽省亳州市谯城区光明路66号") == "安徽省亳州市****"
    assert rules.mask_address("亳州") == "**"
    assert rules.mask_address(None) == ""


# --- the report -------------------------------------------------------------------------------

def test_the_report_counts_unclaimed_members_per_organisation_and_stock_per_gift(app):
    with unit_of_work():
        w = world()
        qiaocheng_office = pickup_point(w["admin"], w["tree"]["qiaocheng"], name="谯城区总工会")
        gujing = [w["member"]] + [member_user(w["tree"]["gujing"], name=f"古井{i}") for i in range(3)]
        county = [member_user(w["tree"]["qiaocheng"], name=f"谯城{i}") for i in range(2)]
        member_user(w["tree"]["gujing"], name="退休者", category="retiree")
        member_user(w["tree"]["gujing"], name="=HYPERLINK(\"x\")")
        c = campaign(w["admin"], [(w["rice"], w["point"], 3), (w["rice"], qiaocheng_office, 1), (w["pears"], None, 5)],
                     eligible_org=w["tree"]["qiaocheng"], categories=("ordinary",))
    at_gujing, at_county, by_post = (_gift(c, w["rice"]), next(g for g in c.gifts if g.pickup_point_id == qiaocheng_office.id),
                                     _gift(c, w["pears"]))
    claim(gujing[0], c, at_gujing)
    claim(gujing[1], c, at_gujing)
    claim(county[0], c, at_county)
    claim(gujing[2], c, by_post, address="安徽省亳州市谯城区光明路66号")
    with unit_of_work():
        prizes.hand_over(w["staff"], w["point"].id, festival.my_claim(gujing[0].member, c.id).pickup_code)
    report = festival.report(c)
    orgs = {o["org_code"]: (o["eligible"], o["claimed"], o["unclaimed"]) for o in report["organisations"]}
    assert orgs == {"341602": (2, 1, 1), "341602001": (5, 3, 2)}  # the retiree is not eligible
    assert (report["eligible"], report["claimed"], report["unclaimed"], report["claims"], report["handed_over"],
            report["stock_left"]) == (7, 4, 3, 4, 1, 1 + 0 + 4)
    assert [(g["pickup_point"], g["allocated"], g["claimed"], g["handed_over"], g["stock_left"])
            for g in report["gifts"]] == [(w["point"].name, 3, 2, 1, 1), ("谯城区总工会", 1, 1, 0, 0), (None, 5, 1, 0, 4)]

    rows = list(csv.reader(io.StringIO(export.unclaimed_csv(report).lstrip("\ufeff"))))
    assert rows[0] == ["组织代码", "组织", "符合条件会员", "已领取", "未领取"]
    assert rows[-1] == ["", "合计", "7", "4", "3"]
    stock_rows = list(csv.reader(io.StringIO(export.stock_csv(report).lstrip("\ufeff"))))
    assert stock_rows[0] == ["礼品", "领取点", "投放数量", "已领取", "已核销", "剩余库存"]
    assert stock_rows[3] == ["砀山梨（邮寄）", "邮寄", "5", "1", "0", "4"]


def test_csv_cells_are_escaped_against_formulas():
    report = {"organisations": [{"org_code": "=1+1", "org_name": "@SUM(A1)", "eligible": 1, "claimed": 0,
                                 "unclaimed": 1}], "eligible": 1, "claimed": 0, "unclaimed": 1}
    rows = list(csv.reader(io.StringIO(export.unclaimed_csv(report).lstrip("\ufeff"))))
    assert rows[1][:2] == ["'=1+1", "'@SUM(A1)"]


# --- the Redis gate ---------------------------------------------------------------------------

@pytest.fixture
def redis_app(database_url, flush_redis, redis_url):
    app = make_app(database_url, REDIS_URL=redis_url)
    with app.app_context():
        yield app
        db.session.remove()
    clock.set_frozen(None)
    wipe(app)


@pytest.fixture
def statements(redis_app):
    with statements_sent() as seen:
        yield seen


def _keys(c, gift):
    return gate.gate_keys(c.id, gift.id)


def test_the_gate_refuses_a_second_claim_and_sold_out_without_sql(redis_app, statements, flush_redis):
    with unit_of_work():
        w = world()
        late = member_user(w["tree"]["gujing"], name="迟到者")
        c = campaign(w["admin"], [(w["rice"], w["point"], 1)])  # its keys are built once this commits
    gift = c.gifts[0]
    cfg, stock_key, claimed_key = _keys(c, gift)
    assert int(flush_redis.get(stock_key)) == 1 and flush_redis.exists(cfg)
    claim(w["member"], c, gift)
    assert int(flush_redis.get(stock_key)) == 0
    assert flush_redis.hgetall(claimed_key) == {str(w["member"].id).encode(): b""}
    # what a request knows without the database: the user id its signed session names
    campaign_id, gift_id = c.id, gift.id
    member_session, late_session = SimpleNamespace(id=w["member"].id), SimpleNamespace(id=late.id)
    statements.clear()
    refused("already_claimed", claim, member_session, campaign_id, gift_id)
    refused("sold_out", claim, late_session, campaign_id, gift_id)
    assert statements == []


def test_a_reservation_sql_refuses_is_given_back(redis_app, flush_redis):
    with unit_of_work():
        w = world()
        retiree = member_user(w["tree"]["gujing"], name="退休者", category="retiree")
        c = campaign(w["admin"], [(w["rice"], w["point"], 2)], categories=("ordinary",))
    gift = c.gifts[0]
    refused("not_eligible", claim, retiree, c, gift)   # the gate reserved, SQL refused, the rollback gave back
    assert gate.snapshot(flush_redis, c) == {"gifts": {gift.id: 2}, "claimed": {}}
    first = claim(w["member"], c, gift, key="k")
    assert claim(w["member"], c, gift, key="k") == first  # the gate's 'replay' lets it replay, taking nothing
    refused("already_claimed", claim, w["member"], c, gift, key="another")
    assert gate.snapshot(flush_redis, c) == {"gifts": {gift.id: 1}, "claimed": {w["member"].id: gate.key_hash("k")}}


def test_a_twin_request_reaching_sql_first_does_not_write_the_claim(redis_app, flush_redis):
    """Two presses with one Idempotency-Key: the one that took the gate's stock and mark writes the
    claim; its twin, should it reach SQL first, is told the claim is in progress and writes nothing."""
    with unit_of_work():
        w = world()
        c = campaign(w["admin"], [(w["rice"], w["point"], 2)])
    gift = c.gifts[0]
    with unit_of_work():   # the first press, as far as the gate: stock and mark taken, SQL not yet reached
        assert gate.reserve(c.id, gift.id, w["member"].id, gate.key_hash("tap")).reserved
    before = state(c.id)
    refused("claim_in_progress", claim, w["member"], c, gift, key="tap")
    assert state(c.id) == before
    assert gate.snapshot(flush_redis, c) == {"gifts": {gift.id: 1}, "claimed": {w["member"].id: gate.key_hash("tap")}}


def test_cold_keys_are_rebuilt_and_reconcile_agrees_with_sql(redis_app, flush_redis):
    with unit_of_work():
        w = world()
        others = [member_user(w["tree"]["gujing"], name=f"会员{i}") for i in range(2)]
        c = campaign(w["admin"], [(w["rice"], w["point"], 5), (w["pears"], None, 1)])
    claim(w["member"], c, _gift(c, w["rice"]))
    flush_redis.flushdb()
    claim(others[0], c, _gift(c, w["rice"]))            # missing keys: SQL decides, then rebuilds them
    assert gate.snapshot(flush_redis, c) == {"gifts": {_gift(c, w["rice"]).id: 3, _gift(c, w["pears"]).id: 1},
                                             "claimed": {w["member"].id: "", others[0].id: ""}}
    flush_redis.set(counters.key(gate.tag(c.id), "gift", _gift(c, w["rice"]).id), 99)
    assert counters.reconcile_all()["festival"] == {"campaigns": 1}
    assert gate.snapshot(flush_redis, c)["gifts"][_gift(c, w["rice"]).id] == 3
    with unit_of_work():
        festival.restock_gift(w["admin"], c, _gift(c, w["pears"]).id, 4)
    assert gate.snapshot(flush_redis, c)["gifts"][_gift(c, w["pears"]).id] == 5
