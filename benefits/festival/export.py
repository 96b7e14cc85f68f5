"""The report as CSV (UTF-8 with BOM, Chinese headers), cells escaped against formula injection
(a cell starting with = + - @ or a control character is prefixed with a quote)."""
from __future__ import annotations

import csv
import io

from ..spreadsheets import safe_cell

UNCLAIMED_HEADER = ["组织代码", "组织", "符合条件会员", "已领取", "未领取"]
STOCK_HEADER = ["礼品", "领取点", "投放数量", "已领取", "已核销", "剩余库存"]


def _csv(header: list[str], rows) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def unclaimed_csv(report: dict) -> str:
    """Eligible members who did not claim, per organisation, and the total."""
    rows = [(o["org_code"], o["org_name"], o["eligible"], o["claimed"], o["unclaimed"]) for o in report["organisations"]]
    rows.append(("", "合计", report["eligible"], report["claimed"], report["unclaimed"]))
    return _csv(UNCLAIMED_HEADER, rows)


def stock_csv(report: dict) -> str:
    """Each gift at its pickup point: allocated, claimed, handed over, left."""
    rows = [(g["item_name"], g["pickup_point"] or "邮寄", g["allocated"], g["claimed"], g["handed_over"],
             g["stock_left"]) for g in report["gifts"]]
    return _csv(STOCK_HEADER, rows)
