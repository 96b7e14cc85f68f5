"""The till's forms (the cashier pages)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

MAX_VOUCHERS = 10  # as the till API: more chosen vouchers than this is not a real payment


class VoucherIdsField(Field):
    """The chosen vouchers: the `voucher` value posted once per ticked box (or hidden field), in
    page order. Anything but a small list of whole numbers is the field's error, never a 500."""

    def _value(self):
        return ""

    def process_formdata(self, valuelist):
        self.data = []
        ids = []
        for raw in valuelist:
            text = (raw or "").strip()
            if not text.isdigit() or not text.isascii() or len(text) > 9 or int(text) == 0:
                self.data = []
                raise ValueError(_l("券的编号不对，请重新勾选要使用的券后再计算。"))
            ids.append(int(text))
        ids = list(dict.fromkeys(ids))
        if len(ids) > MAX_VOUCHERS:
            self.data = []
            raise ValueError(_l("一次最多使用 %(n)s 张券。", n=MAX_VOUCHERS))
        self.data = ids

    def process_data(self, value):
        self.data = list(value or [])


class TillForm(FlaskForm):
    code = StringField(_l("会员卡号或付款码"), validators=[DataRequired(), Length(max=64)])
    amount = StringField(_l("消费金额（元）"), validators=[DataRequired(), Length(max=16)])
    voucher = VoucherIdsField()


class ConfirmForm(FlaskForm):
    code = HiddenField(validators=[DataRequired(), Length(max=64)])
    amount = HiddenField(validators=[DataRequired(), Length(max=16)])
    key = HiddenField(validators=[DataRequired(), Length(max=64)])
    voucher = VoucherIdsField()


class RefundForm(FlaskForm):
    # Required where the payment can be refunded in part (the view checks: a whole-only refund has no field).
    amount = StringField(_l("退还会员金额（元）"), validators=[Optional(), Length(max=16)])
    reason = StringField(_l("退款原因"), validators=[Optional(), Length(max=255)])
    key = HiddenField(validators=[DataRequired(), Length(max=64)])
