"""Festival gifts through the JSON API (no Redis: SQL alone decides, as with Redis down): the
member's claim and its refusals (not eligible, closed, twice, out of stock, bad input), each of
which changes nothing; the admin's set-up, scope, claims list and report."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.festival.models import FestivalCampaign, FestivalGift
from benefits.idempotency import IdempotencyRecord
from benefits.notices.models import Notice
from benefits.prizes.models import Redemption
from tests import factories
from tests.api.conftest import error_code
from tests.festival_factories import campaign, world
from tests.prize_factories import member_user


def _login(app, user):
    client = app.test_client()
    resp = client.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return client


def _written() -> dict:
    db.session.expire_all()
    return {"stock": db.session.scalar(select(func.sum(FestivalGift.stock))),
            "claims": db.session.scalar(select(func.count(Redemption.id))),
            "notices": db.session.scalar(select(func.count(Notice.id))),
            "idempotency": db.session.scalar(select(func.count(IdempotencyRecord.id)))}


@pytest.fixture
def fw(app):
    with unit_of_work():
        w = world()
        w["late"] = member_user(w["tree"]["gujing"], name="迟到者")
        w["retiree"] = member_user(w["tree"]["gujing"], name="退休者", category="retiree")
        w["spring"] = campaign(w["admin"], [(w["rice"], w["point"], 1), (w["pears"], None, 5)],
                               categories=("ordinary", "hardship"))
        at = clock.now()
        w["over"] = campaign(w["admin"], [(w["rice"], w["point"], 5)], name="中秋节",
                             opens_at=at - timedelta(days=3), closes_at=at - timedelta(days=1))
        w["soon"] = campaign(w["admin"], [(w["rice"], w["point"], 5)], name="元宵节",
                             opens_at=at + timedelta(days=1), closes_at=at + timedelta(days=3))
    w["rice_gift"] = next(g.id for g in w["spring"].gifts if g.prize_id == w["rice"].id)
    w["pear_gift"] = next(g.id for g in w["spring"].gifts if g.prize_id == w["pears"].id)
    return w


def _claim(client, campaign_id, body, **headers):
    return client.post(f"/api/v1/festival/campaigns/{campaign_id}/claim", json=body, headers=headers)


def test_member_sees_offered_campaigns_claims_once_and_reads_the_code(app, fw):
    client = _login(app, fw["member"])
    listed = client.get("/api/v1/festival/campaigns").get_json()
    assert [(c["name"], c["state"]) for c in listed] == [("春节慰问品", "open"), ("元宵节", "not_open")]
    spring = listed[0]
    assert [(g["name"], g["fulfilment"], g["stock"]) for g in spring["gifts"]] == \
        [("大米油礼包", "pickup", 1), ("砀山梨（邮寄）", "delivery", 5)]
    assert spring["my_claim"] is None
    resp = _claim(client, fw["spring"].id, {"gift_id": fw["rice_gift"]}, **{"Idempotency-Key": "k1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "redeemed" and len(body["pickup_code"]) == 10 and body["campaign_name"] == "春节慰问品"
    again = _claim(client, fw["spring"].id, {"gift_id": fw["rice_gift"]}, **{"Idempotency-Key": "k1"})
    assert (again.status_code, again.get_json()) == (201, body)
    mine = client.get(f"/api/v1/festival/campaigns/{fw['spring'].id}/my-claim").get_json()
    assert mine["pickup_code"] == body["pickup_code"]
    assert client.get(f"/api/v1/festival/campaigns/{fw['spring'].id}").get_json()["my_claim"]["id"] == body["id"]
    # the pickup code is the prize mall's: the member's redemptions list it too, at no points
    redemption = client.get(f"/api/v1/prizes/redemptions/{body['id']}").get_json()
    assert (redemption["pickup_code"], redemption["points_spent"]) == (body["pickup_code"], 0)
    cancel = client.post(f"/api/v1/prizes/redemptions/{body['id']}/cancel")
    assert (cancel.status_code, error_code(cancel)) == (409, "not_cancellable")


def test_each_refusal_answers_its_code_and_changes_nothing(app, fw):
    member = _login(app, fw["member"])
    assert _claim(member, fw["spring"].id, {"gift_id": fw["rice_gift"]}).status_code == 201
    before = _written()
    cases = [
        (member, fw["spring"].id, {"gift_id": fw["pear_gift"], "delivery_address": "安徽省亳州市谯城区光明路66号"},
         409, "already_claimed"),
        (_login(app, fw["late"]), fw["spring"].id, {"gift_id": fw["rice_gift"]}, 409, "sold_out"),
        (_login(app, fw["retiree"]), fw["spring"].id, {"gift_id": fw["rice_gift"]}, 403, "not_eligible"),
        (_login(app, fw["outsider"]), fw["spring"].id, {"gift_id": fw["rice_gift"]}, 404, "campaign_not_found"),
        (member, fw["over"].id, {"gift_id": fw["over"].gifts[0].id}, 409, "campaign_closed"),
        (member, fw["soon"].id, {"gift_id": fw["soon"].gifts[0].id}, 409, "campaign_not_open"),
        (member, 987654, {"gift_id": fw["rice_gift"]}, 404, "campaign_not_found"),
    ]
    for client, campaign_id, body, status, code in cases:
        resp = _claim(client, campaign_id, body)
        assert (resp.status_code, error_code(resp)) == (status, code), (body, resp.get_json())
        assert set(resp.get_json()["error"]) == {"code", "message", "details"}
    assert _written() == before


@pytest.mark.parametrize("body, field", [
    ({}, "gift_id"),
    ({"gift_id": "1"}, "gift_id"),
    ({"gift_id": 1.0}, "gift_id"),
    ({"gift_id": 2**40}, "gift_id"),
    ({"gift_id": -3}, "gift_id"),
    ({"gift_id": True}, "gift_id"),
    ({"gift_id": None}, "gift_id"),
    ({"gift_id": "PEARS", "delivery_address": "x" * 300}, "delivery_address"),
    ({"gift_id": "PEARS", "delivery_address": "短"}, "delivery_address"),
    ({"gift_id": "PEARS", "delivery_address": "安徽省亳州市谯城区光明路66号", "delivery_phone": "12345"}, "delivery_phone"),
    ({"gift_id": "PEARS"}, "delivery_address"),
    ({"gift_id": "OTHER"}, "gift_id"),
])
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(app, fw, body, field):
    ids = {"PEARS": fw["pear_gift"], "OTHER": fw["soon"].gifts[0].id}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    client = _login(app, fw["member"])
    before = _written()
    resp = _claim(client, fw["spring"].id, body, **{"Idempotency-Key": "bad"})
    assert resp.status_code == 400, resp.get_json()
    assert field in str(resp.get_json()["error"]["details"]), resp.get_json()
    assert _written() == before
    malformed = client.post(f"/api/v1/festival/campaigns/{fw['spring'].id}/claim", data="{not json",
                            content_type="application/json")
    assert malformed.status_code == 400 and malformed.is_json


def test_a_delivery_gift_without_a_pickup_code(app, fw):
    client = _login(app, fw["member"])
    resp = _claim(client, fw["spring"].id, {"gift_id": fw["pear_gift"], "delivery_address": "安徽省亳州市谯城区光明路66号",
                                            "delivery_phone": "13856785678"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["pickup_code"] is None and resp.get_json()["delivery_phone"] == "138****5678"


def test_anyone_but_a_member_is_refused_before_anything_is_read(app, fw):
    anonymous = app.test_client()
    assert anonymous.post(f"/api/v1/festival/campaigns/{fw['spring'].id}/claim",
                          json={"gift_id": fw["rice_gift"]}).status_code == 401
    admin = _login(app, fw["admin"])
    resp = _claim(admin, fw["spring"].id, {"gift_id": fw["rice_gift"]})
    assert (resp.status_code, error_code(resp)) == (403, "forbidden")
    assert admin.get("/api/v1/festival/campaigns").status_code == 403


# --- admins -----------------------------------------------------------------------------------

def _campaign_body(w, **overrides) -> dict:
    body = {"name": "端午节福利", "opens_at": "2027-06-01T08:00:00+08:00", "closes_at": "2027-06-05T18:00:00+08:00",
            "pickup_until": "2027-06-20", "eligible_org_id": w["tree"]["qiaocheng"].id,
            "eligible_categories": ["ordinary"],
            "gifts": [{"prize_id": w["rice"].id, "pickup_point_id": w["point"].id, "stock": 100},
                      {"prize_id": w["pears"].id, "pickup_point_id": None, "stock": 20}]}
    body.update(overrides)
    return body


def test_admin_sets_a_campaign_up_adds_gifts_and_stock(app, fw):
    client = _login(app, fw["admin"])
    resp = client.post("/api/v1/festival/admin/campaigns", json=_campaign_body(fw))
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["opens_at"].startswith("2027-06-01T00:00:00") and created["pickup_until"] == "2027-06-20"
    assert [(g["name"], g["allocated"], g["stock"], g["claimed"]) for g in created["gifts"]] == \
        [("大米油礼包", 100, 100, 0), ("砀山梨（邮寄）", 20, 20, 0)]
    cid = created["id"]
    restocked = client.post(f"/api/v1/festival/admin/campaigns/{cid}/gifts/{created['gifts'][1]['id']}/restock",
                            json={"quantity": 5}).get_json()
    assert restocked["gifts"][1]["stock"] == 25 and restocked["gifts"][1]["allocated"] == 25
    duplicate = client.post(f"/api/v1/festival/admin/campaigns/{cid}/gifts",
                            json={"prize_id": fw["rice"].id, "pickup_point_id": fw["point"].id, "stock": 1})
    assert (duplicate.status_code, error_code(duplicate)) == (409, "gift_exists")
    listed = client.get("/api/v1/festival/admin/campaigns").get_json()
    assert listed["total"] == 4 and cid in [c["id"] for c in listed["items"]]


@pytest.mark.parametrize("overrides, fields", [
    ({"name": ""}, {"name"}),
    ({"closes_at": "2027-05-01T00:00:00+08:00"}, {"closes_at"}),
    ({"pickup_until": "2027-06-04"}, {"pickup_until"}),
    ({"gifts": []}, {"gifts"}),
    ({"eligible_categories": ["astronaut"]}, {"eligible_categories"}),
    ({"opens_at": "tomorrow"}, {"opens_at"}),
    ({"gifts": [{"prize_id": 987654, "pickup_point_id": None, "stock": 1}]}, {"gifts.0.prize_id"}),
    ({"gifts": [{"prize_id": "RICE", "pickup_point_id": None, "stock": 1}]}, {"gifts.0.pickup_point_id"}),
    ({"gifts": [{"prize_id": "RICE", "pickup_point_id": "POINT", "stock": -1}]}, {"gifts"}),
])
def test_admin_set_up_with_bad_fields_is_a_400_naming_them(app, fw, overrides, fields):
    ids = {"RICE": fw["rice"].id, "POINT": fw["point"].id}
    if "gifts" in overrides:
        overrides = {"gifts": [{k: ids.get(v, v) if isinstance(v, str) else v for k, v in g.items()}
                               for g in overrides["gifts"]]}
    client = _login(app, fw["admin"])
    before = db.session.scalar(select(func.count(FestivalCampaign.id)))
    resp = client.post("/api/v1/festival/admin/campaigns", json=_campaign_body(fw, **overrides))
    assert resp.status_code == 400, resp.get_json()
    details = resp.get_json()["error"]["details"]
    named = set(details.get("fields", details))
    assert fields <= named or any(f in str(details) for f in fields), details
    assert db.session.scalar(select(func.count(FestivalCampaign.id))) == before


def test_another_union_admin_sees_none_of_it(app, fw):
    with unit_of_work():
        maanshan = factories.admin(fw["tree"]["maanshan"], "maanshan_admin")
    client = _login(app, maanshan)
    cid = fw["spring"].id
    assert client.get("/api/v1/festival/admin/campaigns").get_json()["total"] == 0
    for path in (f"/api/v1/festival/admin/campaigns/{cid}", f"/api/v1/festival/admin/campaigns/{cid}/claims",
                 f"/api/v1/festival/admin/campaigns/{cid}/report"):
        resp = client.get(path)
        assert (resp.status_code, error_code(resp)) == (404, "campaign_not_found"), path
    resp = client.post(f"/api/v1/festival/admin/campaigns/{cid}/gifts/{fw['rice_gift']}/restock", json={"quantity": 5})
    assert resp.status_code == 404
    # nor may it offer Bozhou's catalogue or pickup points in its own campaign
    resp = client.post("/api/v1/festival/admin/campaigns", json=_campaign_body(fw, eligible_org_id=None))
    assert resp.status_code == 400
    assert {"gifts.0.prize_id", "gifts.1.prize_id"} <= set(resp.get_json()["error"]["details"]["fields"])


def test_admin_lists_claims_masked_marks_delivery_sent_and_reads_the_report(app, fw):
    member = _login(app, fw["member"])
    body = _claim(member, fw["spring"].id, {"gift_id": fw["pear_gift"], "delivery_address": "安徽省亳州市谯城区光明路66号",
                                            "delivery_phone": "13856785678"}).get_json()
    admin = _login(app, fw["admin"])
    cid = fw["spring"].id
    claims = admin.get(f"/api/v1/festival/admin/campaigns/{cid}/claims").get_json()
    assert claims["total"] == 1
    row = claims["items"][0]
    assert (row["member_name"], row["delivery_address"], row["delivery_phone"]) == \
        ("王**", "安徽省亳州市****", "138****5678")
    assert "pickup_code" not in row and "安徽省亳州市谯城区" not in str(claims)
    sent = admin.post(f"/api/v1/festival/admin/campaigns/{cid}/claims/{body['id']}/deliver")
    assert sent.status_code == 200 and sent.get_json()["status"] == "handed_over"
    other = admin.post(f"/api/v1/festival/admin/campaigns/{fw['over'].id}/claims/{body['id']}/deliver")
    assert (other.status_code, error_code(other)) == (404, "claim_not_found")
    report = admin.get(f"/api/v1/festival/admin/campaigns/{cid}/report").get_json()
    # 古井集团: 王小明, 迟到者 (ordinary); the retiree is not eligible; 马钢 is another city
    assert (report["eligible"], report["claimed"], report["unclaimed"], report["handed_over"]) == (2, 1, 1, 1)
    assert [(o["org_code"], o["unclaimed"]) for o in report["organisations"]] == [("341602001", 1)]
