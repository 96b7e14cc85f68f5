import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, StringField, TextAreaField,
                     widgets)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..inputs import IntegerField
from .grading import LETTERS, MAX_OPTIONS


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ActionForm(FlaskForm):
    """A bare POST with CSRF (start, submit, enable/disable)."""


class ImportForm(FlaskForm):
    file = FileField(_l("题库文件（xlsx / csv / gift / aiken）"), validators=[FileRequired()])
    format = SelectField(_l("格式"), choices=lambda: [("", _l("按文件名判断")), ("xlsx", "XLSX"), ("csv", "CSV"),
                                                      ("gift", "Moodle GIFT"), ("aiken", "Aiken")], default="")
    job_type = SelectField(_l("工种（Aiken / 无 $CATEGORY 的 GIFT）"), choices=[], validate_choice=False)
    skip_bad = BooleanField(_l("跳过有问题的行，导入其余题目"))


class JobTypeForm(FlaskForm):
    code = StringField(_l("代码（字母或数字，如 DG）"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("名称（如 电工）"), validators=[DataRequired(), Length(max=64)])


def split_tags(text: str | None) -> list[str]:
    """Tags typed in one box: commas (either width), semicolons or spaces separate them."""
    return [t for t in re.split(r"[,，;；\s]+", text or "") if t]


class QuestionForm(FlaskForm):
    """One question. The cross-field rules mirror the bank's own check (importers.normalise_question)
    so that each problem is shown next to the field it is about; the service checks again."""
    job_type_id = SelectField(_l("工种"), coerce=int)
    kind = SelectField(_l("题型"), choices=lambda: [("single", _l("单选")), ("multiple", _l("多选")),
                                                    ("truefalse", _l("判断"))], default="single")
    stem = TextAreaField(_l("题干"), validators=[DataRequired(), Length(max=2000)])
    option_a = StringField(_l("选项 A"), validators=[Length(max=500)])
    option_b = StringField(_l("选项 B"), validators=[Length(max=500)])
    option_c = StringField(_l("选项 C"), validators=[Length(max=500)])
    option_d = StringField(_l("选项 D"), validators=[Length(max=500)])
    option_e = StringField(_l("选项 E"), validators=[Length(max=500)])
    option_f = StringField(_l("选项 F"), validators=[Length(max=500)])
    answer = MultiCheckboxField(_l("正确答案"), choices=lambda: [(ch, ch) for ch in LETTERS[:MAX_OPTIONS]])
    score = IntegerField(_l("分值（1–100）"), default=1, validators=[NumberRange(1, 100)])
    difficulty = SelectField(_l("难度（1 最易 – 5 最难）"), coerce=int, default=2,
                             choices=lambda: [(n, str(n)) for n in range(1, 6)])
    explanation = TextAreaField(_l("解析（交卷后展示，可选）"), validators=[Optional(), Length(max=4000)])
    tags = StringField(_l("标签（可选，逗号分隔）"), validators=[Optional(), Length(max=200)])

    def option_fields(self) -> list:
        return [self.option_a, self.option_b, self.option_c, self.option_d, self.option_e, self.option_f]

    def options(self) -> list[str]:
        texts = [(f.data or "").strip() for f in self.option_fields()]
        while texts and not texts[-1]:
            texts.pop()
        return texts

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        options_ok = self._check_options()
        answer_ok = options_ok and self._check_answer()  # letters only make sense against valid options
        return self._check_tags() and answer_ok and valid

    def _check_options(self) -> bool:
        options, fields = self.options(), self.option_fields()
        gaps = [fields[i] for i, text in enumerate(options) if not text]
        for gap in gaps:
            gap.errors = [*gap.errors, _l("中间的选项不能留空")]
        if self.kind.data == "truefalse":
            if len(options) not in (0, 2):
                target = fields[1] if len(options) < 2 else fields[2]
                target.errors = [*target.errors, _l("判断题恰好 2 个选项；都不填即为“正确 / 错误”")]
                return False
        elif len(options) < 2:
            target = fields[len(options)]
            target.errors = [*target.errors, _l("至少需要 2 个选项")]
            return False
        return not gaps

    def _check_answer(self) -> bool:
        answer = sorted(set(self.answer.data or []))
        count = len(self.options()) or (2 if self.kind.data == "truefalse" else 0)
        problem = None
        if not answer:
            problem = _l("请勾选正确答案")
        elif any(LETTERS.index(ch) >= count for ch in answer):
            problem = _l("所选答案没有对应的选项")
        elif self.kind.data in ("single", "truefalse") and len(answer) != 1:
            problem = _l("单选题和判断题只能有一个正确答案")
        elif self.kind.data == "multiple" and len(answer) < 2:
            problem = _l("多选题至少需要两个正确答案")
        if problem:
            self.answer.errors = [*self.answer.errors, problem]
        return problem is None

    def _check_tags(self) -> bool:
        if any(len(t) > 30 for t in split_tags(self.tags.data)):
            self.tags.errors = [*self.tags.errors, _l("每个标签最多 30 个字")]
            return False
        return True

    def question_data(self) -> dict:
        return {"job_type_id": self.job_type_id.data, "kind": self.kind.data, "stem": self.stem.data.strip(),
                "options": self.options(), "answer": "".join(sorted(set(self.answer.data))),
                "score": self.score.data, "difficulty": self.difficulty.data,
                "explanation": (self.explanation.data or "").strip(), "tags": split_tags(self.tags.data)}


class QuizForm(FlaskForm):
    title = StringField(_l("名称"), validators=[DataRequired(), Length(max=128)])
    org_id = SelectField(_l("参加范围（该工会及下级）"), coerce=int)
    job_type_ids = MultiCheckboxField(_l("工种"), coerce=int, validators=[DataRequired()])
    tags = StringField(_l("标签（可选，逗号分隔）"), validators=[Optional(), Length(max=200)])
    question_count = IntegerField(_l("题目数量"), default=20, validators=[NumberRange(1, 200)])
    mode = SelectField(_l("模式"), choices=lambda: [("scored", _l("计分")), ("practice", _l("练习（即时反馈）"))])
    time_limit_minutes = IntegerField(_l("时限（分钟，留空不限）"), validators=[Optional(), NumberRange(1, 1440)])
    late_policy = SelectField(_l("超时交卷"), choices=lambda: [("grade_saved", _l("按时限内已保存的答案评分")),
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
