"""Page forms (Flask-WTF, CSRF on every POST)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateTimeLocalField, HiddenField, IntegerField, SelectField,
                     SelectMultipleField, StringField, TextAreaField, widgets)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..members.models import CATEGORIES
from . import categories
from .rules import MAX_COST, MAX_QUANTITY, MAX_STOCK

CATEGORY_LABELS = {"ordinary": _l("普通会员"), "hardship": _l("困难职工"), "retiree": _l("退休职工"),
                   "model_worker": _l("劳动模范")}


class RedeemForm(FlaskForm):
    quantity = IntegerField(_l("数量"), default=1, validators=[InputRequired(), NumberRange(1, MAX_QUANTITY)])
    pickup_point_id = SelectField(_l("领取点"), coerce=int, validate_choice=False, validators=[Optional()])
    delivery_address = StringField(_l("收货地址"), validators=[Optional(), Length(max=255)])
    delivery_phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=20)])
    nonce = HiddenField()


class EmptyForm(FlaskForm):
    """Only the CSRF token: cancel, approve, reject, deliver."""


class PickupForm(FlaskForm):
    pickup_point_id = SelectField(_l("领取点"), coerce=int, validate_choice=False)
    code = StringField(_l("核销码"), validators=[InputRequired(), Length(max=32)])


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PrizeForm(FlaskForm):
    name = StringField(_l("奖品名称"), validators=[InputRequired(), Length(max=128)])
    description = TextAreaField(_l("说明"), validators=[Optional(), Length(max=4000)])
    # the service checks the choice (one message, in categories.py)
    category = SelectField(_l("品类"), choices=categories.choices, default=categories.DEFAULT_CATEGORY,
                           validate_choice=False)
    cost_points = IntegerField(_l("所需积分"), validators=[InputRequired(), NumberRange(1, MAX_COST)])
    fulfilment = SelectField(_l("领取方式"), choices=lambda: [("pickup", _l("到领取点凭码领取")),
                                                               ("delivery", _l("邮寄到家"))])
    stock = IntegerField(_l("初始库存"), default=0, validators=[Optional(), NumberRange(0, MAX_STOCK)])
    pickup_point_id = SelectField(_l("领取点（初始库存放在这里）"), coerce=int, validate_choice=False,
                                  validators=[Optional()])
    per_day_limit = IntegerField(_l("每人每日上限"), validators=[Optional(), NumberRange(1)])
    per_month_limit = IntegerField(_l("每人每月上限"), validators=[Optional(), NumberRange(1)])
    lifetime_limit = IntegerField(_l("每人累计上限"), validators=[Optional(), NumberRange(1)])
    daily_quota = IntegerField(_l("每日总名额"), validators=[Optional(), NumberRange(1)])
    opens_at = DateTimeLocalField(_l("开始兑换时间"), validators=[Optional()])
    closes_at = DateTimeLocalField(_l("结束兑换时间"), validators=[Optional()])
    eligible_org_code = StringField(_l("面向组织（代码，含下级）"), validators=[Optional(), Length(max=32)])
    eligible_categories = MultiCheckboxField(_l("面向会员类别（不选为全部）"),
                                             choices=lambda: [(c, CATEGORY_LABELS[c]) for c in CATEGORIES])
    pickup_days = IntegerField(_l("领取期限（天）"), default=14, validators=[InputRequired(), NumberRange(1, 365)])
    high_value = BooleanField(_l("贵重奖品（领取前须另一位管理员审批）"))
    is_listed = BooleanField(_l("上架"), default=True)


class RestockForm(FlaskForm):
    quantity = IntegerField(_l("增加数量"), validators=[InputRequired(), NumberRange(1, MAX_STOCK)])
    pickup_point_id = SelectField(_l("领取点"), coerce=int, validate_choice=False, validators=[Optional()])
    note = StringField(_l("备注"), validators=[Optional(), Length(max=255)])


class ImageForm(FlaskForm):
    image = FileField(_l("奖品图片（PNG/JPEG/GIF/WebP，不超过 2 MB）"), validators=[FileRequired()])


class PointForm(FlaskForm):
    name = StringField(_l("领取点名称"), validators=[InputRequired(), Length(max=128)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=255)])
    kind = SelectField(_l("类型"), choices=lambda: [("office", _l("工会办公室")), ("store", _l("合作商家门店"))])
    office_org_code = StringField(_l("工会组织代码"), validators=[Optional(), Length(max=32)])
    store_id = IntegerField(_l("门店编号"), validators=[Optional()])
