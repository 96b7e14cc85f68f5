"""A common password is refused wherever a password is set: member activation (API and page) and
staff accounts (union admins and merchant cashiers, by API and page)."""
from __future__ import annotations

import pytest

from benefits.auth import service as auth_service
from benefits.auth.models import User
from benefits.database import unit_of_work
from benefits.errors import ValidationError
from benefits.extensions import db
from tests import factories, till_factories
from tests.api.conftest import api_login, error_code

COMMON = "这个密码太常见"


@pytest.fixture
def newcomer(world):
    with unit_of_work():
        return factories.member(world.tree["gujing"], name="新会员")


@pytest.mark.parametrize("password", ["woaini1314", "qq123456", "1qaz2wsx", "88888888", "Iloveyou"])
def test_activation_api_refuses_a_common_password(client, newcomer, password):
    r = client.post("/api/v1/auth/activate", json={
        "id_number": newcomer.id_number, "card_number": newcomer.current_card.number, "password": password})
    assert r.status_code == 400 and error_code(r) == "weak_password"
    assert COMMON in r.get_json()["error"]["message"] and "password" in r.get_json()["error"]["details"]["fields"]
    assert db.session.query(User).filter_by(member_id=newcomer.id).count() == 0


def test_activation_refuses_a_password_taken_from_the_id_number(client, newcomer):
    r = client.post("/api/v1/auth/activate", json={
        "id_number": newcomer.id_number, "card_number": newcomer.current_card.number,
        "password": newcomer.id_number[6:14]})  # the birth date
    assert r.status_code == 400 and error_code(r) == "weak_password"
    assert "身份证号" in r.get_json()["error"]["message"]


def test_activation_page_refuses_a_common_password_then_accepts_a_good_one(client, newcomer):
    form = {"id_number": newcomer.id_number, "card_number": newcomer.current_card.number,
            "password": "5201314520", "confirm": "5201314520"}
    page = client.post("/activate", data=form)
    assert page.status_code == 400 and COMMON in page.get_data(as_text=True)
    form.update(password="古井工会2026会员", confirm="古井工会2026会员")
    assert client.post("/activate", data=form).status_code == 302
    assert api_login(client, newcomer.id_number, "古井工会2026会员").status_code == 200


def test_staff_accounts_refuse_a_common_password(app, world):
    with pytest.raises(ValidationError) as refused:
        auth_service.create_staff_user(None, username="new_admin", display_name="管理员", password="a12345678",
                               role="admin", org=world.tree["bozhou"])
    assert refused.value.code == "weak_password" and COMMON in refused.value.message


def test_cashier_api_and_page_refuse_a_common_password(client, auth, world):
    with unit_of_work():
        merchant = till_factories.merchant(world.tree["bozhou"])
    auth.login("bozhou_admin")
    r = client.post(f"/api/v1/merchants/{merchant.id}/cashiers",
                    json={"username": "c9", "display_name": "收银员", "password": "qwertyuiop"})
    assert r.status_code == 400 and error_code(r) == "weak_password" and COMMON in r.get_json()["error"]["message"]
    page = client.post(f"/admin/merchants/{merchant.id}/cashiers", data={
        "cashier-username": "c9", "cashier-display_name": "收银员", "cashier-password": "11111111",
        "cashier-store_id": "0"})
    assert page.status_code == 400 and COMMON in page.get_data(as_text=True)
    assert db.session.query(User).filter_by(username="c9").count() == 0
    ok = client.post(f"/api/v1/merchants/{merchant.id}/cashiers",
                     json={"username": "c9", "display_name": "收银员", "password": factories.PASSWORD})
    assert ok.status_code == 201
