"""Least privilege, as a table: every url rule of the app (pages and /api/v1 operations, each
method) × every role, and which roles may reach it.

A new page or API operation fails `test_every_operation_has_a_decision` until a line for it is
added to ACCESS below: nobody can add one without deciding who may use it.

What "allowed" means here: the role gate (benefits/auth/access.py) lets the request through, so
the answer is anything but 401/403 (and, for pages, not a redirect to the sign-in page). Each
request carries a dummy id (no such row) and an empty body, so an allowed role may well get 404
or 400: that is the object-level check or the validation speaking, after the gate. Which
*objects* an allowed role reaches (its own subtree, card, merchant, redemption) is proven by each
domain's own tests (e.g. test_admins_see_only_their_subtree); here we prove the gate, which
answers before any id or input is looked at. "Refused" means 401/403 (anonymous: 401 from the
API, a redirect to /login from a page).

One request per operation and role, as one client per role signed in once; the data is built
once for the module.
"""
from __future__ import annotations

import re

import pytest

from benefits.auth import throttle
from benefits.database import unit_of_work
from benefits.extensions import db
from tests import factories, till_factories
from tests.conftest import make_app, wipe
from tests.prize_factories import pickup_point

ANONYMOUS, MEMBER, CASHIER, PICKUP = "anonymous", "member", "cashier", "pickup_staff"
GRASSROOTS, COUNTY, CITY, PROVINCE = "grassroots_admin", "county_admin", "city_admin", "province_admin"
ROLES = (ANONYMOUS, MEMBER, CASHIER, PICKUP, GRASSROOTS, COUNTY, CITY, PROVINCE)

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANONYMOUS}
NOBODY = frozenset()
MEMBERS = frozenset({MEMBER})
CASHIERS = frozenset({CASHIER})
ADMINS = frozenset({GRASSROOTS, COUNTY, CITY, PROVINCE})
BANK_MANAGERS = frozenset({CITY, PROVINCE})  # the question bank is the whole programme's
COUNTER = frozenset({PICKUP, CASHIER})       # the prize counter: pickup staff, and cashiers at store points

