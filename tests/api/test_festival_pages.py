"""Festival gift pages (HTML): the member's list, choice, one confirmation (a double tap claims
once) and pickup code; a delivery address asked again when it is wrong; the admin's set-up,
gifts, stock, masked claims, delivery, report and its CSVs; all in Chinese."""
from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.festival.models import FestivalCampaign, FestivalGift
from benefits.prizes.models import Redemption
from tests import factories
from tests.festival_factories import campaign, world
from tests.prize_factories import member_user


def _main_text(page: str) -> str:
    """The page's visible text inside <main> (the header's language switch says "English")."""
    main = page[page.index("<main"):page.index("</main>")]
    main = re.sub(r"<(script|style)\b.*?</\1>", "", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _no_english(page: str) -> None:
    # a pickup code is Latin letters and digits by design: not words of the interface
    text = re.sub(r"\b[A-Z0-9]{10}\b", "", _main_text(page))
    assert re.findall(r"[A-Za-z]{2,}", text) == []


def _setup():
    with unit_of_work():
        w = world()
        w["campaign"] = campaign(w["admin"], [(w["rice"], w["point"], 2), (w["pears"], None, 5)])
        w["cid"] = w["campaign"].id
        w["rice_gift"] = next(g.id for g in w["campaign"].gifts if g.prize_id == w["rice"].id)
        w["pear_gift"] = next(g.id for g in w["campaign"].gifts if g.prize_id == w["pears"].id)
    return w


def test_member_claims_on_the_phone_pages_once_and_sees_the_code(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    home = client.get("/me").get_data(as_text=True)
    assert 'href="/festival"' in home
    listing = client.get("/festival").get_data(as_text=True)
    assert "春节慰问品" in listing and "领取中" in listing
    _no_english(listing)
    detail = client.get(f"/festival/{w['cid']}").get_data(as_text=True)
    assert "大米油礼包" in detail and "剩余 2 份" in detail and "邮寄到家" in detail
    _no_english(detail)
    confirm = client.get(f"/festival/{w['cid']}/confirm?gift_id={w['rice_gift']}")
    assert confirm.status_code == 200 and "确认领取" in confirm.get_data(as_text=True)
    _no_english(confirm.get_data(as_text=True))
    form = {"gift_id": str(w["rice_gift"]), "nonce": "tap-1"}
    first = client.post(f"/festival/{w['cid']}/confirm", data=form)
    second = client.post(f"/festival/{w['cid']}/confirm", data=form)   # a double tap
    assert first.status_code == 302 and first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Redemption.id))) == 1
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    code = db.session.scalar(select(Redemption.pickup_code))
    assert code in page and "<svg" in page and "待领取" in page and w["point"].name in page
    _no_english(page)
    # the campaign now leads to the code; another gift is refused with a sentence, not an error page
    assert f"/festival/{w['cid']}/claim" in client.get(f"/festival/{w['cid']}").get_data(as_text=True)
    again = client.post(f"/festival/{w['cid']}/confirm", data={"gift_id": str(w["pear_gift"]), "nonce": "tap-2",
                                                               "delivery_address": "安徽省亳州市谯城区光明路66号"},
                        follow_redirects=True)
    assert "每人限领一份" in again.get_data(as_text=True)
    # the prize mall's redemption page shows the gift without points and without a cancel button
    rid = db.session.scalar(select(Redemption.id))
    mall_page = client.get(f"/prizes/my/{rid}").get_data(as_text=True)
    assert "节日福利" in mall_page and 'data-testid="cancel"' not in mall_page


