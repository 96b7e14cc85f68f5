"""Checking a rule draft: every problem is reported against its field, and nothing is written."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import ValidationError
from ..extensions import db
from ..inputs import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, MAX_ID, OutOfRange, whole_number
from ..members.models import CATEGORIES as MEMBER_CATEGORIES
from ..merchants.models import CATEGORIES as MERCHANT_CATEGORIES
from ..merchants.models import Merchant, Store
from ..orgs.models import Organisation
from .engine import FUNDERS, KINDS, PERIODS, SCOPES


class FieldErrors(dict):
    """Messages by field: `add(field, message)`."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def fen_field(data: dict, field: str, add, *, required: bool = False, low: int = 0, high: int):
    """An amount of money in fen, as the JSON API and the services take it: a whole number (not a
    bool, not 12.5) within [low, high]; each problem is added against the field (`add`)."""
    value = data.get(field)
    if value in (None, ""):
        if required:
            add(field, "必填")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        add(field, "须为整数（分）")
        return None
    if value < low:
        add(field, f"不能小于 {low / 100:.2f} 元")
        return None
    if value > high:
        add(field, f"不能大于 {high / 100:.2f} 元")
        return None
    return value


def _int(data: dict, field: str, errors: FieldErrors, *, required: bool = False, low: int | None = None,
         high: int | None = None, default=None, big: bool = False):
    """A whole number (`inputs.whole_number`: 1.5 or "٢٥٠" is an error, not 1 or 250) that fits
    its column: 32 bits, 64 for a `bigint` one (`big`)."""
    value = data.get(field)
    if value is None or value == "":
        if required:
            errors.add(field, "必填")
        return default
    low = INT64_MIN if low is None and big else INT32_MIN if low is None else low
    high = INT64_MAX if high is None and big else INT32_MAX if high is None else high
    try:
        return whole_number(value, low, high)
    except OutOfRange:
        # the text is a whole number (whole_number said so), only too small or too big
        errors.add(field, f"不能小于 {low}" if int(value) < low else f"不能大于 {high}")
    except ValueError:
        errors.add(field, "须为整数")
    return default


def _date(data: dict, field: str, errors: FieldErrors) -> date | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.add(field, "日期格式应为 YYYY-MM-DD")
        return None


def _ids(data: dict, field: str, errors: FieldErrors) -> list[int]:
    try:
        ids = sorted({whole_number(v, 1, MAX_ID) for v in data.get(field) or ()})
    except OutOfRange:   # 32-bit id columns: such an id names no row
        errors.add(field, "编号超出范围")
        return []
    except (TypeError, ValueError):
        errors.add(field, "须为编号列表")
        return []
    return ids