# Every operation of the app, "METHOD rule" → the roles that may reach it.
ACCESS: dict[str, frozenset[str]] = {
    # --- public: sign-in, language, assets, API description
    "GET /": EVERYONE,
    "GET /login": EVERYONE,
    "POST /login": EVERYONE,
    "POST /logout": SIGNED_IN,
    "GET /activate": EVERYONE,
    "POST /activate": EVERYONE,
    "GET /lang/<code>": EVERYONE,
    "GET /static/<path:filename>": EVERYONE,
    "GET /api/v1/docs": EVERYONE,
    "GET /api/v1/openapi.json": EVERYONE,
    "POST /api/v1/auth/login": EVERYONE,
    "POST /api/v1/auth/logout": SIGNED_IN,
    "POST /api/v1/auth/activate": EVERYONE,
    "GET /api/v1/auth/csrf-token": EVERYONE,
    # a prize picture is shown in the mall; it carries nothing personal
    "GET /prizes/images/<int:image_id>": EVERYONE,

    # --- the member's own pages and API
    "GET /me": MEMBERS,
    "GET /me/merchants": MEMBERS,
    "GET /me/mine": MEMBERS,
    "GET /me/messages": MEMBERS,
    "POST /me/messages/settings": MEMBERS,
    "GET /me/pay": MEMBERS,
    "POST /me/pay/code": MEMBERS,
    "GET /me/points": MEMBERS,
    "GET /me/transactions": MEMBERS,
    "GET /me/medical": MEMBERS,
    "GET /me/vouchers": MEMBERS,
    "GET /me/vouchers/<int:voucher_id>": MEMBERS,
    "GET /festival": MEMBERS,
    "GET /festival/<int:campaign_id>": MEMBERS,
    "GET /festival/<int:campaign_id>/confirm": MEMBERS,
    "POST /festival/<int:campaign_id>/confirm": MEMBERS,
    "GET /festival/<int:campaign_id>/claim": MEMBERS,
    "GET /api/v1/festival/campaigns": MEMBERS,
    "GET /api/v1/festival/campaigns/<int:campaign_id>": MEMBERS,
    "POST /api/v1/festival/campaigns/<int:campaign_id>/claim": MEMBERS,
    "GET /api/v1/festival/campaigns/<int:campaign_id>/my-claim": MEMBERS,
    "GET /prizes": MEMBERS,
    "GET /prizes/<int:prize_id>": MEMBERS,
    "GET /prizes/<int:prize_id>/confirm": MEMBERS,
    "POST /prizes/<int:prize_id>/confirm": MEMBERS,
    "GET /prizes/my": MEMBERS,
    "GET /prizes/my/<int:redemption_id>": MEMBERS,
    "POST /prizes/my/<int:redemption_id>/cancel": MEMBERS,
    "GET /quiz": MEMBERS,
    "POST /quiz/<int:quiz_id>/start": MEMBERS,
    "GET /quiz/attempts/<int:attempt_id>": MEMBERS,
    "POST /quiz/attempts/<int:attempt_id>/submit": MEMBERS,
    "GET /quiz/leaderboard": MEMBERS,
    "GET /quiz/wrong-book": MEMBERS,
    "POST /quiz/wrong-book/practice": MEMBERS,
    "GET /api/v1/me": MEMBERS,
    "GET /api/v1/me/messages": MEMBERS,
    "GET /api/v1/me/messages/settings": MEMBERS,
    "PUT /api/v1/me/messages/settings": MEMBERS,
    "GET /api/v1/me/medical-payouts": MEMBERS,
    "GET /api/v1/me/vouchers": MEMBERS,
    "GET /api/v1/me/vouchers/<int:voucher_id>": MEMBERS,
    "GET /api/v1/points/balance": MEMBERS,
    "GET /api/v1/points/history": MEMBERS,
    "GET /api/v1/prizes": MEMBERS,
    "GET /api/v1/prizes/<int:prize_id>": MEMBERS,
    "POST /api/v1/prizes/<int:prize_id>/redeem": MEMBERS,
    "GET /api/v1/prizes/redemptions": MEMBERS,
    "GET /api/v1/prizes/redemptions/<int:redemption_id>": MEMBERS,
    "POST /api/v1/prizes/redemptions/<int:redemption_id>/cancel": MEMBERS,
    "GET /api/v1/quiz/quizzes": MEMBERS,
    "POST /api/v1/quiz/quizzes/<int:quiz_id>/attempts": MEMBERS,
    "GET /api/v1/quiz/attempts/<int:attempt_id>": MEMBERS,
    "PUT /api/v1/quiz/attempts/<int:attempt_id>/answers": MEMBERS,
    "POST /api/v1/quiz/attempts/<int:attempt_id>/submit": MEMBERS,
    "GET /api/v1/quiz/leaderboard": MEMBERS,
    "GET /api/v1/quiz/wrong-book": MEMBERS,
    "POST /api/v1/quiz/wrong-book/attempts": MEMBERS,
    # a card: the member their own, admins within their subtree (others' ids answer 404)
    "GET /api/v1/cards/<int:card_id>": MEMBERS | ADMINS,

    # --- the till: a cashier's pages; the till API also takes a terminal key instead of a session,
    # so a request without either is 401 (refused) and with a key it is the till's own
    "GET /till": CASHIERS,
    "POST /till": CASHIERS,
    "POST /till/confirm": CASHIERS,
    "GET /till/statements": CASHIERS,
    "GET /till/statements/<int:statement_id>": CASHIERS,
    "GET /till/statements/<statement_id>.csv": CASHIERS,
    "GET /till/statements/open": CASHIERS,
    "GET /till/transactions": CASHIERS,
    "GET /till/transactions/<int:transaction_id>": CASHIERS,
    "POST /till/transactions/<int:transaction_id>/refund": CASHIERS,
    "POST /api/v1/till/quote": CASHIERS,
    "GET /api/v1/till/statements": CASHIERS,
    "GET /api/v1/till/statements/<int:statement_id>": CASHIERS,
    "GET /api/v1/till/transactions": CASHIERS,
    "POST /api/v1/till/transactions": CASHIERS,
    "GET /api/v1/till/transactions/<int:transaction_id>": CASHIERS,
    "POST /api/v1/till/transactions/<int:transaction_id>/refunds": CASHIERS,

    # --- the prize counter: pickup staff at their office's points, cashiers at their stores' points;
    # no admin (a pickup code is checked only where the prize is handed over)
    "GET /prizes/pickup": COUNTER,
    "POST /prizes/pickup": COUNTER,
    "POST /prizes/pickup/hand-over": COUNTER,
    "GET /api/v1/prizes/pickup/points": COUNTER,
    "POST /api/v1/prizes/pickup/verify": COUNTER,
    "POST /api/v1/prizes/pickup/hand-over": COUNTER,

    # --- the quiz bank: read by every admin (to build quizzes), changed by city and province admins
    "GET /quiz/admin/job-types": ADMINS,
    "POST /quiz/admin/job-types": BANK_MANAGERS,
    "GET /quiz/admin/questions": ADMINS,
    "GET /quiz/admin/questions/new": BANK_MANAGERS,
    "POST /quiz/admin/questions/new": BANK_MANAGERS,
    "POST /quiz/admin/questions/<int:question_id>/toggle": BANK_MANAGERS,
    "GET /quiz/admin/import": BANK_MANAGERS,
    "POST /quiz/admin/import": BANK_MANAGERS,
    "GET /quiz/admin/template.<fmt>": BANK_MANAGERS,
    "GET /quiz/admin/export.<fmt>": ADMINS,
    "GET /api/v1/quiz/admin/job-types": ADMINS,
    "POST /api/v1/quiz/admin/job-types": BANK_MANAGERS,
    "GET /api/v1/quiz/admin/questions": ADMINS,
    "POST /api/v1/quiz/admin/questions": BANK_MANAGERS,
    "PATCH /api/v1/quiz/admin/questions/<int:question_id>": BANK_MANAGERS,
    "POST /api/v1/quiz/admin/questions/import": BANK_MANAGERS,
}

