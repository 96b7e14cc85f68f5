"""Cross-site requests and browser headers (benefits/security.py; docs/security.md).

A page on another site can make the browser post a form to us with the session cookie; such a
post must change nothing. The site's own scripts (JSON, same origin), tills with a terminal key
and uploads with the CSRF token header keep working."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members.models import Card
from benefits.points import service as points
from benefits.prizes.models import Prize, Redemption
from benefits import create_app
from config import ProductionConfig
from tests import factories, till_factories as tf
from tests.api.conftest import csrf_header
from tests.prize_factories import prize, world as prize_world

EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
OWN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


def signed_in(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": factories.PASSWORD}).status_code == 302
    return client


def card_status(card_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Card, card_id).status


def refused(response) -> bool:
    return response.status_code == 403 and response.get_json()["error"]["code"] == "cross_site_request"


def test_a_cross_site_form_cannot_freeze_a_card_with_an_admins_cookie(app, world):
    admin = signed_in(app, "bozhou_admin")
    url = f"/api/v1/cards/{world.li_card.id}/freeze"
    # the form a page elsewhere would post, as the browser sends it
    assert refused(admin.post(url, data={"reason": "x"}, headers=EVIL))
    # the same form from a client that names no origin: still no JSON and no token
    assert refused(admin.post(url, data={"reason": "x"}))
    assert refused(admin.post(url, content_type="text/plain", data="{}"))
    # JSON (a cross-site fetch would need CORS, but the browser's word is checked anyway)
    assert refused(admin.post(url, json={}, headers=EVIL))
    assert refused(admin.post(url, json={}, headers={"Sec-Fetch-Site": "same-site"}))
    assert refused(admin.post(url, json={}, headers={"Origin": "https://evil.example"}))
    assert refused(admin.post(url, json={}, headers={"Origin": "null"}))
    assert card_status(world.li_card.id) == "active"

    frozen = admin.post(url, json={}, headers=OWN)
    assert frozen.status_code == 200, frozen.get_json()
    assert card_status(world.li_card.id) == "frozen"
    # the site's own script without Sec-Fetch-Site (older browsers): Origin alone decides
    thawed = admin.post(f"/api/v1/cards/{world.li_card.id}/unfreeze", json={}, headers={"Origin": "http://localhost"})
    assert thawed.status_code == 200 and card_status(world.li_card.id) == "active"


def _redemption_state(prize_id: int, member_id: int) -> tuple:
    db.session.expire_all()
    return (points.balance(member_id), db.session.scalar(select(Prize.stock).where(Prize.id == prize_id)),
            db.session.scalar(select(func.count(Redemption.id))))


def test_a_cross_site_form_cannot_spend_a_members_points(app):
    with unit_of_work():
        w = prize_world(1000)
        p = prize(w["admin"], w["point"], stock=5, cost=300)
        prize_id, member_id = p.id, w["member"].member.id
    member = signed_in(app, w["member"].username)
    url = f"/api/v1/prizes/{prize_id}/redeem"
    before = _redemption_state(prize_id, member_id)
    assert before == (1000, 5, 0)
    assert refused(member.post(url, data={"quantity": "1"}, headers=EVIL))
    assert refused(member.post(url, data={"quantity": "1"}))
    assert refused(member.post(url, json={"quantity": 1}, headers=EVIL))
    assert _redemption_state(prize_id, member_id) == before

    redeemed = member.post(url, json={"quantity": 1}, headers={**OWN, "Idempotency-Key": "own-page"})
    assert redeemed.status_code == 201, redeemed.get_json()
    assert _redemption_state(prize_id, member_id) == (700, 4, 1)


def test_an_upload_with_the_cookie_needs_the_csrf_token(app, world):
    admin = signed_in(app, "bozhou_admin")
    upload = {"file": (b"", "bank.csv")}
    assert refused(admin.post("/api/v1/quiz/admin/questions/import", data=dict(upload), content_type="multipart/form-data"))
    assert refused(admin.post("/api/v1/quiz/admin/questions/import", data=dict(upload), content_type="multipart/form-data",
                              headers={"X-CSRF-Token": "made-up"}))
    with_token = admin.post("/api/v1/quiz/admin/questions/import", data=dict(upload), content_type="multipart/form-data",
                            headers=csrf_header(admin))
    assert not refused(with_token) and with_token.status_code < 500


def test_tills_and_anonymous_clients_without_the_cookie_are_not_affected(client):
    with unit_of_work():
        tree = factories.org_tree()
        m = tf.merchant(tree["bozhou"])
        key = tf.terminal_key(m)
        card = factories.member(tree["gujing"]).current_card.number
    # a till names no origin, or any: it carries a key, not a cookie a page could borrow
    quote = client.post("/api/v1/till/quote", json={"card_number": card, "amount": "10.00"},
                        headers={"Authorization": f"Bearer {key}", **EVIL})
    assert quote.status_code == 200, quote.get_json()
    wrong = client.post("/api/v1/auth/login", data={"username": "nobody", "password": "x"}, headers=EVIL)
    assert wrong.status_code == 400  # refused as a bad body, not as a cross-site call


def test_every_response_carries_the_browser_headers(app, world):
    admin = signed_in(app, "bozhou_admin")
    responses = {
        "page": admin.get("/admin/members"),
        "api": admin.get("/api/v1/members"),
        "error page": admin.get("/no-such-page"),
        "api error": admin.get("/api/v1/cards/999999"),
        "sign-in page": app.test_client().get("/login"),
        "export": admin.get("/admin/prizes/export.csv"),
        "static": app.test_client().get("/static/app.js"),
    }
    for name, response in responses.items():
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "same-origin", name
        response.close()
    for name in ("page", "api", "error page", "api error", "sign-in page", "export"):
        assert responses[name].headers["Cache-Control"] == "no-store", name
    assert responses["export"].mimetype == "text/csv"
    assert "no-store" not in responses["static"].headers.get("Cache-Control", "")


def test_pages_carry_no_inline_script_or_style(app, world):
    """What the CSP would silently break: the browser tests check the pages they walk, this one
    the templates' markup on a few pages with forms that ask before submitting."""
    admin = signed_in(app, "bozhou_admin")
    html = admin.get(f"/admin/members/{world.li_member.id}").get_data(as_text=True)
    assert "<script src=\"/static/app.js\" defer></script>" in html
    assert "<script>" not in html and " style=" not in html and " onsubmit=" not in html
    assert 'data-confirm="' in html


