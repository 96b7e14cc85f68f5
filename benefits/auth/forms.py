from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    username = StringField(_l("账号（会员请填身份证号）"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=128)])


class ActivateForm(FlaskForm):
    id_number = StringField(_l("身份证号"), validators=[DataRequired(), Length(max=18)])
    card_number = StringField(_l("会员卡号"), validators=[Optional(), Length(max=19)])
    activation_code = StringField(_l("激活码"), validators=[Optional(), Length(max=16)])
    password = PasswordField(_l("设置密码（至少8位）"), validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(_l("再次输入密码"), validators=[DataRequired(), EqualTo("password", message=_l("两次输入的密码不一致"))])
