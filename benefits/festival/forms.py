"""Page forms (Flask-WTF, CSRF on every POST). They only read the page's fields; the service
checks the values and its per-field messages are put next to the same fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..admin.forms import category_choices
from ..inputs import IntegerField
from ..prizes.forms import MultiCheckboxField
from .rules import MAX_STOCK

NO_POINT = 0   # the pickup point choice of a delivery gift


class ClaimForm(FlaskForm):
    gift_id = IntegerField(validators=[InputRequired()])
    delivery_address = StringField(_l("收货地址"), validators=[Optional(), Length(max=255)])
    delivery_phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=20)])
    nonce = HiddenField()


class GiftForm(FlaskForm):
    prize_id = SelectField(_l("礼品（奖品库中的奖品）"), coerce=int, validate_choice=False)
    pickup_point_id = SelectField(_l("领取点"), coerce=int, validate_choice=False)
    stock = IntegerField(_l("数量"), validators=[InputRequired(), NumberRange(0, MAX_STOCK)])


class CampaignForm(GiftForm):
    name = StringField(_l("活动名称"), validators=[InputRequired(), Length(max=128)])
    description = TextAreaField(_l("说明"), validators=[Optional(), Length(max=4000)])
    eligible_org_code = StringField(_l("面向组织（代码，含下级；不填为本工会）"), validators=[Optional(), Length(max=32)])
    eligible_categories = MultiCheckboxField(_l("面向会员类别（不选为全部）"), choices=category_choices)
    opens_at = DateTimeLocalField(_l("开始领取时间"), validators=[InputRequired()])
    closes_at = DateTimeLocalField(_l("结束领取时间"), validators=[InputRequired()])
    pickup_until = DateField(_l("领取截止日期（凭码到领取点领取）"), validators=[InputRequired()])


class RestockForm(FlaskForm):
    quantity = IntegerField(_l("增加数量"), validators=[InputRequired(), NumberRange(1, MAX_STOCK)])


class EmptyForm(FlaskForm):
    """Only the CSRF token."""
