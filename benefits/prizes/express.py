"""PostgreSQL express path for a member's redemption: the whole SQL step in ONE statement.

This is the documented exception to "services flush, never commit": the statement runs on its
own pooled connection in autocommit, and a single statement is atomic by itself, so there is no
BEGIN / COMMIT round trip and no ORM work. It does exactly what `service.redeem` plus
`idempotency.run_once` do, with the same SQL guards:

- the signed-in user is checked as `auth.service.load_user` checks it (session token, enabled)
  and must be a member; the member must be active and eligible (organisation subtree,
  category); the prize listed, open, a pickup prize; the pickup point one of its points;
- the member's balance drops by a conditional UPDATE (never below zero, CHECK balance >= 0)
  and a ledger entry is added with the unique source key `prize-redeem:<redemption id>` and
  the new balance — exactly the points ledger's own invariants (`flask points reconcile` agrees);
- every per-period counter is raised by one conditional upsert (unique slot, count + q <= limit);
- the prize's and the pickup point's stock drop by conditional UPDATEs (CHECK stock >= 0);
- the redemption row is inserted (unique idempotency key, unique pickup code) and the
  Idempotency-Key record with the answer (unique scope + key), so a retry replays it.

Lock order as everywhere: member's account, counters, prize, point (each step waits for the
one before it). If any step does not happen, the statement's last SELECT raises, the whole
statement rolls back, and `try_redeem` returns None: the caller then runs the portable path
(`flow.redeem`'s unit of work), which gives the exact refusal — or the replay for a key already
used — so every answer is the one the portable path would give. The express path only ever
accepts a subset of what the portable path accepts (anything unusual — delivery prizes, a
session Flask-Login would not accept as it is — goes the portable way).

The answer is built in SQL with the same fields and formats as `schemas.RedemptionOut` dumps
(timestamps as Python's `isoformat()`); tests compare the two.
"""
from __future__ import annotations

import logging
import re
import uuid

from psycopg import RawCursor
from psycopg.errors import InvalidTextRepresentation, UniqueViolation

from .. import clock
from ..extensions import db
from ..idempotency import fingerprint
from .service import new_pickup_code

log = logging.getLogger(__name__)

