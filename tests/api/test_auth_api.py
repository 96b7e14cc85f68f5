"""Sign-in over JSON and pages: generic errors, session renewal and invalidation, throttling."""
from __future__ import annotations


from benefits.auth import throttle
from benefits.extensions import db
from tests.api.conftest import api_login, error_code
from tests.conftest import make_app



def test_login_sets_session_and_hides_member_id_number(client, world):
    response = api_login(client, world.li.username)
    assert response.status_code == 200
    body = response.get_json()
    assert body["role"] == "member" and body["username"] is None and body["member_id"] == world.li_member.id
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/api/v1/me").status_code == 200


def test_member_signs_in_with_lower_case_x(client, world, app):
    from benefits.database import unit_of_work
    from benefits.members import service as members
    from benefits.auth import service as auth
    from benefits.pii import make_id_number
    from datetime import date
    number = next(make_id_number("341602", date(1980, 1, d), s) for d in range(1, 29) for s in range(1000)
                  if make_id_number("341602", date(1980, 1, d), s).endswith("X"))
    with unit_of_work():
        m = members.create_member(None, world.tree["gujing"], name="小写", id_number=number)
        card = members.issue_card(None, m)
        auth.activate_member(id_number=number.lower(), card_number=card.number, password="password-xx",
                             address="t")
    assert api_login(client, number.lower(), "password-xx").status_code == 200


def test_unknown_account_and_wrong_password_look_the_same(client, world):
    unknown = api_login(client, "nobody-here", "whatever-123")
    wrong = api_login(client, world.li.username, "wrong-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    assert error_code(unknown) == "invalid_credentials"
    page_unknown = client.post("/login", data={"username": "nobody-here", "password": "whatever-123"})
    page_wrong = client.post("/login", data={"username": "bozhou_admin", "password": "wrong-password"})
    assert page_unknown.status_code == page_wrong.status_code == 401
    message = "账号或密码错误"
    assert message in page_unknown.get_data(as_text=True) and message in page_wrong.get_data(as_text=True)


def test_logout_invalidates_the_old_cookie(app, world):
    first, thief = app.test_client(), app.test_client()
    api_login(first, "bozhou_admin")
    stolen = first.get_cookie("session")
    thief.set_cookie("session", stolen.value)
    assert thief.get("/api/v1/members").status_code == 200
    assert first.post("/api/v1/auth/logout").status_code == 204
    assert first.get("/api/v1/members").status_code == 401
    assert thief.get("/api/v1/members").status_code == 401  # the copied cookie is dead too
    assert thief.get("/admin/members").status_code == 302


def test_page_logout_invalidates_the_old_cookie(app, world):
    browser, copy = app.test_client(), app.test_client()
    browser.post("/login", data={"username": "bozhou_admin", "password": "password-123"})
    copy.set_cookie("session", browser.get_cookie("session").value)
    assert copy.get("/admin/members").status_code == 200
    browser.post("/logout")
    assert copy.get("/admin/members").status_code == 302


def test_leaving_disables_the_members_session(app, world):
    member, admin = app.test_client(), app.test_client()
    api_login(member, world.li.username)
    assert member.get("/api/v1/me").status_code == 200
    api_login(admin, "bozhou_admin")
    assert admin.post(f"/api/v1/members/{world.li_member.id}/leave").status_code == 200
    assert member.get("/api/v1/me").status_code == 401
    again = api_login(member, world.li.username)
    assert again.status_code == 401 and error_code(again) == "invalid_credentials"


def test_session_renewed_on_login(app, world):
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
        session["lang"] = "en"
    api_login(client, "bozhou_admin")
    with client.session_transaction() as session:
        assert "planted" not in session and session["lang"] == "en"


def test_activate_over_api(app, world):
    from benefits.database import unit_of_work
    from tests import factories
    with unit_of_work():
        m = factories.member(world.tree["gujing"], name="新会员")
    client = app.test_client()
    missing = client.post("/api/v1/auth/activate", json={"id_number": m.id_number, "password": "long-enough"})
    assert missing.status_code == 400 and "card_number" in missing.get_json()["error"]["details"]["fields"]
    wrong = client.post("/api/v1/auth/activate", json={"id_number": m.id_number, "card_number": "6231000000000000",
                                                       "password": "long-enough"})
    assert wrong.status_code == 401 and error_code(wrong) == "activation_failed"
    ok = client.post("/api/v1/auth/activate", json={"id_number": m.id_number, "card_number": m.current_card.number,
                                                    "password": "long-enough"})
    assert ok.status_code == 201 and ok.get_json()["role"] == "member"
    assert client.get("/api/v1/me").get_json()["card"]["number"] == m.current_card.number
    twice = app.test_client().post("/api/v1/auth/activate", json={
        "id_number": m.id_number, "card_number": m.current_card.number, "password": "long-enough"})
    assert twice.status_code == 409 and error_code(twice) == "already_activated"


def test_throttle_on_one_instance_without_redis(client, world):
    for _ in range(5):
        assert api_login(client, "bozhou_admin", "wrong-password").status_code == 401
    refused = api_login(client, "bozhou_admin")  # even the right password
    assert refused.status_code == 429 and error_code(refused) == "too_many_requests"


def test_login_throttle_holds_across_two_app_instances_sharing_redis(database_url, world, redis_url, flush_redis):
    first = make_app(database_url, REDIS_URL=redis_url)
    second = make_app(database_url, REDIS_URL=redis_url)
    try:
        for app, tries in ((first, 3), (second, 2)):
            for _ in range(tries):
                with app.app_context():
                    assert api_login(app.test_client(), "bozhou_admin", "wrong-password").status_code == 401
            throttle.reset_local()  # nothing kept in this process: only Redis remembers
        assert flush_redis.keys("benefits:{login}:*")
        with second.app_context():
            sixth = api_login(second.test_client(), "bozhou_admin", "password-123")
            assert sixth.status_code == 429 and error_code(sixth) == "too_many_requests"
            page = second.test_client().post("/login", data={"username": "bozhou_admin", "password": "password-123"})
            assert page.status_code == 429
            db.session.remove()
    finally:
        for app in (first, second):
            app.extensions["benefits_redis"].close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
