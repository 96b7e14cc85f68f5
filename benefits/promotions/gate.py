"""The promotions' Redis gate: when a crowd meets the end of a rule's budget or use limit, it
hands out what is left atomically, so only the payments it covers go on to their conditional
UPDATE of the rule row. SQL stays exact without it; `flask counters reconcile` rebuilds it.

A reservation lasts until the request's unit of work ends: the boundary gives it back if the
work rolls back (`database.on_rollback`); after a commit it stays taken, as the rule row does.

A rule's two keys share the hash tag `{promo:<id>}` (`counters.key`): one Redis Cluster slot per
rule, rules spread over the cluster's nodes."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from .. import counters
from ..database import on_rollback
from ..extensions import db
from .models import PromotionRule

log = logging.getLogger(__name__)

# ARGV: the discount wanted, whether the rule has a budget, whether it has a use limit.
# Answers what it reserved (at most what is left), -1 when a key is missing (seed it from SQL),
# -2 / -3 when the budget / the uses are gone.
_RESERVE = counters.Gate("""
local want = tonumber(ARGV[1])
local grant = want
if ARGV[2] == '1' then
  local b = redis.call('GET', KEYS[1])
  if not b then return -1 end
  b = tonumber(b)
  if b <= 0 then return -2 end
  if b < grant then grant = b end
end
if ARGV[3] == '1' then
  local u = redis.call('GET', KEYS[2])
  if not u then return -1 end
  if tonumber(u) <= 0 then return -3 end
  redis.call('DECR', KEYS[2])
end
if ARGV[2] == '1' then redis.call('DECRBY', KEYS[1], grant) end
return grant
""")
# Gives back fen and uses; keys that vanished are left alone (reconcile or the next seed rebuilds them).
_GIVE = counters.Gate("""
if ARGV[1] ~= '0' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
if ARGV[2] ~= '0' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], ARGV[2]) end
return 1
""")
SHED = {-2: "budget_spent", -3: "global_limit"}


def _keys(rule_id: int) -> list[str]:
    tag = f"promo:{rule_id}"
    return [counters.key(tag, "budget_left"), counters.key(tag, "uses_left")]


@dataclass
class Reservation:
    rule_id: int
    fen: int
    uses: int
    released: bool = False

    def release(self) -> None:
        """Give it back (once): SQL did not take it, or its unit of work rolled back."""
        if not self.released:
            self.released = True
            give_back(self.rule_id, self.fen, self.uses)


def reserve(rule_id: int, want: int, terms: dict) -> tuple[int, Reservation | None, str | None]:
    """(fen the gate lets through, the reservation held, the reason if it shed the rule).
    Without Redis, or for a rule with neither budget nor use limit: (want, None, None)."""
    budgeted, limited = terms.get("budget_fen") is not None, terms.get("global_limit") is not None
    if not (budgeted or limited):
        return want, None, None
    args = [want, int(budgeted), int(limited)]
    result = _RESERVE.call(_keys(rule_id), args)
    if result == -1:
        _seed(rule_id)
        result = _RESERVE.call(_keys(rule_id), args)
    if result is None or result == -1:
        return want, None, None
    if result < 0:
        return 0, None, SHED[result]
    held = Reservation(rule_id, int(result), int(limited))
    on_rollback(held.release)
    return int(result), held, None


def give_back(rule_id: int, fen: int, uses: int) -> None:
    if fen or uses:
        _GIVE.call(_keys(rule_id), [fen, uses])


def forget(rule_id: int) -> None:
    """After an edit of budget or limit: drop the counters; the next request seeds them from SQL."""
    r = counters.client()
    if r is not None:
        try:
            r.delete(*_keys(rule_id))
        except counters.UNAVAILABLE as exc:
            log.warning("redis gate unavailable: %s", exc)


def _left(rule_ids=None):
    r = PromotionRule
    stmt = select(r.id, r.budget_fen - r.budget_used_fen, r.global_limit - r.uses_count).where(
        r.budget_fen.is_not(None) | r.global_limit.is_not(None))
    if rule_ids is not None:
        stmt = stmt.where(r.id.in_(rule_ids))
    return db.session.execute(stmt).all()


def _seed(rule_id: int) -> None:
    r = counters.client()
    if r is None:
        return
    try:
        for _id, budget_left, uses_left in _left([rule_id]):
            budget_key, uses_key = _keys(rule_id)
            if budget_left is not None:
                r.set(budget_key, max(0, budget_left), nx=True)
            if uses_left is not None:
                r.set(uses_key, max(0, uses_left), nx=True)
    except counters.UNAVAILABLE as exc:
        log.warning("redis gate unavailable: %s", exc)


def reconcile(r: counters.Client) -> dict:
    """Rebuild every rule's counters from SQL (run when quiet: in-flight reservations are lost)."""
    rows = _left()
    pipe = r.pipeline(transaction=False)
    for rule_id, budget_left, uses_left in rows:
        budget_key, uses_key = _keys(rule_id)
        for key, left in ((budget_key, budget_left), (uses_key, uses_left)):
            if left is None:
                pipe.delete(key)
            else:
                pipe.set(key, max(0, left))
    pipe.execute()
    return {"rules": len(rows)}


counters.register_reconciler("promotions", reconcile)
