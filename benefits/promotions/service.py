"""Discount rules: admin operations (versioned), and the till-side quote / apply / give_back.

Exactness: `apply` consumes a rule's per-member uses, global uses and budget inside the caller's
SQL transaction with conditional UPDATEs (and unique counter rows); the Redis gate in `gate.py`
only sheds requests for exhausted rules before SQL is touched.
"""
from __future__ import annotations

import functools
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import (BigInteger, Integer, String, cast, bindparam, case, delete, exists, func, insert, literal, literal_column, null, select,
                        union_all, update)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import clock
from ..audit import service as audit
from ..errors import NotFound, ValidationError
from ..database import defer_write, read_rows, run_count
from ..extensions import db
from ..money import split_fairly
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from . import engine, gate
from .engine import Purchase, Quote, Rejected, RuleBook, RuleState, RuleTerms
from .models import (PromotionBookStamp, PromotionBudgetSlice, PromotionMemberUse, PromotionRule, PromotionRuleVersion,
                     PromotionUsage)
from .validation import clean_terms

# ---------------------------------------------------------------- admin side

def rules_in_scope(scope: Organisation):
    return (select(PromotionRule).where(PromotionRule.org_id.in_(subtree_ids_select(scope)))
            .order_by(PromotionRule.status, PromotionRule.id.desc()))


def get_rule_in_scope(scope: Organisation, rule_id: int) -> PromotionRule:
    rule = db.session.get(PromotionRule, rule_id)
    if rule is None or not scope.contains(rule.org):
        raise NotFound("promotion rule not found")
    return rule


def _add_version(actor, rule: PromotionRule, terms: dict) -> PromotionRuleVersion:
    number = (max((v.number for v in rule.versions), default=0)) + 1
    version = PromotionRuleVersion(rule=rule, number=number, name=rule.name, terms=terms,
                                   created_by_user_id=getattr(actor, "id", None))
    db.session.add(version)
    db.session.flush()
    rule.current_version_id = version.id
    return version


def create_rule(actor, scope: Organisation, data: dict) -> PromotionRule:
    """A new rule owned by the admin's union (`scope`), with version 1."""
    terms = clean_terms(data, scope)
    rule = PromotionRule(org=scope, name=data["name"].strip(), status="active",
                         budget_fen=terms["budget_fen"], budget_used_fen=0,
                         global_limit=terms["global_limit"], uses_count=0, revision=1)
    db.session.add(rule)
    db.session.flush()
    _add_version(actor, rule, terms)
    bump_book_stamp()
    audit.record(actor, "promotion.create", "promotion_rule", rule.id, org_id=rule.org_id,
                 after={"name": rule.name, **terms})
    return rule


def edit_rule(actor, scope: Organisation, rule: PromotionRule, data: dict) -> PromotionRuleVersion:
    """A new version; older versions and the transactions that snapshot them stay as they were."""
    fold_slices(rule.id)   # so the rule row holds all that was spent and used, for the checks below
    db.session.refresh(rule)
    terms = clean_terms(data, scope, rule=rule)
    before = dict(rule.current_version.terms) if rule.current_version else None
    rule.name = data["name"].strip()
    rule.budget_fen = terms["budget_fen"]
    rule.global_limit = terms["global_limit"]
    rule.revision += 1
    rule.updated_at = clock.now()
    version = _add_version(actor, rule, terms)
    db.session.flush()
    bump_book_stamp()
    gate.forget(rule.id)
    audit.record(actor, "promotion.edit", "promotion_rule", rule.id, org_id=rule.org_id,
                 before=before, after={"name": rule.name, "version": version.number, **terms})
    return version


def set_status(actor, rule: PromotionRule, status: str) -> PromotionRule:
    if status not in ("active", "paused"):
        raise ValidationError("status must be active or paused", details={"fields": {"status": ["unknown"]}})
    if rule.status != status:
        before = rule.status
        rule.status = status
        rule.revision += 1
        rule.updated_at = clock.now()
        db.session.flush()
        bump_book_stamp()
        audit.record(actor, "promotion.status", "promotion_rule", rule.id, org_id=rule.org_id,
                     before={"status": before}, after={"status": status})
    return rule


def terms_of(rule: PromotionRule, version: PromotionRuleVersion | None = None) -> RuleTerms:
    version = version or rule.current_version
    return RuleTerms.from_json(rule.id, version.id, version.name, rule.org.path, version.terms)


PREVIEW_AMOUNTS = (5000, 10000, 20000, 25000, 50000)


def preview(scope: Organisation, data: dict, amounts: tuple[int, ...] = PREVIEW_AMOUNTS) -> list[Quote]:
    """What a draft rule gives on sample amounts (validated; nothing written)."""
    terms = clean_terms(data, scope)
    draft = RuleTerms.from_json(0, 0, data["name"].strip(), scope.path, terms)
    return [engine.preview(draft, amount) for amount in amounts]


@dataclass(frozen=True)
class RuleReport:
    uses: int
    returned_uses: int
    discount_fen: int
    returned_fen: int
    budget_fen: int | None
    budget_left_fen: int | None
    funders: dict[str, int]
    by_version: list[tuple[int, int, int]]    # (version number, uses, net discount)


