"""The till: quote and confirm at a petrol station, with 126 merchants and 1,000 active rules.

`prepare` tops the bench database up to Bozhou's 126 partner merchants and 1,000 active discount
rules (made through the promotions service, mostly scoped to chosen merchants or categories, a
few programme-wide), gives the first station a terminal key, and picks 2,000 active cards.
Quotes and confirmations go round those cards (wrk Lua); confirmations each carry a unique
Idempotency-Key, so every one is a real write.
"""
from __future__ import annotations

import json
import random
import uuid

from sqlalchemy import func, select

from bench.harness import Scenario
from benefits.extensions import db
from benefits.members.models import Card, Member
from benefits.merchants import service as merchants
from benefits.merchants.models import CATEGORIES, Merchant
from benefits.orgs.models import Organisation
from benefits.promotions import rules as promotions
from benefits.promotions.models import PromotionRule

ORDER = 60
MERCHANTS = 126
RULES = 1000
CARDS = 2000
SPLIT = {"union": 50, "bank": 30, "merchant": 20}


def _top_up_merchants(union: Organisation, rng: random.Random) -> list[Merchant]:
    have = db.session.scalar(select(func.count(Merchant.id)).where(Merchant.org_id == union.id))
    for i in range(have, MERCHANTS):
        category = CATEGORIES[i % len(CATEGORIES)]
        m = merchants.create_merchant(None, union, union, name=f"压测商家{i + 1:03d}", category=category,
                                      contact_phone="139" + f"{rng.randrange(10**8):08d}")
        merchants.add_store(None, m, name=f"压测商家{i + 1:03d}一店", address="亳州市谯城区")
    db.session.flush()
    return list(db.session.scalars(select(Merchant).where(Merchant.org_id == union.id).order_by(Merchant.id)))


def _rule_data(i: int, rng: random.Random, pool: list[Merchant]) -> dict:
    kind = ("percent", "threshold", "repeating")[i % 3]
    data: dict = {"name": f"压测规则{i:04d}", "kind": kind, "split": SPLIT, "budget_fen": 100_000_000,
                  "priority": rng.randrange(0, 10)}
    if kind == "percent":
        data.update(pay_bp=rng.choice((8000, 8500, 9000, 9500)), cap_fen=rng.choice((None, 5000, 8000)))
    else:
        x = rng.choice((5000, 10000, 20000))
        data.update(threshold_fen=x, off_fen=x // rng.choice((4, 5, 10)))
        if kind == "repeating":
            data["max_repeats"] = rng.randrange(2, 5)
    roll = i % 50
    if roll == 0:
        data["scope"] = "programme"
    elif roll < 11:
        data.update(scope="categories", categories=[rng.choice(CATEGORIES)])
    elif roll < 15:
        data.update(scope="stores", store_ids=[rng.choice(pool).stores[0].id])
    else:
        data.update(scope="merchants", merchant_ids=sorted({m.id for m in rng.sample(pool, rng.randrange(1, 4))}))
    if rng.random() < 0.2:
        data["per_member"] = {"day": rng.randrange(1, 3)}
    return data


def _top_up_budgets() -> None:
    """Every run spends a few thousand discounts from the same rules; give the bench's rules back
    what earlier runs spent, so each run measures payments in the middle of a budget rather than
    drifting into its end. Raises the rule rows' budgets only: the terms (and the rule book) are unchanged."""
    for rule in db.session.scalars(select(PromotionRule).where(PromotionRule.name.like("压测%"),
                                                               PromotionRule.budget_fen.is_not(None))):
        spent = rule.budget_used_fen
        if spent > rule.budget_fen // 10:
            rule.budget_fen += spent
    db.session.flush()


def prepare(app) -> dict:
    rng = random.Random(126)
    union = db.session.scalar(select(Organisation).where(Organisation.code == "3416"))
    pool = _top_up_merchants(union, rng)
    station = next(m for m in pool if m.category == "fuel" and m.status == "active")
    active = db.session.scalar(select(func.count(PromotionRule.id)).where(PromotionRule.status == "active"))
    if active < RULES:
        # the station's own everyday offer: big budget, no per-member limit, so every confirm discounts
        promotions.create_rule(None, union, {"name": "压测加油满200减40", "kind": "threshold", "threshold_fen": 20000,
                                             "off_fen": 4000, "scope": "merchants", "merchant_ids": [station.id],
                                             "budget_fen": 2_000_000_000, "split": SPLIT, "priority": 5})
        for i in range(active + 1, RULES):
            promotions.create_rule(None, union, _rule_data(i, rng, pool))
    _top_up_budgets()
    _row, key = merchants.issue_terminal_key(None, station.stores[0], "bench")
    cards = list(db.session.scalars(
        select(Card.number).join(Member, Member.id == Card.member_id)
        .where(Card.status == "active", Member.status == "active").order_by(Card.id).limit(CARDS)))
    rules = db.session.scalar(select(func.count(PromotionRule.id)).where(PromotionRule.status == "active"))
    print(f"till: {len(pool)} merchants of 亳州市总工会, {rules} active rules, {len(cards)} cards")
    return {"key": key, "cards": cards}


_QUOTE_LUA = """
local cards = %(cards)s
local counter = 0
function request()
  counter = counter + 1
  local card = cards[(counter %% #cards) + 1]
  return wrk.format("POST", "%(path)s",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"},
    '{"card_number":"' .. card .. '","amount":"250.00"}')
end
"""

_CONFIRM_LUA = """
local cards = %(cards)s
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local card = cards[(counter %% #cards) + 1]
  return wrk.format("POST", "/api/v1/till/transactions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s",
     ["Idempotency-Key"] = "%(prefix)s-" .. tostring(tid) .. "-" .. counter},
    '{"card_number":"' .. card .. '","amount":"250.00"}')
end
"""


def scenarios(state: dict, server) -> list[Scenario]:
    lua_cards = "{" + ",".join(json.dumps(c) for c in state["cards"]) + "}"
    return [
        # every quote another member's card, as at a real till (one card would only ever meet
        # that member's rows and the same member class)
        # a reference, not a target: the quote's database read alone (same body, key and
        # statement, a fixed answer), so the table shows what the quote spends before computing
        Scenario(name="reference: the quote's read alone", ceiling="bare",
                 lua=_QUOTE_LUA % {"cards": lua_cards, "key": state["key"], "path": "/bench/till-read"}),
        Scenario(name="till quote", lua=_QUOTE_LUA % {"cards": lua_cards, "key": state["key"], "path": "/api/v1/till/quote"},
                 ceiling="reference: the quote's read alone", target=0.85),
        Scenario(name="till confirm", lua=_CONFIRM_LUA % {"cards": lua_cards, "key": state["key"],
                                                          "prefix": uuid.uuid4().hex[:12]},
                 ceiling="write", target=0.5),
    ]
