"""The OpenAPI document is a contract, checked by schemathesis against the app itself.

Schemathesis reads `/api/v1/openapi.json` and, for every operation, generates requests from it:
valid ones (positive), ones that break it (negative: wrong types, missing fields, values out of
range), valid ones aimed at the rows of a seeded world (every integer id in the path is 1, the
first row of each table, which the world makes the caller's own where it can) and, for the
operations whose services refuse almost anything generated, a few known-good bodies. It sends
them to the WSGI app in-process as four callers:

* anonymous: nobody signed in;
* member: a member's session (a card, points, a voucher, a redemption, a quiz attempt);
* till: a store's terminal key, from the till of a cashier who is signed in too (so the prize
  counter is reached as well);
* admin: a city union's admin (the whole world is in their subtree).

Every answer must be no 5xx, a status and content type the document names (or its `default`)
and a body that matches the document's schema for that status: the error envelope of
`benefits/errors.py` for every error. A caller who may not use an operation (by the access
matrix, tests/api/test_access_matrix.py) must be turned away before their input is read: 401
`not_authenticated` when nobody is signed in, 403 for another role, never a list of field errors.

Each caller gets a fresh world, so what one caller's requests change (an admin freezing the
member's card, a member spending points) cannot reach another's. Generation is derandomized, so
a run sends the same requests every time and CI cannot flake; a fixed number of requests per
caller bounds the time (30 to 50 s per caller on this two-core machine).
"""
from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from benefits import clock
from benefits.auth import throttle
from benefits.database import unit_of_work
from benefits.extensions import db
from tests import factories, till_factories, voucher_factories
from tests.api.test_access_matrix import ACCESS, ANONYMOUS, CASHIER, CITY, MEMBER
from tests.conftest import make_app, wipe
from tests.prize_factories import pickup_point, prize, rich_member
from tests.services import quiz_world

pytestmark = pytest.mark.services

MODES = ("anonymous", "member", "till", "admin")
# The bound on time: about this many requests per caller, shared among the operations (so a new
# operation makes each one's share smaller, not the run longer), at least MIN_EXAMPLES each.
# CONTRACT_REQUESTS_PER_CALLER=20000 makes a deeper run by hand.
REQUESTS_PER_CALLER = int(os.environ.get("CONTRACT_REQUESTS_PER_CALLER", "2000"))
MIN_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
USER_AGENT = "benefits-contract-test"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A client as a server sees it (schemathesis's WSGI client sends no address, and the session is
# bound to address and browser: Flask-Login's strong session protection).
CLIENT = {"REMOTE_ADDR": "127.0.0.1"}
# A signed-in caller's own page: answered 200, or the caller was not signed in after all.
OWN_PAGE = {"member": "GET /api/v1/me", "till": "GET /api/v1/till/statements", "admin": "GET /api/v1/organisations"}
# Who may call what: the access matrix's decisions, by the OpenAPI document's names.
ROLE = {"anonymous": ANONYMOUS, "member": MEMBER, "till": CASHIER, "admin": CITY}
ALLOWED = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule): roles for rule, roles in ACCESS.items()}
# The redemption's Redis gate answers from the signed session alone (no role in it, no database):
# a signed-in non-member's body is read before the service turns the role away (docs/api.md).
ROLE_CHECKED_AFTER_INPUT = {"POST /api/v1/prizes/{prize_id}/redeem", "POST /api/v1/festival/campaigns/{campaign_id}/claim"}
# Refusals that come before sign-in is looked at, for every request alike (benefits/inputs.py).
EDGE_REFUSALS = {"nul_character", "json_too_deep"}


@dataclass
class Caller:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def contract_app(database_url):
    app = make_app(database_url)
    wipe(app)  # empty tables: each seeded row below is the first of its table, id 1
    yield app
    clock.set_frozen(None)
    wipe(app)


