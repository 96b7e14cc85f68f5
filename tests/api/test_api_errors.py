"""The error envelope under /api, the OpenAPI document and the docs page."""
from __future__ import annotations

import pytest
from markupsafe import escape

from tests.api.conftest import error_code



@pytest.mark.parametrize("method,url,status,code", [
    ("get", "/api/v1/no-such-thing", 404, "not_found"),
    ("get", "/api/v1/members/not-a-number", 404, "not_found"),
    ("delete", "/api/v1/members", 405, "method_not_allowed"),
    ("get", "/api/v1/auth/login", 405, "method_not_allowed"),
    ("get", "/api/v1/members", 401, "not_authenticated"),
    ("post", "/api/v1/auth/logout", 401, "not_authenticated"),
])
def test_errors_are_json(client, method, url, status, code):
    response = getattr(client, method)(url)
    assert response.status_code == status and response.is_json
    assert error_code(response) == code and response.get_json()["error"]["message"]


def test_405_names_allowed_methods(client):
    assert "POST" in client.get("/api/v1/auth/login").headers["Allow"]


def test_malformed_json_wrong_types_missing_fields(client, world):
    bad = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert bad.status_code == 400 and error_code(bad) == "malformed_json"
    typed = client.post("/api/v1/auth/login", json={"username": 123})
    assert typed.status_code == 400 and error_code(typed) == "validation_error"
    fields = typed.get_json()["error"]["details"]["fields"]
    assert fields == {"username": ["须为文字。"], "password": ["此项必填。"]}     # marshmallow's, in Chinese
    english = client.post("/api/v1/auth/login?lang=en", json={"username": 123}).get_json()["error"]["details"]
    assert english["fields"] == {"username": ["Not a valid string."], "password": ["Missing data for required field."]}
    not_object = client.post("/api/v1/auth/login", json=["a", "b"])
    assert not_object.status_code == 400 and error_code(not_object) == "validation_error"


def test_ten_megabyte_body(client):
    response = client.post("/api/v1/auth/login", data=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                           content_type="application/json")
    assert response.status_code == 413 and error_code(response) == "payload_too_large"


def test_openapi_lists_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    expected = {
        "/api/v1/auth/login": {"post"}, "/api/v1/auth/logout": {"post"}, "/api/v1/auth/activate": {"post"},
        "/api/v1/me": {"get"}, "/api/v1/members": {"get", "post"}, "/api/v1/members/{member_id}": {"get"},
        "/api/v1/members/{member_id}/leave": {"post"}, "/api/v1/members/{member_id}/rejoin": {"post"},
        "/api/v1/members/{member_id}/activation-code": {"post"}, "/api/v1/members/{member_id}/cards": {"post"},
        "/api/v1/cards/{card_id}": {"get"}, "/api/v1/cards/{card_id}/freeze": {"post"},
        "/api/v1/cards/{card_id}/unfreeze": {"post"}, "/api/v1/cards/{card_id}/report-lost": {"post"},
        "/api/v1/organisations": {"get"}, "/api/v1/organisations/{org_id}": {"get"}, "/api/v1/audit": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method].get("summary"), (path, method)
    # validation errors are documented as the 400 they really are
    assert "400" in paths["/api/v1/members"]["post"]["responses"]


def test_docs_page_is_rendered_from_the_spec_without_a_cdn(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    # no script but the site's own file, which every page loads (the CSP allows no other)
    assert "cdn" not in html.lower() and html.count("<script") == html.count('<script src="/static/app.js" defer>') == 1
    for path, item in spec["paths"].items():
        assert f"<code>{path}</code>" in html
        for method, op in item.items():
            if method != "parameters" and op.get("summary"):
                assert str(escape(op["summary"])) in html, path
    for name in ("MemberCreate", "MemberDetail", "MemberPage", "Card", "Login", "AuditPage"):
        assert f'id="schema-{name}"' in html
    assert "per_page" in html and "Idempotency-Key" in html
