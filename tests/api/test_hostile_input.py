"""Hostile input gets a 400, 404 or 409 (the JSON envelope under /api, an HTML error page
elsewhere), never a 500, and changes nothing: ids beyond 32 bits, NUL characters, deep JSON,
digits that are not 0-9, DTDs in workbooks, fractions where whole numbers go, and a refusal
from a JSON endpoint outside /api (docs/security.md, "Hostile input")."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.inputs import MAX_JSON_DEPTH
from benefits.members import importing
from benefits.members.models import Card, Member
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz import importers
from benefits.quiz.models import Question
from benefits.transactions.models import CardTransaction
from tests import factories, till_factories as tf
from tests.api.conftest import api_login, csrf_header, error_code
from tests.services import quiz_world as qw

TOO_BIG = 2**31          # one past PostgreSQL `integer`
HOSTILE_IDS = [str(TOO_BIG), "99999999999999999999", "9" * 5000]


def changes() -> tuple:
    """What a refused request must not have changed."""
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Member, Card, PointsEntry, AuditEntry, CardTransaction, Question))


def is_error_page(response, status: int) -> bool:
    return (response.status_code == status and response.mimetype == "text/html"
            and f"{status} ·" in response.get_data(as_text=True))


@pytest.fixture
def shop(world):
    with unit_of_work():
        m = tf.merchant(world.tree["bozhou"])
        return {"key": tf.terminal_key(m), "cashier": tf.cashier(m).username, "store_id": m.stores[0].id}


# --- ids beyond the column ----------------------------------------------------------------------

def _spec_paths(client):
    return client.get("/api/v1/openapi.json").get_json()["paths"]


@pytest.mark.parametrize("who", ["admin", "member", "till"])
def test_every_id_in_every_path_beyond_32_bits_is_a_404(client, world, shop, who):
    """Walks the OpenAPI document: each path's ids set to 2^31 find no route (the `int`
    converter's maximum), as whoever calls."""
    paths = _spec_paths(client)
    headers = {"X-Terminal-Key": shop["key"]} if who == "till" else {}
    if who != "till":
        assert api_login(client, "province_admin" if who == "admin" else world.li.username).status_code == 200
    before, tried = changes(), 0
    for path, item in paths.items():
        if "{" not in path:
            continue
        for method in set(item) - {"parameters"}:
            for hostile in HOSTILE_IDS:
                url = re.sub(r"\{[^}]+\}", hostile, path)
                response = client.open(url, method=method.upper(), headers=headers,
                                       **({"json": {}} if method != "get" else {}))
                assert response.status_code == 404 and error_code(response) == "not_found", (method, url)
                tried += 1
    assert tried > 100 and changes() == before


