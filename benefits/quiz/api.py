"""Quiz API: members take quizzes; admins manage the bank and quiz settings.

Member: GET /quizzes, POST /quizzes/<id>/attempts, GET /attempts/<id>, PUT /attempts/<id>/answers,
POST /attempts/<id>/submit, GET /leaderboard, GET /wrong-book, POST /wrong-book/attempts.
Admin: /admin/job-types, /admin/questions (+ /import, /<id>), /admin/quizzes (+ /<id>),
/admin/flagged-attempts.
"""
from flask import current_app, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.access import admin_required, admin_required_at, current_actor, current_scope, member_required
from ..database import transactional
from ..errors import ValidationError
from ..extensions import Blueprint
from ..pagination import PageArgs, page_schema, paginate
from . import attempts, bank, importers, leaderboards, quizzes, wrong_book
from .schemas import (AnswersSchema, AttemptSchema, FlaggedAttemptSchema, ImportArgs, ImportResultSchema,
                      JobTypeSchema, LeaderboardArgs, LeaderRowSchema, MemberQuizSchema, QuestionPatchSchema,
                      QuestionQueryArgs, QuestionSchema, QuizPatchSchema, QuizSchema, WrongBookSchema)

URL_PREFIX = "/quiz"
blp = Blueprint("quiz_api", __name__, description="Skills-drill quizzes (网上练兵)")


@blp.route("/quizzes")
class MemberQuizzes(MethodView):
    decorators = [member_required]

    @blp.response(200, MemberQuizSchema(many=True))
    def get(self):
        """Open quizzes the member may take."""
        return quizzes.quizzes_for_member(current_user.member)


@blp.route("/quizzes/<int:quiz_id>/attempts")
class StartAttempt(MethodView):
    decorators = [member_required]

    @blp.response(201, AttemptSchema)
    @transactional
    def post(self, quiz_id):
        """Start an attempt (or resume the open one): questions drawn and shuffled, no answers."""
        return attempts.start_attempt(current_user.member_id, quiz_id)


@blp.route("/attempts/<int:attempt_id>")
class AttemptItem(MethodView):
    decorators = [member_required]

    @blp.response(200, AttemptSchema)
    def get(self, attempt_id):
        return attempts.attempt_view(current_user.member_id, attempt_id)


@blp.route("/attempts/<int:attempt_id>/answers")
class AttemptAnswers(MethodView):
    decorators = [member_required]

    @blp.arguments(AnswersSchema, error_status_code=400)
    @blp.response(200, AttemptSchema)
    @transactional
    def put(self, args, attempt_id):
        """Save answers by position (shown letters, e.g. {"3": ["A", "C"]}); time is the server's."""
        return attempts.save_answers(current_user.member_id, attempt_id, args["answers"])


@blp.route("/attempts/<int:attempt_id>/submit")
class AttemptSubmit(MethodView):
    decorators = [member_required]

    @blp.response(200, AttemptSchema)
    @transactional
    def post(self, attempt_id):
        """Grade and award once; a repeat returns the same result."""
        return attempts.submit_attempt(current_user.member_id, attempt_id)


@blp.route("/leaderboard")
class Leaderboard(MethodView):
    decorators = [member_required]

    @blp.arguments(LeaderboardArgs, location="query", error_status_code=400)
    @blp.response(200, LeaderRowSchema(many=True))
    def get(self, args):
        member = current_user.member
        if args["quiz_id"] is not None:
            quizzes.get_quiz_for_member(member, args["quiz_id"])
        return leaderboards.leaderboard(quiz_id=args["quiz_id"], job_type_id=args["job_type_id"],
                                        period=args["period"], org=member.org if args["scope"] == "union" else None)


@blp.route("/wrong-book")
class WrongBook(MethodView):
    decorators = [member_required]

    @blp.response(200, WrongBookSchema(many=True))
    def get(self):
        return wrong_book.entries(current_user.member_id)


@blp.route("/wrong-book/attempts")
class WrongBookPractice(MethodView):
    decorators = [member_required]

    @blp.response(201, AttemptSchema)
    @transactional
    def post(self):
        return wrong_book.start_practice(current_user.member_id)


# ---- admin ------------------------------------------------------------------------------------

