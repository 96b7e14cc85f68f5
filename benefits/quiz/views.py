"""Quiz pages: members take quizzes on a phone; admins manage the bank and quizzes."""
from __future__ import annotations

import io
from datetime import timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..auth.access import admin_required, current_actor, current_scope, member_required
from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_filter
from ..pagination import paginate
from . import importers, service
from .forms import ActionForm, ImportForm, QuizForm
from .models import Question

bp = Blueprint("quiz", __name__, url_prefix="/quiz")


# ---- member -----------------------------------------------------------------------------------

@bp.get("")
@member_required
def index():
    member = current_user.member
    return render_template("quiz/index.html", quizzes=service.quizzes_for_member(member),
                           recent=service.attempts_of(member, 10), form=ActionForm(),
                           book_size=len(service.wrong_book(member)))


@bp.post("/<int:quiz_id>/start")
@member_required
def start(quiz_id):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.index"))
    try:
        with unit_of_work():
            attempt = service.start_attempt(current_user.member, quiz_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for("quiz.index"))
    return redirect(url_for("quiz.attempt", attempt_id=attempt.id))


@bp.get("/attempts/<int:attempt_id>")
@member_required
def attempt(attempt_id):
    found = service.get_own_attempt(current_user.member, attempt_id)
    return render_template("quiz/attempt.html", view=service.attempt_view(found), form=ActionForm())


def _answers_from_form(view: dict) -> dict:
    answers = {}
    for item in view["items"]:
        picked = request.form.getlist(f"q{item['position']}")
        if picked:
            answers[str(item["position"])] = picked
    return answers


@bp.post("/attempts/<int:attempt_id>/submit")
@member_required
def submit(attempt_id):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.attempt", attempt_id=attempt_id))
    member = current_user.member
    try:
        with unit_of_work():
            found = service.get_own_attempt(member, attempt_id)
            answers = _answers_from_form(service.attempt_view(found))
            if answers and found.status == "open":
                try:
                    service.save_answers(member, attempt_id, answers)
                except service.TimeUp:
                    pass  # graded on what was saved in time
            service.submit_attempt(member, attempt_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    return redirect(url_for("quiz.attempt", attempt_id=attempt_id))


@bp.get("/wrong-book")
@member_required
def wrong_book():
    return render_template("quiz/wrong_book.html", entries=service.wrong_book(current_user.member), form=ActionForm())


@bp.post("/wrong-book/practice")
@member_required
def wrong_book_practice():
    if not ActionForm().validate_on_submit():
        return redirect(url_for("quiz.wrong_book"))
    try:
        with unit_of_work():
            found = service.start_wrong_book_practice(current_user.member)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("quiz.wrong_book"))
    return redirect(url_for("quiz.attempt", attempt_id=found.id))


@bp.get("/leaderboard")
@member_required
def leaderboard():
    member = current_user.member
    quizzes = service.quizzes_for_member(member)
    kind, _sep, ident = (request.args.get("board") or "").partition(":")
    quiz_id = int(ident) if kind == "q" and ident.isdigit() else None
    job_type_id = int(ident) if kind == "j" and ident.isdigit() else None
    if quiz_id is None and job_type_id is None and quizzes:
        quiz_id = quizzes[0].id
    if quiz_id is not None:
        service.get_quiz_for_member(member, quiz_id)
    period = request.args.get("period", "week")
    period = period if period in service.PERIODS else "week"
    scope = "all" if request.args.get("scope") == "all" else "union"
    rows = service.leaderboard(quiz_id=quiz_id, job_type_id=None if quiz_id else job_type_id, period=period,
                               org=member.org if scope == "union" else None) if (quiz_id or job_type_id) else []
    return render_template("quiz/leaderboard.html", rows=rows, quizzes=quizzes, job_types=service.job_types(True),
                           quiz_id=quiz_id, job_type_id=job_type_id, period=period, scope=scope)


# ---- admin ------------------------------------------------------------------------------------

@bp.get("/admin")
@admin_required
def admin_index():
    scope = current_scope()
    items, _total = paginate(service.quizzes_in_scope(scope), 1, 100)
    flagged, flagged_total = paginate(service.flagged_attempts(scope), 1, 20)
    return render_template("quiz/admin_index.html", quizzes=items, flagged=flagged, flagged_total=flagged_total,
                           job_types=service.job_types(), counts=service.question_counts(), form=ActionForm(),
                           names={jt.id: jt.name for jt in service.job_types()})


