"""The promotions' Redis gate: sheds requests for a rule whose budget or uses are gone before
SQL is touched. Reservations live in the SQL session until it commits (kept) or rolls back
(released). SQL stays exact without it; `flask counters reconcile` rebuilds it from SQL."""
from __future__ import annotations

import logging

import redis
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .. import counters
from ..extensions import db

log = logging.getLogger(__name__)

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
_GIVE = counters.Gate("""
if ARGV[1] ~= '0' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[1]) end
if ARGV[2] ~= '0' and redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], ARGV[2]) end
return 1
""")
_SHED = {-2: "budget_spent", -3: "global_limit"}


def _keys(rule_id: int) -> list[str]:
    tag = f"promo:{rule_id}"
    return [counters.key(tag, "budget_left"), counters.key(tag, "uses_left")]


def _pending() -> dict[int, list[int]]:
    return db.session.info.setdefault("promotions_gate", {})


def reserve(rule_id: int, want: int, terms: dict) -> tuple[int, str | None]:
    """(fen to try in SQL, reason if shed). Without Redis: (want, None). What was reserved is
    held in the SQL session: kept when it commits, released when it rolls back."""
    granted, shed, held = reserve_untracked(rule_id, want, terms)
    if held is not None:
        _pending()[rule_id] = list(held)
    return granted, shed


def reserve_untracked(rule_id: int, want: int, terms: dict) -> tuple[int, str | None, tuple[int, int] | None]:
    """`reserve` for a caller without an ORM session (the express confirm): also returns what
    was taken from the counters, (fen, uses) or None, for the caller to `give_back` itself if
    its SQL does not commit."""
    flags = ["1" if terms.get("budget_fen") is not None else "0",
             "1" if terms.get("global_limit") is not None else "0"]
    if flags == ["0", "0"]:
        return want, None, None
    result = _RESERVE.call(_keys(rule_id), [want, *flags])
    if result == -1:
        _seed(rule_id)
        result = _RESERVE.call(_keys(rule_id), [want, *flags])
    if result is None or result == -1:
        return want, None, None
    if result < 0:
        return 0, _SHED[result], None
    return int(result), None, (int(result), 1 if flags[1] == "1" else 0)


def confirm(rule_id: int, granted: int) -> None:
    """SQL took `granted`: give the rest of the reservation back now; keep the rest until commit."""
    held = _pending().get(rule_id)
    if held and held[0] > granted:
        give_back(rule_id, held[0] - granted, 0)
        held[0] = granted


def release(rule_id: int) -> None:
    held = _pending().pop(rule_id, None)
    if held:
        give_back(rule_id, held[0], held[1])


def give_back(rule_id: int, fen: int, uses: int) -> None:
    if fen or uses:
        _GIVE.call(_keys(rule_id), [fen, uses])


def mark_exhausted(rule_id: int, what: str) -> None:
    r = counters.client()
    if r is not None:
        try:
            r.set(_keys(rule_id)[0 if what == "budget" else 1], 0)
        except redis.RedisError as exc:
            log.warning("redis gate unavailable: %s", exc)


def forget(rule_id: int) -> None:
    """After an edit of budget or limit: drop the counters; the next request seeds them from SQL."""
    r = counters.client()
    if r is not None:
        try:
            r.delete(*_keys(rule_id))
        except redis.RedisError as exc:
            log.warning("redis gate unavailable: %s", exc)


def _left(rule_ids=None):
    from .models import PromotionRule as R
    from .service import free_allotment_column
    stmt = select(R.id, R.budget_fen - R.budget_used_fen + free_allotment_column(),
                  R.global_limit - R.uses_count).where(
        (R.budget_fen.is_not(None)) | (R.global_limit.is_not(None)))
    if rule_ids is not None:
        stmt = stmt.where(R.id.in_(rule_ids))
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
    except redis.RedisError as exc:
        log.warning("redis gate unavailable: %s", exc)


def reconcile(r: redis.Redis) -> dict:
    """Rebuild every rule's counters from SQL (run when quiet: in-flight reservations are lost)."""
    rows = _left()
    pipe = r.pipeline(transaction=False)
    for rule_id, budget_left, uses_left in rows:
        budget_key, uses_key = _keys(rule_id)
        if budget_left is None:
            pipe.delete(budget_key)
        else:
            pipe.set(budget_key, max(0, budget_left))
        if uses_left is None:
            pipe.delete(uses_key)
        else:
            pipe.set(uses_key, max(0, uses_left))
    pipe.execute()
    return {"rules": len(rows)}


counters.register_reconciler("promotions", reconcile)


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop("promotions_gate", None)
    session.info.pop("promotions_slices", None)   # service: which budget slice each rule used


@event.listens_for(Session, "after_soft_rollback")
def _released(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return
    session.info.pop("promotions_slices", None)
    pending = session.info.pop("promotions_gate", None)
    if pending:
        for rule_id, (fen, uses) in pending.items():
            try:
                _GIVE.call(_keys(rule_id), [fen, uses])
            except RuntimeError:  # outside an app context nobody can reach Redis; reconcile fixes it
                log.warning("could not release promotion gate reservation for rule %s", rule_id)
