"""Discount rules at the till: quote, apply and give back; today's offers at a merchant.

Exactness: `apply` takes each applied rule's per-member uses (a conditional upsert per limited
period) and its use and discount (one conditional UPDATE of the rule row) inside the caller's
SQL transaction. When a step finds its limit reached, what this attempt took is put back, the
counters are read again and the engine chooses again: the next best offer, or what is left of a
budget (the clamp). The Redis gate (`gate.py`) only sheds payments a spent rule cannot cover
before SQL is touched.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import BigInteger, String, bindparam, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert

from .. import clock
from ..database import after_commit
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..money import split_fairly
from . import engine, gate
from .book import book_for, current_book, stamp_columns
from .engine import Purchase, Quote, RuleState, RuleTerms
from .models import PromotionMemberUse, PromotionRule, PromotionRuleVersion, PromotionUsage

ATTEMPTS = 5


class OfferChanged(Conflict):
    code = "offer_changed"


# ---------------------------------------------------------------- periods and purchases

@functools.lru_cache(maxsize=64)
def period_keys(day: date) -> dict[str, str]:
    """The per-member counters' period keys of a China business day (shared: read only)."""
    year, week, _ = day.isocalendar()
    return {"day": f"d{day.isoformat()}", "week": f"w{year}-{week:02d}", "month": f"m{day:%Y-%m}",
            "total": "all"}


@functools.lru_cache(maxsize=64)
def _period_names(day: date) -> dict[str, str]:
    return {v: k for k, v in period_keys(day).items()}


def purchase(*, member, card, merchant, store, amount_fen: int, at: datetime) -> Purchase:
    """The engine's view of a payment (plain values: the till read's or ORM objects alike)."""
    return Purchase(amount_fen=amount_fen, at=at, merchant_id=merchant.id, merchant_category=merchant.category,
                    merchant_org_path=merchant.org.path, store_id=store.id if store is not None else None,
                    card_active=card is not None and card.status == "active",
                    member_category=member.category, member_org_path=member.org.path)


# ---------------------------------------------------------------- live counters
#
# A quote needs, besides the book: the stamp (is the book current?), the counters of the rules
# that could bind at this price, and the member's uses in the current periods. None of these
# names the till's candidate rules: "could bind" is "no uses left, or less budget left than the
# price" (a discount never exceeds the price, so a larger budget cannot clamp it), each answered
# by an index on a computed value (migration 0008); the member's uses come by (member, period).
# So the same few rows come back however many rules a till has, as four columns of the till's own
# statement. A paused rule needs no counter: pausing moves the stamp, and the book built under it
# leaves the rule out.

@dataclass(frozen=True)
class LiveState:
    stamp: tuple
    counters: dict          # rule id → (status, budget left, uses left), binding rules only
    used: dict              # rule id → {period name → uses}, this member, current periods
    day: date               # the business day whose periods `used` counts


def _binding(amount):
    r = PromotionRule.__table__.c
    left = r.budget_fen - r.budget_used_fen
    # `left >= 0` always holds (CHECK budget_within); as a range with the price it is estimated
    # narrow, so even PostgreSQL's generic plan for the prepared statement uses the index. The
    # zeros are literals, not parameters: with a parameter the planner guessed a third of the
    # rules, thought the generic plan dear and planned the till's statement afresh at every
    # execution (~400 µs of PostgreSQL CPU per quote); a test reads pg_prepared_statements.
    zero = literal_column("0")
    return (r.global_limit - r.uses_count <= zero) | ((left >= zero) & (left < amount))


_PERIOD_PARAMS = tuple(bindparam(f"period_{name}", type_=String) for name in ("day", "week", "month", "total"))
_AMOUNT = bindparam("amount_fen", type_=BigInteger)