_CHECKS = """
ok AS (
  SELECT m.id AS member_id, p.id AS prize_id, p.name AS prize_name, p.cost_points * %(q)s::int AS spent,
         p.high_value, p.pickup_days, p.daily_quota, p.per_day_limit, p.per_month_limit, p.lifetime_limit,
         pp.id AS point_id, pp.name AS point_name, pp.address AS point_address,
         pp.office_org_id, pp.store_id
  FROM users u
  JOIN members m ON m.id = u.member_id
  JOIN organisations o ON o.id = m.org_id
  JOIN prizes p ON p.id = %(prize)s::int
  JOIN prize_stocks s ON s.prize_id = p.id AND s.pickup_point_id = coalesce(%(point)s::int, s.pickup_point_id)
  JOIN pickup_points pp ON pp.id = s.pickup_point_id
  WHERE u.id = %(uid)s::int AND u.session_token = %(token)s::text AND u.is_enabled AND u.role = 'member'
    AND m.status = 'active'
    AND p.is_listed AND p.fulfilment = 'pickup'
    AND strpos(o.path, '/' || p.eligible_org_id || '/') > 0
    AND (p.eligible_categories = ''
         OR strpos(',' || p.eligible_categories || ',', ',' || m.category || ',') > 0)
    AND (p.opens_at IS NULL OR p.opens_at <= %(at)s::timestamptz)
    AND (p.closes_at IS NULL OR p.closes_at > %(at)s::timestamptz)
    AND (%(point)s::int IS NOT NULL
         OR NOT EXISTS (SELECT 1 FROM prize_stocks o2 WHERE o2.prize_id = p.id
                        AND o2.pickup_point_id <> s.pickup_point_id))
),
debit AS (
  UPDATE points_accounts a SET balance = a.balance - ok.spent, updated_at = %(at)s::timestamptz
  FROM ok WHERE a.member_id = ok.member_id AND a.balance - ok.spent >= 0
  RETURNING a.balance
),
lims AS (
  SELECT v.subject, v.period, v.lim FROM ok CROSS JOIN LATERAL (VALUES
      ('all', %(dp)s::text, ok.daily_quota), ('m' || ok.member_id, %(dp)s::text, ok.per_day_limit),
      ('m' || ok.member_id, %(mp)s::text, ok.per_month_limit), ('m' || ok.member_id, 'life', ok.lifetime_limit)
  ) AS v(subject, period, lim)
  WHERE v.lim IS NOT NULL
),
bump AS (
  INSERT INTO prize_counters (prize_id, subject, period, count)
  SELECT %(prize)s::int, l.subject, l.period, %(q)s::int FROM lims l
  WHERE l.lim >= %(q)s::int AND EXISTS (SELECT 1 FROM debit)
  ON CONFLICT (prize_id, subject, period) DO UPDATE SET count = prize_counters.count + excluded.count
  WHERE prize_counters.count + excluded.count
        <= (SELECT l.lim FROM lims l WHERE l.subject = excluded.subject AND l.period = excluded.period)
  RETURNING 1
),
taken AS (
  UPDATE prizes SET stock = stock - %(q)s::int, updated_at = %(at)s::timestamptz
  WHERE id = %(prize)s::int AND stock >= %(q)s::int AND EXISTS (SELECT 1 FROM debit)
    AND (SELECT count(*) FROM bump) = (SELECT count(*) FROM lims)
  RETURNING id
),
point AS (
  UPDATE prize_stocks s SET stock = s.stock - %(q)s::int FROM ok
  WHERE s.prize_id = ok.prize_id AND s.pickup_point_id = ok.point_id AND s.stock >= %(q)s::int
    AND EXISTS (SELECT 1 FROM taken)
  RETURNING s.pickup_point_id
),
red AS (
  INSERT INTO prize_redemptions (prize_id, member_id, quantity, points_spent, fulfilment, pickup_point_id,
                                 pickup_code, pickup_deadline, status, approval, business_day,
                                 idempotency_key, created_at)
  SELECT ok.prize_id, ok.member_id, %(q)s::int, ok.spent, 'pickup', ok.point_id, %(code)s::text,
         %(at)s::timestamptz + make_interval(hours => 24 * ok.pickup_days), 'redeemed',
         CASE WHEN ok.high_value THEN 'pending' ELSE 'not_needed' END, %(day)s::date, %(rkey)s::text,
         %(at)s::timestamptz
  FROM ok JOIN point ON true
  RETURNING id, approval
),
entry AS (
  INSERT INTO points_entries (member_id, amount, kind, source_key, reason, actor_user_id, balance_after,
                              created_at)
  SELECT ok.member_id, -ok.spent, 'spend', 'prize-redeem:' || red.id,
         left('兑换奖品 ' || ok.prize_name || ' ×' || %(q)s::int, 255), %(uid)s::int, debit.balance,
         %(at)s::timestamptz
  FROM ok JOIN red ON true JOIN debit ON true
  RETURNING 1
),
body AS (
  SELECT json_build_object(
    'id', red.id, 'prize_id', ok.prize_id, 'prize_name', ok.prize_name, 'quantity', %(q)s::int,
    'points_spent', ok.spent, 'status', 'redeemed', 'approval', red.approval, 'fulfilment', 'pickup',
    'pickup_point', json_build_object('id', ok.point_id, 'name', ok.point_name, 'address', ok.point_address,
                                      'kind', CASE WHEN ok.office_org_id IS NOT NULL THEN 'office' ELSE 'store' END,
                                      'office_org_id', ok.office_org_id, 'store_id', ok.store_id),
    'pickup_code', %(code)s::text,
    'pickup_deadline', to_char((%(at)s::timestamptz + make_interval(hours => 24 * ok.pickup_days))
                               AT TIME ZONE 'UTC', 'YYYY-MM-DD') || %(time_part)s::text,
    'delivery_address', NULL, 'delivery_phone', NULL, 'created_at', %(created)s::text, 'closed_at', NULL,
    'points_balance', debit.balance) AS response
  FROM ok JOIN red ON true JOIN debit ON true JOIN entry ON true
)"""

