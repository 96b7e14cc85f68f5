"""Vouchers at the till: a quote and a confirm that apply a voucher, each against the rule-only
quote and confirm measured just before it in the same run, at the same petrol station with the
same 满200减40 rule and the same 1,000 active rules around it (the till module's `prepare`).

The rule-only pair goes round the till module's 2,000 cards, whose members hold no voucher:
what a till payment costs today. The voucher pair goes round the next 2,000 active cards, whose
members each hold one balance voucher of a 加油券 programme at the province (20,000.00 face value
+ 5 % from the merchant, union 60 % / bank 40 %, spendable at that station): 250.00 less the
40.00 discount leaves 210.00, which the voucher pays. So the ratio is the whole price of a
voucher at the till: reading the member's vouchers, choosing, the split, the compare-and-set
debit and the use row. A voucher lasts about 100 confirmations; `prepare` voids one that is
running low and issues its member a new one, so no run drifts into refusals and every member
holds exactly one.
"""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from bench.harness import Scenario
from bench.scenarios import till
from benefits import clock
from benefits.extensions import db
from benefits.members.models import Card, Member
from benefits.merchants import service as merchants
from benefits.merchants.models import Store, TerminalKey
from benefits.orgs.models import Organisation
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher, VoucherProgramme

ORDER = 65                      # after the till module: its `prepare` has made the station and rules
NAME = "压测加油券"
FACE_FEN = 2_000_000            # 20,000.00: about 100 payments of 210.00 per voucher
LOW_FEN = 20 * 21_000           # fewer than 20 payments left: void it and issue the member a new one
MAX_BATCHES = 100               # batch rounds run 1–100: then a new programme


def _station_id(key: str) -> int:
    return db.session.scalar(select(Store.merchant_id).join(TerminalKey, TerminalKey.store_id == Store.id)
                             .where(TerminalKey.key_hash == merchants.hash_terminal_key(key)))


def _new_programme(station_id: int) -> VoucherProgramme:
    today = clock.business_day()
    province = db.session.scalar(select(Organisation).where(Organisation.level == "province")
                                 .order_by(Organisation.id))
    return vouchers.create_programme(None, province, {
        "name": NAME, "face_fen": FACE_FEN, "topup_bp": 500, "split": {"union": 60, "bank": 40},
        "scope": "merchants", "merchant_ids": [station_id], "valid_from": today - timedelta(days=1),
        "valid_until": today + timedelta(days=365), "spend_mode": "balance", "combinable": True,
        "per_member": 100, "budget_fen": FACE_FEN * till.CARDS * 100})


def _programme(station_id: int) -> VoucherProgramme:
    """The bench's programme; a new one when the old is near its end (its vouchers are voided)."""
    found = db.session.scalar(select(VoucherProgramme).where(VoucherProgramme.name == NAME,
                                                             VoucherProgramme.status == "active")
                              .order_by(VoucherProgramme.id.desc()))
    if found is None:
        return _new_programme(station_id)
    batches = len(vouchers.batches_of(found))
    ending = found.valid_until < clock.business_day() + timedelta(days=30)
    if batches < MAX_BATCHES and not ending and found.budget_left_fen >= FACE_FEN * till.CARDS:
        return found
    for v in db.session.scalars(select(Voucher).where(Voucher.programme_id == found.id, Voucher.status == "active")):
        vouchers.void(None, v, "压测：券活动换新")
    vouchers.close_programme(None, found)
    return _new_programme(station_id)


def _holders() -> list[tuple[int, str]]:
    """(member id, card number) of the 2,000 active cards after the till module's 2,000."""
    return list(db.session.execute(
        select(Member.id, Card.number).join(Member, Member.id == Card.member_id)
        .where(Card.status == "active", Member.status == "active").order_by(Card.id)
        .offset(till.CARDS).limit(till.CARDS)).all())


def prepare(app) -> dict:
    state = till.prepare(app)          # the station, its rule and the rule-only cards (idempotent)
    programme = _programme(_station_id(state["key"]))
    holders = _holders()
    member_ids = [m for m, _card in holders]
    # one active voucher per member with room for many payments: low ones are voided and replaced
    held = {}
    for v in db.session.scalars(select(Voucher).where(Voucher.programme_id == programme.id, Voucher.status == "active",
                                                      Voucher.member_id.in_(member_ids)).order_by(Voucher.id)):
        if v.balance_fen < LOW_FEN or v.member_id in held:
            vouchers.void(None, v, "压测：余额不足，换新券")
        else:
            held[v.member_id] = v.id
    lacking = [m for m in member_ids if m not in held]
    if lacking:
        result = vouchers.issue(None, programme, vouchers.Target(
            member_ids=tuple(lacking), round=len(vouchers.batches_of(programme)) + 1, source_name="bench"))
        print(f"vouchers: issued {result.issued} vouchers of {NAME} (programme {programme.id})")
        held.update(db.session.execute(select(Voucher.member_id, Voucher.id).where(
            Voucher.programme_id == programme.id, Voucher.status == "active",
            Voucher.member_id.in_(lacking))).all())
    pairs = [(card, held[m]) for m, card in holders if m in held]
    print(f"vouchers: {len(pairs)} cards with a {NAME}; the rule-only pair: {len(state['cards'])} cards without one")
    return {"key": state["key"], "cards": state["cards"], "pairs": pairs}


_VOUCHER_LUA = """
local pairs_ = %(pairs)s
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local p = pairs_[(counter %% #pairs_) + 1]
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
  if %(confirm)s then headers["Idempotency-Key"] = "%(prefix)s-" .. tostring(tid) .. "-" .. counter end
  return wrk.format("POST", "%(path)s", headers,
    '{"card_number":"' .. p[1] .. '","amount":"250.00","voucher_ids":[' .. p[2] .. ']}')
end
"""


def _voucher_lua(state: dict, path: str, confirm: bool) -> str:
    pairs = "{" + ",".join("{%s,%d}" % (json.dumps(card), vid) for card, vid in state["pairs"]) + "}"
    return _VOUCHER_LUA % {"pairs": pairs, "key": state["key"], "path": path, "confirm": "true" if confirm else "false",
                           "prefix": uuid.uuid4().hex[:12]}


def scenarios(state: dict, server) -> list[Scenario]:
    cards = "{" + ",".join(json.dumps(c) for c in state["cards"]) + "}"
    key = state["key"]
    return [
        # each pair back to back, so the machine's drift falls on both alike
        Scenario(name="vouchers: rule-only quote", ceiling="bare",
                 lua=till._QUOTE_LUA % {"cards": cards, "key": key, "path": "/api/v1/till/quote"}),
        Scenario(name="till quote with a voucher", lua=_voucher_lua(state, "/api/v1/till/quote", False),
                 ceiling="vouchers: rule-only quote", target=0.9),
        Scenario(name="vouchers: rule-only confirm", ceiling="write",
                 lua=till._CONFIRM_LUA % {"cards": cards, "key": key, "prefix": uuid.uuid4().hex[:12]}),
        Scenario(name="till confirm with a voucher", lua=_voucher_lua(state, "/api/v1/till/transactions", True),
                 ceiling="vouchers: rule-only confirm", target=0.9),
    ]