def live_columns(member_id_column) -> list:
    """What the till reads of the promotions, as four columns of its statement (whose card gives
    `member_id_column`): the stamp's version and nonce, and the binding counters and the
    member's uses as JSON arrays. Parameters: `live_params`."""
    r, u = PromotionRule.__table__.c, PromotionMemberUse.__table__.c
    counted = (select(func.json_agg(func.json_build_array(r.id, r.status, r.budget_fen - r.budget_used_fen,
                                                          r.global_limit - r.uses_count)))
               .where(_binding(_AMOUNT)).scalar_subquery())
    uses = (select(func.json_agg(func.json_build_array(u.rule_id, u.period, u.uses)))
            .where(u.member_id == member_id_column, u.period.in_(_PERIOD_PARAMS))
            .correlate(member_id_column.table).scalar_subquery())
    return [*stamp_columns(), counted, uses]


def live_params(amount_fen: int, day: date) -> dict:
    return {"amount_fen": amount_fen, **{f"period_{name}": key for name, key in period_keys(day).items()}}


def live_from_columns(values, day: date) -> LiveState:
    """The `LiveState` in the four `live_columns` values read on `day`."""
    version, nonce, counted, uses = values
    by_key = _period_names(day)
    used: dict = {}
    for rule_id, period, n in uses or ():
        used.setdefault(rule_id, {})[by_key[period]] = n
    return LiveState((version, nonce), {rid: (status, left, uses_left) for rid, status, left, uses_left in counted or ()},
                     used, day)


def _states(live: LiveState) -> dict[int, RuleState]:
    """The live state of the rules that have one; every other candidate is open."""
    states = {}
    used = live.used
    for rid, (status, budget_left, uses_left) in live.counters.items():
        states[rid] = RuleState(budget_left_fen=budget_left, uses_left=uses_left,
                                member_used=tuple(used[rid].items()) if rid in used else (), active=status == "active")
    for rid, periods in used.items():
        if rid not in states:
            states[rid] = RuleState(member_used=tuple(periods.items()))
    return states


# ---------------------------------------------------------------- quote and apply

def quote(p: Purchase, live: LiveState, overrides: dict[int, RuleState] | None = None) -> Quote:
    """Read-only: the best eligible offer(s) for the purchase, given the counters read with the
    till. `overrides`: states the Redis gate just learnt (a rule it shed or can only partly cover)."""
    book = book_for(live.stamp)
    states = _states(live)
    if overrides:
        states.update(overrides)
    return engine.evaluate(p, book.till_rules(p), states)


def apply(p: Purchase, member_id: int, live: LiveState, reread: Callable[[], LiveState], *,
          usage_key: str) -> Quote:
    """Choose the offer and take it, inside the caller's transaction (flush only): per applied
    rule, the member's uses and the rule's use and discount. `reread` gives the counters afresh
    when a step found a limit reached; after ATTEMPTS choices that each met a change, the
    payment is refused (409, nothing written) and the till may simply send it again."""
    day = clock.business_day(p.at)
    overrides: dict[int, RuleState] = {}
    for _attempt in range(ATTEMPTS):
        result = quote(p, live, overrides)
        taken: list[tuple[engine.AppliedRule, gate.Reservation | None]] = []
        refused = None
        for a in result.applied:
            held, refused = _take(a, member_id, day)
            if refused is not None:
                break
            taken.append((a, held))
        if refused is None:
            _record_usages(result, usage_key, member_id, p, day)
            return result
        for a, held in taken:
            _untake(a, member_id, day, held)
        if refused:
            overrides.update(refused)
        else:   # SQL refused a step: read the counters as they are now
            live, overrides = reread(), {}
    raise OfferChanged(_("优惠名额刚刚变化，请再次确认收款。"))


_LIMIT = bindparam("b_limit")
_u = PromotionMemberUse.__table__.c
# the member's first use of a period inserts the row; later ones count up while under the limit
_MEMBER_USE = (insert(PromotionMemberUse.__table__)
               .values(rule_id=bindparam("b_rule"), member_id=bindparam("b_member"), period=bindparam("b_period"), uses=1)
               .on_conflict_do_update(index_elements=["rule_id", "member_id", "period"], set_={"uses": _u.uses + 1},
                                      where=_u.uses < _LIMIT)
               .returning(_u.uses))
