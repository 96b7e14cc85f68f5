"""Prize pages (HTML): mall, one-confirmation redeem, cancel, pickup,
admin create / restock / CSV, English."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.points import service as points
from benefits.prizes import service as prizes
from benefits.prizes.models import Prize, Redemption
from tests.prize_factories import prize, world


def _setup():
    with unit_of_work():
        w = world(1000)
        w["pid"] = prize(w["admin"], w["point"], stock=2, cost=300, name="雨伞").id
        prize(w["admin"], w["point"], stock=0, cost=100, name="消毒液")
    return w


def test_mall_confirm_double_submit_and_cancel(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    mall = client.get("/prizes").get_data(as_text=True)
    assert "雨伞" in mall and "已兑完" in mall and "积分够" in mall
    assert "English" in client.get("/me/mine").get_data(as_text=True)     # the switch is under 我的
    confirm = client.get(f"/prizes/{w['pid']}/confirm?quantity=1")
    assert confirm.status_code == 200 and "确认兑换" in confirm.get_data(as_text=True)
    form = {"quantity": "1", "pickup_point_id": str(w["point"].id), "nonce": "tap-123"}
    first = client.post(f"/prizes/{w['pid']}/confirm", data=form)
    second = client.post(f"/prizes/{w['pid']}/confirm", data=form)  # a double tap
    assert first.status_code == 302 and first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Redemption.id))) == 1
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "<svg" in page and "核销码" in page and "待领取" in page
    assert points.balance(w["member"].member.id) == 700
    rid = int(first.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/prizes/my/{rid}/cancel")
    assert points.balance(w["member"].member.id) == 1000
    assert "已取消" in client.get(f"/prizes/my/{rid}").get_data(as_text=True)


def test_a_prize_the_member_cannot_afford_looks_it_and_cannot_be_confirmed(client, auth, app):
    """17,848 points and a 40,000-point washing machine: the mall says how many are missing, the
    prize page and the confirm page refuse with the reason, and no negative balance is shown."""
    w = _setup()
    with unit_of_work():
        washer = prize(w["admin"], w["point"], stock=5, cost=40000, name="洗衣机").id
    auth.login(w["member"].username)
    mall = client.get("/prizes").get_data(as_text=True)
    start = mall.rindex("<a ", 0, mall.index(f'data-testid="prize-{washer}"'))
    tile = mall[start:mall.index("</a>", start)]
    assert "prize-tile short" in tile and "还差 39000 积分" in tile and "积分够" not in tile
    detail = client.get(f"/prizes/{washer}").get_data(as_text=True)
    assert "积分不足：兑换 1 件还差 39000 积分。" in detail
    assert 'type="button" disabled data-testid="redeem"' in detail
    confirm = client.get(f"/prizes/{washer}/confirm?quantity=1").get_data(as_text=True)
    assert "积分不足：还差 39000 积分，不能兑换。" in confirm and "-39000" not in confirm
    assert 'data-testid="confirm-redeem" disabled' in confirm
    refused = client.post(f"/prizes/{washer}/confirm", data={"quantity": "1", "pickup_point_id": str(w["point"].id),
                                                              "nonce": "n-short"}, follow_redirects=True)
    assert "积分不足" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Redemption.id))) == 0


def test_mall_in_english(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    english = client.get("/prizes?lang=en").get_data(as_text=True)
    assert "Prize mall" in english and "Sold out" in english and "You can afford it" in english


def test_refusal_on_the_page_is_a_message(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    sold_out = db.session.scalar(select(Prize.id).where(Prize.name == "消毒液"))
    resp = client.post(f"/prizes/{sold_out}/confirm", data={"quantity": "1", "nonce": "n1"}, follow_redirects=True)
    assert "奖品已兑完" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Redemption.id))) == 0


def test_pickup_page_hands_over(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    client.post(f"/prizes/{w['pid']}/confirm", data={"quantity": "1", "nonce": "n2"})
    code = db.session.scalar(select(Redemption.pickup_code))
    auth.logout()
    auth.login(w["admin"].username)
    assert client.post("/prizes/pickup", data={"pickup_point_id": w["point"].id, "code": code}).status_code == 403
    auth.logout()
    signed_in = auth.login(w["staff"].username)
    assert signed_in.headers["Location"] == "/prizes/pickup"
    nav = client.get("/prizes/pickup").get_data(as_text=True)
    assert 'data-testid="nav-pickup"' in nav and "/admin" not in nav
    found = client.post("/prizes/pickup", data={"pickup_point_id": w["point"].id, "code": code}).get_data(as_text=True)
    assert "王**" in found and "确认发放" in found and "王小明" not in found
    client.post("/prizes/pickup/hand-over", data={"pickup_point_id": w["point"].id, "code": code})
    assert db.session.scalar(select(Redemption.status)) == "handed_over"


def test_admin_creates_restocks_and_exports(client, auth, app):
    w = _setup()
    auth.login(w["admin"].username)
    assert "雨伞" in client.get("/admin/prizes").get_data(as_text=True)
    resp = client.post("/admin/prizes/new", data={
        "name": "电饭煲", "cost_points": "6000", "fulfilment": "pickup", "pickup_point_id": str(w["point"].id),
        "stock": "5", "pickup_days": "14", "is_listed": "y", "per_day_limit": "1", "eligible_categories": ["ordinary"]})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    new = db.session.scalar(select(Prize).where(Prize.name == "电饭煲"))
    assert (new.stock, new.per_day_limit, new.categories) == (5, 1, ["ordinary"])
    client.post(f"/admin/prizes/{new.id}/restock", data={"quantity": "3", "pickup_point_id": str(w["point"].id)})
    db.session.refresh(new)
    assert new.stock == 8
    page = client.get(f"/admin/prizes/{new.id}").get_data(as_text=True)
    assert "补货" in page and "初始库存" in page
    bad = client.post("/admin/prizes/new", data={"name": "x", "cost_points": "0", "pickup_days": "14"})
    assert bad.status_code == 200 and db.session.scalar(select(func.count(Prize.id))) == 3
    csv = client.get("/admin/prizes/export.csv")
    assert csv.mimetype == "text/csv"


def _pictures(page: str) -> dict[str, str]:
    """alt → src of every prize picture on a page."""
    return {alt: src for src, alt in re.findall(
        r'<img class="prize-pic[^"]*" src="([^"]+)" alt="([^"]*)"', page)}


def test_every_prize_shows_a_picture(client, auth, app):
    """The mall, the prize page, the confirmation and the member's redemptions show each prize's
    picture: the upload where there is one, else its category's placeholder; alt is its name."""
    w = _setup()
    with unit_of_work():
        rice = prize(w["admin"], w["point"], stock=5, cost=200, name="东北大米", category="food")
        prizes.set_image(w["admin"], rice, b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        prize(w["admin"], w["point"], stock=5, cost=200, name="电饭煲", category="appliances")
        rice_image = rice.image_id
    auth.login(w["member"].username)
    mall = client.get("/prizes").get_data(as_text=True)
    assert _pictures(mall) == {"雨伞": "/static/prizes/other.svg", "消毒液": "/static/prizes/other.svg",
                               "东北大米": f"/prizes/images/{rice_image}", "电饭煲": "/static/prizes/appliances.svg"}
    assert mall.count('width="240" height="240"') == 4      # sized before it loads
    cooker = db.session.scalar(select(Prize.id).where(Prize.name == "电饭煲"))
    detail = client.get(f"/prizes/{cooker}").get_data(as_text=True)
    assert _pictures(detail) == {"电饭煲": "/static/prizes/appliances.svg"} and "家电" in detail
    confirm = client.get(f"/prizes/{cooker}/confirm?quantity=1").get_data(as_text=True)
    assert _pictures(confirm) == {"电饭煲": "/static/prizes/appliances.svg"}
    client.post(f"/prizes/{cooker}/confirm", data={"quantity": "1", "nonce": "pic-1",
                                                   "pickup_point_id": str(w["point"].id)})
    assert _pictures(client.get("/prizes/my").get_data(as_text=True)) == {"电饭煲": "/static/prizes/appliances.svg"}


def test_admin_files_a_prize_under_a_category(client, auth, app):
    w = _setup()
    auth.login(w["admin"].username)
    form = {"name": "加油卡", "category": "gift_cards", "cost_points": "1200", "fulfilment": "pickup",
            "pickup_point_id": str(w["point"].id), "stock": "5", "pickup_days": "14", "is_listed": "y"}
    page = client.get("/admin/prizes/new").get_data(as_text=True)
    assert '<option value="gift_cards">卡券</option>' in page and '<option selected value="other">其他</option>' in page
    bad = client.post("/admin/prizes/new", data={**form, "category": "fuel"})
    assert bad.status_code == 200 and "品类须为以下之一：家电、粮油食品、日用百货、数码、图书文体、卡券、其他" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Prize.id)).where(Prize.name == "加油卡")) == 0
    assert client.post("/admin/prizes/new", data=form).status_code == 302
    card = db.session.scalar(select(Prize).where(Prize.name == "加油卡"))
    assert card.category == "gift_cards"
    edit = client.get(f"/admin/prizes/{card.id}").get_data(as_text=True)
    assert '<option selected value="gift_cards">卡券</option>' in edit
    assert _pictures(edit) == {"加油卡": "/static/prizes/gift_cards.svg"} and "未上传图片时显示品类默认图" in edit
    english = client.get(f"/admin/prizes/{card.id}?lang=en").get_data(as_text=True)
    assert '<option selected value="gift_cards">Cards and coupons</option>' in english
    refused = client.post(f"/admin/prizes/{card.id}?lang=en", data={**form, "category": "fuel"}).get_data(as_text=True)
    assert ("The category must be one of: Home appliances, Groceries, Household goods, Digital, Books and sports, "
            "Cards and coupons, Other") in refused
    db.session.refresh(card)
    assert card.category == "gift_cards"
