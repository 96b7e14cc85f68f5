"""Prize API (no Redis): members, pickup staff and admins."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.idempotency import IdempotencyRecord
from benefits.orgs import service as orgs
from benefits.points import service as points
from benefits.prizes.models import Prize, Redemption
from tests import factories
from tests.api.conftest import csrf_header
from tests.prize_factories import prize, rich_member, world


@pytest.fixture
def w(app):
    with unit_of_work():
        w = world(1000)
        w["umbrella"] = prize(w["admin"], w["point"], stock=5, cost=300, name="雨伞")
        w["fridge"] = prize(w["admin"], w["point"], stock=1, cost=5000, name="冰箱")
        w["ids"] = {k: w[k].id for k in ("umbrella", "fridge")}
    return w


def _counts(member_id):
    return (db.session.scalar(select(func.count(Redemption.id))), points.balance(member_id),
            db.session.scalar(select(func.sum(Prize.stock))))


def _login(auth, user):
    assert auth.login(user.username).status_code == 302


def test_mall_marks_affordable_and_sold_out(client, auth, w):
    _login(auth, w["member"])
    body = client.get("/api/v1/prizes").get_json()
    assert body["points_balance"] == 1000
    by_name = {p["name"]: p for p in body["items"]}
    assert by_name["雨伞"]["affordable"] is True and by_name["冰箱"]["affordable"] is False
    assert by_name["雨伞"]["state"] == "available"
    assert by_name["雨伞"]["pickup_points"][0]["stock"] == 5
    detail = client.get(f"/api/v1/prizes/{w['ids']['umbrella']}").get_json()
    assert detail["cost_points"] == 300


def test_the_mall_answer_is_exactly_what_its_schema_would_dump(app, client, auth, w):
    """The mall's API answer is made without marshmallow (`schemas.mall_json`): it must be
    byte for byte what `MallOut` dumps, of the mall's own items and of the prizes read as ORM
    objects through `prize_view`, for prizes of every shape: times set and unset, limits,
    delivery, several pickup points, sold out, not open, an uploaded picture."""
    from benefits.prizes import schemas
    from benefits.prizes import service as prize_service
    from benefits.prizes.models import PrizeImage
    now = clock.now()
    with unit_of_work():
        second = prize_service.create_pickup_point(w["admin"], w["admin"].org, name="谯城区总工会", address="",
                                                   office_org_id=w["tree"]["bozhou"].id)
        prize(w["admin"], w["point"], stock=0, cost=10, name="已兑完的杯子", category="household")
        prize(w["admin"], w["point"], stock=3, cost=20, name="限时大米", category="food", per_day_limit=1,
              per_month_limit=2, lifetime_limit=3, opens_at=now + timedelta(days=1),
              closes_at=now + timedelta(days=9, microseconds=123456))
        prize(w["admin"], None, stock=7, cost=30, name="寄送的书", fulfilment="delivery", description="包邮",
              high_value=True)
        two = prize(w["admin"], w["point"], stock=4, cost=40, name="两处领取的伞")
        prize_service.restock(w["admin"], w["admin"].org, two, 6, second.id, note="第二处")
        image = PrizeImage(content_type="image/png", data=b"\x89PNG", sha256="0" * 64)
        db.session.add(image)
        db.session.flush()
        db.session.get(Prize, w["ids"]["fridge"]).image_id = image.id
    _login(auth, w["member"])
    body = client.get("/api/v1/prizes?per_page=50").get_json()
    with app.test_request_context():                    # the pictures' URLs
        items, total = prize_service.mall_page(w["member"].member, 1000, 1, 50)
        expected = schemas.MallOut().dump({"items": items, "page": 1, "per_page": 50, "total": total,
                                           "points_balance": 1000})
        offered = sorted((p for p in db.session.scalars(select(Prize)) if p.is_listed),
                         key=lambda p: (p.cost_points, p.id))
        through_orm = [schemas.PrizeOut().dump(schemas.prize_view(p, 1000)) for p in offered]
    assert body == expected and total == 6 and len(body["items"]) == 6
    assert body["items"] == through_orm
    shapes = {i["name"]: i for i in body["items"]}
    assert shapes["限时大米"]["state"] == "not_open" and shapes["已兑完的杯子"]["state"] == "sold_out"
    assert shapes["限时大米"]["closes_at"] == clock.as_utc(now + timedelta(days=9, microseconds=123456)).isoformat()
    assert len(shapes["两处领取的伞"]["pickup_points"]) == 2 and shapes["冰箱"]["image_url"].startswith("/prizes/images/")


def test_mall_pages_split_the_list_and_a_page_past_the_end_still_counts(client, auth, w):
    """The page's one statement carries the count; a page past the end has no row to carry it."""
    _login(auth, w["member"])
    whole = client.get("/api/v1/prizes?per_page=50").get_json()
    first = client.get("/api/v1/prizes?per_page=1").get_json()
    second = client.get("/api/v1/prizes?per_page=1&page=2").get_json()
    past = client.get("/api/v1/prizes?per_page=1&page=3").get_json()
    assert whole["total"] == first["total"] == second["total"] == past["total"] == len(whole["items"]) == 2
    assert first["items"] + second["items"] == whole["items"] and past["items"] == []
    assert all(isinstance(i["pickup_points"], list) for i in whole["items"])


