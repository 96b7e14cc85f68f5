"""Quiz pages: members take quizzes on a phone; admins manage the bank and quizzes."""
from __future__ import annotations

import io
from datetime import timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import charts, clock, periods
from ..auth.access import admin_required, admin_required_at, current_actor, current_scope, member_required
from ..database import unit_of_work
from ..errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..inputs import whole_number
from ..members.models import Member
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter
from ..pagination import page_number, paginate
from . import attempts, bank, grading, importers, leaderboards, quizzes, reports, wrong_book
from .forms import ActionForm, ImportForm, JobTypeForm, QuestionForm, QuizForm, split_tags
from .models import QUESTION_KINDS, Attempt, Question, Quiz

bp = Blueprint("quiz", __name__, url_prefix="/quiz")


# ---- member -----------------------------------------------------------------------------------

@bp.get("")
@member_required
def index():
    member_id = current_user.member_id
    return render_template("quiz/index.html", quizzes=quizzes.quizzes_for_member(current_user.member),
                           recent=attempts.attempts_of(member_id, 10), form=ActionForm(),
                           book_size=wrong_book.size(member_id))


@bp.post("/<int:quiz_id>/start")
@member_required
def start(quiz_id):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.index"))
    try:
        with unit_of_work():
            view = attempts.start_attempt(current_user.member_id, quiz_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for("quiz.index"))
    return redirect(url_for("quiz.attempt", attempt_id=view["id"]))


@bp.get("/attempts/<int:attempt_id>")
@member_required
def attempt(attempt_id):
    view = attempts.attempt_view(current_user.member_id, attempt_id)
    return render_template("quiz/attempt.html", view=view, form=ActionForm())


def _answers_from_form() -> dict:
    """The form's answers by position: each question's inputs are named q<position>."""
    return {name[1:]: request.form.getlist(name) for name in request.form
            if name[:1] == "q" and name[1:].isascii() and name[1:].isdigit() and request.form.getlist(name)}


@bp.post("/attempts/<int:attempt_id>/submit")
@member_required
def submit(attempt_id):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.attempt", attempt_id=attempt_id))
    try:
        with unit_of_work():
            attempts.submit_attempt(current_user.member_id, attempt_id, _answers_from_form())
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    return redirect(url_for("quiz.attempt", attempt_id=attempt_id))


@bp.get("/wrong-book", endpoint="wrong_book")
@member_required
def wrong_book_page():
    return render_template("quiz/wrong_book.html", entries=wrong_book.entries(current_user.member_id),
                           form=ActionForm())


@bp.post("/wrong-book/practice")
@member_required
def wrong_book_practice():
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.wrong_book"))
    try:
        with unit_of_work():
            view = wrong_book.start_practice(current_user.member_id)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("quiz.wrong_book"))
    return redirect(url_for("quiz.attempt", attempt_id=view["id"]))


@bp.get("/leaderboard")
@member_required
def leaderboard():
    member = current_user.member
    open_quizzes = quizzes.quizzes_for_member(member)
    kind, _sep, ident = (request.args.get("board") or "").partition(":")
    quiz_id = int(ident) if kind == "q" and ident.isdigit() else None
    job_type_id = int(ident) if kind == "j" and ident.isdigit() else None
    if quiz_id is None and job_type_id is None and open_quizzes:
        quiz_id = open_quizzes[0].id
    if quiz_id is not None:
        quizzes.get_quiz_for_member(member, quiz_id)
    period = request.args.get("period", "week")
    period = period if period in leaderboards.PERIODS else "week"
    scope = "all" if request.args.get("scope") == "all" else "union"
    rows = leaderboards.leaderboard(quiz_id=quiz_id, job_type_id=None if quiz_id else job_type_id, period=period,
                                    org=member.org if scope == "union" else None) if (quiz_id or job_type_id) else []
    return render_template("quiz/leaderboard.html", rows=rows, quizzes=open_quizzes, job_types=bank.job_types(True),
                           quiz_id=quiz_id, job_type_id=job_type_id, period=period, scope=scope)


# ---- admin ------------------------------------------------------------------------------------

FLAGGED_PER_PAGE = 30


@bp.get("/admin")
@admin_required
def admin_index():
    scope = current_scope()
    items, _total = paginate(quizzes.quizzes_in_scope(scope), 1, 100)
    flagged, flagged_total = paginate(quizzes.flagged_attempts(scope), 1, 5)
    job_types = bank.job_types()
    return render_template("quiz/admin_index.html", quizzes=items, flagged=_flagged_rows(flagged),
                           flagged_total=flagged_total, job_types=job_types, counts=bank.question_counts(),
                           form=ActionForm(), names={jt.id: jt.name for jt in job_types},
                           bank_manager=_is_bank_manager())


