"""The prize gate in Redis: one Lua script checks and reserves stock, the pickup point's stock,
the daily quota, the member's per-day / per-month / lifetime counters and the idempotency key.

Every key of one prize carries the hash tag `{prize:<id>}` (`counters.key`), so the script touches
one Redis Cluster slot, and different prizes spread over the cluster's nodes. Member counters are
keyed by the *user* id, which the signed session carries, so a sold-out or over-the-limit request
is refused before the database is touched at all.

A reservation is confirmed by the SQL transaction committing, or released: `reserve` registers its
release with the unit of work (`database.on_rollback`), so the boundary that commits is the one
that gives it back. Stock that comes back in SQL (cancel, reject, expiry) comes back here once that
commit is done (`give_back`, `database.after_commit`). Keys may be missing (Redis flushed, a new
prize): the script then answers 'miss' and SQL alone decides; the keys are rebuilt from the
committed rows (`sync_after_commit`, `reconcile`, also run at start-up).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Integer, cast, func, select

from .. import clock, counters
from ..auth.models import User
from ..database import after_commit, on_rollback
from ..extensions import db
from .models import Prize, PrizeCounter

IDEMPOTENCY_TTL = 24 * 3600
DAY_TTL = 2 * 24 * 3600
MONTH_TTL = 32 * 24 * 3600

_RESERVE = counters.Gate("""
local q = tonumber(ARGV[1])
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[8]) == 1 then return {'retry', ''} end
local cfg = redis.call('HMGET', KEYS[1], 'listed', 'opens', 'closes', 'quota', 'day', 'month', 'life')
local stock = redis.call('GET', KEYS[2])
if not cfg[1] or not stock then return {'miss', ''} end
if cfg[1] ~= '1' then return {'pass', ''} end
local now = tonumber(ARGV[2])
if cfg[2] ~= '' and now < tonumber(cfg[2]) then return {'not_open', ''} end
if cfg[3] ~= '' and now >= tonumber(cfg[3]) then return {'closed', ''} end
if tonumber(stock) < q then return {'sold_out', ''} end
if ARGV[3] == '1' then
  local pt = redis.call('GET', KEYS[3])
  if not pt then return {'miss', ''} end
  if tonumber(pt) < q then return {'point_sold_out', ''} end
end
local names = {'quota', 'limit_day', 'limit_month', 'limit_life'}
local flags = ''
for i = 1, 4 do
  local limit = cfg[3 + i]
  if limit ~= '' then
    if tonumber(redis.call('GET', KEYS[3 + i]) or '0') + q > tonumber(limit) then return {names[i], ''} end
    flags = flags .. '1'
  else
    flags = flags .. '0'
  end
end
redis.call('DECRBY', KEYS[2], q)
if ARGV[3] == '1' then redis.call('DECRBY', KEYS[3], q) end
local ttls = {ARGV[4], ARGV[4], ARGV[5], '0'}
for i = 1, 4 do
  if string.sub(flags, i, i) == '1' then
    redis.call('INCRBY', KEYS[3 + i], q)
    if ttls[i] ~= '0' then redis.call('EXPIRE', KEYS[3 + i], ttls[i]) end
  end
end
if ARGV[7] == '1' then redis.call('SET', KEYS[8], '1', 'EX', ARGV[6]) end
return {'ok', flags}
""")

# Gives back what a reservation (or a committed redemption, on cancel / expiry) took. Keys that
# vanished are left alone: re-creating them from a partial value would under-state stock.
_RELEASE = counters.Gate("""
local q = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], q) end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('INCRBY', KEYS[3], q) end
for i = 1, 4 do
  if string.sub(ARGV[2], i, i) == '1' then
    local v = tonumber(redis.call('GET', KEYS[3 + i]) or '0')
    if v >= q then redis.call('DECRBY', KEYS[3 + i], q) elseif v > 0 then redis.call('SET', KEYS[3 + i], '0', 'KEEPTTL') end
  end