def test_no_template_has_inline_script_style_or_handler():
    """The CSP would block them silently, on pages the browser tests may never open."""
    # attributes in double quotes, as every template writes them (macro arguments use single ones)
    inline = re.compile(r'<script(?![^>]*\bsrc=)|<style|\sstyle="|\son[a-z]+="|javascript:', re.IGNORECASE)
    found = [f"{path.relative_to(path.parents[1])}:{number}: {line.strip()}"
             for path in sorted(Path(__file__).resolve().parents[2].joinpath("templates").rglob("*.html"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if inline.search(line)]
    assert not found, found


def test_production_names_the_session_cookie_with_the_host_prefix(app, database_url, monkeypatch):
    for name, value in (("SECRET_KEY", "production-test-secret"), ("DATABASE_URL", database_url), ("REDIS_URL", "off")):
        monkeypatch.setenv(name, value)
    with unit_of_work():  # in the test app's database, emptied after the test
        factories.admin(factories.org_tree()["bozhou"], "prod_admin")
    production = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None})
    client = production.test_client()
    try:
        signed = client.post("/api/v1/auth/login", json={"username": "prod_admin", "password": factories.PASSWORD},
                             base_url="https://localhost")
        # the cross-site check knows the cookie by its production name
        freeze = client.post("/api/v1/cards/1/freeze", data={"x": "1"}, headers=EVIL, base_url="https://localhost")
    finally:
        with production.app_context():
            db.engine.dispose()
    assert signed.status_code == 200 and refused(freeze)
    cookies = [c for c in signed.headers.getlist("Set-Cookie") if c.split("=")[0].endswith("session")]
    assert len(cookies) == 1
    cookie = cookies[0]
    assert cookie.startswith("__Host-session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes and "domain" not in attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie


def test_a_search_by_whole_id_number_goes_in_a_body_never_in_a_url(app, world):
    admin = signed_in(app, "bozhou_admin")
    whole = world.li_member.id_number
    found = admin.post("/api/v1/members/search", json={"q": whole}, headers=OWN)
    assert found.status_code == 200 and [m["name"] for m in found.get_json()["items"]] == ["李娜"]
    assert whole not in found.get_data(as_text=True)
    in_url = admin.get("/api/v1/members", query_string={"q": whole})
    assert in_url.status_code == 400 and "q" in in_url.get_json()["error"]["details"]["fields"]
    masked = whole[:4] + "*" * 10 + whole[-4:]
    assert admin.get("/api/v1/members", query_string={"q": masked}).get_json()["total"] == 1
