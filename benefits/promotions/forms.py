"""The rule editor form: yuan and percent at the edge, turned into the service's fen/bp draft."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from ..admin.forms import category_choices as member_category_choices
from ..merchants.forms import category_names
from ..merchants.models import CATEGORIES
from ..money import MoneyFormatError, format_yuan, parse_yuan


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def kind_choices():
    return [("percent", _l("打折（如9折）")), ("threshold", _l("满减（满X减Y，一次）")),
            ("repeating", _l("每满减（每满X减Y，可多次）"))]


def scope_choices():
    return [("programme", _l("本工会全部普惠商家")), ("categories", _l("按商家类别")),
            ("merchants", _l("指定商家")), ("stores", _l("指定门店"))]


def weekday_choices():
    return [("1", _l("周一")), ("2", _l("周二")), ("3", _l("周三")), ("4", _l("周四")),
            ("5", _l("周五")), ("6", _l("周六")), ("7", _l("周日"))]


class RuleForm(FlaskForm):
    name = StringField(_l("活动名称"), validators=[DataRequired(), Length(max=128)])
    kind = SelectField(_l("优惠类型"), choices=kind_choices, default="percent")
    pay_percent = StringField(_l("会员支付比例（%，9折填90）"))
    threshold_yuan = StringField(_l("满额 X（元）"))
    off_yuan = StringField(_l("减免 Y（元）"))
    max_repeats = StringField(_l("最多减几次"))
    cap_yuan = StringField(_l("每笔最多优惠（元，可空）"))
    valid_from = StringField(_l("开始日期（可空）"))
    valid_until = StringField(_l("结束日期（可空）"))
    days_of_week = MultiCheckboxField(_l("特殊时段：星期（不选为每天）"), choices=weekday_choices)
    hour_from = StringField(_l("每天开始时刻（0–23）"), default="0")
    hour_to = StringField(_l("每天结束时刻（1–24）"), default="24")
    scope = SelectField(_l("适用范围"), choices=scope_choices, default="programme")
    categories = MultiCheckboxField(_l("商家类别"), choices=lambda: [(c, category_names()[c]) for c in CATEGORIES])
    merchant_ids = SelectMultipleField(_l("指定商家"), coerce=int, choices=[])
    store_ids = SelectMultipleField(_l("指定门店"), coerce=int, choices=[])
    member_categories = MultiCheckboxField(_l("会员类别（不选为全部）"), choices=member_category_choices)
    member_org_code = StringField(_l("仅限该组织及下级的会员（组织代码，可空）"))
    per_day = StringField(_l("每人每天次数"))
    per_week = StringField(_l("每人每周次数"))
    per_month = StringField(_l("每人每月次数"))
    per_total = StringField(_l("每人活动期内次数"))
    global_limit = StringField(_l("活动总次数"))
    budget_yuan = StringField(_l("活动预算（元，用完即止）"))
    split_union = StringField(_l("工会承担 %"), default="100")
    split_bank = StringField(_l("银行承担 %"), default="0")
    split_merchant = StringField(_l("商家承担 %"), default="0")
    priority = StringField(_l("优先级（大者优先）"), default="0")
    combinable = BooleanField(_l("可与其他优惠叠加"))

    # service field -> form field, for putting the service's per-field errors in the right place
    ERROR_FIELDS = {"pay_bp": "pay_percent", "threshold_fen": "threshold_yuan", "off_fen": "off_yuan",
                    "cap_fen": "cap_yuan", "budget_fen": "budget_yuan", "split": "split_union",
                    "per_member": "per_day", "member_org_id": "member_org_code"}

    def draft(self, org_lookup) -> dict:
        """The service's draft; yuan/percent parse problems are added to the fields' errors."""
        data = {"name": self.name.data or "", "kind": self.kind.data, "max_repeats": self.max_repeats.data,
                "valid_from": self.valid_from.data, "valid_until": self.valid_until.data,
                "days_of_week": self.days_of_week.data or [], "hour_from": self.hour_from.data,
                "hour_to": self.hour_to.data, "scope": self.scope.data, "categories": self.categories.data or [],
                "merchant_ids": self.merchant_ids.data or [], "store_ids": self.store_ids.data or [],
                "member_categories": self.member_categories.data or [],
                "per_member": {"day": self.per_day.data, "week": self.per_week.data,
                               "month": self.per_month.data, "total": self.per_total.data},
                "global_limit": self.global_limit.data, "priority": self.priority.data,
                "combinable": self.combinable.data,
                "split": {"union": self.split_union.data, "bank": self.split_bank.data,
                          "merchant": self.split_merchant.data}}
        data["pay_bp"] = self._percent_bp(self.pay_percent) if self.kind.data == "percent" else None
        for name, fen in (("threshold_yuan", "threshold_fen"), ("off_yuan", "off_fen"), ("cap_yuan", "cap_fen"),
                          ("budget_yuan", "budget_fen")):
            data[fen] = self._fen(getattr(self, name))
        code = (self.member_org_code.data or "").strip()
        if code:
            org = org_lookup(code)
            data["member_org_id"] = org.id if org else -1
        return data

    def _fen(self, field):
        text = (field.data or "").strip()
        if not text:
            return None
        try:
            return parse_yuan(text)
        except MoneyFormatError:
            field.errors.append(_l("请输入金额，如 12.50（最多两位小数）"))
            return "bad"

    def _percent_bp(self, field):
        text = (field.data or "").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            field.errors.append(_l("请输入百分比，如 90 或 85.5"))
            return "bad"
        bp = value * 100
        if bp != bp.to_integral_value():
            field.errors.append(_l("最多两位小数"))
            return "bad"
        return int(bp)

    def fill(self, terms: dict, name: str, org_code: str | None) -> None:
        """Pre-fill from a version's terms (editing)."""
        def yuan(fen):
            return format_yuan(fen) if fen else ""
        self.name.data = name
        self.kind.data = terms["kind"]
        self.pay_percent.data = f"{terms['pay_bp'] / 100:g}" if terms.get("pay_bp") else ""
        self.threshold_yuan.data, self.off_yuan.data = yuan(terms.get("threshold_fen")), yuan(terms.get("off_fen"))
        self.max_repeats.data = str(terms.get("max_repeats") or 1)
        self.cap_yuan.data, self.budget_yuan.data = yuan(terms.get("cap_fen")), yuan(terms.get("budget_fen"))
        self.valid_from.data, self.valid_until.data = terms.get("valid_from") or "", terms.get("valid_until") or ""
        self.days_of_week.data = [str(d) for d in terms.get("days_of_week") or []]
        self.hour_from.data, self.hour_to.data = str(terms.get("hour_from", 0)), str(terms.get("hour_to", 24))
        self.scope.data = terms.get("scope", "programme")
        self.categories.data = terms.get("categories") or []
        self.merchant_ids.data, self.store_ids.data = terms.get("merchant_ids") or [], terms.get("store_ids") or []
        self.member_categories.data = terms.get("member_categories") or []
        self.member_org_code.data = org_code or ""
        per = terms.get("per_member") or {}
        self.per_day.data, self.per_week.data = str(per.get("day", "")), str(per.get("week", ""))
        self.per_month.data, self.per_total.data = str(per.get("month", "")), str(per.get("total", ""))
        self.global_limit.data = str(terms["global_limit"]) if terms.get("global_limit") else ""
        split = terms.get("split") or {}
        self.split_union.data, self.split_bank.data = str(split.get("union", 0)), str(split.get("bank", 0))
        self.split_merchant.data = str(split.get("merchant", 0))
        self.priority.data, self.combinable.data = str(terms.get("priority", 0)), bool(terms.get("combinable"))


class StatusForm(FlaskForm):
    """Carries the CSRF token of the pause / resume button."""
