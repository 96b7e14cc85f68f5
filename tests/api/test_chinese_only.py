"""Chinese only, when the locale is Chinese: every page each role can open, every answer the app
gives to a form or an API call, the framework's own errors and the statement CSV carry no
English sentence under the default locale (中文); the English switch still gives English.

The pages are those of the access matrix (tests/api/test_access_matrix.py: every url rule ×
role), each asked once with the matrix's dummy ids (so the 404 pages are read too), and then
every link those pages show, followed (one visit per url rule and query shape, so detail pages
are read with real ids) on the demo data (`flask demo load`) plus a payment, a refund and a
closed statement. Every unsafe operation a role may use is sent once with an empty body, as the
matrix does, and its answer (a page, a form's errors, a JSON error) is read too.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import openpyxl
import pytest

from benefits import clock
from benefits.auth import throttle
from benefits.cli import demo
from benefits.database import unit_of_work
from benefits.extensions import db
from tests.api.test_access_matrix import (ACCESS, ANONYMOUS, CASHIER, CITY, COUNTY, GRASSROOTS, MEMBER,
                                          PICKUP, PROVINCE, ROLES, operations)
from tests.conftest import make_app, wipe

# --- what counts as an English sentence ------------------------------------------------------

# Two or more English words in a row (a word: two letters or more), not part of a longer token
# such as a path, a file name, a username or a code (`tk_…`, `/api/v1/…`, `statement-1.csv`).
_WORD = r"[A-Za-z]{2,}(?:['’][a-z]+)?"
_SENTENCE = re.compile(rf"(?<![\w/.@:-]){_WORD}(?:[ ,;:]+{_WORD})+(?![\w/@-])")
# Allowed, kept short: what is the same in every language.
ALLOWED = re.compile("|".join([
    r"https?://\S+",                            # addresses
    r"\bflask(?: [a-z]+)+(?: --[a-z-]+)*",       # a command to type: flask quiz import, … --file
    r"\bMoodle GIFT\b",                          # a question file format, by its own name
]))
_ENGLISH_CELL = re.compile(r"(?=.*[a-z])[A-Za-z]{2,}(?:[ _-][A-Za-z]+)*")


def english_sentences(text: str) -> list[str]:
    return _SENTENCE.findall(ALLOWED.sub(" ", text))


class _VisibleText(HTMLParser):
    """The text a person sees: text outside <script>/<style>, and the attributes a browser shows
    (placeholder, title, alt, aria-label, a button's value)."""
    SHOWN = ("placeholder", "title", "alt", "aria-label")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._hidden += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        self.parts.extend(attrs[name] for name in self.SHOWN if attrs.get(name))
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def read_html(html: str) -> tuple[list[str], list[str]]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.parts, parser.links


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cells(response) -> list[str]:
    """Every cell of a CSV or XLSX export."""
    if response.mimetype == _XLSX:
        workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
        try:
            return [str(v) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
                    for v in row if v is not None]
        finally:
            workbook.close()
    return [cell for row in csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))) for cell in row]


def english_in_response(response) -> tuple[list[str], list[str]]:
    """(English sentences a person would read in this answer, links it shows)."""
    if 300 <= response.status_code < 400:       # a redirect's body is never shown
        return [], []
    if response.mimetype == "text/html":
        parts, links = read_html(response.get_data(as_text=True))
        return [s for part in parts for s in english_sentences(part)], links
    if response.is_json:
        body = response.get_json()
        if isinstance(body, dict) and "error" in body:      # an error: its message and details
            return [s for text in _strings(body["error"].get("message")) + _strings(body["error"].get("details"))
                    for s in english_sentences(text)], []
        return [], []
    if response.mimetype in ("text/csv", _XLSX):
        cells = _cells(response)
        # a column of a table is often one word: a cell of English words alone is English too
        return [cell for cell in cells if english_sentences(cell) or _ENGLISH_CELL.fullmatch(ALLOWED.sub("", cell))], []
    return [], []