def test_the_openapi_document_states_the_id_maximum(client):
    card = _spec_paths(client)["/api/v1/cards/{card_id}"]
    params = card.get("parameters") or card["get"]["parameters"]
    assert params[0]["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize("who", ["admin", "member", "till"])
def test_every_integer_query_parameter_beyond_32_bits_is_a_400(client, world, shop, who):
    """Each documented integer query parameter, alone, set to 2^31, 1.5 and '٣' (Arabic-Indic 3)."""
    paths = _spec_paths(client)
    headers = {"X-Terminal-Key": shop["key"]} if who == "till" else {}
    if who != "till":
        api_login(client, "province_admin" if who == "admin" else world.li.username)
    tried = 0
    for path, item in paths.items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method, op in item.items():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("in") != "query" or param.get("schema", {}).get("type") != "integer":
                    continue
                for hostile in (str(TOO_BIG), "1.5", "٣"):
                    response = client.open(url, method=method.upper(), headers=headers,
                                           query_string={param["name"]: hostile},
                                           **({"json": {}} if method != "get" else {}))
                    assert response.status_code in (400, 401, 403, 404), (method, url, param["name"], hostile)
                    assert response.is_json and response.status_code != 400 or \
                        error_code(response) in ("validation_error", "bad_request"), (url, response.get_json())
                    tried += 1
    assert tried >= 10


@pytest.mark.parametrize("path,body", [
    ("/api/v1/points/adjustments", {"member_id": TOO_BIG, "amount": 5, "reason": "奖励"}),
    ("/api/v1/members", {"org_id": TOO_BIG, "name": "张三", "id_number": factories.id_number(), "category": "ordinary"}),
    ("/api/v1/members/search", {"org_id": TOO_BIG}),
    ("/api/v1/quiz/admin/questions", {"job_type_id": TOO_BIG, "kind": "single", "stem": "?", "options": ["a", "b"],
                                      "answer": "A"}),
    ("/api/v1/quiz/admin/quizzes", {"title": "测验", "job_type_ids": [TOO_BIG]}),
    ("/api/v1/merchants", {"org_id": TOO_BIG, "name": "店", "category": "fuel"}),
    ("/api/v1/promotions/rules", {"name": "满减", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
                            "scope": "merchants", "merchant_ids": [TOO_BIG],
                            "split": {"union": 50, "bank": 30, "merchant": 20}}),
    ("/api/v1/promotions/rules", {"name": "满减", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
                            "member_org_id": TOO_BIG, "split": {"union": 50, "bank": 30, "merchant": 20}}),
])
def test_ids_beyond_32_bits_in_bodies_are_refused_per_field(client, world, path, body):
    api_login(client, "province_admin")
    before = changes()
    response = client.post(path, json=body)
    assert response.status_code == 400 and error_code(response) == "validation_error", response.get_json()
    assert response.get_json()["error"]["details"]["fields"]
    assert changes() == before


def test_ids_beyond_32_bits_in_the_till_body(client, world, shop):
    card = world.li_card.number
    for body in ({"card_number": card, "amount": "250", "store_id": TOO_BIG},
                 {"card_number": card, "amount": "250", "voucher_ids": [TOO_BIG]}):
        for path in ("/api/v1/till/quote", "/api/v1/till/transactions"):
            response = client.post(path, json=body, headers={"X-Terminal-Key": shop["key"]})
            assert response.status_code == 400 and error_code(response) == "validation_error", response.get_json()
    assert changes()[4] == 0


def test_pages_with_ids_beyond_32_bits(client, auth, world, shop):
    auth.login("province_admin")
    for url in (f"/admin/members/{TOO_BIG}", "/admin/members/" + "9" * 40, f"/admin/vouchers/{TOO_BIG}",
                f"/quiz/admin/quizzes/{TOO_BIG}/edit", f"/admin/members?org={TOO_BIG}",
                f"/admin/prizes/export.csv?prize_id={TOO_BIG}"):
        response = client.get(url)
        assert is_error_page(response, 404), url
    # a page number that is no number is page 1, not an error
    assert client.get("/admin/members?page=٣").status_code == 200
    assert client.get(f"/admin/members?page={TOO_BIG}").status_code == 200


def test_member_pages_read_any_page_number(client, world):
    """A page number too big for the database's offset, or no number at all, is the last page
    allowed or page 1 (`pagination.page_number`), never a 500."""
    assert api_login(client, world.li.username).status_code == 200
    for path in ("/prizes", "/me/messages", "/me/points"):
        for page in ("9" * 20, str(TOO_BIG), "-3", "abc", "٣"):
            response = client.get(f"{path}?page={page}")
            assert response.status_code == 200, (path, page, response.status_code)


# --- NUL characters -----------------------------------------------------------------------------

def test_nul_in_the_unauthenticated_json_login(client, world):
    for body, field in (({"username": "province\x00admin", "password": factories.PASSWORD}, "username"),
                        ({"username": "province_admin", "password": "x\x00"}, "password"),
                        ({"username": "province_admin", "password": factories.PASSWORD,
                          "extra": {"deep": ["ok", "\x00"]}}, "extra.deep.1"),
                        ({"username\x00": "province_admin", "password": factories.PASSWORD}, "username\\0")):
        response = client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 400 and error_code(response) == "nul_character"
        assert list(response.get_json()["error"]["details"]["fields"]) == [field]
        assert client.get("/api/v1/me").status_code == 401   # not signed in


def test_nul_in_the_login_form_is_an_html_400(client, world):
    response = client.post("/login", data={"username": "province_admin\x00", "password": factories.PASSWORD})
    assert is_error_page(response, 400)
    assert "空字符" in response.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401


def test_nul_in_query_strings_headers_and_bodies(client, world):
    api_login(client, "province_admin")
    before = changes()
    for response in (
        client.get("/api/v1/members?q=%00"),
        client.get("/api/v1/members", query_string={"q": "张\x00"}),
        client.get("/api/v1/members%00"),
        client.post("/api/v1/members", json={"org_id": world.tree["gujing"].id, "name": "张\x00三",
                                             "id_number": factories.id_number(), "category": "ordinary"}),
        client.post("/api/v1/members/search", json={"q": "\x00"}),
        client.post("/api/v1/points/adjustments", headers={"Idempotency-Key": "k\x00"},
                    json={"member_id": world.li_member.id, "amount": 5, "reason": "奖励"}),
        client.post("/api/v1/points/adjustments", content_type="application/json",
                    data='{"member_id": %d, "amount": 5, "reason": "奖\\u0000励"}' % world.li_member.id),
    ):
        assert response.status_code == 400 and error_code(response) == "nul_character", response.get_json()
    assert changes() == before


def test_nul_in_a_page_form_and_an_upload_name(client, auth, world):
    auth.login("province_admin")
    before = changes()
    response = client.post("/admin/points/adjust", data={"id_number": world.li_member.id_number, "amount": "5",
                                                          "reason": "奖\x00励"})
    assert is_error_page(response, 400)
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(b"x"), filename="a\x00.csv")})
    response = client.post("/admin/members/import", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert is_error_page(response, 400)
    assert changes() == before


def test_nul_inside_an_imported_csv(client, auth, world):
    auth.login("province_admin")
    csv_text = "组织代码,姓名,身份证号,手机号,类别\n341602001,张\x00三,{},,普通\n".format(factories.id_number())
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(csv_text.encode()), filename="m.csv")})
    response = client.post("/admin/members/import", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400 and "CSV 文件无法读取" in response.get_data(as_text=True)


def test_nul_inside_an_imported_question_file(client, world):
    api_login(client, "province_admin")
    rows = [["电工", "单选", "题\x00干", "甲", "乙", "", "", "", "", "A", 1, "", 2, ""]]
    response = client.post("/api/v1/quiz/admin/questions/import",
                           data={"file": (io.BytesIO(importers.write_csv(rows)), "bank.csv")},
                           content_type="multipart/form-data", headers=csrf_header(client))
    assert response.status_code == 400 and error_code(response) == "bad_file", response.get_json()


# --- deep JSON ----------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_a_thousand_levels_deep(client, world, depth):
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
        assert response.status_code == 400 and error_code(response) == "json_too_deep"


def test_json_depth_limit_is_exact(client, world):
    def nested(levels):   # `levels` containers: the object itself and levels - 1 lists inside it
        return '{"username": "u", "password": "p", "x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"
    allowed = client.post("/api/v1/auth/login", data=nested(MAX_JSON_DEPTH), content_type="application/json")
    assert allowed.status_code in (400, 401) and error_code(allowed) != "json_too_deep"
    refused = client.post("/api/v1/auth/login", data=nested(MAX_JSON_DEPTH + 1), content_type="application/json")
    assert refused.status_code == 400 and error_code(refused) == "json_too_deep"


# --- digits that are not 0-9 --------------------------------------------------------------------

def test_non_ascii_digits_in_path_segments(client, auth, world, shop):
    assert auth.login(shop["cashier"]).status_code == 302
    for digits in ("²", "٣", "３", "¹²"):
        response = client.get(f"/till/statements/{digits}.csv")
        assert is_error_page(response, 404), digits
        assert is_error_page(client.get(f"/till/statements/{digits}"), 404)
        api = client.get(f"/api/v1/till/statements/{digits}", headers={"X-Terminal-Key": shop["key"]})
        assert api.status_code == 404 and error_code(api) == "not_found"
    assert client.get("/till/statements/open.csv").status_code == 200


def test_non_ascii_digits_in_quiz_answers(client, world):
    with unit_of_work():
        jt = qw.bank("电工", 10)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=3)
    api_login(client, world.li.username)
    attempt = client.post(f"/api/v1/quiz/quizzes/{quiz.id}/attempts").get_json()
    response = client.put(f"/api/v1/quiz/attempts/{attempt['id']}/answers", json={"answers": {"²": ["A"]}})
    assert response.status_code == 400 and error_code(response) == "validation_error"
    # the page posts q<position>: an input named q² is not a question of the attempt
    response = client.post(f"/quiz/attempts/{attempt['id']}/submit", data={"q²": "A", "q1": "A"})
    assert response.status_code == 302