TOP_QUIZZES = 10    # quizzes drawn in the report's chart (the table lists every one)


@bp.get("/admin/report")
@admin_required
def admin_report():
    """Participation of the admin's members: per day and per quiz, over a period."""
    scope = current_scope()
    period, error = periods.from_args_or_default(request.args, periods.last_days(30))
    days = reports.daily(scope, period)
    per_quiz = reports.by_quiz(scope, period)
    top = per_quiz[:TOP_QUIZZES]
    report_charts = {
        "days": charts.chart("line", [charts.day_label(d["day"]) for d in days],
                             [(_("答题次数"), [d["attempts"] for d in days]),
                              (_("参与人数"), [d["members"] for d in days])]),
        "quizzes": charts.chart("hbar", [q["title"] for q in top],
                                [(_("答题次数"), [q["attempts"] for q in top]),
                                 (_("参与人数"), [q["members"] for q in top])]),
    }
    return render_template("quiz/admin_report.html", period=period, period_error=error, days=days,
                           per_quiz=per_quiz, total=reports.totals(scope, period), charts=report_charts,
                           top_n=TOP_QUIZZES), 400 if error else 200


def _is_bank_manager() -> bool:
    try:
        bank.require_bank_manager(current_actor())
    except Forbidden:
        return False
    return True


def _quiz_form(quiz: Quiz | None = None) -> QuizForm:
    form = QuizForm(data=_quiz_form_data(quiz) if quiz is not None and request.method == "GET" else None)
    scope = current_scope()
    orgs = list(db.session.scalars(db.select(Organisation).where(subtree_filter(scope))
                                   .where(Organisation.level != "grassroots").order_by(Organisation.path).limit(300)))
    if quiz is not None and quiz.org_id not in {o.id for o in orgs}:
        orgs.append(db.session.get(Organisation, quiz.org_id))  # e.g. a grassroots union set over the API
    form.org_id.choices = [(o.id, o.name) for o in orgs] or [(scope.id, scope.name)]
    form.job_type_ids.choices = [(jt.id, jt.name) for jt in bank.job_types()
                                 if jt.is_enabled or (quiz is not None and jt.id in quiz.job_type_ids)]
    return form