# The admin console: every admin, each inside their own union's subtree (object-level checks).
_ADMIN_CONSOLE = """
GET /admin
GET /admin/audit
GET /admin/staff
GET /admin/staff/new
POST /admin/staff/new
GET /admin/staff/<int:user_id>
POST /admin/staff/<int:user_id>/disable
POST /admin/staff/<int:user_id>/enable
POST /admin/staff/<int:user_id>/password
GET /admin/members
POST /admin/members
GET /admin/members/<int:member_id>
POST /admin/members/<int:member_id>/activation-code
POST /admin/members/<int:member_id>/cards
POST /admin/members/<int:member_id>/cards/<int:card_id>/freeze
POST /admin/members/<int:member_id>/cards/<int:card_id>/report-lost
POST /admin/members/<int:member_id>/cards/<int:card_id>/unfreeze
POST /admin/members/<int:member_id>/leave
POST /admin/members/<int:member_id>/rejoin
GET /admin/members/import
POST /admin/members/import
GET /admin/members/import/template.csv
GET /admin/members/new
POST /admin/members/new
GET /admin/merchants
GET /admin/merchants/<int:merchant_id>
POST /admin/merchants/<int:merchant_id>/cashiers
POST /admin/merchants/<int:merchant_id>/edit
POST /admin/merchants/<int:merchant_id>/keys
POST /admin/merchants/<int:merchant_id>/keys/<int:key_id>/revoke
POST /admin/merchants/<int:merchant_id>/statements
GET /admin/merchants/<int:merchant_id>/statements/<int:statement_id>
POST /admin/merchants/<int:merchant_id>/stores
GET /admin/merchants/new
POST /admin/merchants/new
GET /admin/merchants/report
GET /admin/points/adjust
POST /admin/points/adjust
GET /admin/prizes
GET /admin/prizes/<int:prize_id>
POST /admin/prizes/<int:prize_id>
POST /admin/prizes/<int:prize_id>/image
POST /admin/prizes/<int:prize_id>/restock
GET /admin/prizes/export.csv
GET /admin/prizes/new
POST /admin/prizes/new
GET /admin/prizes/points
POST /admin/prizes/points
POST /admin/prizes/redemptions/<int:redemption_id>/<action>
GET /admin/promotions
GET /admin/promotions/<int:rule_id>
GET /admin/promotions/<int:rule_id>/edit
POST /admin/promotions/<int:rule_id>/edit
POST /admin/promotions/<int:rule_id>/status
GET /admin/promotions/new
POST /admin/promotions/new
GET /admin/festival
GET /admin/festival/new
POST /admin/festival/new
GET /admin/festival/<int:campaign_id>
POST /admin/festival/<int:campaign_id>/gifts
POST /admin/festival/<int:campaign_id>/gifts/<int:gift_id>/restock
POST /admin/festival/<int:campaign_id>/claims/<int:claim_id>/deliver
GET /admin/festival/<int:campaign_id>/report
GET /admin/festival/<int:campaign_id>/unclaimed.csv
GET /admin/festival/<int:campaign_id>/stock.csv
GET /api/v1/festival/admin/campaigns
POST /api/v1/festival/admin/campaigns
GET /api/v1/festival/admin/campaigns/<int:campaign_id>
POST /api/v1/festival/admin/campaigns/<int:campaign_id>/gifts
POST /api/v1/festival/admin/campaigns/<int:campaign_id>/gifts/<int:gift_id>/restock
GET /api/v1/festival/admin/campaigns/<int:campaign_id>/claims
POST /api/v1/festival/admin/campaigns/<int:campaign_id>/claims/<int:claim_id>/deliver
GET /api/v1/festival/admin/campaigns/<int:campaign_id>/report
GET /admin/medical
GET /admin/medical/<int:programme_id>
POST /admin/medical/<int:programme_id>/batches
GET /admin/medical/<int:programme_id>/import
POST /admin/medical/<int:programme_id>/import
GET /admin/medical/<int:programme_id>/import/template.csv
GET /admin/medical/<int:programme_id>/preview
POST /admin/medical/<int:programme_id>/reissue
GET /admin/medical/<int:programme_id>/returns
POST /admin/medical/<int:programme_id>/returns
GET /admin/medical/batches/<int:batch_id>
POST /admin/medical/batches/<int:batch_id>/approve
POST /admin/medical/batches/<int:batch_id>/reject
GET /admin/medical/files/<int:file_id>.<fmt>
GET /admin/medical/new
POST /admin/medical/new
GET /admin/medical/report
GET /admin/medical/report.csv
GET /admin/vouchers
GET /admin/vouchers/<int:programme_id>
POST /admin/vouchers/<int:programme_id>/close
GET /admin/vouchers/<int:programme_id>/issue
POST /admin/vouchers/<int:programme_id>/issue
POST /admin/vouchers/<int:voucher_id>/void
GET /admin/vouchers/new
POST /admin/vouchers/new
GET /quiz/admin
GET /quiz/admin/flagged
GET /quiz/admin/report
GET /quiz/admin/quizzes/new
POST /quiz/admin/quizzes/new
GET /quiz/admin/quizzes/<int:quiz_id>/edit
POST /quiz/admin/quizzes/<int:quiz_id>/edit
POST /quiz/admin/quizzes/<int:quiz_id>/toggle
GET /api/v1/audit
POST /api/v1/cards/<int:card_id>/freeze
POST /api/v1/cards/<int:card_id>/report-lost
POST /api/v1/cards/<int:card_id>/unfreeze
GET /api/v1/members
POST /api/v1/members
GET /api/v1/members/<int:member_id>
POST /api/v1/members/<int:member_id>/activation-code
POST /api/v1/members/<int:member_id>/cards
POST /api/v1/members/<int:member_id>/leave
POST /api/v1/members/<int:member_id>/rejoin
POST /api/v1/members/search
GET /api/v1/merchants
POST /api/v1/merchants
GET /api/v1/merchants/<int:merchant_id>
PATCH /api/v1/merchants/<int:merchant_id>
POST /api/v1/merchants/<int:merchant_id>/cashiers
POST /api/v1/merchants/<int:merchant_id>/statements
POST /api/v1/merchants/<int:merchant_id>/stores
POST /api/v1/merchants/<int:merchant_id>/stores/<int:store_id>/terminal-keys
GET /api/v1/merchants/<int:merchant_id>/terminal-keys
DELETE /api/v1/merchants/<int:merchant_id>/terminal-keys/<int:key_id>
GET /api/v1/merchants/report
GET /api/v1/medical/batches/<int:batch_id>
POST /api/v1/medical/batches/<int:batch_id>/approve
POST /api/v1/medical/batches/<int:batch_id>/reject
GET /api/v1/medical/payout-files/<int:file_id>/download
GET /api/v1/medical/programmes
POST /api/v1/medical/programmes
GET /api/v1/medical/programmes/<int:programme_id>
GET /api/v1/medical/programmes/<int:programme_id>/batches
POST /api/v1/medical/programmes/<int:programme_id>/batches
GET /api/v1/medical/programmes/<int:programme_id>/imports
POST /api/v1/medical/programmes/<int:programme_id>/imports
GET /api/v1/medical/programmes/<int:programme_id>/payout-files
POST /api/v1/medical/programmes/<int:programme_id>/payout-files
GET /api/v1/medical/programmes/<int:programme_id>/payouts
GET /api/v1/medical/programmes/<int:programme_id>/preview
GET /api/v1/medical/programmes/<int:programme_id>/returns
POST /api/v1/medical/programmes/<int:programme_id>/returns
GET /api/v1/medical/totals
GET /api/v1/organisations
GET /api/v1/organisations/<int:org_id>
POST /api/v1/points/adjustments
GET /api/v1/points/members/<int:member_id>/history
GET /api/v1/prizes/admin/pickup-points
POST /api/v1/prizes/admin/pickup-points
GET /api/v1/prizes/admin/prizes
POST /api/v1/prizes/admin/prizes
GET /api/v1/prizes/admin/prizes/<int:prize_id>
PATCH /api/v1/prizes/admin/prizes/<int:prize_id>
POST /api/v1/prizes/admin/prizes/<int:prize_id>/image
GET /api/v1/prizes/admin/prizes/<int:prize_id>/report
POST /api/v1/prizes/admin/prizes/<int:prize_id>/restock
GET /api/v1/prizes/admin/prizes/<int:prize_id>/stock-history
GET /api/v1/prizes/admin/redemptions
POST /api/v1/prizes/admin/redemptions/<int:redemption_id>/approve
POST /api/v1/prizes/admin/redemptions/<int:redemption_id>/deliver
POST /api/v1/prizes/admin/redemptions/<int:redemption_id>/reject
GET /api/v1/prizes/admin/redemptions/export.csv
POST /api/v1/promotions/preview
GET /api/v1/promotions/rules
POST /api/v1/promotions/rules
GET /api/v1/promotions/rules/<int:rule_id>
PUT /api/v1/promotions/rules/<int:rule_id>
GET /api/v1/promotions/rules/<int:rule_id>/report
POST /api/v1/promotions/rules/<int:rule_id>/status
GET /api/v1/promotions/rules/<int:rule_id>/versions
GET /api/v1/quiz/admin/flagged-attempts
GET /api/v1/quiz/admin/quizzes
POST /api/v1/quiz/admin/quizzes
GET /api/v1/quiz/admin/quizzes/<int:quiz_id>
PATCH /api/v1/quiz/admin/quizzes/<int:quiz_id>
POST /api/v1/vouchers/<int:voucher_id>/void
GET /api/v1/vouchers/programmes
POST /api/v1/vouchers/programmes
GET /api/v1/vouchers/programmes/<int:programme_id>
GET /api/v1/vouchers/programmes/<int:programme_id>/batches
POST /api/v1/vouchers/programmes/<int:programme_id>/batches
POST /api/v1/vouchers/programmes/<int:programme_id>/close
GET /api/v1/vouchers/programmes/<int:programme_id>/vouchers
"""
for _line in _ADMIN_CONSOLE.strip().splitlines():
    assert _line not in ACCESS, _line
    ACCESS[_line] = ADMINS