def report(rule: PromotionRule) -> RuleReport:
    u = PromotionUsage
    row = db.session.execute(
        select(func.count(u.id), func.coalesce(func.sum(case((u.use_returned.is_(True), 1), else_=0)), 0),
               func.coalesce(func.sum(u.discount_fen), 0), func.coalesce(func.sum(u.returned_fen), 0),
               func.coalesce(func.sum(u.union_fen - u.returned_union_fen), 0),
               func.coalesce(func.sum(u.bank_fen - u.returned_bank_fen), 0),
               func.coalesce(func.sum(u.merchant_fen - u.returned_merchant_fen), 0))
        .where(u.rule_id == rule.id)).one()
    versions = db.session.execute(
        select(PromotionRuleVersion.number, func.count(u.id),
               func.coalesce(func.sum(u.discount_fen - u.returned_fen), 0))
        .join(u, u.version_id == PromotionRuleVersion.id)
        .where(PromotionRuleVersion.rule_id == rule.id)
        .group_by(PromotionRuleVersion.number).order_by(PromotionRuleVersion.number)).all()
    return RuleReport(uses=int(row[0]) - int(row[1]), returned_uses=int(row[1]), discount_fen=int(row[2]),
                      returned_fen=int(row[3]), budget_fen=rule.budget_fen, budget_left_fen=rule.budget_left_fen,
                      funders={"union": int(row[4]), "bank": int(row[5]), "merchant": int(row[6])},
                      by_version=[(n, int(c), int(d)) for n, c, d in versions])


# ---------------------------------------------------------------- the rule book (per process)
#
# Each process keeps the active rules' terms compiled into a `RuleBook` (scope index) together
# with the stamp it was built under: the version of the one `promotion_book_stamps` row, which
# every create, edit and status change bumps in its own transaction. The till reads the stamp
# by primary key in the same statement as the live budgets and uses (`_live`), so a quote never
# uses a book older than the counters it reads, at no extra query.

def _stamp_columns():
    def one(column):
        return select(column).where(PromotionBookStamp.id == 1).scalar_subquery()
    return (func.coalesce(one(PromotionBookStamp.version), 0), func.coalesce(one(PromotionBookStamp.nonce), ""))


def bump_book_stamp() -> None:
    """Move the stamp (in the caller's transaction): every process rebuilds its book."""
    t = PromotionBookStamp.__table__
    db.session.execute(_insert()(t).values(id=1, version=1, nonce=secrets.token_hex(16))
                       .on_conflict_do_update(index_elements=[t.c.id], set_={"version": t.c.version + 1}))


class _Book:
    """A compiled book, its stamp, and the candidate lists per till worked out from it."""
    __slots__ = ("stamp", "book", "tills")

    def __init__(self, stamp: tuple, book: RuleBook):
        self.stamp, self.book, self.tills = stamp, book, {}


def _build(stamp: tuple) -> _Book:
    """Compile the active rules. `stamp` was read before (or with) this query, so the book is
    never older than its stamp; at worst newer, which the next stamp check corrects."""
    rows = db.session.execute(
        select(PromotionRule.id, PromotionRuleVersion.id, PromotionRuleVersion.name, Organisation.path,
               PromotionRuleVersion.terms)
        .join(PromotionRuleVersion, PromotionRuleVersion.id == PromotionRule.current_version_id)
        .join(Organisation, Organisation.id == PromotionRule.org_id)
        .where(PromotionRule.status == "active")).all()
    built = _Book(tuple(stamp), RuleBook.build([RuleTerms.from_json(*r) for r in rows]))
    current_app.extensions["promotions_book"] = built
    return built


def _read_stamp() -> tuple:
    return tuple(db.session.execute(select(*_stamp_columns())).one())


def _current_book() -> _Book:
    stamp = _read_stamp()
    cached = current_app.extensions.get("promotions_book")
    return cached if cached is not None and cached.stamp == stamp else _build(stamp)


def rule_book() -> RuleBook:
    """Active rules indexed by scope; rebuilt only when a rule changed (one aggregate query)."""
    return _current_book().book


# ---------------------------------------------------------------- till side

def period_keys(day: date) -> dict[str, str]:
    """The per-member counters' period keys of a China business day (read-only: it is shared)."""
    return _period_keys(day)


@functools.lru_cache(maxsize=64)
def _period_keys(day: date) -> dict[str, str]:
    year, week, _ = day.isocalendar()
    return {"day": f"d{day.isoformat()}", "week": f"w{year}-{week:02d}", "month": f"m{day:%Y-%m}",
            "total": "all"}


@functools.lru_cache(maxsize=64)
def _period_names(day: date) -> dict[str, str]:
    return {v: k for k, v in _period_keys(day).items()}


def _purchase(member, card, merchant, store, amount_fen: int, at: datetime) -> Purchase:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValidationError("amount must be a positive number of fen",
                              details={"fields": {"amount_fen": ["must be more than zero"]}})
    return Purchase(amount_fen=amount_fen, at=at, merchant_id=merchant.id, merchant_category=merchant.category,
                    merchant_org_path=merchant.org.path, store_id=store.id if store is not None else None,
                    card_active=card is not None and card.status == "active",
                    member_category=member.category, member_org_path=member.org.path)