# --- XLSX with a DTD ----------------------------------------------------------------------------

def xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def workbook_with_dtd(rows, part: str = "xl/worksheets/sheet1.xml", utf16: bool = False) -> bytes:
    """A real workbook whose `part` declares a DTD with an entity (the start of a billion laughs)."""
    source, out = zipfile.ZipFile(io.BytesIO(xlsx(rows))), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == part:
                body = re.sub(r"^<\?xml[^>]*\?>", "", data.decode())
                text = (f'<?xml version="1.0" encoding="{"UTF-16" if utf16 else "UTF-8"}"?>'
                        '<!DOCTYPE x [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>' + body)
                data = text.encode("utf-16" if utf16 else "utf-8")
            target.writestr(info, data)
    return out.getvalue()


QUESTION_ROWS = [importers.HEADERS, ["电工", "单选", "题干", "甲", "乙", "", "", "", "", "A", 1, "", 2, ""]]


def test_question_import_refuses_a_dtd_in_any_part_and_encoding(client, world):
    with unit_of_work():
        qw.bank("电工", 1)
    api_login(client, "province_admin")
    before = changes()
    for part, utf16 in (("xl/worksheets/sheet1.xml", False), ("xl/worksheets/sheet1.xml", True),
                        ("xl/workbook.xml", False), ("[Content_Types].xml", False), ("xl/styles.xml", True)):
        upload = io.BytesIO(workbook_with_dtd(QUESTION_ROWS, part, utf16))
        response = client.post("/api/v1/quiz/admin/questions/import", data={"file": (upload, "bank.xlsx")},
                               content_type="multipart/form-data", headers=csrf_header(client))
        assert response.status_code == 400 and error_code(response) == "bad_file", (part, response.get_json())
        assert "DTD" in response.get_json()["error"]["message"]
    assert changes() == before
    plain = client.post("/api/v1/quiz/admin/questions/import", data={"file": (io.BytesIO(xlsx(QUESTION_ROWS)), "b.xlsx")},
                        content_type="multipart/form-data", headers=csrf_header(client))
    assert plain.status_code == 200 and plain.get_json()["imported"] == 1