def test_the_detector():
    assert english_sentences("此卡已冻结，请联系工会。 This card is frozen; please contact the union.")
    assert english_sentences("Not Found")
    assert english_sentences("Missing data for required field.")
    assert not english_sentences("此卡已冻结，请联系工会。")
    assert not english_sentences("导出 CSV · XLSX · 中文 · English · admin_bozhou · tk_3f9a · ECharts")
    assert not english_sentences("请使用命令行导入（flask quiz import）。 /api/v1/members statement-3.csv")


# --- the crawl ---------------------------------------------------------------------------------

ACCOUNTS = {MEMBER: demo.DEMO_MEMBER_ID, CASHIER: "cashier_sinopec", PICKUP: "pickup_gujing",
            GRASSROOTS: "admin_gujing", COUNTY: "admin_qiaocheng", CITY: "admin_bozhou", PROVINCE: "admin_province"}
# Not read: assets, the language switch (a redirect), signing out, and the bank's payout file,
# whose columns are the bank's (medical/bankfile.py).
_SKIP = re.compile(r"^/(static/|lang/|logout$|admin/medical/files/)")
_PAGES_PER_RULE = 3


def _sign_in(client, username: str) -> None:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": demo.DEMO_PASSWORD})
    assert answer.status_code == 200, (username, answer.get_json())


def _activity(clients) -> dict:
    """A payment two days ago, part of it refunded with a reason, the days closed in a statement."""
    cashier, city = clients[CASHIER], clients[CITY]
    card = clients[MEMBER].get("/api/v1/me").get_json()["card"]["number"]
    clock.set_frozen(clock.now() - timedelta(days=2))
    try:
        paid = cashier.post("/api/v1/till/transactions", json={"card_number": card, "amount": "250.00"},
                            headers={"Idempotency-Key": "crawl-1"})
        assert paid.status_code == 201, paid.get_json()
        refund = cashier.post(f"/api/v1/till/transactions/{paid.get_json()['id']}/refunds",
                              json={"amount": "100.00", "reason": "退一半商品"}, headers={"Idempotency-Key": "crawl-2"})
        assert refund.status_code == 201, refund.get_json()
        merchant_id = paid.get_json()["merchant_id"]
    finally:
        clock.set_frozen(None)
    closed = city.post(f"/api/v1/merchants/{merchant_id}/statements",
                       json={"through": str(clock.business_day() - timedelta(days=1))})
    assert closed.status_code == 201, closed.get_json()
    return {"sale": paid.get_json()["id"], "statement": closed.get_json()["id"]}


@pytest.fixture(scope="module")
def crawl_world(database_url):
    app = make_app(database_url)
    throttle.reset_local()
    with app.app_context():
        with unit_of_work():
            demo.load_all()
        clients = {ANONYMOUS: app.test_client()}
        for role, username in ACCOUNTS.items():
            clients[role] = app.test_client()
            _sign_in(clients[role], username)
        made = _activity(clients)
        yield app, clients, made
        db.session.remove()
    wipe(app)


def _rule_of(adapter, path: str) -> str | None:
    try:
        rule, _args = adapter.match(path, method="GET", return_rule=True)
    except Exception:       # not a route of the app (404) or not a GET page
        return None
    return rule.rule