_REASON = """CASE WHEN NOT EXISTS (SELECT 1 FROM ok) THEN 'checks'
     WHEN NOT EXISTS (SELECT 1 FROM debit) THEN 'points'
     WHEN NOT EXISTS (SELECT 1 FROM taken) THEN 'limits_or_stock'
     WHEN NOT EXISTS (SELECT 1 FROM point) THEN 'point_stock'
     ELSE 'idempotency' END"""

# With an Idempotency-Key: the record (unique scope + key) goes in last, holding the answer.
# A key already used inserts nothing, so the statement raises and the portable path replays.
_WITH_KEY = ("WITH" + _CHECKS + """,
idem AS (
  INSERT INTO idempotency_records (scope, key, fingerprint, status_code, response, created_at)
  SELECT %(scope)s::text, %(ikey)s::text, %(fp)s::text, 201, body.response, %(at)s::timestamptz FROM body
  ON CONFLICT (scope, key) DO NOTHING
  RETURNING response
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM idem) THEN (SELECT response FROM idem)
  ELSE CAST(CAST('prize express refused: ' || """ + _REASON + """ AS integer) AS text)::json END""")

_WITHOUT_KEY = ("WITH" + _CHECKS + """
SELECT CASE WHEN EXISTS (SELECT 1 FROM body) THEN (SELECT response FROM body)
  ELSE CAST(CAST('prize express refused: ' || """ + _REASON + """ AS integer) AS text)::json END""")

MAX_ID = 2**31 - 1


def _native(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """`%(name)s` placeholders to PostgreSQL's `$n` once, at import: a RawCursor then sends the
    statement as it is (psycopg would otherwise re-parse this long text on every call)."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"
    return re.sub(r"%\((\w+)\)s", number, " ".join(sql.split())).encode(), tuple(names)


_STATEMENTS = {True: _native(_WITH_KEY), False: _native(_WITHOUT_KEY)}


def applies(args: dict) -> bool:
    """Plain pickup requests only: the express statement never sees a delivery address."""
    point = args.get("pickup_point_id")
    return (args.get("delivery_address") is None and args.get("delivery_phone") is None
            and (point is None or 0 < point <= MAX_ID))


def try_redeem(user_id: int, token: str, prize_id: int, args: dict, idempotency_key: str | None) -> dict | None:
    """The redemption's answer (status 201) when the one statement committed; None when it
    changed nothing (any refusal, a used key, a database error): run the portable path then."""
    if not 0 < prize_id <= MAX_ID:
        return None
    at = clock.now()
    day = clock.business_day(at)
    created = at.isoformat()
    params = {
        "uid": user_id, "token": token, "prize": prize_id, "q": args["quantity"],
        "point": args.get("pickup_point_id"), "at": at, "day": day, "dp": f"d:{day}",
        "mp": f"m:{day.strftime('%Y-%m')}", "code": new_pickup_code(), "created": created,
        "time_part": created[10:],
        "rkey": f"u{user_id}:{idempotency_key or 'auto:' + uuid.uuid4().hex}",
    }
    if idempotency_key is not None:
        params.update(scope=f"prizes.redeem:{user_id}", ikey=idempotency_key,
                      fp=fingerprint({"prize_id": prize_id, **args}))
    sql, names = _STATEMENTS[idempotency_key is not None]
    pooled = db.engine.raw_connection()  # the pool's connection, as the session would use it
    conn = pooled.driver_connection
    body = None
    try:
        conn.autocommit = True  # one statement, atomic by itself: no BEGIN / COMMIT round trips
        with RawCursor(conn) as cursor:
            body = cursor.execute(sql, [params[n] for n in names]).fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - refusals and trouble alike: the portable path decides
        refused = isinstance(exc, UniqueViolation) or (
            isinstance(exc, InvalidTextRepresentation) and "prize express refused" in str(exc))
        log.log(logging.DEBUG if refused else logging.WARNING, "prize express path declined: %s", exc)
    finally:
        try:
            conn.autocommit = False  # back as the pool lends it
        except Exception:  # noqa: BLE001 - a broken connection is not lent again
            pooled.invalidate()
        pooled.close()
    return body