def test_a_wrong_delivery_address_is_asked_again(client, auth, app):
    w = _setup()
    auth.login(w["member"].username)
    confirm = client.get(f"/festival/{w['cid']}/confirm?gift_id={w['pear_gift']}").get_data(as_text=True)
    assert 'name="delivery_address"' in confirm
    resp = client.post(f"/festival/{w['cid']}/confirm", data={"gift_id": str(w["pear_gift"]), "nonce": "n1",
                                                              "delivery_address": "短"})
    assert resp.status_code == 302 and f"gift_id={w['pear_gift']}" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "请填写收货地址" in page
    _no_english(page)
    assert db.session.scalar(select(func.count(Redemption.id))) == 0
    ok = client.post(f"/festival/{w['cid']}/confirm", data={"gift_id": str(w["pear_gift"]), "nonce": "n2",
                                                            "delivery_address": "安徽省亳州市谯城区光明路66号"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"/festival/{w['cid']}/claim")


def test_odd_member_requests_are_answered_not_500(client, auth, app):
    w = _setup()
    auth.login(w["outsider"].username)
    assert client.get(f"/festival/{w['cid']}").status_code == 404
    auth.logout()
    auth.login(w["member"].username)
    for path in (f"/festival/{w['cid']}/confirm", f"/festival/{w['cid']}/confirm?gift_id=abc",
                 f"/festival/{w['cid']}/confirm?gift_id=99999999999"):
        assert client.get(path).status_code == 302, path
    assert client.get(f"/festival/{w['cid']}/claim").status_code == 404
    assert client.post(f"/festival/{w['cid']}/confirm", data={"gift_id": "x"}).status_code == 302
    assert client.get("/festival/99999999999").status_code == 404


def test_admin_sets_up_adds_restocks_lists_masked_and_reports(client, auth, app):
    w = _setup()
    with unit_of_work():
        member_user(w["tree"]["gujing"], name="赵敏")
    auth.login(w["member"].username)
    client.post(f"/festival/{w['cid']}/confirm", data={"gift_id": str(w["pear_gift"]), "nonce": "n",
                                                       "delivery_address": "安徽省亳州市谯城区光明路66号",
                                                       "delivery_phone": "13856785678"})
    auth.logout()
    auth.login(w["admin"].username)
    listing = client.get("/admin/festival").get_data(as_text=True)
    assert "春节慰问品" in listing
    _no_english(listing)
    new = client.get("/admin/festival/new").get_data(as_text=True)
    assert "大米油礼包（到点领取）" in new and "邮寄的礼品：无领取点" in new
    bad = client.post("/admin/festival/new", data={
        "name": "端午节", "opens_at": "2027-06-01T08:00", "closes_at": "2027-05-01T08:00", "pickup_until": "2027-06-20",
        "prize_id": str(w["rice"].id), "pickup_point_id": "0", "stock": "10"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "结束时间须晚于开始时间" in text and "到点领取的礼品须选择领取点" in text
    created = client.post("/admin/festival/new", data={
        "name": "端午节", "opens_at": "2027-06-01T08:00", "closes_at": "2027-06-05T18:00", "pickup_until": "2027-06-20",
        "eligible_org_code": "341602", "eligible_categories": ["ordinary", "hardship"],
        "prize_id": str(w["rice"].id), "pickup_point_id": str(w["point"].id), "stock": "10"})
    assert created.status_code == 302
    new_id = db.session.scalar(select(func.max(FestivalCampaign.id)))
    c = db.session.get(FestivalCampaign, new_id)
    assert (c.eligible_categories, c.eligible_org_id, c.gifts[0].stock) == ("ordinary,hardship", w["tree"]["qiaocheng"].id, 10)
    assert client.post(f"/admin/festival/{new_id}/gifts", data={"prize_id": str(w["pears"].id), "pickup_point_id": "0",
                                                               "stock": "3"}).status_code == 302
    gift = db.session.scalar(select(FestivalGift).where(FestivalGift.campaign_id == new_id,
                                                        FestivalGift.prize_id == w["pears"].id))
    assert client.post(f"/admin/festival/{new_id}/gifts/{gift.id}/restock", data={"quantity": "2"}).status_code == 302
    db.session.expire_all()
    assert (gift.stock, gift.allocated) == (5, 5)

    detail = client.get(f"/admin/festival/{w['cid']}").get_data(as_text=True)
    assert "安徽省亳州市****" in detail and "谯城区光明路" not in detail and "王**" in detail and "138****5678" in detail
    _no_english(detail)
    rid = db.session.scalar(select(Redemption.id))
    assert client.post(f"/admin/festival/{w['cid']}/claims/{rid}/deliver").status_code == 302
    assert db.session.get(Redemption, rid).status == "handed_over"
    report = client.get(f"/admin/festival/{w['cid']}/report").get_data(as_text=True)
    assert "各组织未领取人数" in report and "古井集团工会" in report
    _no_english(report)
    unclaimed = client.get(f"/admin/festival/{w['cid']}/unclaimed.csv")
    assert unclaimed.mimetype == "text/csv"
    lines = unclaimed.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "组织代码,组织,符合条件会员,已领取,未领取" and lines[1] == "341602001,古井集团工会,2,1,1"
    stock = client.get(f"/admin/festival/{w['cid']}/stock.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert stock[0] == "礼品,领取点,投放数量,已领取,已核销,剩余库存" and stock[2] == "砀山梨（邮寄）,邮寄,5,1,1,4"


def test_another_union_admin_gets_404_on_every_page(client, auth, app):
    w = _setup()
    with unit_of_work():
        other = factories.admin(w["tree"]["maanshan"], "maanshan_admin")
    auth.login(other.username)
    cid = w["cid"]
    for path in (f"/admin/festival/{cid}", f"/admin/festival/{cid}/report", f"/admin/festival/{cid}/unclaimed.csv",
                 f"/admin/festival/{cid}/stock.csv"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/admin/festival/{cid}/gifts/{w['rice_gift']}/restock", data={"quantity": "5"}).status_code == 404
    assert "春节慰问品" not in client.get("/admin/festival").get_data(as_text=True)


def test_a_member_outside_the_categories_sees_why_and_no_choice(client, auth, app):
    with unit_of_work():
        w = world()
        retiree = member_user(w["tree"]["gujing"], name="退休者", category="retiree")
        c = campaign(w["admin"], [(w["rice"], w["point"], 2)], categories=("ordinary",))
        cid = c.id
    auth.login(retiree.username)
    assert "春节慰问品" not in client.get("/festival").get_data(as_text=True)   # not offered in the list
    page = client.get(f"/festival/{cid}").get_data(as_text=True)
    assert "本次节日福利不面向您所在的会员类别" in page and 'data-testid="choose-gift"' not in page
    _no_english(page)