def _crawl(app, client, role: str) -> tuple[list[str], int]:
    """Read every page the role may open and every link on them; returns the English found."""
    found: list[str] = []
    adapter = app.url_map.bind("localhost")
    ops = operations(app)
    # pages, not the JSON API (its errors are read below; /api/v1/docs is the API reference for
    # programmers, rendered from the OpenAPI document's English summaries)
    queue = [path for op, path in ops.items()
             if op.startswith("GET ") and not op.startswith("GET /api/") and role in ACCESS[op]]
    seen_paths: set[str] = set(queue)
    visits: dict[tuple, int] = {}
    read = 0
    while queue:
        path = queue.pop(0)
        if _SKIP.match(urlsplit(path).path):
            continue
        response = client.get(path)
        read += 1
        assert response.status_code < 500, (role, path, response.status_code)
        english, links = english_in_response(response)
        found += [f"{role} GET {path} [{response.status_code}]: {s}" for s in english]
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or _SKIP.match(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            rule = _rule_of(adapter, parts.path)
            if rule is None or target in seen_paths:
                continue
            shape = (rule, tuple(sorted(k.split("=")[0] for k in parts.query.split("&") if k)))
            if visits.get(shape, 0) >= _PAGES_PER_RULE:
                continue
            visits[shape] = visits.get(shape, 0) + 1
            seen_paths.add(target)
            queue.append(target)
    return found, read


def _unsafe_operations(app, client, role: str) -> list[str]:
    """Every unsafe operation the role may use, sent once with an empty body (as the matrix does)."""
    found = []
    for op, path in sorted(operations(app).items()):
        method, rule = op.split(" ", 1)
        if method == "GET" or role not in ACCESS[op] or op in ("POST /logout", "POST /api/v1/auth/logout"):
            continue
        kwargs = {"json": {}} if rule.startswith("/api/") else {"data": {}}
        # a page's form answers with a redirect to a page that shows the flashed message
        response = client.open(path, method=method, follow_redirects=not rule.startswith("/api/"), **kwargs)
        assert response.status_code < 500, (role, op, response.status_code)
        english, _links = english_in_response(response)
        found += [f"{role} {op} [{response.status_code}]: {s}" for s in english]
    return found


@pytest.mark.parametrize("role", ROLES)
def test_no_english_on_any_page_or_answer(crawl_world, role):
    app, clients, _made = crawl_world
    found, read = _crawl(app, clients[role], role)
    found += _unsafe_operations(app, clients[role], role)
    assert read >= 3, read
    assert not found, f"{len(found)} English sentences under the Chinese locale:\n" + "\n".join(sorted(set(found)))


# --- API errors, in Chinese and in English ------------------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status and response.is_json, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert error["code"] == code, error
    return error


def _api_errors(clients, made: dict, lang: str = "") -> dict[str, dict]:
    """A broad set of API errors (the framework's and the domains'), each by what caused it."""
    q = f"?lang={lang}" if lang else ""
    anonymous, member, cashier, city = clients[ANONYMOUS], clients[MEMBER], clients[CASHIER], clients[CITY]
    errors = {
        "404": _error(anonymous.get("/api/v1/no-such-thing" + q), 404, "not_found"),
        "405": _error(anonymous.delete("/api/v1/members" + q), 405, "method_not_allowed"),
        "401": _error(anonymous.get("/api/v1/members" + q), 401, "not_authenticated"),
        "403": _error(member.get("/api/v1/members" + q), 403, "forbidden"),
        "bad json": _error(anonymous.post("/api/v1/auth/login" + q, data="{not json", content_type="application/json"),
                           400, "malformed_json"),
        "validation": _error(anonymous.post("/api/v1/auth/login" + q, json={"username": 123}), 400, "validation_error"),
        "413": _error(anonymous.post("/api/v1/auth/login" + q, data=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                                     content_type="application/json"), 413, "payload_too_large"),
        "wrong password": _error(anonymous.post("/api/v1/auth/login" + q, json={"username": "admin_bozhou",
                                                                                 "password": "not-the-password"}),
                                 401, "invalid_credentials"),
        "unknown card": _error(cashier.post("/api/v1/till/quote" + q, json={"card_number": "6231000000000000",
                                                                             "amount": "10.00"}), 404, "unknown_card"),
        "no idempotency key": _error(cashier.post("/api/v1/till/transactions" + q, json={"card_number": "1",
                                                                                          "amount": "1.00"}),
                                     400, "idempotency_key_required"),
        "unknown member": _error(city.get("/api/v1/members/987654" + q), 404, "not_found"),
    }
    errors["refund too large"] = _error(cashier.post(f"/api/v1/till/transactions/{made['sale']}/refunds" + q,
                                                     json={"amount": "99999.00"},
                                                     headers={"Idempotency-Key": f"too-much-{lang}"}),
                                        400, "refund_too_large")
    mall = member.get("/api/v1/prizes?per_page=100").get_json()["items"]
    later = next(p for p in mall if p["state"] == "not_open")
    errors["prize not open"] = _error(member.post(f"/api/v1/prizes/{later['id']}/redeem" + q,
                                                  json={"quantity": 1}, headers={"Idempotency-Key": f"early-{lang}"}),
                                      409, "prize_not_open")
    practice = member.post("/api/v1/quiz/wrong-book/attempts")
    assert practice.status_code == 201, practice.get_json()
    attempt = f"/api/v1/quiz/attempts/{practice.get_json()['id']}"
    assert member.post(attempt + "/submit").status_code == 200
    errors["answer after submit"] = _error(member.put(attempt + "/answers" + q, json={"answers": {"1": ["A"]}}),
                                           409, "attempt_submitted")
    someone = city.get("/api/v1/members").get_json()["items"][0]["id"]
    errors["rejoin"] = _error(city.post(f"/api/v1/members/{someone}/rejoin" + q), 409, "member_active")
    return errors


def test_api_errors_are_chinese_only(crawl_world):
    _app, clients, made = crawl_world
    errors = _api_errors(clients, made)
    english = {cause: s for cause, error in errors.items()
               for s in english_sentences(error["message"]) + [t for v in _strings(error["details"])
                                                               for t in english_sentences(v)]}
    assert not english, english
    assert all(_CJK.search(error["message"]) for error in errors.values()), errors
    assert errors["validation"]["details"]["fields"] == {"username": ["须为文字。"], "password": ["此项必填。"]}
    assert errors["401"]["message"] == "请先登录。" and errors["404"]["message"] == "找不到此页面，或不在您的管辖范围内。"


def test_the_english_switch_still_gives_english(crawl_world):
    _app, clients, made = crawl_world
    errors = _api_errors(clients, made, lang="en")
    chinese = {cause: error["message"] for cause, error in errors.items() if _CJK.search(error["message"])}
    assert not chinese, chinese
    assert errors["validation"]["details"]["fields"] == {"username": ["Not a valid string."],
                                                         "password": ["Missing data for required field."]}
    assert errors["bad json"]["message"] == "The request body is not valid JSON."
    assert errors["unknown card"]["message"] == "No card with this number."
    assert errors["prize not open"]["message"] == "This prize is not open for redemption yet."


def test_error_pages_are_chinese_with_a_way_home(crawl_world):
    _app, clients, _made = crawl_world
    for path, status in (("/no-such-page", 404), ("/admin/members", 403)):
        client = clients[MEMBER] if status == 403 else clients[ANONYMOUS]
        page = client.get(path)
        assert page.status_code == status
        parts, links = read_html(page.get_data(as_text=True))
        assert not [s for part in parts for s in english_sentences(part)], parts
        assert "返回首页" in parts and "/" in links
    english = clients[ANONYMOUS].get("/no-such-page?lang=en").get_data(as_text=True)
    assert "Not found, or outside your organisation." in english and "Back to the home page" in english


def test_statement_csv_is_chinese_and_the_refund_reason_has_its_own_column(crawl_world):
    _app, clients, made = crawl_world
    cashier, statement = clients[CASHIER], made["statement"]

    def rows(lang: str = "") -> list[list[str]]:
        answer = cashier.get(f"/till/statements/{statement}.csv" + (f"?lang={lang}" if lang else ""))
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        return list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))

    zh = rows()
    header, lines = zh[0], {row[0]: dict(zip(zh[0], row)) for row in zh[1:]}
    assert header[:8] == ["类型", "编号", "交易编号", "营业日", "门店", "优惠规则", "退款原因", "交易额"]
    assert set(lines) == {"交易", "退款", "净额"}
    assert lines["退款"]["退款原因"] == "退一半商品" and lines["交易"]["退款原因"] == ""
    assert lines["退款"]["优惠规则"] == lines["交易"]["优惠规则"] != "退一半商品"
    assert lines["交易"]["交易额"] == "250.00" and lines["退款"]["会员实付"] == "100.00"
    en = rows("en")
    assert en[0][:7] == ["Type", "No.", "Transaction ID", "Business day", "Store", "Rules", "Refund reason"]
    assert [row[0] for row in en[1:]] == ["Sale", "Refund", "Net"]
