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