def clean_terms(data: dict, scope: Organisation, rule=None) -> dict:
    """The terms JSON of a valid draft, or ValidationError with per-field details."""
    errors = FieldErrors()
    name = str(data.get("name") or "").strip()
    if not name:
        errors.add("name", "必填")
    elif len(name) > 128:
        errors.add("name", "最多 128 个字")
    kind = data.get("kind")
    if kind not in KINDS:
        errors.add("kind", "请选择优惠类型")
    terms: dict = {"kind": kind, "pay_bp": 0, "threshold_fen": 0, "off_fen": 0, "max_repeats": 1}
    if kind == "percent":
        pay_bp = _int(data, "pay_bp", errors, required=True)
        if pay_bp is not None and not 0 < pay_bp < 10_000:
            errors.add("pay_bp", "会员支付比例须大于 0% 且小于 100%")
        terms["pay_bp"] = pay_bp or 0
    elif kind in ("threshold", "repeating"):
        x = _int(data, "threshold_fen", errors, required=True, low=1)
        y = _int(data, "off_fen", errors, required=True, low=1)
        if x is not None and y is not None and x > 0 and y >= x:
            errors.add("off_fen", "减免金额须小于满额")
        terms.update(threshold_fen=x or 0, off_fen=y or 0)
        if kind == "repeating":
            terms["max_repeats"] = _int(data, "max_repeats", errors, required=True, low=1, high=1000) or 1
    terms["cap_fen"] = _int(data, "cap_fen", errors, low=1)

    valid_from, valid_until = _date(data, "valid_from", errors), _date(data, "valid_until", errors)
    if valid_from and valid_until and valid_until < valid_from:
        errors.add("valid_until", "结束日期不能早于开始日期")
    terms["valid_from"] = valid_from.isoformat() if valid_from else None
    terms["valid_until"] = valid_until.isoformat() if valid_until else None
    days = _ids(data, "days_of_week", errors)
    if any(d < 1 or d > 7 for d in days):
        errors.add("days_of_week", "星期须为 1（周一）到 7（周日）")
    terms["days_of_week"] = days
    hour_from = _int(data, "hour_from", errors, low=0, high=23, default=0)
    hour_to = _int(data, "hour_to", errors, low=1, high=24, default=24)
    if hour_from is not None and hour_to is not None and hour_from >= hour_to:
        errors.add("hour_to", "结束时刻须晚于开始时刻")
    terms.update(hour_from=hour_from or 0, hour_to=hour_to if hour_to is not None else 24)

    terms.update(clean_scope(data, scope, errors))
    member_categories = sorted(set(data.get("member_categories") or ()))
    if any(c not in MEMBER_CATEGORIES for c in member_categories):
        errors.add("member_categories", "未知的会员类别")
    terms["member_categories"] = member_categories
    terms["member_org_id"], terms["member_org_path"] = None, None
    if data.get("member_org_id") not in (None, ""):
        org = db.session.get(Organisation, _int(data, "member_org_id", errors) or 0)
        if org is None or not scope.contains(org):
            errors.add("member_org_id", "组织不在您的管辖范围")
        else:
            terms["member_org_id"], terms["member_org_path"] = org.id, org.path

    per_member = {}
    for period, limit in (data.get("per_member") or {}).items():
        if period not in PERIODS:
            errors.add("per_member", f"未知的周期 {period}")
        elif limit not in (None, ""):
            value = _int({period: limit}, period, errors, low=1)
            if value:
                per_member[period] = value
    for period in list(errors.pop("day", [])) + list(errors.pop("week", [])) + \
            list(errors.pop("month", [])) + list(errors.pop("total", [])):
        errors.add("per_member", period)
    terms["per_member"] = {p: per_member[p] for p in PERIODS if p in per_member}
    terms["global_limit"] = _int(data, "global_limit", errors, low=1)
    terms["budget_fen"] = _int(data, "budget_fen", errors, low=1, big=True)
    if rule is not None:
        if terms["budget_fen"] is not None and terms["budget_fen"] < rule.budget_used_fen:
            errors.add("budget_fen", "预算不能少于已使用的金额")
        if terms["global_limit"] is not None and terms["global_limit"] < rule.uses_count:
            errors.add("global_limit", "总次数不能少于已使用的次数")

    split = data.get("split") or {}
    shares = {f: _int({f: split.get(f, 0)}, f, errors, low=0, high=100, default=0) for f in FUNDERS}
    for f in FUNDERS:
        for message in errors.pop(f, []):
            errors.add("split", message)
    if "split" not in errors and sum(shares.values()) != 100:
        errors.add("split", "工会、银行、商家分摊比例之和须为 100%")
    terms["split"] = shares
    terms["priority"] = _int(data, "priority", errors, low=-1000, high=1000, default=0) or 0
    terms["combinable"] = bool(data.get("combinable"))
    if errors:
        raise ValidationError(_("有的项目没填或填得不对。"), details={"fields": dict(errors)})
    return terms


def clean_scope(data: dict, scope: Organisation, errors: FieldErrors) -> dict:
    kind = data.get("scope") or "programme"
    out = {"scope": kind, "categories": [], "merchant_ids": [], "store_ids": []}
    if kind not in SCOPES:
        errors.add("scope", "请选择适用范围")
    elif kind == "categories":
        categories = sorted(set(data.get("categories") or ()))
        if not categories or any(c not in MERCHANT_CATEGORIES for c in categories):
            errors.add("categories", "请选择至少一个已知的商家类别")
        out["categories"] = categories
    elif kind == "merchants":
        ids = _ids(data, "merchant_ids", errors)
        found = db.session.scalars(select(Merchant).where(Merchant.id.in_(ids))).all() if ids else []
        if not ids or len(found) != len(ids) or not all(scope.contains(m.org) for m in found):
            errors.add("merchant_ids", "请选择您管辖范围内的商家")
        out["merchant_ids"] = ids
    elif kind == "stores":
        ids = _ids(data, "store_ids", errors)
        found = db.session.scalars(select(Store).where(Store.id.in_(ids))).all() if ids else []
        if not ids or len(found) != len(ids) or not all(scope.contains(s.merchant.org) for s in found):
            errors.add("store_ids", "请选择您管辖范围内的门店")
        out["store_ids"] = ids
    return out