def _till_rules(b: _Book, purchase: Purchase) -> engine.Prepared:
    """The candidate rules of a till (its merchant, store, category and union), worked out and
    prepared for the engine once per book."""
    key = (purchase.merchant_id, purchase.store_id, purchase.merchant_category, purchase.merchant_org_path)
    found = b.tills.get(key)
    if found is None:
        found = engine.prepare(b.book.candidates(merchant_id=purchase.merchant_id, store_id=purchase.store_id,
                                                 category=purchase.merchant_category,
                                                 merchant_org_path=purchase.merchant_org_path))
        if len(b.tills) > 20_000:
            b.tills.clear()
        b.tills[key] = found
    return found


# ---------------------------------------------------------------- live counters
#
# A quote needs, besides the book: the stamp (is the book current?), the counters of rules that
# could bind at this price, and the member's uses in the current periods. None of these names
# the till's candidate rules: "could bind" is "no uses left, or less budget left on the rule row
# than the price" (a discount never exceeds the price, so a larger budget cannot clamp it; a
# budget spread over slices adds their free allotments) and each test is answered by an
# expression index; the member's uses come by (member, period). So the same few rows come back
# however many rules a till has, and on PostgreSQL they travel inside the till's own statement
# (`live_columns`). A paused rule needs no counter: pausing moves the stamp, and the book
# rebuilt under the new stamp leaves it out.

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
    # zeros are literals, not parameters: with statistics (autovacuum's ANALYZE) the planner
    # then knows both arms match few rows even in the generic plan and keeps it; with a
    # parameter it guessed a third of the rules, thought the generic plan dear and planned the
    # till's whole statement afresh at every execution (~400 µs of PostgreSQL CPU per quote).
    zero = literal_column("0")
    return (r.global_limit - r.uses_count <= zero) | ((left >= zero) & (left < amount))


def _counter_columns():
    r = PromotionRule.__table__.c
    return (r.id, r.status, r.budget_fen - r.budget_used_fen + free_allotment_column(), r.global_limit - r.uses_count)


_PERIOD_PARAMS = tuple(bindparam(f"period_{name}", type_=String) for name in ("day", "week", "month", "total"))
_AMOUNT = bindparam("amount_fen", type_=BigInteger)


def _period_params(day: date) -> dict:
    return {f"period_{name}": key for name, key in period_keys(day).items()}


def _uses_where(member_id):
    u = PromotionMemberUse.__table__.c
    return (u.member_id == member_id) & u.period.in_(_PERIOD_PARAMS)


_LIVE_STATEMENT: list = []


def _live_statement():
    """Built once: rebuilding the statement per request cost more than running it."""
    if not _LIVE_STATEMENT:
        u = PromotionMemberUse.__table__.c
        stamp = select(*(c.label(f"s{i}") for i, c in enumerate(_stamp_columns()))).subquery("book_stamp")
        counted = select(*_counter_columns()).where(_binding(_AMOUNT)).subquery("counted")
        stmt = union_all(
            select(stamp.c.s0, stamp.c.s1, *counted.c, null().label("period"), null().label("uses"))
            .select_from(stamp.outerjoin(counted, literal(True))),
            select(null(), null(), u.rule_id, null(), null(), null(), u.period, u.uses)
            .where(_uses_where(bindparam("member_id", type_=Integer))))
        _LIVE_STATEMENT.append(stmt)
    return _LIVE_STATEMENT[0]


def live_columns(member_id_column) -> list:
    """PostgreSQL: what `_live` reads, as four columns of another statement (the till's, whose
    card gives `member_id_column`): the stamp's version and nonce, and the binding counters and
    the member's uses as JSON arrays. It needs the parameters of `live_params`."""
    u = PromotionMemberUse.__table__.c
    counted = (select(func.json_agg(func.json_build_array(*_counter_columns())))
               .where(_binding(_AMOUNT)).scalar_subquery())
    uses = (select(func.json_agg(func.json_build_array(u.rule_id, u.period, u.uses)))
            .where(_uses_where(member_id_column)).correlate(member_id_column.table).scalar_subquery())
    return [*_stamp_columns(), counted, uses]


def live_params(amount_fen: int, day: date) -> dict:
    return {"amount_fen": amount_fen, **_period_params(day)}


def live_from_columns(values, day: date) -> LiveState:
    """The `LiveState` in the four `live_columns` values read on `day`."""
    version, nonce, counted, uses = values
    by_key = _period_names(day)
    used: dict = {}
    for rule_id, period, n in uses or ():
        used.setdefault(rule_id, {})[by_key[period]] = n
    return LiveState((version, nonce), {rid: (status, left, uses_left) for rid, status, left, uses_left in counted or ()},
                     used, day)


def _live(member_id: int, day: date, amount_fen: int) -> LiveState:
    """One statement: the rule-book stamp, the counters of the rules that could bind at this
    price, and this member's uses in the current periods."""
    by_key = _period_names(day)
    found_stamp, counters, used = None, {}, {}
    for row in read_rows(_live_statement(), {"member_id": member_id, **live_params(amount_fen, day)}):
        if row[0] is not None:
            found_stamp = (row[0], row[1])
            if row[2] is not None:
                counters[row[2]] = (row[3], row[4], row[5])
        else:
            used.setdefault(row[2], {})[by_key[row[6]]] = row[7]
    return LiveState(found_stamp, counters, used, day)