def test_redeem_then_cancel_returns_points_and_stock(client, auth, w):
    _login(auth, w["member"])
    pid = w["ids"]["umbrella"]
    resp = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 2}, headers={"Idempotency-Key": "r-1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["points_spent"] == 600 and body["points_balance"] == 400 and len(body["pickup_code"]) == 10
    assert body["pickup_point"]["name"] == "古井集团工会办公室"
    again = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 2}, headers={"Idempotency-Key": "r-1"})
    assert again.status_code == 201 and again.get_json() == body
    clash = client.post(f"/api/v1/prizes/{pid}/redeem", json={"quantity": 1}, headers={"Idempotency-Key": "r-1"})
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _counts(w["member"].member.id) == (1, 400, 3 + 1)
    mine = client.get("/api/v1/prizes/redemptions").get_json()
    assert [r["id"] for r in mine["items"]] == [body["id"]]
    cancelled = client.post(f"/api/v1/prizes/redemptions/{body['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["points_balance"] == 1000
    assert _counts(w["member"].member.id) == (1, 1000, 6)
    twice = client.post(f"/api/v1/prizes/redemptions/{body['id']}/cancel")
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "not_cancellable"


@pytest.mark.parametrize("payload, status, code", [
    ({"quantity": 0}, 400, "validation_error"),
    ({"quantity": -3}, 400, "validation_error"),
    ({"quantity": 10**12}, 400, "validation_error"),
    ({"quantity": "abc"}, 400, "validation_error"),
    ({"quantity": "2"}, 400, "validation_error"),
    ({"quantity": 1.5}, 400, "validation_error"),
    ({"quantity": 1, "pickup_point_id": 999}, 400, "validation_error"),
])
def test_bad_quantity_changes_nothing(client, auth, w, payload, status, code):
    _login(auth, w["member"])
    before = _counts(w["member"].member.id)
    resp = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json=payload)
    assert resp.status_code == status and resp.get_json()["error"]["code"] == code
    assert _counts(w["member"].member.id) == before


def test_unknown_closed_ineligible_and_unaffordable_change_nothing(client, auth, w):
    with unit_of_work():
        closed = prize(w["admin"], w["point"], name="过期活动", closes_at=clock.now() - timedelta(hours=1))
        guoyang = orgs.create_org("341621", "涡阳县总工会", "county", w["tree"]["bozhou"])
        elsewhere = prize(w["admin"], w["point"], name="涡阳专属", eligible_org_id=guoyang.id)
        retirees = prize(w["admin"], w["point"], name="退休专属", eligible_categories=["retiree"])
        ids = closed.id, elsewhere.id, retirees.id
    _login(auth, w["member"])
    before = _counts(w["member"].member.id)
    cases = [(999_999, 404, "prize_not_found"), (ids[0], 409, "prize_closed"), (ids[1], 404, "prize_not_found"),
             (ids[2], 403, "not_eligible"), (w["ids"]["fridge"], 409, "insufficient_points")]
    for prize_id, status, code in cases:
        resp = client.post(f"/api/v1/prizes/{prize_id}/redeem", json={"quantity": 1})
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (status, code), prize_id
    assert _counts(w["member"].member.id)[:2] == before[:2]
    assert db.session.scalar(select(func.count(IdempotencyRecord.id))) == 0