_r = PromotionRule.__table__.c
_WANT = bindparam("b_want", type_=BigInteger)
_RULE_TAKE = (update(PromotionRule.__table__)
              .values(uses_count=_r.uses_count + 1, budget_used_fen=_r.budget_used_fen + _WANT)
              .where(_r.id == bindparam("b_rule"), _r.status == "active",
                     _r.global_limit.is_(None) | (_r.uses_count < _r.global_limit),
                     _r.budget_fen.is_(None) | (_r.budget_used_fen + _WANT <= _r.budget_fen)))
_RULE_BACK = (update(PromotionRule.__table__)
              .values(uses_count=_r.uses_count - bindparam("b_uses"), budget_used_fen=_r.budget_used_fen - _WANT)
              .where(_r.id == bindparam("b_rule")))
_MEMBER_BACK = (update(PromotionMemberUse.__table__).values(uses=_u.uses - 1)
                .where(_u.rule_id == bindparam("b_rule"), _u.member_id == bindparam("b_member"),
                       _u.period.in_(bindparam("b_periods", expanding=True)), _u.uses > 0))


def _take(a: engine.AppliedRule, member_id: int, day: date) -> tuple[gate.Reservation | None, dict | None]:
    """Take one use and `a.discount_fen` of rule `a`: (the gate's reservation, None) when done.
    Refused, nothing is left taken for this rule and the second value says what to do: the
    state the Redis gate learnt ({rule: state}: the engine chooses again with it), or {} when
    SQL refused (the caller reads the counters again)."""
    want, held, shed = gate.reserve(a.rule_id, a.discount_fen, a.terms)
    if shed:
        return None, {a.rule_id: RuleState(budget_left_fen=0) if shed == "budget_spent" else RuleState(uses_left=0)}
    if want < a.discount_fen:   # the gate can cover only part: the engine clamps to it
        held.release()
        return None, {a.rule_id: RuleState(budget_left_fen=want)}
    keys = period_keys(day)
    done: list[str] = []
    for period, limit in a.terms["per_member"].items():
        if db.session.scalar(_MEMBER_USE, {"b_rule": a.rule_id, "b_member": member_id, "b_period": keys[period],
                                           "b_limit": limit}) is None:
            _untake_partly(a.rule_id, member_id, done, held)
            return None, {}
        done.append(keys[period])
    if db.session.execute(_RULE_TAKE, {"b_rule": a.rule_id, "b_want": a.discount_fen}).rowcount != 1:
        _untake_partly(a.rule_id, member_id, done, held)
        return None, {}
    return held, None


def _untake_partly(rule_id: int, member_id: int, periods: list[str], held) -> None:
    _member_uses_back(rule_id, member_id, periods)
    if held is not None:
        held.release()


def _member_uses_back(rule_id: int, member_id: int, periods: list[str]) -> None:
    if periods:
        db.session.execute(_MEMBER_BACK, {"b_rule": rule_id, "b_member": member_id, "b_periods": periods})


def _untake(a: engine.AppliedRule, member_id: int, day: date, held) -> None:
    """Put back what `_take` took for `a` in this transaction (a later rule of the same payment
    was refused)."""
    keys = period_keys(day)
    _untake_partly(a.rule_id, member_id, [keys[p] for p in a.terms["per_member"]], held)
    db.session.execute(_RULE_BACK, {"b_rule": a.rule_id, "b_uses": 1, "b_want": a.discount_fen})


def _record_usages(final: Quote, usage_key: str, member_id: int, p: Purchase, day: date) -> None:
    at = clock.now()
    rows = [dict(usage_key=usage_key, rule_id=a.rule_id, version_id=a.version_id, member_id=member_id,
                 merchant_id=p.merchant_id, store_id=p.store_id, business_day=day, amount_fen=final.amount_fen,
                 discount_fen=a.discount_fen, union_fen=a.shares.get("union", 0), bank_fen=a.shares.get("bank", 0),
                 merchant_fen=a.shares.get("merchant", 0), returned_fen=0, returned_union_fen=0,
                 returned_bank_fen=0, returned_merchant_fen=0, use_returned=False, created_at=at)
            for a in final.applied]
    if rows:
        db.session.execute(insert(PromotionUsage.__table__), rows)


