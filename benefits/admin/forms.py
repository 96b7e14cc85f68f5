from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..members.models import CATEGORIES


def category_choices():
    names = {"ordinary": _l("普通会员"), "hardship": _l("困难职工"), "retiree": _l("退休职工"),
             "model_worker": _l("劳动模范")}
    return [(c, names[c]) for c in CATEGORIES]


class MemberForm(FlaskForm):
    org_code = StringField(_l("所属工会代码"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("姓名"), validators=[DataRequired(), Length(max=64)])
    id_number = StringField(_l("身份证号"), validators=[DataRequired(), Length(max=18)])
    phone = StringField(_l("手机号"), validators=[Optional(), Length(max=20)])
    category = SelectField(_l("会员类别"), choices=category_choices, default="ordinary")


class ActionForm(FlaskForm):
    """An empty form: carries the CSRF token of a one-button action (freeze, leave …)."""