# Values for the path's variables: ids that name no row, and one valid value for the rest.
_DUMMY = {"int": "987654", "code": "en", "fmt": "csv", "filename": "app.css", "statement_id": "987654",
          "action": "approve"}
# Signing out ends the role's session: asked last.
_LAST = ("POST /logout", "POST /api/v1/auth/logout")


def operations(app) -> dict[str, str]:
    """Every url rule × method of the app: "METHOD rule" → a concrete path to request."""
    ops = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>",
                      lambda m: _DUMMY["int"] if m.group(1) == "int" else _DUMMY[m.group(2)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            ops[f"{method} {rule.rule}"] = path
    return ops


def _sign_in(client, username: str) -> None:
    signed_in = client.post("/api/v1/auth/login", json={"username": username, "password": factories.PASSWORD})
    assert signed_in.status_code == 200, (username, signed_in.get_json())


@pytest.fixture(scope="module")
def matrix(database_url):
    """One app and one signed-in client per role for the whole module."""
    app = make_app(database_url)
    throttle.reset_local()
    with app.app_context():
        with unit_of_work():
            tree = factories.org_tree()
            users = {
                MEMBER: factories.member_user(tree["gujing"], name="李娜"),
                CASHIER: till_factories.cashier(till_factories.merchant(tree["bozhou"]), username="matrix_cashier"),
                PICKUP: factories.pickup_staff(tree["gujing"], username="matrix_pickup"),
                GRASSROOTS: factories.admin(tree["gujing"], "matrix_grassroots"),
                COUNTY: factories.admin(tree["qiaocheng"], "matrix_county"),
                CITY: factories.admin(tree["bozhou"], "matrix_city"),
                PROVINCE: factories.admin(tree["province"], "matrix_province"),
            }
            pickup_point(users[CITY], tree["gujing"])
            usernames = {role: user.username for role, user in users.items()}
        clients = {ANONYMOUS: app.test_client()}
        for role, username in usernames.items():
            clients[role] = app.test_client()
            _sign_in(clients[role], username)
        yield app, clients, usernames
        db.session.remove()
    wipe(app)


def test_every_operation_has_a_decision(matrix):
    app, _clients, _usernames = matrix
    ops = operations(app)
    missing = sorted(set(ops) - set(ACCESS))
    stale = sorted(set(ACCESS) - set(ops))
    assert not missing, "operations with no line in ACCESS (decide who may use them):\n" + "\n".join(missing)
    assert not stale, "lines in ACCESS for operations that no longer exist:\n" + "\n".join(stale)


def _refused(op: str, response) -> bool:
    if response.status_code in (401, 403):
        return True
    return (not op.split(" ", 1)[1].startswith("/api/") and response.status_code == 302
            and response.headers["Location"].startswith("/login?next="))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_operations(matrix, role):
    app, clients, usernames = matrix
    client = clients[role]
    ops = operations(app)
    wrong = []
    for op in sorted(ops, key=lambda op: op in _LAST):
        method, rule = op.split(" ", 1)
        kwargs = {}
        if method != "GET":
            kwargs = {"json": {}} if rule.startswith("/api/") else {"data": {}}
        response = client.open(ops[op], method=method, **kwargs)
        response.close()
        if op in _LAST and role != ANONYMOUS:
            _sign_in(client, usernames[role])
        if response.status_code >= 500:
            wrong.append(f"{op}: {response.status_code}")
        elif _refused(op, response) == (role in ACCESS[op]):
            expected = "allowed" if role in ACCESS[op] else "refused"
            wrong.append(f"{op}: {response.status_code} {response.headers.get('Location', '')} (expected {expected})")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)
