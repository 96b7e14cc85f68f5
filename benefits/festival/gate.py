"""The festival gate in Redis: one Lua script checks the campaign's dates, whether this member
has already claimed and the chosen gift's stock, then takes one unit and marks the member,
atomically. The opening crowd (thousands pressing in the first minute) is so answered "already
claimed" or "sold out" before the database is touched.

Every key of one campaign carries the hash tag `{festival:<id>}`, so the script touches one Redis
Cluster slot: `cfg` (opening and closing times), `gift:<gift id>` (stock left) and `claimed`
(a hash: the user id, which the signed session carries, of each member who claimed, to the hash
of the Idempotency-Key they claimed with, '' without one).

The member's mark makes the request that reserved the only one that may write the claim: a
second press is refused ('claimed') unless it carries the same Idempotency-Key ('replay'), and
then it may only replay the stored answer (service.claim_gift). So the gate's keys stay equal to
SQL however a member presses.

A reservation is confirmed by the SQL transaction committing, or given back when it rolls back
(`database.on_rollback`). Missing keys (Redis flushed, a campaign set up while Redis was away)
answer 'miss' and SQL alone decides; the keys are then rebuilt from the committed rows
(`sync_after_commit`, `reconcile`, also run at start-up). A process that dies holding a
reservation leaves it taken until the next rebuild.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import hashlib


from sqlalchemy import select

from .. import clock, counters
from ..auth.models import User
from ..database import after_commit, on_rollback
from ..extensions import db
from ..prizes.models import Redemption
from .models import FestivalCampaign, FestivalGift

_RESERVE = counters.Gate("""
local cfg = redis.call('HMGET', KEYS[1], 'opens', 'closes')
if not cfg[1] then return 'miss' end
local now = tonumber(ARGV[2])
if now < tonumber(cfg[1]) then return 'not_open' end
if now >= tonumber(cfg[2]) then return 'closed' end
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held then
  if ARGV[3] ~= '' and held == ARGV[3] then return 'replay' end
  return 'claimed'