@pytest.fixture(scope="module")
def schema(contract_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", contract_app)


def build_world(app) -> dict:
    """One of everything, each the first row of its table, in one city union's subtree; made
    three days ago, so that a statement can close the day of the first sale."""
    clock.set_frozen(clock.now() - timedelta(days=3))
    with app.app_context(), unit_of_work():
        tree = factories.org_tree()
        member = rich_member(tree["gujing"], 5000, name="李娜", category="hardship")
        admin = factories.admin(tree["bozhou"], "contract_admin")
        # a member with every optional field empty, so that lists show nulls where they can
        factories.member(tree["gujing"], name="赵敏", with_card=False, phone=None)
        merchant = till_factories.merchant(tree["bozhou"])
        cashier = till_factories.cashier(merchant, "contract_cashier")
        key = till_factories.terminal_key(merchant)
        till_factories.rule(tree["bozhou"])
        programme = voucher_factories.programme(tree["bozhou"], valid_from=clock.business_day(),
                                                valid_until=clock.business_day() + timedelta(days=30))
        voucher_factories.issue(programme)
        point = pickup_point(admin, tree["gujing"])
        prize(admin, point, stock=20, cost=100)
        quiz_world.quiz(tree["bozhou"], [quiz_world.bank(count=12)], question_count=5)
        card_number, username, point_id = member.member.current_card.number, member.username, point.id
        org_id = tree["gujing"].id
    client = app.test_client()
    headers = {"User-Agent": USER_AGENT}
    till = {"Authorization": f"Bearer {key}", **headers}
    # a transaction, a redemption and a quiz attempt, made as their callers make them
    assert client.post("/api/v1/till/transactions", json={"card_number": card_number, "amount": "250.00"},
                       headers={**till, "Idempotency-Key": "contract-1"}).status_code == 201
    member_client = signed_in(app, username)
    assert member_client.post("/api/v1/prizes/1/redeem", json={"pickup_point_id": point_id},
                              headers=headers).status_code == 201
    assert member_client.post("/api/v1/quiz/quizzes/1/attempts", headers=headers).status_code == 201
    clock.set_frozen(None)
    admin_client = signed_in(app, "contract_admin")
    yesterday = (clock.business_day() - timedelta(days=1)).isoformat()
    assert admin_client.post("/api/v1/merchants/1/statements", json={"through": yesterday},
                             headers=headers).status_code == 201
    return {"member": username, "admin": "contract_admin", "cashier": "contract_cashier", "key": key,
            "card": card_number, "org": org_id, "new_id_number": factories.id_number()}


def signed_in(app, username: str):
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"username": username, "password": factories.PASSWORD},
                           headers={"User-Agent": USER_AGENT})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def session_caller(app, username: str) -> Caller:
    """The session cookie and a CSRF token for it: an unsafe call that carries the cookie must send
    one (benefits/security.py); with it, a body-less POST needs no JSON content type."""
    client = signed_in(app, username)
    token = client.get("/api/v1/auth/csrf-token", headers={"User-Agent": USER_AGENT}).get_json()["csrf_token"]
    name = app.config["SESSION_COOKIE_NAME"]
    return Caller(headers={"User-Agent": USER_AGENT, "X-CSRF-Token": token},
                  cookies={name: client.get_cookie(name).value})


def caller_for(mode: str, app, world: dict) -> Caller:
    if mode == "anonymous":
        return Caller(headers={"User-Agent": USER_AGENT})
    if mode == "till":
        cashier = session_caller(app, world["cashier"])
        cashier.headers["Authorization"] = f"Bearer {world['key']}"
        return cashier
    return session_caller(app, world[mode])


def operations(schema) -> list:
    ops = [result.ok() for result in schema.get_all_operations()]
    # signing out ends the caller's session: last, so it cannot sign the caller out of the rest
    return sorted(ops, key=lambda op: op.label == "POST /api/v1/auth/logout")


def known_requests(world: dict) -> dict[str, list[dict]]:
    """Requests that get past the services' own checks, which generated ones rarely do (a card
    number that exists, a rule that adds up), so that these operations' success answers are
    held to the document too: the till's quote is written out by hand, for one."""
    sale = {"card_number": world["card"], "amount": "250.00", "voucher_ids": [1]}
    rule = {"name": "满100减10", "kind": "threshold", "threshold_fen": 10000, "off_fen": 1000, "scope": "programme",
            "split": {"union": 50, "bank": 30, "merchant": 20}}
    programme = {"programme_id": 1}
    return {
        "POST /api/v1/auth/login": [{"body": {"username": world["admin"], "password": factories.PASSWORD}}],
        "POST /api/v1/till/quote": [{"body": sale}],
        "POST /api/v1/till/transactions": [{"body": sale}],
        "POST /api/v1/till/transactions/{transaction_id}/refunds": [
            {"body": {"amount": "10.00"}, "path_parameters": {"transaction_id": 1}}],
        "POST /api/v1/prizes/{prize_id}/redeem": [{"body": {"pickup_point_id": 1}, "path_parameters": {"prize_id": 1}}],
        "POST /api/v1/promotions/preview": [{"body": {**rule, "amounts_fen": [5000, 25000]}}],
        "POST /api/v1/promotions/rules": [{"body": rule}],
        "POST /api/v1/points/adjustments": [{"body": {"member_id": 1, "amount": 10, "reason": "补录"}}],
        "POST /api/v1/members": [{"body": {"org_id": world["org"], "name": "钱多", "id_number": world["new_id_number"]}}],
        "POST /api/v1/vouchers/programmes/{programme_id}/batches": [
            {"body": {"member_categories": ["ordinary"], "preview": True}, "path_parameters": programme},
            {"body": {"member_categories": ["ordinary"]}, "path_parameters": programme}],
    }