def _quiz_form_data(quiz: Quiz) -> dict:
    data = {k: getattr(quiz, k) for k in ("title", "org_id", "job_type_ids", "question_count", "mode",
                                          "late_policy", "attempts_per_day", "min_delay_seconds",
                                          "points_per_correct", "partial_credit", "pass_percent", "pass_bonus",
                                          "daily_points_cap")}
    data["tags"] = "，".join(quiz.tags or [])
    data["time_limit_minutes"] = -(-quiz.time_limit_seconds // 60) if quiz.time_limit_seconds else None
    data["opens_at"], data["closes_at"] = _utc_to_china(quiz.opens_at), _utc_to_china(quiz.closes_at)
    return data


def _quiz_data(form: QuizForm, quiz: Quiz | None = None) -> dict:
    data = {k: getattr(form, k).data for k in ("title", "org_id", "job_type_ids", "question_count", "mode",
                                                "late_policy", "attempts_per_day", "min_delay_seconds",
                                                "points_per_correct", "partial_credit", "pass_percent",
                                                "pass_bonus", "daily_points_cap")}
    data["tags"] = split_tags(form.tags.data)
    minutes = form.time_limit_minutes.data
    data["time_limit_seconds"] = minutes * 60 if minutes else None
    if quiz is not None and quiz.time_limit_seconds and minutes == -(-quiz.time_limit_seconds // 60):
        data["time_limit_seconds"] = quiz.time_limit_seconds  # shown rounded up to minutes; unchanged
    data["opens_at"], data["closes_at"] = _china_to_utc(form.opens_at.data), _china_to_utc(form.closes_at.data)
    return data


def _china_to_utc(value):
    return None if value is None else value.replace(tzinfo=clock.CHINA).astimezone(timezone.utc)


def _utc_to_china(value):
    return None if value is None else value.astimezone(clock.CHINA).replace(tzinfo=None)


# Services name the field and say what is wrong in English; the page says it in Chinese.
_QUIZ_FIELD_MESSAGES = {"title": _l("请填写名称"), "job_type_ids": _l("请选择一个或多个工种"),
                        "mode": _l("请选择模式"), "late_policy": _l("请选择超时交卷方式"),
                        "closes_at": _l("结束时间必须晚于开始时间"), "org_id": _l("请选择参加范围")}


def _quiz_field_errors(form: QuizForm, exc: DomainError) -> None:
    fields = (exc.details or {}).get("fields") or {}
    if isinstance(exc, NotFound) and not fields:
        fields = {"org_id": exc.message}
    for name, message in fields.items():
        field = getattr(form, name, None)
        target = field if field is not None else form.title
        target.errors = [*target.errors, _QUIZ_FIELD_MESSAGES.get(name, str(message))]
    if not fields:
        flash(exc.message, "error")


def _quiz_editor(form: QuizForm, quiz: Quiz | None):
    if form.validate_on_submit():
        try:
            with unit_of_work():
                if quiz is None:
                    quizzes.create_quiz(current_actor(), current_scope(), _quiz_data(form))
                else:
                    quizzes.update_quiz(current_actor(), current_scope(), quiz.id, _quiz_data(form, quiz))
        except (ValidationError, NotFound) as exc:
            _quiz_field_errors(form, exc)
        else:
            flash(_("答题活动已创建。") if quiz is None else _("答题活动已保存。"), "success")
            return redirect(url_for("quiz.admin_index"))
    status = 400 if request.method == "POST" and any(f.errors for f in form) else 200
    return render_template("quiz/admin_quiz_form.html", form=form, quiz=quiz), status


@bp.route("/admin/quizzes/new", methods=["GET", "POST"])
@admin_required
def admin_new_quiz():
    return _quiz_editor(_quiz_form(), None)


@bp.route("/admin/quizzes/<int:quiz_id>/edit", methods=["GET", "POST"])
@admin_required
def admin_edit_quiz(quiz_id):
    quiz = quizzes.get_quiz_in_scope(current_scope(), quiz_id)
    return _quiz_editor(_quiz_form(quiz), quiz)


@bp.post("/admin/quizzes/<int:quiz_id>/toggle")
@admin_required
def admin_toggle_quiz(quiz_id):
    if ActionForm().validate_on_submit():
        with unit_of_work():
            quiz = quizzes.get_quiz_in_scope(current_scope(), quiz_id)
            quizzes.update_quiz(current_actor(), current_scope(), quiz_id, {"is_enabled": not quiz.is_enabled})
    return redirect(url_for("quiz.admin_index"))


@bp.get("/admin/flagged")
@admin_required
def admin_flagged():
    page = page_number()
    items, total = paginate(quizzes.flagged_attempts(current_scope()), page, FLAGGED_PER_PAGE)
    return render_template("quiz/admin_flagged.html", rows=_flagged_rows(items), total=total, page=page,
                           pages=max(1, -(-total // FLAGGED_PER_PAGE)), fast_seconds=grading.FAST_SECONDS_PER_QUESTION)


def _flagged_rows(flagged: list[Attempt]) -> list[dict]:
    """Each flagged attempt with its member and quiz (two lookups for the page, not one per row)."""
    members = {m.id: m for m in db.session.scalars(
        db.select(Member).where(Member.id.in_({a.member_id for a in flagged})))} if flagged else {}
    quiz_by_id = {q.id: q for q in db.session.scalars(
        db.select(Quiz).where(Quiz.id.in_({a.quiz_id for a in flagged if a.quiz_id})))} if flagged else {}
    return [{"attempt": a, "member": members.get(a.member_id), "quiz": quiz_by_id.get(a.quiz_id),
             "seconds": int((a.submitted_at - a.started_at).total_seconds()) if a.submitted_at else None}
            for a in flagged]


@bp.route("/admin/job-types", methods=["GET", "POST"])
@admin_required
def admin_job_types():
    if request.method == "POST":
        bank.require_bank_manager(current_actor())  # every admin reads the list; managers add to it
    form = JobTypeForm()
    job_types = bank.job_types()
    if form.validate_on_submit():
        code, name = form.code.data.strip(), form.name.data.strip()
        try:
            with unit_of_work():
                bank.create_job_type(current_actor(), code, name)
        except Conflict:
            if code in {jt.code for jt in job_types}:
                form.code.errors = [_("这个代码已被使用")]
            if name in {jt.name for jt in job_types} or not form.code.errors:
                form.name.errors = [_("已有同名的工种")]
        except ValidationError:
            form.name.errors = [*form.name.errors, _("请填写代码和名称")]
        else:
            flash(_("工种“%(name)s”已添加。", name=name), "success")
            return redirect(url_for("quiz.admin_job_types"))
    status = 400 if request.method == "POST" and any(f.errors for f in form) else 200
    return render_template("quiz/admin_job_types.html", form=form, job_types=job_types,
                           counts=bank.question_counts(), bank_manager=_is_bank_manager()), status


@bp.route("/admin/questions/new", methods=["GET", "POST"])
@admin_required_at(*bank.MANAGER_LEVELS)
def admin_new_question():
    form = QuestionForm()
    form.job_type_id.choices = [(jt.id, jt.name) for jt in bank.job_types(True)]
    if request.method == "GET":
        form.job_type_id.data = request.args.get("job_type_id", type=whole_number)
        form.kind.data = request.args.get("kind") if request.args.get("kind") in QUESTION_KINDS else "single"
    problems = []
    if form.validate_on_submit():
        data = form.question_data()
        try:
            with unit_of_work():
                bank.create_question(current_actor(), data)
        except ValidationError as exc:
            problems = (exc.details or {}).get("problems") or [exc.message]
        else:
            flash(_("题目已添加。"), "success")
            if request.form.get("action") == "more":
                return redirect(url_for("quiz.admin_new_question", job_type_id=data["job_type_id"], kind=data["kind"]))
            return redirect(url_for("quiz.admin_questions", job_type_id=data["job_type_id"]))
    status = 400 if request.method == "POST" and (problems or any(f.errors for f in form)) else 200
    return render_template("quiz/admin_question_form.html", form=form, problems=problems), status


@bp.get("/admin/questions")
@admin_required
def admin_questions():
    job_type_id = request.args.get("job_type_id", type=whole_number)
    page = page_number()
    search = (request.args.get("q") or "")[:100]
    items, total = paginate(bank.questions_page_stmt(job_type_id, None, search), page, 30)
    return render_template("quiz/admin_questions.html", items=items, total=total, page=page, search=search,
                           job_type_id=job_type_id, job_types=bank.job_types(), form=ActionForm(),
                           names={jt.id: jt.name for jt in bank.job_types()}, bank_manager=_is_bank_manager())


@bp.post("/admin/questions/<int:question_id>/toggle")
@admin_required_at(*bank.MANAGER_LEVELS)
def admin_toggle_question(question_id):
    if ActionForm().validate_on_submit():
        try:
            with unit_of_work():
                question = db.session.get(Question, question_id)
                enabled = not question.is_enabled if question else True
                bank.set_question_enabled(current_actor(), question_id, enabled)
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(request.referrer or url_for("quiz.admin_questions"))


@bp.route("/admin/import", methods=["GET", "POST"])
@admin_required_at(*bank.MANAGER_LEVELS)
def admin_import():
    form = ImportForm()
    form.job_type.choices = [("", "—")] + [(jt.name, jt.name) for jt in bank.job_types(True)]
    result = None
    if form.validate_on_submit():
        upload = form.file.data
        fmt = form.format.data or importers.detect_format(upload.filename or "")
        try:
            questions, problems = importers.parse(upload.read(), fmt, form.job_type.data or "",
                                                  current_app.config["XLSX_MAX_UNCOMPRESSED"],
                                                  max_rows=current_app.config["WEB_IMPORT_MAX_ROWS"])
            with unit_of_work():
                result = bank.import_questions(current_actor(), questions, problems, skip_bad=form.skip_bad.data)
        except importers.TooManyRows as exc:
            flash(_("题目过多（网页最多 %(n)s 道），请使用命令行导入（flask quiz import）。", n=exc.max_rows), "error")
        except importers.FileProblem as exc:
            flash(str(exc), "error")
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template("quiz/admin_import.html", form=form, result=result)


@bp.get("/admin/template.<fmt>")
@admin_required_at(*bank.MANAGER_LEVELS)
def admin_template(fmt):
    return _download(importers.TEMPLATE_EXAMPLES, fmt, "题库导入模板")


@bp.get("/admin/export.<fmt>")
@admin_required
def admin_export(fmt):
    rows = importers.template_rows(bank.export_questions(request.args.get("job_type_id", type=whole_number)))
    return _download(rows, fmt, "题库导出")


def _download(rows, fmt: str, name: str):
    if fmt == "xlsx":
        data, mime = importers.write_xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        data, mime = importers.write_csv(rows), "text/csv"
    else:
        raise NotFound(_("不支持这种文件格式。"))
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"{name}.{fmt}")
