"""Builders for merchant / till tests: merchants with a store, cashiers, terminal keys, rules."""
from __future__ import annotations

import itertools

from benefits.merchants import service as merchants
from benefits.promotions import service as promotions
from tests.factories import PASSWORD

_seq = itertools.count(1)


def merchant(org, name: str = "中石化亳州站", category: str = "fuel", accepts_card_number: bool = True):
    m = merchants.create_merchant(None, org, org, name=name, category=category,
                                  accepts_card_number=accepts_card_number)
    merchants.add_store(None, m, name=name + "一店", address="亳州市谯城区")
    return m


def cashier(m, username: str | None = None):
    return merchants.create_cashier(None, m, username=username or f"cashier{next(_seq)}", display_name="收银员",
                                    password=PASSWORD)


def terminal_key(m) -> str:
    _row, key = merchants.issue_terminal_key(None, m.stores[0], "1号收银机")
    return key


def rule(scope, name: str = "满200减40", **terms):
    data = {"name": name, "kind": "threshold", "threshold_fen": 20000, "off_fen": 4000,
            "scope": "programme", "split": {"union": 50, "bank": 30, "merchant": 20}}
    data.update(terms)
    return promotions.create_rule(None, scope, data)


def allot_slices(rule_id: int, per_slice: list[int]) -> None:
    """Budget slices already allotted (each holding `per_slice[n]` unspent, 100.00 already spent)
    and nothing left unallotted on the rule row: payments take from the slices until they run
    dry, then fold them back under the rule row's lock."""
    from benefits.extensions import db
    from benefits.promotions.models import PromotionBudgetSlice, PromotionRule
    for number, allot in enumerate(per_slice):
        db.session.add(PromotionBudgetSlice(rule_id=rule_id, slice=number, allot_fen=allot + 10_000,
                                            used_fen=10_000, uses=1))
    rules = PromotionRule.__table__
    db.session.execute(rules.update().values(budget_used_fen=rules.c.budget_fen).where(rules.c.id == rule_id))
