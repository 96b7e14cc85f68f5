"""Discount rules, the admin side: create, edit (a new version each time), pause and resume,
preview a draft, and the rule's report. Every change moves the rule-book stamp (`book`), so
each process's tills see it at their next quote."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Numeric, case, cast, func, select

from ..audit import service as audit
from ..errors import NotFound, ValidationError
from .. import clock
from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..periods import Period
from . import engine, gate
from .book import bump_book_stamp
from .engine import Quote, RuleTerms
from .models import PromotionRule, PromotionRuleVersion, PromotionUsage
from .validation import clean_terms


def rules_in_scope(scope: Organisation):
    return (select(PromotionRule).where(PromotionRule.org_id.in_(subtree_ids_select(scope)))
            .order_by(PromotionRule.status, PromotionRule.id.desc()))


def get_rule_in_scope(scope: Organisation, rule_id: int) -> PromotionRule:
    rule = db.session.get(PromotionRule, rule_id)
    if rule is None or not scope.contains(rule.org):
        raise NotFound(_("没有这个优惠活动。"))
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
    # the counters as committed now, for the checks below (a payment may have moved them)
    db.session.refresh(rule, with_for_update={"key_share": True})
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
        raise ValidationError(_("状态须为进行中或已暂停。"), details={"fields": {"status": [_("不认识的状态")]}})
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


def version_numbers(version_ids) -> dict[int, int]:
    """Each rule version's number within its rule (1, 2, …), as people name versions."""
    ids = {int(v) for v in version_ids}
    if not ids:
        return {}
    v = PromotionRuleVersion
    return dict(db.session.execute(select(v.id, v.number).where(v.id.in_(ids))).all())


@dataclass(frozen=True)
class RuleReport:
    """A rule's figures, every one net of refunds; the gross figures stand beside them, named so."""
    uses: int                   # uses not wholly refunded
    gross_uses: int             # every use taken at a till
    returned_uses: int          # uses wholly refunded (their use given back to the member)
    discount_fen: int           # discount net of what refunds gave back
    gross_discount_fen: int
    returned_fen: int
    budget_fen: int | None
    budget_left_fen: int | None
    funders: dict[str, int]     # each funder's share, net
    by_version: list[tuple[int, int, int]]    # (version number, net uses, net discount)


# Net of refunds, as every report figure of a rule is: a use counts unless it was wholly refunded,
# and each fen a refund gave back is taken off the discount and off the funder who paid it.
_u = PromotionUsage
_NET_USES = func.coalesce(func.sum(case((_u.use_returned.is_(True), 0), else_=1)), 0)
_NET_DISCOUNT = func.coalesce(func.sum(_u.discount_fen - _u.returned_fen), 0)
_NET_SHARES = (func.coalesce(func.sum(_u.union_fen - _u.returned_union_fen), 0),
               func.coalesce(func.sum(_u.bank_fen - _u.returned_bank_fen), 0),
               func.coalesce(func.sum(_u.merchant_fen - _u.returned_merchant_fen), 0))


def report(rule: PromotionRule) -> RuleReport:
    u = PromotionUsage
    row = db.session.execute(
        select(func.count(u.id), _NET_USES, func.coalesce(func.sum(u.discount_fen), 0),
               func.coalesce(func.sum(u.returned_fen), 0), *_NET_SHARES)
        .where(u.rule_id == rule.id)).one()
    versions = db.session.execute(
        select(PromotionRuleVersion.number, _NET_USES, _NET_DISCOUNT)
        .join(u, u.version_id == PromotionRuleVersion.id)
        .where(PromotionRuleVersion.rule_id == rule.id)
        .group_by(PromotionRuleVersion.number).order_by(PromotionRuleVersion.number)).all()
    gross_uses, uses, gross_discount, returned = (int(v) for v in row[:4])
    return RuleReport(uses=uses, gross_uses=gross_uses, returned_uses=gross_uses - uses,
                      discount_fen=gross_discount - returned, gross_discount_fen=gross_discount,
                      returned_fen=returned, budget_fen=rule.budget_fen, budget_left_fen=rule.budget_left_fen,
                      funders={"union": int(row[4]), "bank": int(row[5]), "merchant": int(row[6])},
                      by_version=[(n, int(c), int(d)) for n, c, d in versions])


def daily_report(rule: PromotionRule, period: Period) -> list[dict]:
    """The rule's uses and discount on each day of the period (China days; days without a use
    as zeros), net of refunds like `report`: a day's figures are the uses taken that day less
    whatever refunds later gave back of them."""
    u = PromotionUsage
    found = {row[0]: row[1:] for row in db.session.execute(
        select(u.business_day, _NET_USES, _NET_DISCOUNT, *_NET_SHARES)
        .where(u.rule_id == rule.id, u.business_day >= period.start, u.business_day <= period.end)
        .group_by(u.business_day))}
    rows = []
    for day in period.days:
        uses, discount, union, bank, merchant = (int(v) for v in found.get(day, (0, 0, 0, 0, 0)))
        rows.append({"day": day, "uses": uses, "discount_fen": discount,
                     "funders": {"union": union, "bank": bank, "merchant": merchant}})
    return rows


@dataclass(frozen=True)
class BudgetLine:
    rule_id: int
    name: str
    budget_fen: int
    spent_fen: int          # the rule's budget counter: discount given, net of refunds
    left_fen: int


def budget_burn(scope: Organisation, limit: int = 10) -> tuple[list[BudgetLine], int, int]:
    """The active rules of the subtree that have a budget, the most spent (as a share of the
    budget) first, at most `limit` of them; with how many active rules have a budget and how
    many have none. Spent is the budget counter the tills take from (`budget_used_fen`), the
    figure the rule's own page shows as budget left."""
    r = PromotionRule
    active = (r.org_id.in_(subtree_ids_select(scope)), r.status == "active")
    share = cast(r.budget_used_fen, Numeric) / func.nullif(r.budget_fen, 0)
    lines = [BudgetLine(rule_id=i, name=n, budget_fen=int(b), spent_fen=int(u), left_fen=int(b) - int(u))
             for i, n, b, u in db.session.execute(
                 select(r.id, r.name, r.budget_fen, r.budget_used_fen)
                 .where(*active, r.budget_fen.is_not(None))
                 .order_by(share.desc().nulls_last(), r.id).limit(limit))]
    with_budget, without = db.session.execute(
        select(func.count().filter(r.budget_fen.is_not(None)), func.count().filter(r.budget_fen.is_(None)))
        .where(*active)).one()
    return lines, int(with_budget), int(without)
