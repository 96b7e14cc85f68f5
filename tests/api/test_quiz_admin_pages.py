"""Quiz admin pages: job types, new questions, editing a quiz and the flagged-attempts list.

Each page writes through the same services as the JSON API; these tests check what an admin
sees and that a refused form writes nothing.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.quiz import attempts
from benefits.quiz.models import JobType, Question, Quiz
from tests import factories
from tests.services import quiz_world as qw

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def bank(world):
    with unit_of_work():
        electrician = qw.bank("电工", 9)
        quiz = qw.quiz(world.tree["bozhou"], [electrician], question_count=6, time_limit_seconds=600)
    return electrician, quiz


def login(client, username: str):
    response = client.post("/login", data={"username": username, "password": factories.PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def error_after(html: str, name: str, message: str) -> bool:
    """The message is rendered right after the named field (the field macro puts errors there)."""
    return re.search(rf'name="{name}"[^>]*>(\s|</?textarea>|[^<])*<small class="error">{re.escape(message)}', html) \
        is not None


def question_form(job_type_id: int, **overrides) -> dict:
    data = {"job_type_id": job_type_id, "kind": "multiple", "stem": "验电器使用前应做什么？",
            "option_a": "检查外观", "option_b": "在有电设备上试验", "option_c": "直接使用", "answer": ["A", "B"],
            "score": "2", "difficulty": "3", "explanation": "确认验电器良好。", "tags": "仪表，安全"}
    data.update(overrides)
    return data


def test_index_links_every_admin_page(client, world, bank):
    _jt, quiz = bank
    html = login(client, "bozhou_admin").get("/quiz/admin").get_data(as_text=True)
    for endpoint in ("/quiz/admin/job-types", "/quiz/admin/questions/new", "/quiz/admin/flagged",
                     f"/quiz/admin/quizzes/{quiz.id}/edit"):
        assert f'href="{endpoint}' in html, endpoint
    questions = client.get("/quiz/admin/questions").get_data(as_text=True)
    assert 'href="/quiz/admin/questions/new' in questions


def test_job_types_page_lists_counts_and_adds_one(client, world, bank):
    electrician, _quiz = bank
    login(client, "bozhou_admin")
    page = client.get("/quiz/admin/job-types")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "新增工种" in html and "电工" in html and "9 题" in html

    made = client.post("/quiz/admin/job-types", data={"code": "MG", "name": "木工"})
    assert made.status_code == 302
    carpenter = db.session.scalar(select(JobType).where(JobType.code == "MG"))
    assert carpenter is not None and carpenter.name == "木工" and carpenter.is_enabled
    assert count(AuditEntry, AuditEntry.action == "quiz.job_type.create") == 1
    listed = client.get("/quiz/admin/job-types").get_data(as_text=True)
    assert "木工" in listed and "工种“木工”已添加。" in listed

    taken = client.post("/quiz/admin/job-types", data={"code": "MG2", "name": "电工"})
    assert taken.status_code == 400 and error_after(taken.get_data(as_text=True), "name", "已有同名的工种")
    code_taken = client.post("/quiz/admin/job-types", data={"code": "MG", "name": "瓦工"})
    assert code_taken.status_code == 400 and error_after(code_taken.get_data(as_text=True), "code", "这个代码已被使用")
    empty = client.post("/quiz/admin/job-types", data={"code": "WG", "name": ""})
    assert empty.status_code == 400 and error_after(empty.get_data(as_text=True), "name", "")
    assert count(JobType) == 2


def test_only_province_and_city_admins_change_the_bank(client, world, bank):
    electrician, _quiz = bank
    with unit_of_work():
        factories.admin(world.tree["qiaocheng"], "qiaocheng_admin")
    login(client, "qiaocheng_admin")
    page = client.get("/quiz/admin/job-types")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "电工" in html and "job-type-form" not in html
    assert "只有省、市级工会管理员可以新增工种和题目。" in html
    assert client.post("/quiz/admin/job-types", data={"code": "MG", "name": "木工"}).status_code == 403
    assert client.get("/quiz/admin/questions/new").status_code == 403
    assert client.post("/quiz/admin/questions/new", data=question_form(electrician.id)).status_code == 403
    assert 'href="/quiz/admin/questions/new' not in client.get("/quiz/admin").get_data(as_text=True)
    assert count(JobType) == 1 and count(Question) == 9
    client.post("/logout")
    login(client, world.li.username)
    assert client.get("/quiz/admin/job-types").status_code == 403


def test_new_question_page_creates_each_kind(client, world, bank):
    electrician, _quiz = bank
    login(client, "bozhou_admin")
    page = client.get(f"/quiz/admin/questions/new?job_type_id={electrician.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "新增题目" in html and "题干" in html and "选项 F" in html
    assert re.search(rf'<option selected value="{electrician.id}">电工</option>', html)

    made = client.post("/quiz/admin/questions/new", data=question_form(electrician.id))
    assert made.status_code == 302
    assert made.headers["Location"].endswith(f"/quiz/admin/questions?job_type_id={electrician.id}")
    question = db.session.scalar(select(Question).where(Question.stem == "验电器使用前应做什么？"))
    assert (question.kind, question.options, question.answer) == ("multiple", ["检查外观", "在有电设备上试验", "直接使用"], "AB")
    assert (question.score, question.difficulty, question.tag_list) == (2, 3, ["仪表", "安全"])
    assert question.explanation == "确认验电器良好。" and question.is_enabled

    true_false = client.post("/quiz/admin/questions/new", data={
        "job_type_id": electrician.id, "kind": "truefalse", "stem": "停电作业前必须验电。", "answer": ["A"],
        "score": "1", "difficulty": "1", "action": "more"})
    assert true_false.status_code == 302 and "/quiz/admin/questions/new?" in true_false.headers["Location"]
    question = db.session.scalar(select(Question).where(Question.stem == "停电作业前必须验电。"))
    assert (question.kind, question.options, question.answer) == ("truefalse", ["正确", "错误"], "A")
    listed = client.get(f"/quiz/admin/questions?job_type_id={electrician.id}").get_data(as_text=True)
    assert "验电器使用前应做什么？" in listed and "共 11 题" in listed


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"stem": ""}, "stem", None),
    ({"option_b": "", "option_c": "直接使用"}, "option_b", "中间的选项不能留空"),
    ({"option_b": "", "option_c": ""}, "option_b", "至少需要 2 个选项"),
    ({"kind": "single"}, "answer", "单选题和判断题只能有一个正确答案"),
    ({"answer": ["A"]}, "answer", "多选题至少需要两个正确答案"),
    ({"answer": ["A", "E"]}, "answer", "所选答案没有对应的选项"),
    ({"answer": []}, "answer", "请勾选正确答案"),
    ({"kind": "truefalse", "answer": ["A"]}, "option_c", "判断题恰好 2 个选项；都不填即为“正确 / 错误”"),
    ({"score": "0"}, "score", None),
    ({"tags": "这是一个非常非常非常非常非常非常非常非常非常非常长的标签超过三十个字"}, "tags", "每个标签最多 30 个字"),
])
def test_a_bad_question_is_refused_next_to_its_field(client, world, bank, changes, field, message):
    electrician, _quiz = bank
    login(client, "bozhou_admin")
    response = client.post("/quiz/admin/questions/new", data=question_form(electrician.id, **changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    if message is None:
        assert re.search(rf'name="{field}"[^>]*>(\s|[^<]|</textarea>)*<small class="error">', html), html
    elif field == "answer":
        assert re.search(rf'<legend>正确答案</legend>.*<small class="error">{message}</small>\s*</fieldset>', html, re.S)
    else:
        assert error_after(html, field, message), html
    assert count(Question) == 9 and count(AuditEntry, AuditEntry.action == "quiz.question.create") == 0


def test_edit_quiz_page_shows_and_saves_the_settings(client, world, bank):
    electrician, quiz = bank
    with unit_of_work():
        welder = qw.bank("焊工", 3)
    login(client, "bozhou_admin")
    page = client.get(f"/quiz/admin/quizzes/{quiz.id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "编辑答题活动" in html and 'value="安全知识竞赛"' in html
    assert re.search(rf'checked[^>]*value="{electrician.id}"|value="{electrician.id}"[^>]*checked', html)
    assert re.search(r'name="time_limit_minutes"[^>]*value="10"', html)

    form = {"title": "电焊安全月", "org_id": world.tree["bozhou"].id, "job_type_ids": [electrician.id, welder.id],
            "tags": "安全", "question_count": "8", "mode": "practice", "time_limit_minutes": "15",
            "late_policy": "refuse", "attempts_per_day": "2", "min_delay_seconds": "60", "points_per_correct": "3",
            "partial_credit": "y", "pass_percent": "80", "pass_bonus": "10", "daily_points_cap": "50",
            "opens_at": "2026-04-01T08:00", "closes_at": "2026-04-30T20:00"}
    saved = client.post(f"/quiz/admin/quizzes/{quiz.id}/edit", data=form)
    assert saved.status_code == 302
    db.session.expire_all()
    quiz = db.session.get(Quiz, quiz.id)
    assert (quiz.title, quiz.job_type_ids, quiz.tags, quiz.question_count, quiz.mode) == (
        "电焊安全月", [electrician.id, welder.id], ["安全"], 8, "practice")
    assert (quiz.time_limit_seconds, quiz.late_policy, quiz.attempts_per_day, quiz.min_delay_seconds) == (
        900, "refuse", 2, 60)
    assert (quiz.points_per_correct, quiz.partial_credit, quiz.pass_percent, quiz.pass_bonus,
            quiz.daily_points_cap) == (3, True, 80, 10, 50)
    assert clock.as_utc(quiz.opens_at) == datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc)
    assert count(AuditEntry, AuditEntry.action == "quiz.update") == 1
    assert "电焊安全月" in client.get("/quiz/admin").get_data(as_text=True)

    backwards = client.post(f"/quiz/admin/quizzes/{quiz.id}/edit",
                            data={**form, "title": "不该保存", "closes_at": "2026-03-01T08:00"})
    assert backwards.status_code == 400
    assert error_after(backwards.get_data(as_text=True), "closes_at", "结束时间必须晚于开始时间")
    no_types = client.post(f"/quiz/admin/quizzes/{quiz.id}/edit", data={**form, "title": "不该保存", "job_type_ids": []})
    assert no_types.status_code == 400
    db.session.expire_all()
    assert db.session.get(Quiz, quiz.id).title == "电焊安全月" and count(AuditEntry, AuditEntry.action == "quiz.update") == 1


def test_edit_keeps_a_time_limit_that_is_not_whole_minutes(client, world, bank):
    _jt, quiz = bank
    with unit_of_work():
        db.session.get(Quiz, quiz.id).time_limit_seconds = 90
    login(client, "bozhou_admin")
    html = client.get(f"/quiz/admin/quizzes/{quiz.id}/edit").get_data(as_text=True)
    assert re.search(r'name="time_limit_minutes"[^>]*value="2"', html)
    form = {"title": "改名", "org_id": world.tree["bozhou"].id, "job_type_ids": quiz.job_type_ids,
            "question_count": "6", "mode": "scored", "time_limit_minutes": "2", "late_policy": "grade_saved",
            "min_delay_seconds": "0", "points_per_correct": "1", "pass_bonus": "0"}
    assert client.post(f"/quiz/admin/quizzes/{quiz.id}/edit", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(Quiz, quiz.id).time_limit_seconds == 90


def test_another_union_cannot_open_or_edit_the_quiz(client, world, bank):
    _jt, quiz = bank
    login(client, "maanshan_admin")
    assert client.get(f"/quiz/admin/quizzes/{quiz.id}/edit").status_code == 404
    assert client.post(f"/quiz/admin/quizzes/{quiz.id}/edit", data={"title": "x"}).status_code == 404
    assert f"/quiz/admin/quizzes/{quiz.id}/edit" not in client.get("/quiz/admin").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Quiz, quiz.id).title == "安全知识竞赛"


def test_flagged_attempts_page_lists_fast_attempts_in_scope(client, world, bank):
    _jt, quiz = bank
    for member, seconds in ((world.li_member, 4), (world.li_member, 300)):
        with unit_of_work(), clock.freeze(T0 + timedelta(days=seconds)):
            attempt_id = attempts.start_attempt(member.id, quiz.id)["id"]
            attempts.save_answers(member.id, attempt_id, qw.right_answers(attempt_id))
        with unit_of_work(), clock.freeze(T0 + timedelta(days=seconds, seconds=seconds)):
            attempts.submit_attempt(member.id, attempt_id)
    login(client, "bozhou_admin")
    page = client.get("/quiz/admin/flagged")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "用时过短的答题" in html
    assert html.count("李娜") == 1 and "安全知识竞赛" in html and "4 秒" in html and "300 秒" not in html
    assert f'href="/admin/members/{world.li_member.id}"' in html
    assert "李娜" in client.get("/quiz/admin").get_data(as_text=True)
    client.post("/logout")
    login(client, "maanshan_admin")
    other = client.get("/quiz/admin/flagged").get_data(as_text=True)
    assert "李娜" not in other and "没有" in other


def test_new_pages_speak_english_on_request(client, world, bank):
    import flask_babel
    electrician, quiz = bank
    login(client, "bozhou_admin")
    flask_babel.refresh()
    try:
        pages = {"/quiz/admin/job-types?lang=en": "Add a job type",
                 f"/quiz/admin/questions/new?job_type_id={electrician.id}&lang=en": "Stem",
                 f"/quiz/admin/quizzes/{quiz.id}/edit?lang=en": "Edit quiz",
                 "/quiz/admin/flagged?lang=en": "Suspiciously fast attempts"}
        for url, text in pages.items():
            html = client.get(url).get_data(as_text=True)
            assert text in html, url
    finally:
        flask_babel.refresh()


def test_new_quiz_page_still_creates_a_quiz_with_job_type_checkboxes(client, world, bank):
    electrician, _quiz = bank
    login(client, "bozhou_admin")
    html = client.get("/quiz/admin/quizzes/new").get_data(as_text=True)
    assert "新建答题活动" in html and f'type="checkbox" value="{electrician.id}"' in html
    made = client.post("/quiz/admin/quizzes/new", data={
        "title": "电工月考", "org_id": world.tree["qiaocheng"].id, "job_type_ids": [electrician.id],
        "question_count": "5", "mode": "scored", "late_policy": "grade_saved", "min_delay_seconds": "0",
        "points_per_correct": "1", "pass_bonus": "0"})
    assert made.status_code == 302
    created = db.session.scalar(select(Quiz).where(Quiz.title == "电工月考"))
    assert created.org_id == world.tree["qiaocheng"].id and created.job_type_ids == [electrician.id]
