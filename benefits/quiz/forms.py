from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ActionForm(FlaskForm):
    """A bare POST with CSRF (start, submit, enable/disable)."""


class ImportForm(FlaskForm):
    file = FileField(_l("题库文件（xlsx / csv / gift / aiken）"), validators=[FileRequired()])
    format = SelectField(_l("格式"), choices=[("", _l("按文件名判断")), ("xlsx", "XLSX"), ("csv", "CSV"),
                                              ("gift", "Moodle GIFT"), ("aiken", "Aiken")], default="")
    job_type = SelectField(_l("工种（Aiken / 无 $CATEGORY 的 GIFT）"), choices=[], validate_choice=False)
    skip_bad = BooleanField(_l("跳过有问题的行，导入其余题目"))


class QuizForm(FlaskForm):
    title = StringField(_l("名称"), validators=[DataRequired(), Length(max=128)])
    org_id = SelectField(_l("参加范围（该工会及下级）"), coerce=int)
    job_type_ids = SelectMultipleField(_l("工种"), coerce=int, validators=[DataRequired()])
    tags = StringField(_l("标签（可选，逗号分隔）"), validators=[Optional(), Length(max=200)])
    question_count = IntegerField(_l("题目数量"), default=20, validators=[NumberRange(1, 200)])
    mode = SelectField(_l("模式"), choices=[("scored", _l("计分")), ("practice", _l("练习（即时反馈）"))])
    time_limit_minutes = IntegerField(_l("时限（分钟，留空不限）"), validators=[Optional(), NumberRange(1, 1440)])
    late_policy = SelectField(_l("超时交卷"), choices=[("grade_saved", _l("按时限内已保存的答案评分")),
                                                        ("refuse", _l("拒绝交卷"))])
    attempts_per_day = IntegerField(_l("每日次数（留空不限）"), validators=[Optional(), NumberRange(1, 1000)])
    min_delay_seconds = IntegerField(_l("两次间隔（秒）"), default=0, validators=[NumberRange(0, 86400)])
    points_per_correct = IntegerField(_l("每题积分"), default=1, validators=[NumberRange(0, 1000)])
    partial_credit = BooleanField(_l("多选题部分得分"))
    pass_percent = IntegerField(_l("及格线（%）"), validators=[Optional(), NumberRange(0, 100)])
    pass_bonus = IntegerField(_l("及格奖励积分"), default=0, validators=[NumberRange(0, 100000)])
    daily_points_cap = IntegerField(_l("每人每日积分上限（留空不限）"), validators=[Optional(), NumberRange(0, 1000000)])
    opens_at = DateTimeLocalField(_l("开始时间（北京时间）"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    closes_at = DateTimeLocalField(_l("结束时间（北京时间）"), format="%Y-%m-%dT%H:%M", validators=[Optional()])