def _quiz_form() -> QuizForm:
    form = QuizForm()
    scope = current_scope()
    orgs = db.session.scalars(db.select(Organisation).where(subtree_filter(scope))
                              .where(Organisation.level != "grassroots").order_by(Organisation.path).limit(300))
    form.org_id.choices = [(o.id, o.name) for o in orgs] or [(scope.id, scope.name)]
    form.job_type_ids.choices = [(jt.id, jt.name) for jt in service.job_types(True)]
    return form


def _china_to_utc(value):
    return None if value is None else value.replace(tzinfo=clock.CHINA).astimezone(timezone.utc)


@bp.route("/admin/quizzes/new", methods=["GET", "POST"])
@admin_required
def admin_new_quiz():
    form = _quiz_form()
    if form.validate_on_submit():
        data = {k: getattr(form, k).data for k in ("title", "org_id", "job_type_ids", "question_count", "mode",
                                                    "late_policy", "attempts_per_day", "min_delay_seconds",
                                                    "points_per_correct", "partial_credit", "pass_percent",
                                                    "pass_bonus", "daily_points_cap")}
        data["tags"] = [t.strip() for t in (form.tags.data or "").replace("，", ",").split(",") if t.strip()]
        data["time_limit_seconds"] = form.time_limit_minutes.data * 60 if form.time_limit_minutes.data else None
        data["opens_at"], data["closes_at"] = _china_to_utc(form.opens_at.data), _china_to_utc(form.closes_at.data)
        try:
            with unit_of_work():
                service.create_quiz(current_actor(), current_scope(), data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("答题活动已创建。"), "success")
            return redirect(url_for("quiz.admin_index"))
    return render_template("quiz/admin_quiz_form.html", form=form)


@bp.post("/admin/quizzes/<int:quiz_id>/toggle")
@admin_required
def admin_toggle_quiz(quiz_id):
    if ActionForm().validate_on_submit():
        with unit_of_work():
            quiz = service.get_quiz_in_scope(current_scope(), quiz_id)
            service.update_quiz(current_actor(), current_scope(), quiz_id, {"is_enabled": not quiz.is_enabled})
    return redirect(url_for("quiz.admin_index"))


@bp.get("/admin/questions")
@admin_required
def admin_questions():
    job_type_id = request.args.get("job_type_id", type=int)
    page = max(1, request.args.get("page", 1, type=int))
    search = (request.args.get("q") or "")[:100]
    items, total = paginate(service.questions_page_stmt(job_type_id, None, search), page, 30)
    return render_template("quiz/admin_questions.html", items=items, total=total, page=page, search=search,
                           job_type_id=job_type_id, job_types=service.job_types(), form=ActionForm(),
                           names={jt.id: jt.name for jt in service.job_types()})


@bp.post("/admin/questions/<int:question_id>/toggle")
@admin_required
def admin_toggle_question(question_id):
    if ActionForm().validate_on_submit():
        try:
            with unit_of_work():
                question = db.session.get(Question, question_id)
                enabled = not question.is_enabled if question else True
                service.set_question_enabled(current_actor(), question_id, enabled)
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(request.referrer or url_for("quiz.admin_questions"))


@bp.route("/admin/import", methods=["GET", "POST"])
@admin_required
def admin_import():
    form = ImportForm()
    form.job_type.choices = [("", "—")] + [(jt.name, jt.name) for jt in service.job_types(True)]
    result = None
    if form.validate_on_submit():
        upload = form.file.data
        fmt = form.format.data or importers.detect_format(upload.filename or "")
        try:
            questions, problems = importers.parse(upload.read(), fmt, form.job_type.data or "",
                                                  current_app.config["XLSX_MAX_UNCOMPRESSED"])
            if len(questions) > current_app.config["WEB_IMPORT_MAX_ROWS"]:
                raise importers.FileProblem(_("题目过多，请使用命令行导入（flask quiz import）。"))
            with unit_of_work():
                result = service.import_questions(current_actor(), questions, problems, skip_bad=form.skip_bad.data)
        except importers.FileProblem as exc:
            flash(str(exc), "error")
        except DomainError as exc:
            flash(exc.message, "error")
    return render_template("quiz/admin_import.html", form=form, result=result)


@bp.get("/admin/template.<fmt>")
@admin_required
def admin_template(fmt):
    return _download(importers.TEMPLATE_EXAMPLES, fmt, "题库导入模板")


@bp.get("/admin/export.<fmt>")
@admin_required
def admin_export(fmt):
    rows = importers.template_rows(service.export_questions(request.args.get("job_type_id", type=int)))
    return _download(rows, fmt, "题库导出")


def _download(rows, fmt: str, name: str):
    if fmt == "xlsx":
        data, mime = importers.write_xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        data, mime = importers.write_csv(rows), "text/csv"
    else:
        from ..errors import NotFound
        raise NotFound("unknown format")
    return send_file(io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"{name}.{fmt}")
