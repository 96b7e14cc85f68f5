"""The admin forms of voucher programmes: yuan and percent at the edge, turned into the service's
fen and basis points here. A value the page cannot read is an error on its own field (never a
500); the service checks the rest and its per-field messages are put next to the same fields."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, widgets

from ..admin.forms import category_choices as member_category_choices
from ..merchants.forms import category_names as merchant_category_names
from ..merchants.models import CATEGORIES as MERCHANT_CATEGORIES
from ..money import MoneyFormatError, parse_yuan


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def scope_choices():
    return [("programme", _l("本工会全部普惠商家")), ("categories", _l("按商家类别")),
            ("merchants", _l("指定商家")), ("stores", _l("指定门店"))]


def spend_mode_choices():
    return [("balance", _l("分次使用（余额可多次消费）")), ("single", _l("一次用完（未用完部分作废）"))]


def merchant_category_choices():
    names = merchant_category_names()
    return [(c, names[c]) for c in MERCHANT_CATEGORIES]


BAD = object()   # a value the page could not read: its field already carries the message


def _yuan(field, *, allow_zero: bool = False):
    """Fen from a yuan field: None when empty, BAD (with the field's error) when unreadable."""
    text = (field.data or "").strip()
    if not text:
        return None
    try:
        fen = parse_yuan(text, allow_zero=True)
    except MoneyFormatError:
        too_big = text.isascii() and text.replace(".", "", 1).isdigit() and len(text.split(".")[0]) > 12
        field.errors.append(_l("金额过大") if too_big else _l("请输入金额，如 12.50（最多两位小数）"))
        return BAD
    if fen == 0 and not allow_zero:
        field.errors.append(_l("金额须大于 0"))
        return BAD
    return fen


def _whole(field, low: int, high: int, message):
    text = (field.data or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        field.errors.append(message)
        return BAD
    return int(text)


class ProgrammeForm(FlaskForm):
    name = StringField(_l("活动名称"))
    face_yuan = StringField(_l("券面值（元）"))
    topup_percent = StringField(_l("商家加赠比例（%，如 10）"))
    topup_yuan = StringField(_l("商家加赠固定金额（元）"))
    split_union = StringField(_l("工会承担面值的 %"), default="100")
    split_bank = StringField(_l("银行承担面值的 %"), default="0")
    scope = SelectField(_l("适用范围"), choices=scope_choices, default="programme", validate_choice=False)
    categories = MultiCheckboxField(_l("商家类别"), choices=merchant_category_choices, validate_choice=False)
    merchant_ids = SelectMultipleField(_l("指定商家（可多选）"), coerce=int, choices=[], validate_choice=False)
    store_ids = SelectMultipleField(_l("指定门店（可多选）"), coerce=int, choices=[], validate_choice=False)
    valid_from = StringField(_l("开始日期"))
    valid_until = StringField(_l("结束日期"))
    spend_mode = SelectField(_l("使用方式"), choices=spend_mode_choices, default="balance", validate_choice=False)
    combinable = BooleanField(_l("可与优惠活动同时使用"), default=True)
    min_spend_yuan = StringField(_l("最低消费（元，可空）"))
    per_member = StringField(_l("每人最多几张"), default="1")
    budget_yuan = StringField(_l("总预算（元，按券面值计）"))

    # the service's field -> the page's field its messages belong to
    ERROR_FIELDS = {"face_fen": "face_yuan", "topup_bp": "topup_percent", "topup_fen": "topup_yuan",
                    "split": "split_union", "min_spend_fen": "min_spend_yuan", "budget_fen": "budget_yuan"}
    # the page's fields whose own parse errors make the service's messages for that field moot
    SOURCES = {"face_fen": ("face_yuan",), "topup_bp": ("topup_percent",), "topup_fen": ("topup_yuan",),
               "split": ("split_union", "split_bank"), "min_spend_fen": ("min_spend_yuan",),
               "budget_fen": ("budget_yuan",), "per_member": ("per_member",), "valid_from": ("valid_from",),
               "valid_until": ("valid_until",), "name": ("name",)}

    def draft(self) -> dict:
        """The service's data; what the page cannot read is left out and marked on its field."""
        face = _yuan(self.face_yuan)
        fixed = _yuan(self.topup_yuan, allow_zero=True)
        percent_bp = self._percent_bp(self.topup_percent)
        union = _whole(self.split_union, 0, 100, _l("请填 0–100 的整数"))
        bank = _whole(self.split_bank, 0, 100, _l("请填 0–100 的整数"))
        per_member = _whole(self.per_member, 1, 100, _l("每人张数须为 1–100 的整数"))
        min_spend = _yuan(self.min_spend_yuan, allow_zero=True)
        budget = _yuan(self.budget_yuan)
        for f in (self.valid_from, self.valid_until):
            if not (f.data or "").strip():
                f.errors.append(_l("必填"))

        def ok(v):
            return None if v is BAD else v
        return {"name": (self.name.data or "").strip(), "face_fen": ok(face), "topup_bp": ok(percent_bp),
                "topup_fen": ok(fixed),
                "split": {"union": 0 if union in (None, BAD) else union, "bank": 0 if bank in (None, BAD) else bank},
                "scope": self.scope.data, "categories": self.categories.data or [],
                "merchant_ids": self.merchant_ids.data or [], "store_ids": self.store_ids.data or [],
                "valid_from": (self.valid_from.data or "").strip(), "valid_until": (self.valid_until.data or "").strip(),
                "spend_mode": self.spend_mode.data, "combinable": bool(self.combinable.data),
                "min_spend_fen": ok(min_spend), "per_member": 1 if per_member in (None, BAD) else per_member,
                "budget_fen": ok(budget)}

    def _percent_bp(self, field):
        text = (field.data or "").strip().rstrip("%").strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            field.errors.append(_l("请输入百分比，如 10 或 12.5"))
            return BAD
        bp = value * 100
        if not value.is_finite() or bp != bp.to_integral_value():
            field.errors.append(_l("最多两位小数"))
            return BAD
        if not 0 <= bp <= 10_000:
            field.errors.append(_l("加赠比例须在 0–100% 之间"))
            return BAD
        return int(bp)

    def page_errors(self) -> bool:
        return any(f.errors for f in self)

    def add_service_errors(self, fields: dict) -> None:
        """Put the service's per-field messages next to the page's fields, unless the page has
        already said what is wrong with that input."""
        for name, messages in fields.items():
            sources = self.SOURCES.get(name, (self.ERROR_FIELDS.get(name, name),))
            if any(getattr(self, s).errors for s in sources if hasattr(self, s)):
                continue
            field = getattr(self, self.ERROR_FIELDS.get(name, name), None) or self.name
            for message in messages:
                if message not in field.errors:
                    field.errors.append(message)

    def error_summary(self) -> list[tuple[str, str]]:
        """(label, message) for the summary at the top of the page."""
        return [(f.label.text, e) for f in self if f.name != "csrf_token" for e in f.errors]


class IssueForm(FlaskForm):
    """Who gets a voucher: member categories and/or an organisation, or a file of ID or card
    numbers. The confirm step posts the same fields back (hidden), plus the resolved list."""
    member_categories = MultiCheckboxField(_l("会员类别"), choices=member_category_choices, validate_choice=False)
    org_code = StringField(_l("组织代码（该组织及下级，可空）"))
    file = FileField(_l("或上传名单（CSV 或 XLSX，一列“身份证号”或“卡号”）"))
    round = StringField(_l("轮次"), default="1")
    skip_errors = BooleanField(_l("跳过有问题的行"))
    list_token = HiddenField()


class VoidForm(FlaskForm):
    reason = StringField(_l("作废原因"))


class ActionForm(FlaskForm):
    """Carries the CSRF token of a one-button action (close the programme)."""
