"""A city admin on a phone adds a job type and a question to its bank, edits a quiz and looks at
the suspiciously fast attempts."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.quiz import attempts
from benefits.quiz.models import JobType, Question, Quiz
from tests import factories
from tests.services import quiz_world as qw

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def test_admin_builds_the_bank_and_edits_a_quiz_on_a_phone(live, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        factories.admin(tree["bozhou"], "bozhou_admin")
        quiz_id = qw.quiz(tree["bozhou"], [qw.bank("电工", 6)], question_count=5).id
        member = qw.member(tree["gujing"], name="李娜")
        with clock.freeze(T0):
            attempt_id = attempts.start_attempt(member.id, quiz_id)["id"]
            attempts.save_answers(member.id, attempt_id, qw.right_answers(attempt_id))
        with clock.freeze(T0 + timedelta(seconds=3)):
            attempts.submit_attempt(member.id, attempt_id)
    page = phone_page
    page.goto(live.url + "/login")
    page.fill("input[name=username]", "bozhou_admin")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")

    page.goto(live.url + "/quiz/admin")
    page.get_by_test_id("job-types-link").click()
    page.fill("input[name=name]", "焊工")
    page.fill("input[name=code]", "HG")
    page.get_by_test_id("save-job-type").click()
    assert "焊工" in page.get_by_test_id("job-types").inner_text()
    page.snap("job_types")

    page.get_by_role("link", name="新增题目").last.click()
    page.select_option("select[name=kind]", "multiple")
    page.fill("textarea[name=stem]", "气焊作业前应检查哪些项目？")
    page.fill("input[name=option_a]", "气瓶阀门")
    page.fill("input[name=option_c]", "回火防止器")
    page.check("input[name=answer][value=A]")
    page.check("input[name=answer][value=C]")
    page.get_by_test_id("save-question").click()
    assert "中间的选项不能留空" in page.get_by_test_id("question-form").inner_text()
    page.snap("question_error")
    page.fill("input[name=option_b]", "胶管连接")
    page.get_by_test_id("save-question").click()
    assert "题目已添加。" in page.content() and "气焊作业前应检查哪些项目？" in page.content()

    page.goto(live.url + "/quiz/admin")
    page.get_by_test_id("edit-quiz").click()
    page.fill("input[name=title]", "焊工安全周")
    page.check("input[name=job_type_ids] >> nth=1")
    page.fill("input[name=attempts_per_day]", "3")
    page.snap("edit_quiz")
    page.get_by_test_id("save-quiz").click()
    assert "焊工安全周" in page.get_by_test_id("quizzes").inner_text()
    page.snap("index")
    page.get_by_test_id("flagged-link").click()
    assert "李娜" in page.get_by_test_id("flagged").inner_text()
    page.snap("flagged")

    with live.seed.app_context():
        welder = db.session.scalar(select(JobType).where(JobType.code == "HG"))
        question = db.session.scalar(select(Question).where(Question.job_type_id == welder.id))
        quiz = db.session.get(Quiz, quiz_id)
        assert (question.kind, question.options, question.answer) == ("multiple", ["气瓶阀门", "胶管连接", "回火防止器"], "AC")
        assert (quiz.title, quiz.attempts_per_day, len(quiz.job_type_ids)) == ("焊工安全周", 3, 2)

