"""CSV export of redemptions, escaped against formula injection (a cell starting with = + - @
or a control character is prefixed with a quote so spreadsheets show it as text)."""
from __future__ import annotations

import csv
import io

from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..pii import mask_phone
from ..spreadsheets import safe_cell
from ..templating import china_time
from .rules import mask_name

HEADER = ["兑换编号", "兑换时间", "奖品", "数量", "积分", "会员", "状态", "领取点", "领取期限",
          "收货地址", "联系电话"]
# A redemption's status in words, as the pages show it (templates/prizes/_macros.html).
STATUS_NAMES = {"redeemed": _l("待领取"), "handed_over": _l("已领取"), "cancelled": _l("已取消"), "expired": _l("已过期")}


def redemptions_csv(stmt) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for r in db.session.scalars(stmt.limit(100_000)):
        writer.writerow([safe_cell(v) for v in (
            r.id, china_time(r.created_at), r.prize.name, r.quantity, r.points_spent, mask_name(r.member.name),
            str(STATUS_NAMES.get(r.status, r.status)), r.pickup_point.name if r.pickup_point else "",
            china_time(r.pickup_deadline), r.delivery_address or "",
            mask_phone(r.delivery_phone) if r.delivery_phone else "")])
    return out.getvalue()
