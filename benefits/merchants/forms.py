from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .models import CATEGORIES, STATUSES


def category_names() -> dict:
    return {"fuel": _l("加油站"), "supermarket": _l("超市"), "dining": _l("餐饮"), "transport": _l("公交出行"),
            "retail": _l("零售"), "other": _l("其他")}


def status_names() -> dict:
    return {"active": _l("合作中"), "suspended": _l("已暂停"), "ended": _l("已终止")}


class MerchantForm(FlaskForm):
    name = StringField(_l("商家名称"), validators=[DataRequired(), Length(max=128)])
    category = SelectField(_l("类别"), choices=lambda: [(c, category_names()[c]) for c in CATEGORIES])
    org_id = SelectField(_l("所属工会"), coerce=int)
    status = SelectField(_l("合作状态"), choices=lambda: [(s, status_names()[s]) for s in STATUSES], default="active")
    contact_name = StringField(_l("联系人"), validators=[Optional(), Length(max=64)])
    contact_phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=20)])
    accepts_card_number = BooleanField(_l("收银台可输入会员卡号（不能扫码的商家）"), default=True)


class StoreForm(FlaskForm):
    name = StringField(_l("门店名称"), validators=[DataRequired(), Length(max=128)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=255)])


class CashierForm(FlaskForm):
    username = StringField(_l("收银员账号"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("初始密码（至少8位）"), validators=[DataRequired(), Length(min=8, max=128)])
    store_id = SelectField(_l("门店"), coerce=int)


class TerminalKeyForm(FlaskForm):
    store_id = SelectField(_l("门店"), coerce=int)
    label = StringField(_l("备注（如：1号收银机）"), validators=[Optional(), Length(max=64)])


class CloseStatementForm(FlaskForm):
    through = DateField(_l("结算截止日期"), validators=[DataRequired()])


class ActionForm(FlaskForm):
    """Carries only the CSRF token of a one-button action."""