end
if ARGV[4] == '1' then redis.call('DEL', KEYS[8]) end
return 1
""")


def tag(prize_id: int) -> str:
    return f"prize:{prize_id}"


def _ts(value: datetime | None) -> str:
    return "" if value is None else str(int(clock.as_utc(value).timestamp()))


def _limit(value: int | None) -> str:
    return "" if value is None else str(value)


@dataclass
class Reservation:
    """What the gate said; `release()` gives back whatever it reserved (safe to call twice)."""
    prize_id: int
    user_id: int
    quantity: int
    pickup_point_id: int | None
    day: date
    idempotency_key: str | None
    outcome: str | None = None  # None: Redis not configured or unreachable
    flags: str = "0000"
    _released: bool = field(default=False, repr=False)

    @property
    def reserved(self) -> bool:
        return self.outcome == "ok"

    @property
    def refusal(self) -> str | None:
        return self.outcome if self.outcome in REFUSALS else None

    @property
    def cold(self) -> bool:
        """The prize's keys are missing (Redis flushed, a new prize): SQL alone decides."""
        return self.outcome == "miss"

    def keys(self) -> list[str]:
        return gate_keys(self.prize_id, self.user_id, self.pickup_point_id, self.day, self.idempotency_key)

    def release(self) -> None:
        if not self.reserved or self._released:
            return
        self._released = True
        _RELEASE.call(self.keys(), [self.quantity, self.flags, int(self.pickup_point_id is not None),
                                    int(self.idempotency_key is not None)])


REFUSALS = ("not_open", "closed", "sold_out", "point_sold_out", "quota", "limit_day", "limit_month",
            "limit_life")


_NO_KEY = hashlib.sha256(b"").hexdigest()[:32]


def gate_keys(prize_id: int, user_id: int, pickup_point_id: int | None, day: date,
              idempotency_key: str | None) -> list[str]:
    """The script's KEYS; the same strings as `counters.key(tag(prize_id), ...)` builds (tested),
    appended to its prefix because every redemption attempt, refused or not, builds them."""
    p = counters.prefix(tag(prize_id))
    d = day.isoformat()
    idem = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else _NO_KEY
    return [p + "cfg", p + "stock", f"{p}pt:{pickup_point_id or 0}", f"{p}all:{d}", f"{p}u:{user_id}:d:{d}",
            f"{p}u:{user_id}:m:{d[:7]}", f"{p}u:{user_id}:life", f"{p}idem:{user_id}:{idem}"]


def reserve(prize_id: int, user_id: int, quantity: int, pickup_point_id: int | None,
            idempotency_key: str | None) -> Reservation:
    """Ask the gate, inside the unit of work that will do the SQL step. What it reserves is given
    back if that unit of work rolls back; its commit confirms it."""
    at = clock.now()
    res = Reservation(prize_id, user_id, quantity, pickup_point_id, clock.business_day(at), idempotency_key)
    answer = _RESERVE.call(res.keys(), [quantity, int(at.timestamp()), int(pickup_point_id is not None),
                                        DAY_TTL, MONTH_TTL, IDEMPOTENCY_TTL, int(idempotency_key is not None)])
    if answer is not None:
        res.outcome = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        flags = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
        res.flags = flags or "0000"
    if res.reserved:
        on_rollback(res.release)
    return res


def give_back(prize: Prize, member_id: int, quantity: int, pickup_point_id: int | None, day: date) -> None:
    """A redemption closed in SQL (cancel, reject, expiry): once that commits, its stock and
    counters come back in Redis too. Called inside the unit of work that closes it."""
    if counters.client() is None:
        return
    user_id = db.session.scalar(select(User.id).where(User.member_id == member_id))
    if user_id is None:
        return
    keys = gate_keys(prize.id, user_id, pickup_point_id, day, None)
    args = [quantity, _limit_flags(prize), int(pickup_point_id is not None), 0]
    after_commit(lambda: _RELEASE.call(keys, args))


def _limit_flags(prize: Prize) -> str:
    """Which of the quota, day, month and lifetime counters the prize keeps (as the script's flags)."""
    return "".join("1" if v is not None else "0" for v in
                   (prize.daily_quota, prize.per_day_limit, prize.per_month_limit, prize.lifetime_limit))


def _config(prize: Prize) -> dict[str, str]:
    return {"listed": "1" if prize.is_listed else "0", "opens": _ts(prize.opens_at),
            "closes": _ts(prize.closes_at), "quota": _limit(prize.daily_quota),
            "day": _limit(prize.per_day_limit), "month": _limit(prize.per_month_limit),
            "life": _limit(prize.lifetime_limit)}