@blp.route("/admin/job-types")
class JobTypes(MethodView):
    decorators = [admin_required]

    @blp.response(200, JobTypeSchema(many=True))
    def get(self):
        return bank.job_types()

    @admin_required_at(*bank.MANAGER_LEVELS)
    @blp.arguments(JobTypeSchema, error_status_code=400)
    @blp.response(201, JobTypeSchema)
    @transactional
    def post(self, args):
        return bank.create_job_type(current_actor(), args["code"], args["name"])


@blp.route("/admin/questions")
class Questions(MethodView):
    decorators = [admin_required]

    @blp.arguments(QuestionQueryArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(QuestionSchema, "QuestionPage"))
    def get(self, args):
        stmt = bank.questions_page_stmt(args["job_type_id"], args["enabled"], args["q"])
        items, total = paginate(stmt, args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}

    @admin_required_at(*bank.MANAGER_LEVELS)
    @blp.arguments(QuestionSchema, error_status_code=400)
    @blp.response(201, QuestionSchema)
    @transactional
    def post(self, args):
        args["tags"] = args.pop("tag_list", [])
        return bank.create_question(current_actor(), args)


@blp.route("/admin/questions/<int:question_id>")
class QuestionItem(MethodView):
    decorators = [admin_required_at(*bank.MANAGER_LEVELS)]

    @blp.arguments(QuestionPatchSchema, error_status_code=400)
    @blp.response(200, QuestionSchema)
    @transactional
    def patch(self, args, question_id):
        """Enable or disable (history is kept; disabled questions are not drawn)."""
        return bank.set_question_enabled(current_actor(), question_id, args["is_enabled"])


@blp.route("/admin/questions/import")
class QuestionImport(MethodView):
    decorators = [admin_required_at(*bank.MANAGER_LEVELS)]

    @blp.arguments(ImportArgs, location="query", error_status_code=400)
    @blp.response(200, ImportResultSchema)
    @transactional
    def post(self, args):
        """Multipart `file` (xlsx, csv, gift or aiken). Any problem imports nothing unless skip_bad."""
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError(_("请选择文件。"), details={"fields": {"file": _("必填")}})
        fmt = args["format"] or importers.detect_format(upload.filename)
        limit = current_app.config["WEB_IMPORT_MAX_ROWS"]
        try:
            questions, problems = importers.parse(upload.read(), fmt, args["job_type"],
                                                  current_app.config["XLSX_MAX_UNCOMPRESSED"], max_rows=limit)
        except importers.TooManyRows:
            raise ValidationError(_("题目过多（网页最多 %(n)s 道），请使用命令行导入（flask quiz import）。", n=limit),
                                  code="too_many_rows", details={"max_rows": limit}) from None
        except importers.FileProblem as exc:
            raise ValidationError(str(exc), code="bad_file") from None
        return bank.import_questions(current_actor(), questions, problems, skip_bad=args["skip_bad"])


@blp.route("/admin/quizzes")
class AdminQuizzes(MethodView):
    decorators = [admin_required]

    @blp.arguments(PageArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(QuizSchema, "QuizPage"))
    def get(self, args):
        items, total = paginate(quizzes.quizzes_in_scope(current_scope()), args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}

    @blp.arguments(QuizSchema, error_status_code=400)
    @blp.response(201, QuizSchema)
    @transactional
    def post(self, args):
        return quizzes.create_quiz(current_actor(), current_scope(), args)


@blp.route("/admin/quizzes/<int:quiz_id>")
class AdminQuizItem(MethodView):
    decorators = [admin_required]

    @blp.response(200, QuizSchema)
    def get(self, quiz_id):
        return quizzes.get_quiz_in_scope(current_scope(), quiz_id)

    @blp.arguments(QuizPatchSchema(partial=True), error_status_code=400)
    @blp.response(200, QuizSchema)
    @transactional
    def patch(self, args, quiz_id):
        sent = request.get_json(silent=True) or {}
        changes = {k: v for k, v in args.items() if k in sent}
        return quizzes.update_quiz(current_actor(), current_scope(), quiz_id, changes)


@blp.route("/admin/flagged-attempts")
class FlaggedAttempts(MethodView):
    decorators = [admin_required]

    @blp.arguments(PageArgs, location="query", error_status_code=400)
    @blp.response(200, page_schema(FlaggedAttemptSchema, "FlaggedAttemptPage"))
    def get(self, args):
        """Attempts finished suspiciously fast, in the admin's subtree."""
        items, total = paginate(quizzes.flagged_attempts(current_scope()), args["page"], args["per_page"])
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}