def test_question_and_member_import_pages_refuse_a_dtd(client, auth, world):
    auth.login("province_admin")
    before = changes()
    response = client.post("/quiz/admin/import", data={"file": (io.BytesIO(workbook_with_dtd(QUESTION_ROWS)), "b.xlsx")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200 and "DTD" in response.get_data(as_text=True)
    members = [list(importing.TEMPLATE_HEADER), ["341602001", "张三", factories.id_number(), "", "普通"]]
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(workbook_with_dtd(members)), filename="m.xlsx")})
    response = client.post("/admin/members/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400 and "DTD" in response.get_data(as_text=True)
    assert changes() == before


# --- a JSON endpoint outside /api ---------------------------------------------------------------

def test_pay_code_for_a_frozen_card_is_the_json_envelope(client, world):
    with unit_of_work():
        world.li_card.status = "frozen"
    assert api_login(client, world.li.username).status_code == 200
    response = client.post("/me/pay/code")
    assert response.status_code == 409 and response.is_json
    assert error_code(response) == "card_frozen" and "冻结" in response.get_json()["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"
    with unit_of_work():
        world.li_card.status = "active"
    fresh = client.post("/me/pay/code")
    assert fresh.status_code == 200 and fresh.get_json()["token"]


# --- strict numbers (item 10) -------------------------------------------------------------------

def test_points_adjustment_takes_only_whole_numbers(client, world):
    api_login(client, "province_admin")
    for amount in (1.5, "1.5", 2.0, "٢٥٠", "２５０", True, 10**30):
        response = client.post("/api/v1/points/adjustments",
                               json={"member_id": world.li_member.id, "amount": amount, "reason": "奖励"})
        assert response.status_code == 400 and "amount" in response.get_json()["error"]["details"]["fields"], amount
    assert points.balance(world.li_member.id) == 0
    made = client.post("/api/v1/points/adjustments", json={"member_id": world.li_member.id, "amount": 2, "reason": "奖励"})
    assert made.status_code == 201 and points.balance(world.li_member.id) == 2


def test_points_adjustment_page_takes_only_whole_numbers(client, auth, world):
    auth.login("province_admin")
    for amount in ("1.5", "٢٥٠", "２５０", "1_000", str(TOO_BIG)):
        response = client.post("/admin/points/adjust", data={"id_number": world.li_member.id_number, "amount": amount,
                                                              "reason": "奖励"})
        assert response.status_code == 200 and '<small class="error">' in response.get_data(as_text=True), amount
    assert points.balance(world.li_member.id) == 0
    ok = client.post("/admin/points/adjust", data={"id_number": world.li_member.id_number, "amount": "250",
                                                    "reason": "奖励"})
    assert ok.status_code == 302 and points.balance(world.li_member.id) == 250


def test_till_amounts_in_other_digits_are_refused(client, auth, world, shop):
    card = world.li_card.number
    auth.login(shop["cashier"])
    for amount in ("٢٥٠", "２５０", "٢٥٠.٥٠", "250.５"):
        for path in ("/api/v1/till/quote", "/api/v1/till/transactions"):
            response = client.post(path, json={"card_number": card, "amount": amount},
                                   headers={"X-Terminal-Key": shop["key"]})
            assert response.status_code == 400 and "amount" in response.get_json()["error"]["details"]["fields"]
        page = client.post("/till", data={"code": card, "amount": amount})
        assert page.status_code == 400 and "金额格式不对" in page.get_data(as_text=True), amount
    assert changes()[4] == 0
    assert client.post("/till", data={"code": card, "amount": "250"}).status_code == 200


def test_promotion_numbers_are_whole(client, world):
    api_login(client, "province_admin")
    base = {"name": "满减", "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "split": {"union": 50, "bank": 30, "merchant": 20}}
    for field, value in (("threshold_fen", 20000.5), ("off_fen", "４０００"), ("priority", "1.0"),
                         ("global_limit", TOO_BIG), ("budget_fen", 2**63)):
        response = client.post("/api/v1/promotions/rules", json={**base, field: value})
        assert response.status_code == 400 and field in response.get_json()["error"]["details"]["fields"], field
    # a budget is a `bigint`: more than 32 bits is fine there
    made = client.post("/api/v1/promotions/rules", json={**base, "budget_fen": 2**40})
    assert made.status_code == 201, made.get_json()
