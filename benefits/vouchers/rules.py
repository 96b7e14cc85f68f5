"""Voucher arithmetic: pure functions over plain values. No DB, no Flask.

- A voucher's value is its face value plus the merchant's top-up (10 % of 500.00 → 550.00).
- At the till a discount comes first; each voucher the cashier applies then pays what is left,
  up to its balance. A voucher that does not combine with discounts drops them.
- Of what a voucher pays, the face part is in proportion to the face value left in its balance
  (rounded down; the payment that empties the balance takes exactly what face value is left), and
  the rest is the merchant's top-up. The face part is split among the union and the bank with
  `money.split_fairly`, so the parts always sum to the fen.
- A single-payment voucher is used up by one payment: what it does not pay is forfeited, and
  comes back only if that whole payment is refunded.
- A refund gives back to the vouchers the same share of what they paid as the member's share
  given back (the last refund gives back exactly the rest); each use returns its own parts pro
  rata, so a fully refunded payment nets to zero for every funder.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..money import format_yuan, split_fairly
from ..promotions.engine import Purchase, in_scope

FUNDERS = ("union", "bank")


@dataclass(frozen=True)
class VoucherTerms:
    """A programme's terms as the till needs them (scope fields named as the discount engine's,
    so `engine.in_scope` decides where both may be spent)."""
    programme_id: int
    name: str
    owner_path: str
    scope: str = "programme"
    categories: tuple[str, ...] = ()
    merchant_ids: tuple[int, ...] = ()
    store_ids: tuple[int, ...] = ()
    spend_mode: str = "balance"
    combinable: bool = True
    min_spend_fen: int = 0
    split: tuple[tuple[str, int], ...] = (("union", 100), ("bank", 0))


@dataclass(frozen=True)
class HeldVoucher:
    """One of the member's active vouchers as read with the till."""
    id: int
    balance_fen: int
    face_left_fen: int
    value_fen: int
    valid_from: date
    valid_until: date
    terms: VoucherTerms


@dataclass(frozen=True)
class Cover:
    """What one voucher pays of one payment, and its parts."""
    voucher_id: int
    programme_id: int
    name: str
    amount_fen: int
    face_fen: int
    topup_fen: int
    union_fen: int
    bank_fen: int
    forfeited_fen: int
    forfeited_face_fen: int
    balance_before: int
    face_left_before: int

    def snapshot(self) -> dict:
        """What the transaction keeps of it (its `vouchers` column and the till's answer)."""
        return {"voucher_id": self.voucher_id, "programme_id": self.programme_id, "name": self.name,
                "amount_fen": self.amount_fen, "face_fen": self.face_fen, "topup_fen": self.topup_fen,
                "union_fen": self.union_fen, "bank_fen": self.bank_fen}


def topup_fen(face_fen: int, *, percent_bp: int | None = None, fixed_fen: int | None = None) -> int:
    """The merchant's top-up: a percentage of the face value (basis points, rounded down) or a
    fixed amount."""
    if percent_bp:
        return face_fen * percent_bp // 10_000
    return fixed_fen or 0


def refusal(v: HeldVoucher, p: Purchase, day: date) -> tuple[str, str] | None:
    """Why the voucher cannot pay for this purchase, as (code, a sentence the cashier can read
    out), or None when it can."""
    if day < v.valid_from:
        return "not_yet_valid", f"此券 {v.valid_from.isoformat()} 起才能使用。"
    if day > v.valid_until:
        return "expired", f"此券已于 {v.valid_until.isoformat()} 过期。"
    if v.balance_fen <= 0:
        return "spent", "此券余额已用完。"
    if not in_scope(v.terms, p):
        return "out_of_scope", "此券不能在本店使用。"
    if p.amount_fen < v.terms.min_spend_fen:
        return "below_min_spend", f"消费满 {format_yuan(v.terms.min_spend_fen)} 元才能使用此券。"
    return None


def cover(v: HeldVoucher, left_to_pay: int) -> Cover:
    """What `v` pays of `left_to_pay` (> 0), with its face and top-up parts and each funder's."""
    amount = min(v.balance_fen, left_to_pay)
    if amount == v.balance_fen:
        face = v.face_left_fen
    else:
        face = amount * v.face_left_fen // v.balance_fen
    forfeited = forfeited_face = 0
    if v.terms.spend_mode == "single":
        forfeited, forfeited_face = v.balance_fen - amount, v.face_left_fen - face
    shares = funders_split(face, v.terms.split)
    return Cover(v.id, v.terms.programme_id, v.terms.name, amount, face, amount - face, shares["union"],
                 shares["bank"], forfeited, forfeited_face, v.balance_fen, v.face_left_fen)


def funders_split(face_fen: int, split) -> dict[str, int]:
    weights = {f: int(dict(split).get(f, 0)) for f in FUNDERS}
    if face_fen == 0:
        return {f: 0 for f in FUNDERS}
    return split_fairly(face_fen, weights)


def plan(chosen: list[HeldVoucher], left_to_pay: int) -> list[Cover]:
    """Each chosen voucher in turn pays what is left; one that would pay nothing is left out."""
    covers = []
    for v in chosen:
        if left_to_pay <= 0:
            break
        c = cover(v, left_to_pay)
        if c.amount_fen > 0:
            covers.append(c)
            left_to_pay -= c.amount_fen
    return covers


def drops_discount(chosen: list[HeldVoucher]) -> bool:
    """A voucher that does not combine with discount rules pays on the full price instead."""
    return any(not v.terms.combinable for v in chosen)


# --- refunds ------------------------------------------------------------------------------------

def refunded_share(total_fen: int, pay_fen: int, refunded_pay_after: int, final: bool) -> int:
    """How much of `total_fen` (a payment's discount, or what vouchers paid) is refunded once the
    member has `refunded_pay_after` of `pay_fen` back: the same share, rounded down; all of it on
    the refund that completes the payment's reversal."""
    if final or pay_fen == 0:
        return total_fen if final else 0
    return total_fen * refunded_pay_after // pay_fen


@dataclass(frozen=True)
class UseLeft:
    """A voucher use as a refund sees it: its parts and what was already returned."""
    id: int
    amount_fen: int
    union_fen: int
    bank_fen: int
    topup_fen: int
    returned_fen: int
    returned_union_fen: int
    returned_bank_fen: int
    returned_topup_fen: int


@dataclass(frozen=True)
class UseReturn:
    use_id: int
    back_fen: int
    union_fen: int
    bank_fen: int
    topup_fen: int

    @property
    def face_fen(self) -> int:
        return self.union_fen + self.bank_fen


def returns(uses: list[UseLeft], back_fen: int) -> list[UseReturn]:
    """Spread `back_fen` over a payment's voucher uses in proportion to what each has not yet got
    back, and each use's part over its funders in proportion to its own parts (cumulatively, so
    giving back all of a use returns exactly its parts)."""
    left = {u.id: u.amount_fen - u.returned_fen for u in uses}
    if back_fen <= 0 or not any(left.values()):
        return []
    per_use = split_fairly(back_fen, left)
    out = []
    for u in uses:
        b = per_use[u.id]
        if b == 0:
            continue
        target = split_fairly(u.returned_fen + b, {"union": u.union_fen, "bank": u.bank_fen, "topup": u.topup_fen})
        out.append(UseReturn(u.id, b, target["union"] - u.returned_union_fen, target["bank"] - u.returned_bank_fen,
                             target["topup"] - u.returned_topup_fen))
    return out
