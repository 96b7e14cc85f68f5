"""Staff account pages (/admin/staff): an admin creates, disables, enables and resets admins,
cashiers and pickup staff of their own union's subtree; admins only below their own union; nobody
their own account. Disabled accounts cannot sign in; a reset ends every session. All audited,
bad input answered with the page and a message (never a 500), nothing changed."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.merchants.models import MerchantStaff
from tests import factories, till_factories
from tests.api.conftest import api_login

GOOD_PASSWORD = "Till-2026-spring"


def sign_in(client, username: str, password: str = factories.PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def shop(world):
    with unit_of_work():
        m = till_factories.merchant(world.tree["gujing"], name="古井超市")
        far = till_factories.merchant(world.tree["magang"], name="马钢超市")
        qiaocheng = factories.admin(world.tree["qiaocheng"], "qiaocheng_admin")
        gujing = factories.admin(world.tree["gujing"], "gujing_admin")
        peer = factories.admin(world.tree["bozhou"], "bozhou_admin2")
    return {"merchant": m, "store": m.stores[0], "far": far, "far_store": far.stores[0], "county": qiaocheng,
            "grassroots": gujing, "peer": peer}


@pytest.fixture
def city(client, world):
    assert sign_in(client, "bozhou_admin").status_code == 302
    return client


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def user(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def create(client, role: str, **data):
    form = {"username": "", "display_name": "", "password": GOOD_PASSWORD, **data}
    return client.post(f"/admin/staff/new?role={role}", data=form)


def test_create_a_cashier_of_a_merchant_in_scope(city, world, shop):
    page = city.get("/admin/staff/new?role=merchant_staff").get_data(as_text=True)
    assert "古井超市" in page and "马钢超市" not in page          # merchants of the subtree only
    r = create(city, "merchant_staff", username="gujing_till1", display_name="陈收银",
               merchant_id=shop["merchant"].id, store_id=shop["store"].id)
    assert r.status_code == 302
    cashier = user("gujing_till1")
    assert cashier.role == "merchant_staff" and cashier.is_enabled
    link = db.session.get(MerchantStaff, cashier.id)
    assert (link.merchant_id, link.store_id) == (shop["merchant"].id, shop["store"].id)
    detail = city.get(r.headers["Location"]).get_data(as_text=True)
    assert "陈收银" in detail and "古井超市 · 古井超市一店" in detail and "收银员" in detail
    fresh = city.application.test_client()
    assert api_login(fresh, "gujing_till1", GOOD_PASSWORD).status_code == 200
    listing = city.get("/admin/staff?role=merchant_staff").get_data(as_text=True)
    assert "陈收银" in listing and listing.count('data-testid="staff-row"') == 1


def test_create_admins_only_below_and_pickup_staff_in_scope(city, client, world, shop):
    page = city.get("/admin/staff/new?role=admin").get_data(as_text=True)
    options = re.findall(r'<option value="(\d+)"', page)
    assert str(world.tree["qiaocheng"].id) in options and str(world.tree["gujing"].id) in options
    assert str(world.tree["bozhou"].id) not in options and str(world.tree["province"].id) not in options
    # a city admin for their own city, the province or another city: refused on the field
    for org in ("bozhou", "province", "maanshan"):
        r = create(city, "admin", username=f"x_{org}", display_name="某人", org_id=world.tree[org].id)
        assert r.status_code == 400 and "请选择下级工会。" in r.get_data(as_text=True), org
    assert create(city, "admin", username="qc_admin2", display_name="谯城二号",
                  org_id=world.tree["qiaocheng"].id).status_code == 302
    assert user("qc_admin2").org_id == world.tree["qiaocheng"].id
    r = create(city, "pickup_staff", username="gujing_counter", display_name="古井领奖点",
               org_id=world.tree["gujing"].id)
    assert r.status_code == 302 and user("gujing_counter").role == "pickup_staff"
    assert create(city, "pickup_staff", username="far_counter", display_name="马钢",
                  org_id=world.tree["magang"].id).status_code == 400
    # a grassroots admin creates no admin at all, and a city admin is out of the question
    client.post("/logout")
    sign_in(client, "gujing_admin")
    assert 'data-testid="new-admin"' not in client.get("/admin/staff").get_data(as_text=True)
    assert "您的工会没有下级工会" in client.get("/admin/staff/new?role=admin").get_data(as_text=True)
    r = create(client, "admin", username="sneaky_city", display_name="冒充", org_id=world.tree["bozhou"].id)
    assert r.status_code == 400 and user("sneaky_city") is None


def test_disabled_staff_cannot_sign_in_and_are_signed_out(city, world, shop):
    with unit_of_work():
        cashier = till_factories.cashier(shop["merchant"], username="gujing_till2")
    at_till = city.application.test_client()
    assert sign_in(at_till, "gujing_till2").status_code == 302
    assert at_till.get("/till").status_code == 200
    r = city.post(f"/admin/staff/{cashier.id}/disable")
    assert r.status_code == 302
    assert "账号已停用" in city.get(r.headers["Location"]).get_data(as_text=True)
    assert not user("gujing_till2").is_enabled
    assert at_till.get("/till").status_code == 302                        # its session ended
    refused = sign_in(at_till, "gujing_till2")
    assert refused.status_code != 302 and "账号或密码错误" in refused.get_data(as_text=True)
    assert api_login(city.application.test_client(), "gujing_till2").status_code == 401
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.disable"))
    assert entry.org_id == shop["merchant"].org_id                         # in the merchant's union's log
    log = city.get("/admin/audit?action=user.disable").get_data(as_text=True)
    assert "停用账号" in log and "收银员（收银员）" in log and "可以登录" in log
    # enabled again, it signs in
    assert city.post(f"/admin/staff/{cashier.id}/enable").status_code == 302
    assert sign_in(at_till, "gujing_till2").status_code == 302
    # twice is said, not done again
    city.post(f"/admin/staff/{cashier.id}/enable")
    assert count(AuditEntry, AuditEntry.action == "user.enable") == 1


def test_nobody_changes_their_own_account_nor_their_own_unions_admins(city, world, shop):
    me = world.bozhou_admin
    for path in ("disable", "password"):
        r = city.post(f"/admin/staff/{me.id}/{path}")
        assert r.status_code in (302, 403)
    assert user("bozhou_admin").is_enabled
    page = city.get(f"/admin/staff/{me.id}").get_data(as_text=True)
    assert "不能停用、启用或重置自己的账号" in page and 'data-testid="staff-disable"' not in page
    peer = shop["peer"]
    city.post(f"/admin/staff/{peer.id}/disable")
    assert user("bozhou_admin2").is_enabled
    assert "本级工会的管理员由上级工会管理" in city.get(f"/admin/staff/{peer.id}").get_data(as_text=True)
    # the county admin below is theirs to manage
    assert city.post(f"/admin/staff/{shop['county'].id}/disable").status_code == 302
    assert not user("qiaocheng_admin").is_enabled
    assert count(AuditEntry, AuditEntry.action == "user.disable") == 1


def test_accounts_outside_the_subtree_are_404(client, world, shop):
    with unit_of_work():
        far_cashier = till_factories.cashier(shop["far"], username="magang_till")
    sign_in(client, "qiaocheng_admin")
    for target in (far_cashier, world.bozhou_admin, world.maanshan_admin, world.li):
        assert client.get(f"/admin/staff/{target.id}").status_code == 404
        assert client.post(f"/admin/staff/{target.id}/disable").status_code == 404
        assert client.post(f"/admin/staff/{target.id}/password").status_code == 404
    listing = client.get("/admin/staff").get_data(as_text=True)
    assert "magang_till" not in listing and "bozhou_admin" not in listing and "gujing_admin" in listing
    assert user("magang_till").is_enabled and user("bozhou_admin").is_enabled


def test_reset_password_shown_once_or_typed_and_sessions_end(city, world, shop):
    with unit_of_work():
        cashier = till_factories.cashier(shop["merchant"], username="gujing_till3")
    at_till = city.application.test_client()
    sign_in(at_till, "gujing_till3")
    r = city.post(f"/admin/staff/{cashier.id}/password", data={"password": ""})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    new = re.search(r'data-testid="new-password">([^<]+)<', html).group(1)
    assert re.fullmatch(r"[A-Za-z2-9]{4}-[A-Za-z2-9]{4}-[A-Za-z2-9]{4}", new)
    assert new not in city.get(f"/admin/staff/{cashier.id}").get_data(as_text=True)    # shown once
    assert at_till.get("/till").status_code == 302                                      # signed out
    assert sign_in(at_till, "gujing_till3").status_code != 302                          # old password
    assert sign_in(at_till, "gujing_till3", new).status_code == 302
    # a typed password must pass the rules; a good one works and is not shown
    for weak, words in (("123456789", "太常见"), ("short", "至少需要 8 位"), ("gujing_till3x", "不能取自账号")):
        r = city.post(f"/admin/staff/{cashier.id}/password", data={"password": weak})
        assert r.status_code == 400 and words in r.get_data(as_text=True), weak
    assert sign_in(city.application.test_client(), "gujing_till3", new).status_code == 302
    r = city.post(f"/admin/staff/{cashier.id}/password", data={"password": GOOD_PASSWORD})
    assert r.status_code == 200 and GOOD_PASSWORD not in r.get_data(as_text=True)
    assert sign_in(city.application.test_client(), "gujing_till3", GOOD_PASSWORD).status_code == 302
    resets = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.password_reset")).all()
    assert len(resets) == 2 and all(new not in str(e.after) and GOOD_PASSWORD not in str(e.after) for e in resets)


@pytest.mark.parametrize("role, data, field_text", [
    ("merchant_staff", {"username": "a b", "display_name": "某"}, "账号须为 2–64 位字母"),
    ("merchant_staff", {"username": "341602198506150171", "display_name": "某"}, "账号不能是身份证号"),
    ("merchant_staff", {"username": "ok_name", "display_name": "某", "password": "88888888"}, "太常见"),
    ("merchant_staff", {"username": "ok_name", "display_name": "某", "merchant_id": "abc"}, "请选择您管辖范围内的商家"),
    ("merchant_staff", {"username": "ok_name", "display_name": "某", "merchant_id": "99999999999"},
     "请选择您管辖范围内的商家"),
    ("merchant_staff", {"username": "ok_name", "display_name": "某", "merchant_id": "FAR"}, "请选择您管辖范围内的商家"),
    ("merchant_staff", {"username": "ok_name", "display_name": "某", "store_id": "FAR_STORE"}, "这个门店不属于所选商家"),
    ("pickup_staff", {"username": "ok_name", "display_name": "某", "org_id": "-5"}, "请选择您管辖范围内的工会"),
    ("admin", {"username": "ok_name", "display_name": "某", "org_id": ""}, "请选择下级工会"),
    ("admin", {"username": "bozhou_admin", "display_name": "某", "org_id": "QIAOCHENG"}, "这个账号已被使用"),
    ("admin", {"username": "", "display_name": "", "org_id": "QIAOCHENG"}, "该字段是必填字段"),
])
def test_bad_input_is_named_and_creates_nothing(city, world, shop, role, data, field_text):
    ids = {"FAR": shop["far"].id, "FAR_STORE": shop["far_store"].id, "QIAOCHENG": world.tree["qiaocheng"].id}
    data = {k: ids.get(v, v) for k, v in data.items()}
    if role == "merchant_staff":
        data.setdefault("merchant_id", shop["merchant"].id)
    before_users, before_log = count(User), count(AuditEntry)
    r = create(city, role, **data)
    assert r.status_code == 400
    assert field_text in r.get_data(as_text=True)
    assert count(User) == before_users and count(AuditEntry) == before_log


@pytest.mark.parametrize("url", ["/admin/staff/new?role=boss", "/admin/staff/new", "/admin/staff/99999999999",
                                 "/admin/staff?page=-3&role=x&status=y&q=%25_"])
def test_odd_urls(city, world, url):
    assert city.get(url).status_code in (200, 404)


def test_english_on_request(city, world, shop):
    html = city.get(f"/admin/staff/{shop['county'].id}?lang=en").get_data(as_text=True)
    assert "Staff accounts" in html and "Disable account" in html and "Reset password" in html
    assert "停用账号" not in html and "重置密码" not in html
    listing = city.get("/admin/staff?lang=en").get_data(as_text=True)
    assert "Account or name" in listing and "账号或姓名" not in listing
