"""The medical benefit's rules as pure functions over plain values. No DB, no Flask.

- A member qualifies when their out-of-pocket costs in the programme's year EXCEED the threshold
  (more than, not equal: "超过" 1,000 yuan), they are an active member of the programme's
  eligible subtree and categories, they hold an active card, and they have no award in the
  programme yet. `REASONS` lists every other outcome in the order they are decided.
- Everyone who qualifies gets the programme's one unified amount.
- A batch fits when its total is within the budget left after the approved batches; approval
  takes it with a guarded UPDATE (`committed_fen + total ≤ budget_fen`), so the budget is never
  overspent by a fen.
- An out-of-pocket amount is yuan with at most two decimals, never negative.
"""
from __future__ import annotations

import re

from ..money import MoneyFormatError, parse_yuan

# the preview's groups, in the order a record is classified (the first that applies)
REASONS = ("below_threshold", "not_member", "paid", "approved", "proposed", "member_left",
           "outside_union", "category", "no_card", "qualifies")
REASON_NAMES = {
    "below_threshold": "自付金额未超过起付标准",
    "not_member": "不是会员（没有这个身份证号的会员）",
    "paid": "本年度已发放（已到账）",
    "approved": "本年度已审批，正在发放",
    "proposed": "已在待审批的批次中",
    "member_left": "已退会",
    "outside_union": "不属于本项目的组织范围",
    "category": "会员类别不在本项目范围内",
    "no_card": "没有正常状态的会员卡",
    "qualifies": "符合条件",
}
ALREADY = ("paid", "approved", "proposed")
NOT_ELIGIBLE = ("member_left", "outside_union", "category")

_NEGATIVE = re.compile(r"-\s*[0-9]")

RETURN_RESULTS = {
    "paid": "paid", "success": "paid", "成功": "paid", "已入账": "paid", "入账成功": "paid", "支付成功": "paid",
    "failed": "failed", "fail": "failed", "失败": "failed", "入账失败": "failed", "支付失败": "failed",
    "退回": "failed",
}


class BadAmount(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason          # amount_negative | amount_invalid


def out_of_pocket_fen(text: str) -> int:
    """'1234.5' → 123450 fen; zero is a valid amount (below any threshold). Negative amounts and
    anything that is not yuan with at most two decimals raise BadAmount."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if _NEGATIVE.match(cleaned):
        raise BadAmount("amount_negative")
    try:
        return parse_yuan(cleaned, allow_zero=True)
    except MoneyFormatError:
        raise BadAmount("amount_invalid") from None


def budget_fits(total_fen: int, budget_fen: int, committed_fen: int) -> bool:
    """A batch fits when the budget left after the approved batches covers it. (Batches awaiting
    approval are shown beside it but not counted: whichever is approved first takes the budget,
    and approving one that no longer fits is refused.)"""
    return total_fen <= budget_fen - committed_fen


def reference(year: int, payout_id: int) -> str:
    """The payout's reference for the bank: YL + year + the payout id (unique, never reused)."""
    return f"YL{year}{payout_id:010d}"


def return_result(text: str) -> str | None:
    """'成功' / 'paid' → paid, '失败' / 'failed' → failed; None when it is neither."""
    return RETURN_RESULTS.get(text.strip().lower())


def card_tail(card_number: str) -> str:
    return card_number[-4:]