def strategy_for(operation, known: list[dict]):
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    strategies = [operation.as_strategy(generation_mode=positive), operation.as_strategy(generation_mode=negative)]
    ids = {p.name: 1 for p in operation.path_parameters}
    if ids:
        strategies.append(operation.as_strategy(generation_mode=positive, path_parameters=ids))
    strategies += [operation.as_strategy(generation_mode=positive, **request) for request in known]
    return st.one_of(*strategies)


def check_caller_first(mode: str, operation, response) -> None:
    """A caller who may not use the operation is turned away before their input is read: 401
    `not_authenticated` when nobody is signed in, 403 for another role; never a list of field
    errors. Earlier than that come only the refusals every request gets: an id no route takes
    (404), a NUL character and JSON nested too deep (400)."""
    allowed = ALLOWED.get(operation.label)
    if allowed is None or ROLE[mode] in allowed or response.status_code == 404:
        return
    body = response.json()
    code = body["error"]["code"]
    if response.status_code == 400 and code in EDGE_REFUSALS:
        return
    if mode != "anonymous" and operation.label in ROLE_CHECKED_AFTER_INPUT:
        return
    if mode == "anonymous":
        assert (response.status_code, code) == (401, "not_authenticated"), (operation.label, body)
    else:
        assert response.status_code == 403, (operation.label, response.status_code, body)


def test_the_document_describes_every_error_as_sent(contract_app):
    """Every operation's `default` answer is the envelope errors.py sends; every operation that
    reads a body or a query string names its 400 (what the app sends for bad input, malformed JSON
    included) and none names a 422, which the API never sends. Schemathesis cannot see this: a
    status the document does not name still passes against `default`."""
    doc = contract_app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"}
    envelope = doc["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    assert sorted(doc["components"]["schemas"]["Error"]["required"]) == ["code", "details", "message"]
    wrong = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation["responses"]
            reads_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
            if responses.get("default") != {"$ref": "#/components/responses/DEFAULT_ERROR"}:
                wrong.append(f"{method.upper()} {path}: no error envelope as default")
            if "422" in responses:
                wrong.append(f"{method.upper()} {path}: names 422 (give @blp.arguments error_status_code=400)")
            if reads_input and "400" not in responses:
                wrong.append(f"{method.upper()} {path}: reads input but names no 400")
    assert not wrong, "\n".join(wrong)


@pytest.fixture
def world(contract_app):
    throttle.reset_local()
    yield build_world(contract_app)
    clock.set_frozen(None)
    with contract_app.app_context():
        db.session.remove()
    wipe(contract_app)


def first_lines(exc: BaseException) -> str:
    """A failure, short enough to read dozens of: the first 1,500 characters of its report."""
    text = str(exc)
    return text[:1500] + (" …" if len(text) > 1500 else "")


@pytest.mark.parametrize("mode", MODES)
def test_every_answer_matches_the_document(contract_app, schema, world, mode):
    caller = caller_for(mode, contract_app, world)
    statuses: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    started = time.monotonic()

    ops = operations(schema)
    known = known_requests(world)
    examples = max(MIN_EXAMPLES, REQUESTS_PER_CALLER // len(ops))
    for operation in ops:
        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  verbosity=hypothesis.Verbosity.quiet)
        @given(case=strategy_for(operation, known.get(operation.label, [])))
        def run(case):
            response = case.call(headers=caller.headers, cookies=caller.cookies, environ_base=CLIENT)
            statuses[operation.label][response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=caller.headers)
            check_caller_first(mode, operation, response)

        try:
            run()
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis reports a FailureGroup
            failures.append(f"{mode} {operation.label}: {first_lines(exc)}")

    sent = sum(sum(counts.values()) for counts in statuses.values())
    report(mode, f"{sent} requests, {len(ops)} operations ({examples} examples each), "
                 f"{time.monotonic() - started:.0f} s", statuses)
    assert not failures, f"{len(failures)} operations broke the contract:\n\n" + "\n\n".join(failures)
    if mode in OWN_PAGE:
        assert statuses[OWN_PAGE[mode]][200], f"{mode} was not signed in: {dict(statuses[OWN_PAGE[mode]])}"


def report(mode: str, summary: str, statuses: dict[str, Counter]) -> None:
    """What was sent and answered, in test-artifacts/ (and on the terminal with -s)."""
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [f"{mode}: {summary}"]
    lines += [f"  {label} {dict(sorted(counts.items()))}" for label, counts in sorted(statuses.items())]
    (ARTIFACTS / f"openapi-contract-{mode}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\n{lines[0]}")
