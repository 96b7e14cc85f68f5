"""Fixtures for the HTTP-level tests: a small organisation tree with admins and members."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from benefits.database import unit_of_work
from tests import factories


@pytest.fixture
def world(app):
    """Two cities with admins; one activated member in each city; a card-less member in Bozhou."""
    with unit_of_work():
        tree = factories.org_tree()
        w = SimpleNamespace(tree=tree)
        w.bozhou_admin = factories.admin(tree["bozhou"], "bozhou_admin")
        w.maanshan_admin = factories.admin(tree["maanshan"], "maanshan_admin")
        w.province_admin = factories.admin(tree["province"], "province_admin")
        w.li = factories.member_user(tree["gujing"], name="李娜")
        w.wang = factories.member_user(tree["magang"], name="王强")
        w.zhao = factories.member(tree["gujing"], name="赵敏", with_card=False)
    w.li_member, w.wang_member = w.li.member, w.wang.member
    w.li_card, w.wang_card = w.li_member.current_card, w.wang_member.current_card
    return w


def api_login(client, username: str, password: str = factories.PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


@pytest.fixture
def as_bozhou(client, world):
    assert api_login(client, "bozhou_admin").status_code == 200
    return client


def csrf_header(client) -> dict:
    """The X-CSRF-Token header that an upload (multipart, not JSON) with the session cookie needs."""
    return {"X-CSRF-Token": client.get("/api/v1/auth/csrf-token").get_json()["csrf_token"]}


def error_code(response) -> str:
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.get_json()["error"]["code"]
