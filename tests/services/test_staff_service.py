"""Staff accounts, the service: who manages whom, the account-name rule, resets that end sessions."""
from __future__ import annotations

import pytest
from werkzeug.security import check_password_hash

from benefits.auth import passwords
from benefits.auth import service as auth
from benefits.auth import staff
from benefits.database import unit_of_work
from benefits.errors import Conflict, Forbidden, NotFound, ValidationError
from benefits.extensions import db
from tests import factories, till_factories


@pytest.fixture
def w(app):
    with unit_of_work():
        tree = factories.org_tree()
        city = factories.admin(tree["bozhou"], "bozhou_admin")
        peer = factories.admin(tree["bozhou"], "bozhou_admin2")
        county = factories.admin(tree["qiaocheng"], "qiaocheng_admin")
        grassroots = factories.admin(tree["gujing"], "gujing_admin")
        shop = till_factories.merchant(tree["gujing"])
        cashier = till_factories.cashier(shop, username="gujing_till")
        far_cashier = till_factories.cashier(till_factories.merchant(tree["magang"]), username="magang_till")
        pickup = factories.pickup_staff(tree["gujing"], "gujing_pickup")
    return locals()


def test_who_manages_whom(w):
    city, county = w["city"], w["county"]
    scope = city.org
    assert staff.refusal(city, scope, city) == "own_account"
    assert staff.refusal(city, scope, w["peer"]) == "same_union_admin"
    for below in (county, w["grassroots"], w["cashier"], w["pickup"]):
        assert staff.refusal(city, scope, below) is None
    # the county admin manages the grassroots admin and the staff below, not the city's
    assert staff.get_staff(county.org, w["grassroots"].id) and staff.get_staff(county.org, w["cashier"].id)
    for outside in (city, w["peer"], w["far_cashier"]):
        with pytest.raises(NotFound):
            staff.get_staff(county.org, outside.id)
    with pytest.raises(NotFound):
        staff.get_staff(scope, w["far_cashier"].id)
    listed = {u.username for u in db.session.scalars(staff.staff_in_scope(county.org))}
    assert listed == {"qiaocheng_admin", "gujing_admin", "gujing_till", "gujing_pickup"}
    with pytest.raises(Forbidden) as refused, unit_of_work():
        staff.set_staff_enabled(city, scope, w["peer"], False)
    assert refused.value.code == "same_union_admin"
    assert [o.name for o in staff.admin_unions(county.org)] == ["古井集团工会"]
    assert staff.admin_unions(w["grassroots"].org) == []


def test_account_names(w):
    city = w["city"]
    bad = {"": "username", "a": "username", "has space": "username", "名字": "username",
           "x" * 65: "username", factories.id_number(): "username"}
    for username, field in bad.items():
        with pytest.raises(ValidationError) as exc, unit_of_work():
            staff.create_staff(city, city.org, role="pickup_staff", username=username, display_name="某",
                               password="Pickup-2026!", org_id=w["grassroots"].org_id)
        assert field in exc.value.details["fields"], username
    with pytest.raises(ValidationError) as exc, unit_of_work():
        staff.create_staff(city, city.org, role="pickup_staff", username="ok.name", display_name=" \x07 ",
                           password="Pickup-2026!", org_id=w["grassroots"].org_id)
    assert "display_name" in exc.value.details["fields"]
    with pytest.raises(Conflict) as exc, unit_of_work():
        staff.create_staff(city, city.org, role="pickup_staff", username="gujing_till", display_name="重名",
                           password="Pickup-2026!", org_id=w["grassroots"].org_id)
    assert exc.value.code == "username_taken"
    with pytest.raises(ValidationError), unit_of_work():
        staff.create_staff(city, city.org, role="member", username="m1", display_name="会员", password="Pickup-2026!")


def test_reset_ends_sessions_and_keeps_the_rules(w):
    city, cashier = w["city"], w["cashier"]
    token, old_hash = cashier.session_token, cashier.password_hash
    with pytest.raises(ValidationError), unit_of_work():
        staff.reset_password(city, city.org, cashier, "gujing_till1")        # taken from the account
    assert cashier.password_hash == old_hash and cashier.session_token == token
    with unit_of_work():
        made_up = staff.reset_password(city, city.org, cashier)
    assert passwords.problem(made_up, cashier.username) is None and len(made_up) == 14
    assert check_password_hash(cashier.password_hash, made_up) and cashier.session_token != token
    assert auth.load_user(f"{cashier.id}:{token}") is None
    assert len({staff.new_password() for _ in range(50)}) == 50


def test_enable_and_disable_once(w):
    city, pickup = w["city"], w["pickup"]
    with pytest.raises(Conflict) as exc, unit_of_work():
        staff.set_staff_enabled(city, city.org, pickup, True)
    assert exc.value.code == "already_enabled"
    with unit_of_work():
        staff.set_staff_enabled(city, city.org, pickup, False)
    assert not pickup.is_enabled
    with pytest.raises(Conflict) as exc, unit_of_work():
        staff.set_staff_enabled(city, city.org, pickup, False)
    assert exc.value.code == "already_disabled"
