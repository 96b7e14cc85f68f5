from marshmallow import Schema, fields, validate

from ..inputs import Integer
from ..pagination import PageArgs
from .grading import MAX_OPTIONS
from .importers import FORMATS
from .models import LATE_POLICIES, QUESTION_KINDS, QUIZ_MODES


class JobTypeSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    is_enabled = fields.Boolean(dump_only=True)


class QuestionSchema(Schema):
    """Admin view of a question (with its answer)."""
    id = fields.Integer(dump_only=True)
    job_type_id = Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(QUESTION_KINDS))
    stem = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    options = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list,
                          validate=validate.Length(max=MAX_OPTIONS))
    answer = fields.String(required=True, validate=validate.Length(min=1, max=6))
    explanation = fields.String(load_default="", validate=validate.Length(max=4000))
    difficulty = Integer(load_default=2, validate=validate.Range(min=1, max=5))
    score = Integer(load_default=1, validate=validate.Range(min=1, max=100))
    tags = fields.List(fields.String(validate=validate.Length(max=30)), load_default=list, attribute="tag_list")
    is_enabled = fields.Boolean(dump_only=True)


class QuestionPatchSchema(Schema):
    is_enabled = fields.Boolean(required=True)


class QuestionQueryArgs(PageArgs):
    job_type_id = Integer(load_default=None)
    enabled = fields.Boolean(load_default=None)
    q = fields.String(load_default="", validate=validate.Length(max=100))


class ImportArgs(Schema):
    format = fields.String(load_default="", validate=validate.OneOf(("",) + FORMATS))
    job_type = fields.String(load_default="", validate=validate.Length(max=64))
    skip_bad = fields.Boolean(load_default=False)


class ImportProblemSchema(Schema):
    line = fields.Integer()
    message = fields.String()


class ImportResultSchema(Schema):
    imported = fields.Integer()
    skipped = fields.Integer()
    problems = fields.List(fields.Nested(ImportProblemSchema))


class QuizSchema(Schema):
    id = fields.Integer(dump_only=True)
    org_id = Integer()
    title = fields.String(required=True, validate=validate.Length(min=1, max=128))
    job_type_ids = fields.List(Integer(), required=True, validate=validate.Length(min=1, max=24))
    tags = fields.List(fields.String(validate=validate.Length(max=30)), load_default=list)
    question_count = Integer(load_default=20, validate=validate.Range(min=1, max=200))
    mode = fields.String(load_default="scored", validate=validate.OneOf(QUIZ_MODES))
    time_limit_seconds = Integer(load_default=None, allow_none=True, validate=validate.Range(min=10, max=86400))
    grace_seconds = Integer(load_default=30, validate=validate.Range(min=0, max=600))
    late_policy = fields.String(load_default="grade_saved", validate=validate.OneOf(LATE_POLICIES))
    attempts_per_day = Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=1000))
    min_delay_seconds = Integer(load_default=0, validate=validate.Range(min=0, max=86400))
    points_per_correct = Integer(load_default=1, validate=validate.Range(min=0, max=1000))
    partial_credit = fields.Boolean(load_default=False)
    pass_percent = Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100))
    pass_bonus = Integer(load_default=0, validate=validate.Range(min=0, max=100000))
    daily_points_cap = Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1000000))
    opens_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    closes_at = fields.AwareDateTime(load_default=None, allow_none=True)
    is_enabled = fields.Boolean(load_default=True)


class QuizPatchSchema(QuizSchema):
    """Used with partial=True: only the fields sent are changed."""


class MemberQuizSchema(Schema):
    """What a member sees of a quiz: the rules, never the bank."""
    id = fields.Integer()
    title = fields.String()
    mode = fields.String()
    question_count = fields.Integer()
    time_limit_seconds = fields.Integer(allow_none=True)
    attempts_per_day = fields.Integer(allow_none=True)
    points_per_correct = fields.Integer()
    pass_percent = fields.Integer(allow_none=True)
    pass_bonus = fields.Integer()
    daily_points_cap = fields.Integer(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)


class AttemptItemSchema(Schema):
    position = fields.Integer()
    kind = fields.String()
    stem = fields.String()
    options = fields.List(fields.String())
    chosen = fields.String(allow_none=True)
    correct = fields.String()
    is_correct = fields.Boolean(allow_none=True)
    explanation = fields.String()
    points = fields.Integer(allow_none=True)


class AttemptSchema(Schema):
    id = fields.Integer()
    quiz_id = fields.Integer(allow_none=True)
    title = fields.String()
    mode = fields.String()
    status = fields.String()
    started_at = fields.DateTime()
    deadline_at = fields.DateTime(allow_none=True)
    remaining_seconds = fields.Integer(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    correct_count = fields.Integer()
    question_count = fields.Integer()
    score_percent = fields.Integer()
    points_awarded = fields.Integer()
    passed = fields.Boolean()
    late = fields.Boolean()
    items = fields.List(fields.Nested(AttemptItemSchema))


class AnswersSchema(Schema):
    answers = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[0-9]{1,3}$")),
                          values=fields.List(fields.String(validate=validate.Length(equal=1)), validate=validate.Length(min=1, max=6)),
                          required=True)


class LeaderboardArgs(Schema):
    quiz_id = Integer(load_default=None)
    job_type_id = Integer(load_default=None)
    period = fields.String(load_default="week", validate=validate.OneOf(("week", "month", "all")))
    scope = fields.String(load_default="union", validate=validate.OneOf(("union", "all")))


class LeaderRowSchema(Schema):
    rank = fields.Integer()
    name = fields.String()
    org = fields.String()
    points = fields.Integer()


class FlaggedAttemptSchema(Schema):
    id = fields.Integer()
    quiz_id = fields.Integer(allow_none=True)
    member_id = fields.Integer()
    started_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    correct_count = fields.Integer()
    question_count = fields.Integer()
    points_awarded = fields.Integer()


class WrongBookSchema(Schema):
    question_id = fields.Integer()
    stem = fields.String(attribute="question.stem")
    wrong_count = fields.Integer()
    streak = fields.Integer()
