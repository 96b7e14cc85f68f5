"""The till's forms (the cashier pages)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional


class TillForm(FlaskForm):
    code = StringField(_l("会员卡号或付款码"), validators=[DataRequired(), Length(max=64)])
    amount = StringField(_l("消费金额（元）"), validators=[DataRequired(), Length(max=16)])


class ConfirmForm(FlaskForm):
    code = HiddenField(validators=[DataRequired(), Length(max=64)])
    amount = HiddenField(validators=[DataRequired(), Length(max=16)])
    key = HiddenField(validators=[DataRequired(), Length(max=64)])


class RefundForm(FlaskForm):
    amount = StringField(_l("退还会员金额（元，留空为全部）"), validators=[Optional(), Length(max=16)])
    reason = StringField(_l("退款原因"), validators=[Optional(), Length(max=255)])
    key = HiddenField(validators=[DataRequired(), Length(max=64)])
