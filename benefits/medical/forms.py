"""The admin forms of the medical benefit: yuan at the edge, turned into the service's fen here.
A value the page cannot read is an error on its own field (never a 500); the service checks the
rest and its per-field messages are put next to the same fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectMultipleField, StringField, widgets

from ..admin.forms import category_choices as member_category_choices
from ..money import MoneyFormatError, parse_yuan

BAD = object()   # a value the page could not read: its field already carries the message


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _yuan(field, *, allow_zero: bool = False):
    text = (field.data or "").strip().replace(",", "")
    if not text:
        field.errors.append(_l("必填"))
        return BAD
    try:
        fen = parse_yuan(text, allow_zero=True)
    except MoneyFormatError:
        field.errors.append(_l("请输入金额，如 1000 或 200.50（最多两位小数）"))
        return BAD
    if fen == 0 and not allow_zero:
        field.errors.append(_l("金额须大于 0"))
        return BAD
    return fen


class ProgrammeForm(FlaskForm):
    name = StringField(_l("项目名称"), default="医疗普惠")
    year = StringField(_l("年度（按这一年的医疗自付费用）"))
    threshold_yuan = StringField(_l("起付标准（元，自付超过此数才发放）"), default="1000")
    amount_yuan = StringField(_l("每人慰问金（元）"))
    budget_yuan = StringField(_l("总预算（元）"))
    eligible_org_code = StringField(_l("发放范围：组织代码（该组织及下级，可空＝本工会）"))
    member_categories = MultiCheckboxField(_l("会员类别（可空＝全部类别）"), choices=member_category_choices,
                                           validate_choice=False)

    ERROR_FIELDS = {"year": "year", "threshold_fen": "threshold_yuan", "amount_fen": "amount_yuan",
                    "budget_fen": "budget_yuan", "eligible_org_id": "eligible_org_code"}

    def draft(self, org_id_of_code) -> dict:
        """The service's data; what the page cannot read is left out and marked on its field.
        `org_id_of_code(code)` gives an organisation's id (or -1: the service says it is not yours)."""
        year_text = (self.year.data or "").strip()
        year = None
        if not year_text:
            self.year.errors.append(_l("必填"))
        elif not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
            self.year.errors.append(_l("请填四位数的年份，如 2020"))
        else:
            year = int(year_text)
        threshold = _yuan(self.threshold_yuan, allow_zero=True)
        amount = _yuan(self.amount_yuan)
        budget = _yuan(self.budget_yuan)
        code = (self.eligible_org_code.data or "").strip()[:64]

        def ok(v):
            return None if v is BAD else v
        return {"name": (self.name.data or "").strip(), "year": year, "threshold_fen": ok(threshold),
                "amount_fen": ok(amount), "budget_fen": ok(budget),
                "eligible_org_id": org_id_of_code(code) if code else None,
                "member_categories": list(dict.fromkeys(self.member_categories.data or []))}

    def page_errors(self) -> bool:
        return any(f.errors for f in self)

    def add_service_errors(self, fields: dict) -> None:
        for name, messages in fields.items():
            field = getattr(self, self.ERROR_FIELDS.get(name, name), None) or self.name
            if field.errors:
                continue
            field.errors.extend(m for m in messages if m not in field.errors)

    def error_summary(self) -> list[tuple[str, str]]:
        return [(f.label.text, e) for f in self if f.name != "csrf_token" for e in f.errors]


class ClaimsForm(FlaskForm):
    file = FileField(_l("医保数据文件（CSV 或 XLSX）"))
    skip_bad_rows = BooleanField(_l("跳过有错误的行，只导入正确的行"))


class ReturnsForm(FlaskForm):
    file = FileField(_l("银行回盘文件（CSV 或 XLSX）"))


class ActionForm(FlaskForm):
    """Carries the CSRF token of a one-button action (build, approve or reject a batch; reissue)."""