def test_someone_elses_redemption_is_not_found(client, auth, w):
    with unit_of_work():
        other = rich_member(w["tree"]["gujing"], 1000, name="李四")
    _login(auth, other)
    rid = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json={}).get_json()["id"]
    auth.logout()
    _login(auth, w["member"])
    assert client.get(f"/api/v1/prizes/redemptions/{rid}").status_code == 404
    resp = client.post(f"/api/v1/prizes/redemptions/{rid}/cancel")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "redemption_not_found"
    assert db.session.get(Redemption, rid).status == "redeemed"
    assert points.balance(other.member.id) == 700


def test_pickup_verify_and_hand_over_once(client, auth, w):
    _login(auth, w["member"])
    code = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json={}).get_json()["pickup_code"]
    auth.logout()
    _login(auth, w["staff"])
    pts = client.get("/api/v1/prizes/pickup/points").get_json()
    assert [p["id"] for p in pts] == [w["point"].id]
    body = {"pickup_point_id": w["point"].id, "code": code}
    found = client.post("/api/v1/prizes/pickup/verify", json=body).get_json()
    assert found["member_name"] == "王**" and found["prize_name"] == "雨伞" and found["status"] == "redeemed"
    assert code not in str(found)
    done = client.post("/api/v1/prizes/pickup/hand-over", json=body)
    assert done.status_code == 200 and done.get_json()["status"] == "handed_over"
    used = client.post("/api/v1/prizes/pickup/hand-over", json=body)
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "pickup_code_used"
    unknown = client.post("/api/v1/prizes/pickup/verify", json={**body, "code": "NOPE2345XY"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "pickup_code_unknown"
    auth.logout()
    with unit_of_work():
        outsider = factories.pickup_staff(w["tree"]["magang"], username="magang_pickup")
    _login(auth, outsider)
    foreign = client.post("/api/v1/prizes/pickup/hand-over", json=body)
    assert foreign.status_code == 404 and foreign.get_json()["error"]["code"] == "pickup_point_not_found"


def test_hand_over_needs_the_points_staff_and_the_members_code(client, auth, w):
    """A code is checked only at its counter: members and admins (even the admin whose union owns
    the point and the prize) are refused before the code is looked at, and the counter's own staff
    get nothing without the code the member shows."""
    _login(auth, w["member"])
    code = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json={}).get_json()["pickup_code"]
    body = {"pickup_point_id": w["point"].id, "code": code}
    for user in (w["member"], w["admin"], w["second"]):
        auth.logout()
        _login(auth, user)
        for path in ("/api/v1/prizes/pickup/verify", "/api/v1/prizes/pickup/hand-over"):
            resp = client.post(path, json=body)
            assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden", (user.username, path)
        assert client.get("/api/v1/prizes/pickup/points").status_code == 403
        assert client.post("/prizes/pickup/hand-over", data=body).status_code == 403
    auth.logout()
    assert client.post("/api/v1/prizes/pickup/hand-over", json=body).status_code == 401
    _login(auth, w["staff"])
    for wrong in ({"pickup_point_id": w["point"].id}, {**body, "code": code[::-1]}, {**body, "code": "NOPE2345XY"}):
        resp = client.post("/api/v1/prizes/pickup/hand-over", json=wrong)
        assert resp.status_code in (400, 404), resp.get_json()
    assert db.session.scalar(select(Redemption.status)) == "redeemed"
    assert client.post("/api/v1/prizes/pickup/hand-over", json=body).get_json()["status"] == "handed_over"


def test_pickup_codes_go_only_to_their_member(client, auth, w):
    """Admin lists, actions, CSV, prize page and the OpenAPI document carry no pickup code; the
    member's own redemption pages and API do."""
    with unit_of_work():
        pid = prize(w["admin"], w["point"], stock=2, cost=100, name="电饭煲", high_value=True).id
    _login(auth, w["member"])
    mine = client.post(f"/api/v1/prizes/{pid}/redeem", json={}).get_json()
    code = mine["pickup_code"]
    assert len(code) == 10
    assert client.get(f"/api/v1/prizes/redemptions/{mine['id']}").get_json()["pickup_code"] == code
    assert client.get("/api/v1/prizes/redemptions").get_json()["items"][0]["pickup_code"] == code
    assert code in client.get(f"/prizes/my/{mine['id']}").get_data(as_text=True)
    auth.logout()
    _login(auth, w["admin"])
    listed = client.get("/api/v1/prizes/admin/redemptions")
    assert listed.status_code == 200 and listed.get_json()["total"] == 1
    item = listed.get_json()["items"][0]
    assert item["id"] == mine["id"] and item["member_name"] == "王**"
    assert "pickup_code" not in item and code not in listed.get_data(as_text=True)
    pages = [client.get("/api/v1/prizes/admin/redemptions/export.csv"), client.get("/admin/prizes/export.csv"),
             client.get(f"/admin/prizes/{pid}"), client.get("/admin/prizes"),
             client.get(f"/admin/members/{w['member'].member_id}")]
    for page in pages:
        assert page.status_code == 200 and code not in page.get_data(as_text=True), page.request.path
    auth.logout()
    _login(auth, w["second"])
    approved = client.post(f"/api/v1/prizes/admin/redemptions/{mine['id']}/approve")
    assert approved.status_code == 200 and approved.get_json()["approval"] == "approved"
    assert "pickup_code" not in approved.get_json()
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "pickup_code" not in schemas["AdminRedemptionOut"]["properties"]
    assert "pickup_code" in schemas["RedemptionOut"]["properties"]


def test_admin_creates_restocks_reports_and_exports(client, auth, w):
    _login(auth, w["admin"])
    created = client.post("/api/v1/prizes/admin/prizes", json={
        "name": "=HYPERLINK(\"http://evil\")", "cost_points": 50, "per_day_limit": 1,
        "allocations": [{"pickup_point_id": w["point"].id, "stock": 3}],
        "opens_at": "2020-01-01T08:00:00", "eligible_categories": ["ordinary"]})
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["id"]
    assert created.get_json()["stock"] == 3
    restocked = client.post(f"/api/v1/prizes/admin/prizes/{pid}/restock",
                            json={"quantity": 7, "pickup_point_id": w["point"].id, "note": "第二批"})
    assert restocked.get_json()["stock"] == 10
    patched = client.patch(f"/api/v1/prizes/admin/prizes/{pid}", json={"cost_points": 60, "high_value": True})
    assert patched.get_json()["cost_points"] == 60 and patched.get_json()["high_value"] is True
    bad = client.post("/api/v1/prizes/admin/prizes", json={"name": "x", "cost_points": 0})
    assert bad.status_code == 400 and "cost_points" in bad.get_json()["error"]["details"]["fields"]
    auth.logout()
    _login(auth, w["member"])
    client.post(f"/api/v1/prizes/{pid}/redeem", json={})
    auth.logout()
    _login(auth, w["admin"])
    report = client.get(f"/api/v1/prizes/admin/prizes/{pid}/report").get_json()
    assert (report["redeemed"], report["awaiting"], report["stock_left"]) == (1, 1, 9)
    history = client.get(f"/api/v1/prizes/admin/prizes/{pid}/stock-history").get_json()
    assert [(e["reason"], e["delta"]) for e in history] == [("redeem", -1), ("restock", 7), ("initial", 3)]
    csv = client.get(f"/api/v1/prizes/admin/redemptions/export.csv?prize_id={pid}")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert "'=HYPERLINK" in text and "王**" in text and "王小明" not in text
    pending = client.get("/api/v1/prizes/admin/redemptions?approval=pending").get_json()
    assert pending["total"] == 1
    rid = pending["items"][0]["id"]
    same_admin = client.post(f"/api/v1/prizes/admin/redemptions/{rid}/approve")
    assert same_admin.status_code == 403 and same_admin.get_json()["error"]["code"] == "second_admin_required"
    auth.logout()
    _login(auth, w["second"])
    assert client.post(f"/api/v1/prizes/admin/redemptions/{rid}/approve").get_json()["approval"] == "approved"


def test_admins_see_only_their_subtree(client, auth, w):
    with unit_of_work():
        outsider = factories.admin(w["tree"]["maanshan"], username="mas_admin2")
    _login(auth, outsider)
    pid = w["ids"]["umbrella"]
    assert client.get(f"/api/v1/prizes/admin/prizes/{pid}").status_code == 404
    assert client.post(f"/api/v1/prizes/admin/prizes/{pid}/restock", json={"quantity": 5}).status_code == 404
    assert client.get("/api/v1/prizes/admin/prizes").get_json()["total"] == 0
    assert db.session.get(Prize, pid).stock == 5


CATEGORY_MESSAGE = "品类须为以下之一：家电、粮油食品、日用百货、数码、图书文体、卡券、其他"


def test_category_is_set_checked_and_picks_the_placeholder(client, auth, w):
    """An admin files a prize under a category; until a picture is uploaded its picture is that
    category's placeholder, in the admin's answer and the member's mall alike. A category off
    the list is a 400 naming the list in Chinese, and nothing is written."""
    _login(auth, w["admin"])
    created = client.post("/api/v1/prizes/admin/prizes", json={
        "name": "蓝牙耳机", "cost_points": 500, "category": "digital",
        "allocations": [{"pickup_point_id": w["point"].id, "stock": 3}]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["category"] == "digital" and body["image_url"] == "/static/prizes/digital.svg"
    pid = body["id"]
    patched = client.patch(f"/api/v1/prizes/admin/prizes/{pid}", json={"category": "books_sports"})
    assert patched.get_json()["image_url"] == "/static/prizes/books_sports.svg"
    with client.get(patched.get_json()["image_url"]) as placeholder:   # a static file: closed after
        assert placeholder.status_code == 200 and placeholder.mimetype == "image/svg+xml"
        assert placeholder.get_data(as_text=True).lstrip().startswith("<svg")
    before = db.session.scalar(select(func.count(Prize.id)))
    for bad in ("fridges", "", 7, None, ["food"]):
        refused = client.post("/api/v1/prizes/admin/prizes", json={
            "name": "冰箱", "cost_points": 500, "category": bad,
            "allocations": [{"pickup_point_id": w["point"].id, "stock": 1}]})
        assert refused.status_code == 400, (bad, refused.get_json())
        assert refused.get_json()["error"]["code"] == "validation_error"
        assert "category" in refused.get_json()["error"]["details"]["fields"]
    refused = client.patch(f"/api/v1/prizes/admin/prizes/{pid}", json={"category": "fridges", "cost_points": 1})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["details"]["fields"]["category"] == [CATEGORY_MESSAGE]
    assert db.session.scalar(select(func.count(Prize.id))) == before
    db.session.expire_all()
    assert (db.session.get(Prize, pid).category, db.session.get(Prize, pid).cost_points) == ("books_sports", 500)
    spec = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    allowed = ["appliances", "food", "household", "digital", "books_sports", "gift_cards", "other"]
    assert spec["PrizeCreateArgs"]["properties"]["category"]["enum"] == allowed
    assert spec["PrizeUpdateArgs"]["properties"]["category"]["enum"] == allowed
    auth.logout()
    _login(auth, w["member"])
    mall = {p["name"]: p for p in client.get("/api/v1/prizes").get_json()["items"]}
    assert mall["蓝牙耳机"]["image_url"] == "/static/prizes/books_sports.svg"
    assert mall["雨伞"]["category"] == "other" and mall["雨伞"]["image_url"] == "/static/prizes/other.svg"


def test_picture_upload_and_safe_serving(client, auth, w):
    import io
    _login(auth, w["admin"])
    pid = w["ids"]["umbrella"]
    svg = client.post(f"/api/v1/prizes/admin/prizes/{pid}/image",
                      data={"image": (io.BytesIO(b"<svg onload=alert(1)>"), "x.png")}, content_type="multipart/form-data",
                      headers=csrf_header(client))
    assert svg.status_code == 400 and svg.get_json()["error"]["code"] == "image_type"
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    ok = client.post(f"/api/v1/prizes/admin/prizes/{pid}/image",
                     data={"image": (io.BytesIO(png), "u.png")}, content_type="multipart/form-data",
                     headers=csrf_header(client))
    assert ok.status_code == 200
    assert ok.get_json()["image_url"].startswith("/prizes/images/")   # the upload replaces the placeholder
    served = client.get(ok.get_json()["image_url"])
    assert served.data == png and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_redeem_needs_a_member_session(client, auth, w):
    resp = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json={})
    assert resp.status_code == 401
    _login(auth, w["admin"])
    resp = client.post(f"/api/v1/prizes/{w['ids']['umbrella']}/redeem", json={})
    assert resp.status_code == 403
