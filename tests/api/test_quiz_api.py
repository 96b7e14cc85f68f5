"""Quiz over HTTP: the member flow, what payloads and pages reveal, scope, admin management."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.quiz import importers
from benefits.quiz.models import Attempt, Question
from tests.api.conftest import api_login, csrf_header, error_code
from tests.services import quiz_world as qw


@pytest.fixture
def quiz(world):
    with unit_of_work():
        jt = qw.bank("电工", 30)
        quiz = qw.quiz(world.tree["bozhou"], [jt], question_count=6, points_per_correct=2, time_limit_seconds=600)
    return quiz


def secrets_of(attempt_id) -> list[str]:
    attempt = db.session.get(Attempt, attempt_id)
    return [i.question.explanation for i in attempt.items]


def start(client, quiz_id):
    response = client.post(f"/api/v1/quiz/quizzes/{quiz_id}/attempts")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_member_takes_a_quiz_and_no_answer_leaks_before_submit(client, world, quiz):
    api_login(client, world.li.username)
    listed = client.get("/api/v1/quiz/quizzes").get_json()
    assert [q["id"] for q in listed] == [quiz.id] and "job_type_ids" not in listed[0]
    body = start(client, quiz.id)
    again = client.get(f"/api/v1/quiz/attempts/{body['id']}")
    for raw in (json.dumps(body, ensure_ascii=False), again.get_data(as_text=True)):
        assert '"correct"' not in raw and '"is_correct"' not in raw and '"explanation"' not in raw
        assert not any(secret in raw for secret in secrets_of(body["id"]))
    assert len(body["items"]) == 6 and body["remaining_seconds"] == 600
    page = client.get(f"/quiz/attempts/{body['id']}").get_data(as_text=True)
    assert not any(secret in page for secret in secrets_of(body["id"])) and "正确答案" not in page

    saved = client.put(f"/api/v1/quiz/attempts/{body['id']}/answers", json={"answers": qw.right_answers(body["id"])})
    assert saved.status_code == 200 and "explanation" not in saved.get_data(as_text=True)
    result = client.post(f"/api/v1/quiz/attempts/{body['id']}/submit").get_json()
    assert result["correct_count"] == 6 and result["points_awarded"] == 12
    assert all(i["is_correct"] and i["correct"] == i["chosen"] for i in result["items"])
    assert client.get("/api/v1/points/balance").get_json()["balance"] == 12
    history = client.get("/api/v1/points/history").get_json()
    assert history["total"] == 1 and history["items"][0]["reason"] == "答题得分：安全知识竞赛"
    page = client.get(f"/quiz/attempts/{body['id']}").get_data(as_text=True)
    assert secrets_of(body["id"])[0] in page
    assert client.post(f"/api/v1/quiz/attempts/{body['id']}/submit").get_json()["points_awarded"] == 12
    assert client.get("/api/v1/points/balance").get_json()["balance"] == 12


def test_someone_elses_attempt_is_not_found(client, world, quiz):
    with unit_of_work():
        other = qw.member(world.tree["gujing"], name="周其")
    api_login(client, other.id_number)
    theirs = start(client, quiz.id)["id"]
    client.post("/api/v1/auth/logout")
    api_login(client, world.li.username)
    assert client.get(f"/api/v1/quiz/attempts/{theirs}").status_code == 404
    assert error_code(client.put(f"/api/v1/quiz/attempts/{theirs}/answers", json={"answers": {"1": ["A"]}})) == "not_found"
    assert error_code(client.post(f"/api/v1/quiz/attempts/{theirs}/submit")) == "not_found"
    db.session.expire_all()
    assert db.session.get(Attempt, theirs).status == "open"
    client.post("/api/v1/auth/logout")
    api_login(client, world.wang.username)  # 马钢, outside the quiz's Bozhou subtree
    assert client.get("/api/v1/quiz/quizzes").get_json() == []
    assert error_code(client.post(f"/api/v1/quiz/quizzes/{quiz.id}/attempts")) == "not_found"


def test_bad_answers_are_refused_with_field_details(client, world, quiz):
    api_login(client, world.li.username)
    attempt = start(client, quiz.id)
    url = f"/api/v1/quiz/attempts/{attempt['id']}/answers"
    single = next(i["position"] for i in attempt["items"] if i["kind"] != "multiple")
    for answers in ({str(single): ["A", "B"]}, {"99": ["A"]}, {"1": ["Z"]}, {"1": []}, {"x": ["A"]}):
        response = client.put(url, json={"answers": answers})
        assert response.status_code == 400, answers
        assert error_code(response) == "validation_error"
    assert client.put(url, data="nonsense", content_type="application/json").status_code == 400


def test_admin_manages_quizzes_only_in_scope_and_members_cannot(client, world, quiz):
    api_login(client, "maanshan_admin")
    assert error_code(client.get(f"/api/v1/quiz/admin/quizzes/{quiz.id}")) == "not_found"
    assert error_code(client.patch(f"/api/v1/quiz/admin/quizzes/{quiz.id}", json={"title": "x"})) == "not_found"
    created = client.post("/api/v1/quiz/admin/quizzes", json={
        "title": "马鞍山安全月", "job_type_ids": [quiz.job_type_ids[0]], "org_id": world.tree["bozhou"].id})
    assert error_code(created) == "not_found"
    bad = client.post("/api/v1/quiz/admin/quizzes", json={"title": "x", "job_type_ids": [999], "mode": "exam"})
    assert bad.status_code == 400 and "mode" in bad.get_json()["error"]["details"]["fields"]
    made = client.post("/api/v1/quiz/admin/quizzes", json={
        "title": "马鞍山安全月", "job_type_ids": quiz.job_type_ids, "attempts_per_day": 1,
        "opens_at": "2026-01-01T00:00:00+08:00", "closes_at": "2025-01-01T00:00:00+08:00"})
    assert made.status_code == 400 and "closes_at" in made.get_json()["error"]["details"]["fields"]
    made = client.post("/api/v1/quiz/admin/quizzes", json={
        "title": "马鞍山安全月", "job_type_ids": quiz.job_type_ids, "attempts_per_day": 1})
    assert made.status_code == 201 and made.get_json()["org_id"] == world.tree["maanshan"].id
    patched = client.patch(f"/api/v1/quiz/admin/quizzes/{made.get_json()['id']}", json={"is_enabled": False})
    assert patched.get_json()["is_enabled"] is False and patched.get_json()["attempts_per_day"] == 1
    client.post("/api/v1/auth/logout")
    api_login(client, world.li.username)
    assert client.get("/api/v1/quiz/admin/quizzes").status_code == 403


def test_admin_question_bank_create_disable_and_import(client, world, quiz):
    api_login(client, "bozhou_admin")
    jt_id = quiz.job_type_ids[0]
    made = client.post("/api/v1/quiz/admin/questions", json={
        "job_type_id": jt_id, "kind": "multiple", "stem": "验电器使用前应？", "options": ["检查外观", "在有电设备上试验", "直接使用"],
        "answer": "AB", "explanation": "确认验电器良好。", "tags": ["仪表"]})
    assert made.status_code == 201 and made.get_json()["tags"] == ["仪表"]
    wrong = client.post("/api/v1/quiz/admin/questions", json={
        "job_type_id": jt_id, "kind": "single", "stem": "?", "options": ["a", "b"], "answer": "C"})
    assert wrong.status_code == 400
    off = client.patch(f"/api/v1/quiz/admin/questions/{made.get_json()['id']}", json={"is_enabled": False})
    assert off.get_json()["is_enabled"] is False
    listed = client.get(f"/api/v1/quiz/admin/questions?job_type_id={jt_id}&enabled=false").get_json()
    assert listed["total"] == 1

    before = db.session.scalar(select(func.count()).select_from(Question))
    rows = [["电工", "单选", "好题一", "甲", "乙", "", "", "", "", "A", 1, "", 2, ""],
            ["电工", "单选", "坏题", "甲", "乙", "", "", "", "", "Q", 1, "", 2, ""],
            ["木工", "判断", "未知工种", "", "", "", "", "", "", "对", 1, "", 1, ""]]
    data = importers.write_csv(rows)
    refused = client.post("/api/v1/quiz/admin/questions/import",
                          data={"file": (io.BytesIO(data), "bank.csv")}, content_type="multipart/form-data", headers=csrf_header(client))
    body = refused.get_json()
    assert body["imported"] == 0 and [p["line"] for p in body["problems"]] == [3, 4]
    assert db.session.scalar(select(func.count()).select_from(Question)) == before
    skipped = client.post("/api/v1/quiz/admin/questions/import?skip_bad=true",
                          data={"file": (io.BytesIO(data), "bank.csv")}, content_type="multipart/form-data", headers=csrf_header(client))
    assert skipped.get_json()["imported"] == 1
    gift = client.post("/api/v1/quiz/admin/questions/import?job_type=电工",
                       data={"file": (io.BytesIO("火警电话？ {=119 ~110 ~120}\n".encode()), "a.gift")},
                       content_type="multipart/form-data", headers=csrf_header(client))
    assert gift.get_json()["imported"] == 1
    junk = client.post("/api/v1/quiz/admin/questions/import",
                       data={"file": (io.BytesIO(b"PK junk"), "a.xlsx")}, content_type="multipart/form-data", headers=csrf_header(client))
    assert error_code(junk) == "bad_file"


def test_grassroots_admin_cannot_change_the_shared_bank(client, world, quiz):
    from tests import factories
    with unit_of_work():
        factories.admin(world.tree["gujing"], "gujing_admin")
    api_login(client, "gujing_admin")
    response = client.post("/api/v1/quiz/admin/job-types", json={"code": "MG", "name": "木工"})
    assert error_code(response) == "forbidden"


def test_leaderboard_and_wrong_book_over_the_api(client, world, quiz):
    api_login(client, world.li.username)
    attempt = start(client, quiz.id)
    client.put(f"/api/v1/quiz/attempts/{attempt['id']}/answers", json={"answers": qw.wrong_answers(attempt["id"])})
    client.post(f"/api/v1/quiz/attempts/{attempt['id']}/submit")
    assert len(client.get("/api/v1/quiz/wrong-book").get_json()) == 6
    practice = client.post("/api/v1/quiz/wrong-book/attempts")
    assert practice.status_code == 201 and practice.get_json()["mode"] == "practice"
    board = client.get(f"/api/v1/quiz/leaderboard?quiz_id={quiz.id}&period=all&scope=all")
    assert board.status_code == 200 and board.get_json() == []
    assert client.get("/api/v1/quiz/leaderboard?period=year").status_code == 400


def test_quiz_pages_render_in_both_languages(client, world, quiz):
    from tests.conftest import AuthActions
    AuthActions(client).login(world.li.username)
    page = client.get("/quiz")
    assert page.status_code == 200 and "开始答题" in page.get_data(as_text=True)
    import flask_babel
    flask_babel.refresh()  # the test keeps one app context, where Babel caches the locale
    english = client.get("/quiz?lang=en").get_data(as_text=True)
    assert "Start the quiz" in english and "Wrong-answer book" in english
    flask_babel.refresh()
    assert client.get("/quiz/leaderboard").status_code == 200
    assert client.get("/quiz/wrong-book").status_code == 200
    assert "积分余额" in client.get("/me/points").get_data(as_text=True)