def _states(live: LiveState) -> dict[int, RuleState]:
    """The live state of the rules that have one (binding counters, this member's uses); every
    other candidate is open: the book (checked against the stamp just now) says it is active,
    and any budget it has left is at least the price."""
    states = {}
    used = live.used
    for rid, (status, budget_left, uses_left) in live.counters.items():
        states[rid] = RuleState(budget_left_fen=budget_left, uses_left=uses_left,
                                member_used=tuple(used[rid].items()) if rid in used else (), active=status == "active")
    for rid, periods in used.items():
        if rid not in states:
            states[rid] = RuleState(member_used=tuple(periods.items()))
    return states


def _evaluate(purchase: Purchase, member_id: int, excluded: dict[int, str], live: LiveState | None = None) -> Quote:
    """`live`: the counters already read with the till (used if its stamp and day are current)."""
    b = current_app.extensions.get("promotions_book") or _build(_read_stamp())
    day = clock.business_day(purchase.at)
    if live is not None and live.day != day:
        live = None
    for _attempt in range(3):
        if live is None:
            live = _live(member_id, day, purchase.amount_fen)
        if live.stamp == b.stamp:
            break
        b = _build(live.stamp)   # a rule changed since this process compiled its book
        live = None
    candidates = _till_rules(b, purchase)
    result = engine.evaluate_prepared(purchase, candidates, _states(live), excluded)
    if not excluded:
        return result
    names = {t.rule_id: t.name for t in candidates.rules}
    extra = tuple(Rejected(rid, names.get(rid, ""), reason, engine.REASONS[reason]) for rid, reason in excluded.items())
    return Quote(result.amount_fen, result.discount_fen, result.pay_fen, result.applied,
                 result.rejected + extra, result.hints)


def quote(*, member, card, merchant, store, amount_fen: int, at: datetime | None = None,
          live: LiveState | None = None) -> Quote:
    """Read-only: the best eligible offer(s) now, given budgets left and the member's usage.
    `live`: this member's counters, already read with the till (`live_columns`)."""
    purchase = _purchase(member, card, merchant, store, amount_fen, at or clock.now())
    return _evaluate(purchase, member.id, {}, live)


def apply(*, member, card, merchant, store, amount_fen: int, usage_key: str,
          at: datetime | None = None, live: LiveState | None = None) -> Quote:
    """Recompute under current limits and consume them, inside the caller's transaction (flush only).

    Each applied rule takes one per-member use per limited period, one global use and its
    discount from the budget, all with conditional UPDATEs. A rule that cannot is dropped and the
    quote recomputed without it; a budget that covers only part of the discount gives that part.
    """
    at = at or clock.now()
    purchase = _purchase(member, card, merchant, store, amount_fen, at)
    day = clock.business_day(at)
    excluded: dict[int, str] = {}
    for _attempt in range(6):
        result = _evaluate(purchase, member.id, excluded, live)
        live = None   # a retry reads the counters again
        taken: list[tuple[engine.AppliedRule, int]] = []
        failed = None
        for applied in result.applied:
            granted, reason = _consume(applied, member.id, day)
            if granted <= 0:
                failed = (applied.rule_id, reason)
                break
            taken.append((applied, granted))
        if failed is None:
            final = _final_quote(result, taken)
            _record_usages(final, usage_key, member.id, merchant.id, store, day)
            return final
        for applied, granted in taken:
            _unconsume(applied, member.id, day, granted)
        excluded[failed[0]] = failed[1]
    return Quote(amount_fen, 0, amount_fen, (), result.rejected, ())


def _final_quote(result: Quote, taken: list[tuple[engine.AppliedRule, int]]) -> Quote:
    applied = []
    for a, granted in taken:
        if granted != a.discount_fen:
            a = engine.AppliedRule(a.rule_id, a.version_id, a.name, granted,
                                   split_fairly(granted, a.terms["split"]), a.terms)
        applied.append(a)
    discount = sum(a.discount_fen for a in applied)
    return Quote(result.amount_fen, discount, result.amount_fen - discount, tuple(applied),
                 result.rejected, result.hints)


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _consume(applied: engine.AppliedRule, member_id: int, day: date) -> tuple[int, str]:
    """Take one use and up to the discount from the rule; returns (fen granted, reason if 0).

    The member's per-period uses first (one conditional upsert per period), then the rule's use
    and budget: from a budget slice, or, for a rule with a global use limit, from its row."""
    terms = applied.terms
    rule_id = applied.rule_id
    want, shed = gate.reserve(rule_id, applied.discount_fen, terms)
    if shed:
        return 0, shed
    keys = period_keys(day)
    done: list[str] = []
    u = PromotionMemberUse.__table__.c
    for period, limit in terms["per_member"].items():
        # one statement per period: the first use inserts the row, later ones count up while under the limit
        upsert = _insert()(PromotionMemberUse.__table__).values(rule_id=rule_id, member_id=member_id,
                                                                period=keys[period], uses=1)
        hit = limit >= 1 and db.session.execute(upsert.on_conflict_do_update(
            index_elements=[u.rule_id, u.member_id, u.period], set_={"uses": u.uses + 1},
            where=u.uses < limit).returning(u.uses)).first() is not None
        if not hit:
            _member_uses_back(rule_id, member_id, [keys[p] for p in done])
            gate.release(rule_id)
            return 0, "member_limit_" + period
        done.append(period)
    if terms.get("global_limit") is None:
        number = random.randrange(SLICES)
        granted, where = _take_from_slice(rule_id, number, want, budgeted=terms.get("budget_fen") is not None)
        reason = "" if granted > 0 else "budget_spent"
        if where == "slice":
            db.session.info.setdefault("promotions_slices", {})[rule_id] = number
        elif where == "busy":   # other payments' slices may still hold some: don't close the gate
            _member_uses_back(rule_id, member_id, [keys[p] for p in done])
            gate.release(rule_id)
            return 0, reason
    else:
        granted, reason = _take_from_rule_row(rule_id, want)
    if granted <= 0:
        _member_uses_back(rule_id, member_id, [keys[p] for p in done])
        gate.release(rule_id)
        gate.mark_exhausted(rule_id, "uses" if reason == "global_limit" else "budget")
        return 0, reason
    gate.confirm(rule_id, granted)
    return granted, ""


