"""Builders for merchant / till tests: merchants with a store, cashiers, terminal keys, rules."""
from __future__ import annotations

import itertools

from benefits.merchants import service as merchants
from benefits.promotions import rules as promotions
from benefits.promotions import service as offers
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


def _read(member, store, amount_fen: int, at):
    from benefits import clock
    from benefits.transactions import service as till
    return till.payment_read(till.TillRef(store_id=store.id), amount_fen=amount_fen, day=clock.business_day(at),
                             card_id=member.current_card.id)


def quote(*, member, store, amount_fen: int, at=None, **_ignored):
    """What the till would quote this member at this store (the till's own read, then the engine)."""
    from benefits import clock
    at = at or clock.now()
    read = _read(member, store, amount_fen, at)
    p = offers.purchase(member=read.card.member, card=read.card, merchant=read.till.merchant, store=read.till.store,
                        amount_fen=amount_fen, at=at)
    return offers.quote(p, read.live)


def apply(*, member, store, amount_fen: int, usage_key: str, at=None, **_ignored):
    """Choose and take the offer as a confirm does (without recording a card transaction)."""
    from benefits import clock
    at = at or clock.now()
    read = _read(member, store, amount_fen, at)
    p = offers.purchase(member=read.card.member, card=read.card, merchant=read.till.merchant, store=read.till.store,
                        amount_fen=amount_fen, at=at)
    return offers.apply(p, read.card.member_id, read.live, lambda: _read(member, store, amount_fen, at).live,
                        usage_key=usage_key)