end
local stock = redis.call('GET', KEYS[2])
if not stock then return 'pass' end
if tonumber(stock) < 1 then return 'sold_out' end
redis.call('DECR', KEYS[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 'ok'
""")

# Gives back what a reservation took. A gift key that vanished is left alone: re-creating it from
# a partial value would under-state stock.
_RELEASE = counters.Gate("""
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCR', KEYS[2]) end
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
""")

SYNC_CHUNK = 5000
REFUSALS = ("not_open", "closed", "claimed", "sold_out")  # 'replay' goes on, to replay only


def tag(campaign_id: int) -> str:
    return f"festival:{campaign_id}"


def key_hash(idempotency_key: str | None) -> str:
    """What the gate and the claim row keep of a request's Idempotency-Key ('' without one)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else ""


def gate_keys(campaign_id: int, gift_id: int) -> list[str]:
    t = tag(campaign_id)
    return [counters.key(t, "cfg"), counters.key(t, "gift", gift_id), counters.key(t, "claimed")]


@dataclass
class Reservation:
    """What the gate said; `release()` gives back whatever it reserved (safe to call twice)."""
    campaign_id: int
    gift_id: int
    user_id: int
    key_hash: str = ""
    outcome: str | None = None  # None: Redis not configured or unreachable
    _released: bool = field(default=False, repr=False)

    @property
    def reserved(self) -> bool:
        return self.outcome == "ok"

    @property
    def refusal(self) -> str | None:
        return self.outcome if self.outcome in REFUSALS else None

    @property
    def replay_only(self) -> bool:
        """This member's claim is made (or being made) with this same Idempotency-Key by another
        request, which holds the reservation: this one may only replay its answer."""
        return self.outcome == "replay"

    @property
    def cold(self) -> bool:
        """The campaign's keys are missing: SQL alone decides, and they are rebuilt."""
        return self.outcome == "miss"

    def release(self) -> None:
        if not self.reserved or self._released:
            return
        self._released = True
        _RELEASE.call(gate_keys(self.campaign_id, self.gift_id), [self.user_id])


def reserve(campaign_id: int, gift_id: int, user_id: int, idempotency_key_hash: str = "") -> Reservation:
    """Ask the gate, inside the unit of work that will do the SQL step: what it reserves is given
    back if that unit of work rolls back, and its commit confirms it."""
    res = Reservation(campaign_id, gift_id, user_id, idempotency_key_hash)
    answer = _RESERVE.call(gate_keys(campaign_id, gift_id),
                           [user_id, int(clock.now().timestamp()), idempotency_key_hash])
    if answer is not None:
        res.outcome = answer.decode() if isinstance(answer, bytes) else str(answer)
    if res.reserved:
        on_rollback(res.release)
    return res


def _claimed(campaign_id: int) -> dict[int, str]:
    """user id -> the key hash each claim was made with (the last part of its row's key)."""
    return {user_id: key.rsplit(":", 1)[1] for user_id, key in db.session.execute(
        select(User.id, Redemption.idempotency_key).join(Redemption, Redemption.member_id == User.member_id)
        .where(Redemption.campaign_id == campaign_id))}


def sync_campaign(r: counters.Client, campaign: FestivalCampaign) -> None:
    """Make one campaign's keys equal to SQL, in one MULTI (the keys share a slot), the
    configuration last so that the gate never answers from half-built keys. Safe during traffic:
    a race with live claims can only leave Redis more permissive than SQL, which SQL then refuses."""
    t = tag(campaign.id)
    claimed = list(_claimed(campaign.id).items())
    pipe = r.pipeline(transaction=True)
    pipe.delete(counters.key(t, "cfg"), counters.key(t, "claimed"))
    for start in range(0, len(claimed), SYNC_CHUNK):
        pipe.hset(counters.key(t, "claimed"), mapping=dict(claimed[start:start + SYNC_CHUNK]))
    for gift in db.session.scalars(select(FestivalGift).where(FestivalGift.campaign_id == campaign.id)):
        pipe.set(counters.key(t, "gift", gift.id), gift.stock)
    pipe.hset(counters.key(t, "cfg"), mapping={
        "opens": int(clock.as_utc(campaign.opens_at).timestamp()),
        "closes": int(clock.as_utc(campaign.closes_at).timestamp())})
    pipe.execute()


def sync_one(campaign: FestivalCampaign) -> None:
    """Make one campaign's keys equal to SQL now; Redis trouble is logged, never raised."""
    r = counters.client()
    if r is None:
        return
    try:
        sync_campaign(r, campaign)
    except counters.UNAVAILABLE as exc:
        counters.log.warning("festival campaign %s: could not sync Redis: %s", campaign.id, exc)


def sync_after_commit(campaign_id: int, *, cold: bool = False) -> None:
    """Rebuild the campaign's keys from SQL once the current unit of work has committed (an admin
    change; a claim that found the keys missing). `cold`: in a crowd on missing keys one request
    rebuilds them and the others skip."""
    def rebuild() -> None:
        campaign = db.session.get(FestivalCampaign, campaign_id)
        if campaign is not None:
            sync_one(campaign)
    counters.rebuild_after_commit(tag(campaign_id), f"festival campaign {campaign_id}", rebuild, cold=cold)


def reconcile(r: counters.Client) -> dict:
    """`flask counters reconcile`: rebuild the keys of every campaign not yet closed (a closed
    campaign's keys answer 'closed' as they are; missing ones are rebuilt by the first claim)."""
    campaigns = db.session.scalars(select(FestivalCampaign).where(FestivalCampaign.closes_at > clock.now())
                                   .order_by(FestivalCampaign.id)).all()
    for campaign in campaigns:
        sync_campaign(r, campaign)
    return {"campaigns": len(campaigns)}


def snapshot(r: counters.Client, campaign: FestivalCampaign) -> dict:
    """Redis's view of one campaign (tests compare it with SQL)."""
    t = tag(campaign.id)
    gifts = {}
    for gift in campaign.gifts:
        raw = r.get(counters.key(t, "gift", gift.id))
        gifts[gift.id] = None if raw is None else int(raw)
    claimed = {int(k): v.decode() for k, v in r.hgetall(counters.key(t, "claimed")).items()}
    return {"gifts": gifts, "claimed": claimed}