def _take_from_rule_row(rule_id: int, want: int) -> tuple[int, str]:
    """A rule with a global use limit: its use and budget on its own row (conditional UPDATEs)."""
    # The usual case in one conditional UPDATE: a use and the whole discount both fit. (Core, on
    # the table: nothing in the session holds these counters, and the ORM path costs more.)
    c = PromotionRule.__table__.c
    both = db.session.execute(
        update(PromotionRule.__table__).values(uses_count=c.uses_count + 1, budget_used_fen=c.budget_used_fen + want)
        .where(c.id == rule_id, c.status == "active", (c.global_limit.is_(None)) | (c.uses_count < c.global_limit),
               (c.budget_fen.is_(None)) | (c.budget_used_fen + want <= c.budget_fen))).rowcount
    if both == 1:
        return want, ""
    # Otherwise one step at a time, to tell a spent limit from a budget that covers only part.
    r = PromotionRule
    use = db.session.execute(
        update(r).values(uses_count=r.uses_count + 1)
        .where(r.id == rule_id, r.status == "active", (r.global_limit.is_(None)) | (r.uses_count < r.global_limit))
        .execution_options(synchronize_session=False)).rowcount
    if use != 1:
        return 0, "global_limit"
    granted = _take_budget(rule_id, want)
    if granted <= 0:
        db.session.execute(update(r).values(uses_count=r.uses_count - 1).where(r.id == rule_id)
                           .execution_options(synchronize_session=False))
        return 0, "budget_spent"
    return granted, ""


# ---------------------------------------------------------------- budget slices
#
# A rule without a global use limit counts its uses and spends its budget on one of SLICES
# rows (`PromotionBudgetSlice`), picked at random per payment, so that concurrent payments under
# one popular rule update different rows instead of queueing on the rule row until each commits.
# Exactness: a slice spends only its allotment (`used + want <= allot`, row count checked); an
# allotment is moved from the rule's budget by a conditional UPDATE of the rule row
# (`budget_used + chunk <= budget`); so the sum of all discounts never exceeds the budget. When a
# slice's allotment and the rule's unallotted budget together cannot cover a payment, the rule
# row is locked, every slice's unspent allotment is folded back, and the payment gets what
# remains (the clamp).
#
# Lock order: a payment may hold a slice row when it comes for the rule row, even a slice it took
# nothing from: its conditional UPDATE found the slice with room, waited for the payment spending
# it and, rechecking the row that one committed (READ COMMITTED), found it spent; PostgreSQL keeps
# the row locked all the same, and the payment goes on to refill it. So a payment or a refund
# holding the rule row never waits for one of its slices: the refill and the end-of-budget fold
# skip the slices others hold (SKIP LOCKED), and a refund gives the use back before the budget.

SLICES = 16
CHUNK_PARTS = 64     # a refill moves at least 1/64 of the budget to a slice


def _slice_rule_active(rule_id: int):
    r = PromotionRule.__table__.c
    return exists().where(r.id == rule_id, r.status == "active")


def _take_from_slice(rule_id: int, number: int, want: int, *, budgeted: bool) -> tuple[int, str]:
    """Take one use and `want` fen from slice `number` or, at the end of the budget, what
    remains from the rule row. Returns (fen granted, where): where is "slice", "rule", or, when
    nothing was granted, "spent" or "busy" (busy slices may still hold some budget)."""
    t = PromotionBudgetSlice.__table__
    c = t.c
    params = {"b_rule_id": rule_id, "b_slice": number, "want": want}
    if run_count(_slice_take(budgeted), params) == 1:
        return want, "slice"
    if not budgeted:
        # this slice's first use (nothing to allot, so the rule row is not involved)
        if not db.session.scalar(select(_slice_rule_active(rule_id))):
            return 0, "spent"
        counted = db.session.execute(_insert()(t).values(rule_id=rule_id, slice=number, allot_fen=None, used_fen=want,
                                                         uses=1)
                                     .on_conflict_do_update(index_elements=[c.rule_id, c.slice],
                                                            set_={"used_fen": c.used_fen + want, "uses": c.uses + 1},
                                                            where=c.allot_fen.is_(None))
                                     .returning(c.uses)).first()
        return (want, "slice") if counted is not None else (0, "spent")
    # A slice row is only ever created or topped up after the rule row is locked.
    refilled = _refill(rule_id, number, want)
    if refilled == "rule":
        return want, "rule"
    if refilled == "slice" and run_count(_slice_take(budgeted), params) == 1:
        return want, "slice"
    granted, busy = _take_at_the_end(rule_id, want)
    return granted, ("rule" if granted > 0 else "busy" if busy else "spent")