def sync_prize(r: counters.Client, prize: Prize, *, members: bool = True) -> None:
    """Make one prize's keys equal to SQL. Safe at any time: a race with live traffic can only
    leave Redis more permissive than SQL, which SQL then refuses."""
    t = tag(prize.id)
    day = clock.business_day()
    month = day.strftime("%Y-%m")
    pipe = r.pipeline(transaction=False)
    pipe.delete(counters.key(t, "cfg"))
    pipe.hset(counters.key(t, "cfg"), mapping=_config(prize))
    pipe.set(counters.key(t, "stock"), prize.stock)
    for row in prize.stocks:
        pipe.set(counters.key(t, "pt", row.pickup_point_id), row.stock)
    quota = db.session.scalar(select(PrizeCounter.count).where(
        PrizeCounter.prize_id == prize.id, PrizeCounter.subject == "all", PrizeCounter.period == f"d:{day}")) or 0
    pipe.set(counters.key(t, "all", day.isoformat()), quota, ex=DAY_TTL)
    pipe.execute()
    if members:
        _delete_member_counters(r, counters.key(t, "u", "*"))
        _sync_member_counters(r, prize, day, month)


def _delete_member_counters(r: counters.Client, pattern: str) -> None:
    """Delete the keys matching `pattern` (on a cluster, SCAN visits every primary and DEL is sent
    per slot)."""
    batch: list = []
    for k in r.scan_iter(match=pattern, count=1000):
        batch.append(k)
        if len(batch) == 1000:
            r.delete(*batch)
            batch = []
    if batch:
        r.delete(*batch)


def _sync_member_counters(r: counters.Client, prize: Prize, day: date, month: str) -> None:
    t = tag(prize.id)
    rows = db.session.execute(
        select(User.id, PrizeCounter.period, PrizeCounter.count)
        .join(User, User.member_id == cast(func.substr(PrizeCounter.subject, 2), Integer))
        .where(PrizeCounter.prize_id == prize.id, PrizeCounter.subject != "all",
               PrizeCounter.period.in_((f"d:{day}", f"m:{month}", "life")), PrizeCounter.count > 0))
    pipe = r.pipeline(transaction=False)
    for user_id, period, count in rows:
        if period == "life":
            pipe.set(counters.key(t, "u", user_id, "life"), count)
        elif period.startswith("d:"):
            pipe.set(counters.key(t, "u", user_id, "d", day.isoformat()), count, ex=DAY_TTL)
        else:
            pipe.set(counters.key(t, "u", user_id, "m", month), count, ex=MONTH_TTL)
    pipe.execute()


def sync_one(prize: Prize, *, members: bool = True) -> None:
    """Make one prize's keys equal to SQL now; Redis trouble is logged, never raised."""
    r = counters.client()
    if r is None:
        return
    try:
        sync_prize(r, prize, members=members)
    except counters.UNAVAILABLE as exc:
        counters.log.warning("prize %s: could not sync Redis: %s", prize.id, exc)


def sync_after_commit(prize_id: int, *, members: bool = True, cold: bool = False) -> None:
    """Rebuild the prize's keys from SQL once the current unit of work has committed (an admin
    change; a redemption that found the keys missing). `cold`: in a crowd on missing keys one
    request rebuilds them and the others skip (member counters then re-grow from their
    reservations)."""
    def rebuild() -> None:
        prize = db.session.get(Prize, prize_id)
        if prize is not None:
            sync_one(prize, members=members)
    counters.rebuild_after_commit(tag(prize_id), f"prize {prize_id}", rebuild, cold=cold)


def reconcile(r: counters.Client) -> dict:
    """`flask counters reconcile`: rebuild every prize's keys from SQL."""
    prizes = db.session.scalars(select(Prize).order_by(Prize.id)).all()
    _delete_member_counters(r, counters.key(tag("*"), "u", "*"))
    day = clock.business_day()
    for prize in prizes:
        sync_prize(r, prize, members=False)
        _sync_member_counters(r, prize, day, day.strftime("%Y-%m"))
    return {"prizes": len(prizes)}


def snapshot(r: counters.Client, prize: Prize) -> dict:
    """Redis's view of one prize (tests and the admin page compare it with SQL)."""
    t = tag(prize.id)
    raw = r.get(counters.key(t, "stock"))
    return {"stock": None if raw is None else int(raw),
            "points": {row.pickup_point_id: _int(r.get(counters.key(t, "pt", row.pickup_point_id)))
                       for row in prize.stocks}}


def _int(raw) -> int | None:
    return None if raw is None else int(raw)