# ---------------------------------------------------------------- refunds

def give_back(*, usage_key: str, discount_back_by_rule: dict[int, int], full_refund: bool) -> None:
    """On refund: return `discount_back_by_rule` fen to each rule (funders' shares pro rata) and,
    for a full refund, the member's and the rule's use. In a payment's lock order (member uses,
    then the rule row); the Redis gate gets them back once the refund has committed."""
    usages = db.session.scalars(select(PromotionUsage).where(PromotionUsage.usage_key == usage_key)
                                .with_for_update().execution_options(populate_existing=True)).all()
    discount_back_by_rule = {int(k): int(v) for k, v in discount_back_by_rule.items()}
    by_rule = {u.rule_id: u for u in usages}
    unknown = set(discount_back_by_rule) - set(by_rule)
    if unknown:
        raise NotFound(_("这笔交易没有用过这个优惠活动。"), details={"rule_ids": sorted(unknown)})
    for u in usages:
        back = u.discount_fen - u.returned_fen if full_refund else discount_back_by_rule.get(u.rule_id, 0)
        if back < 0 or u.returned_fen + back > u.discount_fen:
            raise ValidationError(_("退回的优惠不能多于给出的优惠。"),
                                  details={"rule_id": u.rule_id, "left_fen": u.discount_fen - u.returned_fen})
        use_back = full_refund and not u.use_returned
        if use_back:
            u.use_returned = True
            version = db.session.get(PromotionRuleVersion, u.version_id)
            keys = period_keys(u.business_day)
            _member_uses_back(u.rule_id, u.member_id, [keys[p] for p in version.terms.get("per_member", {})])
        if back:
            _return_shares(u, back)
        if use_back or back:
            db.session.execute(_RULE_BACK, {"b_rule": u.rule_id, "b_uses": int(use_back), "b_want": back})
            after_commit(functools.partial(gate.give_back, u.rule_id, back, int(use_back)))
    db.session.flush()


def _return_shares(u: PromotionUsage, back: int) -> None:
    weights = {"union": u.union_fen, "bank": u.bank_fen, "merchant": u.merchant_fen}
    target = split_fairly(u.returned_fen + back, weights)
    u.returned_fen += back
    u.returned_union_fen, u.returned_bank_fen, u.returned_merchant_fen = (
        target["union"], target["bank"], target["merchant"])


# ---------------------------------------------------------------- member pages

@dataclass(frozen=True)
class Offer:
    rule_id: int
    name: str
    summary: str
    valid_until: date | None


def offers_for(*, merchant, at: datetime | None = None) -> list[Offer]:
    """Today's offers at a merchant (any of its stores), for member pages."""
    at = at or clock.now()
    local = at.astimezone(engine.CHINA)
    rules = current_book().rules
    found: dict[int, RuleTerms] = {}
    for sid in [s.id for s in merchant.stores] or [None]:
        for t in rules.candidates(merchant_id=merchant.id, store_id=sid, category=merchant.category,
                                  merchant_org_path=merchant.org.path):
            found.setdefault(t.rule_id, t)
    if not found:
        return []
    r = PromotionRule
    left = {rid: (bl, ul) for rid, bl, ul in db.session.execute(
        select(r.id, r.budget_fen - r.budget_used_fen, r.global_limit - r.uses_count).where(r.id.in_(list(found))))}
    offers = []
    for t in sorted(found.values(), key=lambda t: (-t.priority, t.rule_id)):
        budget_left, uses_left = left.get(t.rule_id, (None, None))
        if (budget_left is not None and budget_left <= 0) or (uses_left is not None and uses_left <= 0):
            continue
        if engine.runs_on(t, local.date()):
            offers.append(Offer(t.rule_id, t.name, engine.describe(t), t.valid_until))
    return offers