def _allot_to_slice(rule_id: int, number: int, chunk: int) -> bool:
    """Add `chunk` to slice `number`'s allotment, creating the slice if need be; False, having
    waited for nothing, if another transaction holds the slice (the caller holds the rule row)."""
    t = PromotionBudgetSlice.__table__
    c = t.c
    free = (select(c.slice).where(c.rule_id == rule_id, c.slice == number)
            .with_for_update(key_share=True, skip_locked=True).scalar_subquery())
    if db.session.execute(update(t).values(allot_fen=c.allot_fen + chunk)
                          .where(c.rule_id == rule_id, c.slice == free)).rowcount == 1:
        return True
    # Not there yet, or busy. Only a refill creates a budgeted slice and this transaction holds
    # the rule row, so no insert of it can be under way: DO NOTHING waits for nothing either.
    created = db.session.execute(_insert()(t).values(rule_id=rule_id, slice=number, allot_fen=chunk, used_fen=0, uses=0)
                                 .on_conflict_do_nothing(index_elements=[c.rule_id, c.slice])
                                 .returning(c.slice)).first()
    return created is not None


def _refill(rule_id: int, number: int, want: int) -> str | None:
    """Move a chunk of the rule's unallotted budget to slice `number` (conditional UPDATE of the
    rule row, which this transaction then holds): "slice" when done; "rule" when the slice is
    busy and the payment got `want` from the rule row instead; None when no chunk fits."""
    r = PromotionRule.__table__.c
    for _ in range(5):
        row = db.session.execute(select(r.budget_fen, r.budget_used_fen).where(r.id == rule_id, r.status == "active")
                                 .execution_options(populate_existing=True)).first()
        if row is None or row[0] is None:
            return False
        budget, used = row
        chunk = min(budget - used, max(want, budget // CHUNK_PARTS))
        if chunk < want:
            return False
        moved = db.session.execute(
            update(PromotionRule.__table__).values(budget_used_fen=r.budget_used_fen + chunk)
            .where(r.id == rule_id, r.status == "active", r.budget_used_fen + chunk <= r.budget_fen)).rowcount
        if moved == 1:
            if _allot_to_slice(rule_id, number, chunk):
                return "slice"
            # Another transaction holds the slice, maybe a payment whose take found it spent
            # and now waits for this rule row (lock order above): waiting for the slice here is
            # the cycle. The payment takes its discount from the row it holds anyway instead,
            # and the rest of the chunk stays unallotted.
            db.session.execute(update(PromotionRule.__table__)
                               .values(budget_used_fen=r.budget_used_fen - chunk + want, uses_count=r.uses_count + 1)
                               .where(r.id == rule_id))
            return "rule"
    return None


def _take_at_the_end(rule_id: int, want: int) -> tuple[int, bool]:
    """The budget is nearly gone: under the rule row's lock, fold the unspent allotments of the
    slices no payment is using right now back onto the rule, and give this payment
    `min(want, what remains)` from the rule row. Returns (fen granted, whether busy slices may
    still hold some budget).

    The rule row is locked FOR NO KEY UPDATE (it orders budget changes but lets concurrent
    payments check their rows' foreign keys to the rule), and slices locked by other payments are
    skipped (SKIP LOCKED): holding the rule row, this never waits for a slice, so it cannot
    deadlock with a payment that holds one. What a busy slice still holds stays there for later
    payments; nothing is ever granted beyond the budget."""
    r = PromotionRule.__table__.c
    row = db.session.execute(select(r.budget_fen, r.budget_used_fen, r.status).where(r.id == rule_id)
                             .with_for_update(key_share=True)).first()
    if row is None or row[2] != "active" or row[0] is None:
        return 0, False
    busy = _fold_free_allotments(rule_id)
    budget, used = db.session.execute(select(r.budget_fen, r.budget_used_fen).where(r.id == rule_id)).one()
    grant = min(want, budget - used)
    if grant <= 0:
        return 0, busy
    db.session.execute(update(PromotionRule.__table__)
                       .values(budget_used_fen=r.budget_used_fen + grant, uses_count=r.uses_count + 1)
                       .where(r.id == rule_id))
    return grant, busy


def _fold_free_allotments(rule_id: int) -> bool:
    """Give the unspent allotments of the slices nobody holds back to the rule (the caller holds
    the rule row lock). True if some budgeted slices were busy (skipped)."""
    r, c = PromotionRule.__table__.c, PromotionBudgetSlice.__table__.c
    budgeted = (c.rule_id == rule_id) & c.allot_fen.is_not(None)
    rows = db.session.execute(select(c.slice, c.allot_fen, c.used_fen).where(budgeted)
                              .with_for_update(skip_locked=True)).all()
    total = db.session.scalar(select(func.count()).select_from(PromotionBudgetSlice.__table__).where(budgeted))
    free = sum(allot - used for _n, allot, used in rows)
    if free:
        db.session.execute(update(PromotionBudgetSlice.__table__).values(allot_fen=c.used_fen)
                           .where(budgeted, c.slice.in_([n for n, _a, _u in rows])))
        db.session.execute(update(PromotionRule.__table__).values(budget_used_fen=r.budget_used_fen - free)
                           .where(r.id == rule_id))
    return total > len(rows)


def fold_slices(rule_id: int) -> None:
    """Move everything the slices hold back onto the rule row (before an edit of budget or limit):
    unspent allotments return, spent money and uses are added to the row, the slices go.

    Unlike a payment, an edit waits for every slice while it holds the rule row; if a payment
    holding one waits for the row, PostgreSQL breaks the cycle by aborting one of them (a
    payment then runs again, `database.retry_on_deadlock`)."""
    r, c = PromotionRule.__table__.c, PromotionBudgetSlice.__table__.c
    db.session.execute(select(r.id).where(r.id == rule_id).with_for_update(key_share=True))
    rows = db.session.execute(select(c.allot_fen, c.used_fen, c.uses).where(c.rule_id == rule_id)
                              .with_for_update()).all()
    if not rows:
        return
    free = sum(allot - used for allot, used, _u in rows if allot is not None)
    spent_unbudgeted = sum(used for allot, used, _u in rows if allot is None)
    uses = sum(u for _a, _used, u in rows)
    db.session.execute(update(PromotionRule.__table__)
                       .values(budget_used_fen=r.budget_used_fen - free + spent_unbudgeted,
                               uses_count=r.uses_count + uses).where(r.id == rule_id))
    db.session.execute(delete(PromotionBudgetSlice.__table__).where(c.rule_id == rule_id))


def free_allotment_column(rule_table=None):
    """SQL: a rule's slices' unspent allotments (part of its budget left)."""
    r = (rule_table if rule_table is not None else PromotionRule.__table__).c
    c = PromotionBudgetSlice.__table__.c
    return (select(cast(func.coalesce(func.sum(c.allot_fen - c.used_fen), 0), BigInteger))
            .where(c.rule_id == r.id, c.allot_fen.is_not(None)).correlate_except(PromotionBudgetSlice.__table__)
            .scalar_subquery())


def _take_budget(rule_id: int, want: int) -> int:
    """Budget consumption with the clamp: all of `want` if it fits, else what remains, else 0."""
    r = PromotionRule
    for _ in range(20):
        hit = db.session.execute(
            update(r).values(budget_used_fen=r.budget_used_fen + want)
            .where(r.id == rule_id, (r.budget_fen.is_(None)) | (r.budget_used_fen + want <= r.budget_fen))
            .execution_options(synchronize_session=False)).rowcount
        if hit == 1:
            return want
        left = db.session.scalar(select(r.budget_fen - r.budget_used_fen).where(r.id == rule_id)
                                 .execution_options(populate_existing=True))
        if not left or left <= 0:
            return 0
        want = min(want, left)
    return 0


def _member_uses_back(rule_id: int, member_id: int, periods: list[str]) -> None:
    if periods:
        db.session.execute(
            update(PromotionMemberUse).values(uses=PromotionMemberUse.uses - 1)
            .where(PromotionMemberUse.rule_id == rule_id, PromotionMemberUse.member_id == member_id,
                   PromotionMemberUse.period.in_(periods), PromotionMemberUse.uses > 0)
            .execution_options(synchronize_session=False))


def _unconsume(applied: engine.AppliedRule, member_id: int, day: date, granted: int) -> None:
    keys = period_keys(day)
    _member_uses_back(applied.rule_id, member_id, [keys[p] for p in applied.terms["per_member"]])
    number = db.session.info.get("promotions_slices", {}).pop(applied.rule_id, None)
    if number is not None:   # the slice it came from, still locked by this transaction
        c = PromotionBudgetSlice.__table__.c
        db.session.execute(update(PromotionBudgetSlice.__table__)
                           .values(used_fen=c.used_fen - granted, uses=c.uses - 1)
                           .where(c.rule_id == applied.rule_id, c.slice == number))
    else:
        r = PromotionRule
        db.session.execute(update(r).values(uses_count=r.uses_count - 1, budget_used_fen=r.budget_used_fen - granted)
                           .where(r.id == applied.rule_id).execution_options(synchronize_session=False))
    gate.release(applied.rule_id)


def _record_usages(final: Quote, usage_key: str, member_id: int, merchant_id: int, store, day: date) -> None:
    # plain INSERTs (one statement): nothing in this request reads the rows back as objects
    rows = [dict(usage_key=usage_key, rule_id=a.rule_id, version_id=a.version_id, member_id=member_id,
                 merchant_id=merchant_id, store_id=store.id if store is not None else None, business_day=day,
                 amount_fen=final.amount_fen, discount_fen=a.discount_fen, union_fen=a.shares.get("union", 0),
                 bank_fen=a.shares.get("bank", 0), merchant_fen=a.shares.get("merchant", 0), returned_fen=0,
                 returned_union_fen=0, returned_bank_fen=0, returned_merchant_fen=0, use_returned=False,
                 created_at=clock.now())
            for a in final.applied]
    for row in rows:
        defer_write(_usage_insert(), row)   # nothing reads them back before the commit


_HOT_WRITES: dict = {}


def _usage_insert():
    stmt = _HOT_WRITES.get("usage")
    if stmt is None:
        t = PromotionUsage.__table__
        stmt = _HOT_WRITES["usage"] = insert(t).values({c.name: bindparam(c.name) for c in t.c if c.name != "id"})
    return stmt


def _slice_take(budgeted: bool):
    """UPDATE one slice: a use and `want` fen, if the rule is active and (budgeted) it fits."""
    stmt = _HOT_WRITES.get(("take", budgeted))
    if stmt is None:
        t = PromotionBudgetSlice.__table__
        c, r = t.c, PromotionRule.__table__.c
        stmt = (update(t).values(used_fen=c.used_fen + bindparam("want", type_=BigInteger), uses=c.uses + 1)
                .where(c.rule_id == bindparam("b_rule_id"), c.slice == bindparam("b_slice"),
                       exists().where(r.id == c.rule_id, r.status == "active")))
        if budgeted:
            stmt = stmt.where(c.allot_fen.is_not(None), c.used_fen + bindparam("want", type_=BigInteger) <= c.allot_fen)
        else:
            stmt = stmt.where(c.allot_fen.is_(None))
        _HOT_WRITES[("take", budgeted)] = stmt
    return stmt


def give_back(*, usage_key: str, discount_back_by_rule: dict[int, int], full_refund: bool) -> None:
    """On refund: return `discount_back_by_rule` fen to each rule's budget (funders' shares pro
    rata) and, for a full refund, the per-member and global use."""
    usages = db.session.scalars(select(PromotionUsage).where(PromotionUsage.usage_key == usage_key)
                                .with_for_update().execution_options(populate_existing=True)).all()
    discount_back_by_rule = {int(k): int(v) for k, v in discount_back_by_rule.items()}
    by_rule = {u.rule_id: u for u in usages}
    unknown = set(discount_back_by_rule) - set(by_rule)
    if unknown:
        raise NotFound("no promotion usage for this transaction and rule", details={"rule_ids": sorted(unknown)})
    r = PromotionRule
    for u in usages:
        back = int(discount_back_by_rule.get(u.rule_id, 0))
        if full_refund:
            back = u.discount_fen - u.returned_fen
        if back < 0 or u.returned_fen + back > u.discount_fen:
            raise ValidationError("cannot give back more discount than was given",
                                  details={"rule_id": u.rule_id, "left_fen": u.discount_fen - u.returned_fen})
        # In a payment's lock order (member uses, slice, rule row): the uses first, then the
        # budget, so that holding the rule row this never waits for a slice or a member's uses
        if full_refund and not u.use_returned:
            u.use_returned = True
            version = db.session.get(PromotionRuleVersion, u.version_id)
            keys = period_keys(u.business_day)
            _member_uses_back(u.rule_id, u.member_id, [keys[p] for p in version.terms.get("per_member", {})])
            _use_back(u.rule_id)
            gate.give_back(u.rule_id, 0, 1)
        if back:
            _return_shares(u, back)
            db.session.execute(update(r).values(budget_used_fen=r.budget_used_fen - back)
                               .where(r.id == u.rule_id, r.budget_fen.is_not(None))
                               .execution_options(synchronize_session=False))
            gate.give_back(u.rule_id, back, 0)
    db.session.flush()


def _use_back(rule_id: int) -> None:
    """One use back: from a slice that counted uses, else from the rule row (before the budget
    goes back to the rule row: see `give_back`)."""
    c = PromotionBudgetSlice.__table__.c
    number = db.session.scalar(select(c.slice).where(c.rule_id == rule_id, c.uses > 0).order_by(c.slice).limit(1))
    if number is not None and db.session.execute(
            update(PromotionBudgetSlice.__table__).values(uses=c.uses - 1)
            .where(c.rule_id == rule_id, c.slice == number, c.uses > 0)).rowcount == 1:
        return
    r = PromotionRule
    db.session.execute(update(r).values(uses_count=r.uses_count - 1).where(r.id == rule_id, r.uses_count > 0)
                       .execution_options(synchronize_session=False))


def _return_shares(u: PromotionUsage, back: int) -> None:
    weights = {"union": u.union_fen, "bank": u.bank_fen, "merchant": u.merchant_fen}
    target = split_fairly(u.returned_fen + back, weights)
    u.returned_fen += back
    u.returned_union_fen, u.returned_bank_fen, u.returned_merchant_fen = (
        target["union"], target["bank"], target["merchant"])


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
    book = rule_book()
    found: dict[int, RuleTerms] = {}
    store_ids = [s.id for s in merchant.stores] or [None]
    for sid in store_ids:
        for t in book.candidates(merchant_id=merchant.id, store_id=sid, category=merchant.category,
                                 merchant_org_path=merchant.org.path):
            found.setdefault(t.rule_id, t)
    if not found:
        return []
    left = {rid: (bl, ul) for rid, bl, ul in db.session.execute(
        select(PromotionRule.id,
               PromotionRule.budget_fen - PromotionRule.budget_used_fen + free_allotment_column(),
               PromotionRule.global_limit - PromotionRule.uses_count).where(PromotionRule.id.in_(list(found))))}
    offers = []
    for t in sorted(found.values(), key=lambda t: (-t.priority, t.rule_id)):
        budget_left, uses_left = left.get(t.rule_id, (None, None))
        if (budget_left is not None and budget_left <= 0) or (uses_left is not None and uses_left <= 0):
            continue
        if engine.runs_on(t, local.date()):
            offers.append(Offer(t.rule_id, t.name, engine.describe(t), t.valid_until))
    return offers

