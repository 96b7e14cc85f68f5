"""Skills drills: starting an attempt (a random draw of 20 from 31,713 questions) and submitting
one (grading, the points award through the ledger, the wrong-answer book).

`prepare` tops the question bank up to the report's 31,713 questions over 24 job types (through
the bulk import), makes a bench quiz with no per-day limits, and gives fresh member accounts to
two groups of members: group A starts attempts (every request a different member, so every
request is a real draw, never a resume); group B already has an open attempt with its answers
saved, and submits it. Bench accounts get a cheap password hash so signing thousands of them in
takes seconds; the quiz endpoints don't touch passwords.
"""
from __future__ import annotations

import json
import random
import secrets
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, insert, select
from werkzeug.security import generate_password_hash

from bench.harness import Scenario
from benefits import clock
from benefits.auth.models import User
from benefits.extensions import db
from benefits.members.models import Member
from benefits.orgs.models import Organisation
from benefits.quiz import grading, importers, service
from benefits.quiz.demo import JOB_TYPES, generate_rows
from benefits.quiz.models import Question, Quiz

ORDER = 50
BANK = 31_713
TITLE = "压测：全省职工技能练兵"
STARTERS = 2_500
SUBMITTERS = 2_500
PASSWORD = "bench-pass-2026"


def _top_up_bank() -> int:
    have = db.session.scalar(select(func.count()).select_from(Question)) or 0
    if have < BANK:
        known = service.resolve_job_types({name for _c, name in JOB_TYPES})
        for code, name in JOB_TYPES:
            if name not in known:
                service.create_job_type(None, code, name)
        questions, problems = importers._table(generate_rows(BANK - have, random.Random(have)))
        service.import_questions(None, questions, problems, skip_bad=True)
    return db.session.scalar(select(func.count()).select_from(Question))


def _bench_quiz() -> Quiz:
    quiz = db.session.scalar(select(Quiz).where(Quiz.title == TITLE))
    if quiz is None:
        province = db.session.scalar(select(Organisation).where(Organisation.parent_id.is_(None)).order_by(Organisation.id))
        quiz = service.create_quiz(None, province, {
            "title": TITLE, "job_type_ids": [jt.id for jt in service.job_types()], "question_count": 20,
            "mode": "scored", "points_per_correct": 1, "pass_percent": 80, "pass_bonus": 5})
    return quiz


def _new_accounts(count: int) -> list[Member]:
    """Members without an account yet get one (bench-only cheap hash)."""
    members = list(db.session.scalars(
        select(Member).outerjoin(User, User.member_id == Member.id)
        .where(User.id.is_(None), Member.status == "active").order_by(Member.id).limit(count)))
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    db.session.execute(insert(User), [
        {"username": m.id_number, "display_name": m.name, "role": "member", "password_hash": cheap,
         "member_id": m.id, "is_enabled": True, "session_token": secrets.token_hex(16), "created_at": clock.now()}
        for m in members])
    return members


def prepare(app) -> dict:
    total = _top_up_bank()
    quiz = _bench_quiz()
    starters = _new_accounts(STARTERS)
    submitters = _new_accounts(SUBMITTERS)
    attempts = []
    rng = random.Random(4100)
    for member in submitters:
        attempt = service.start_attempt(member, quiz.id)
        answers = {}
        for item in attempt.items:
            right = item.question.answer if rng.random() < 0.8 else item.option_order[0]
            answers[str(item.position)] = list(grading.to_shown(item.option_order, right))
        service.save_answers(member, attempt.id, answers)
        attempts.append(attempt.id)
    print(f"quiz: {total} questions, quiz {quiz.id}, {len(starters)} starters, {len(attempts)} open attempts")
    return {"quiz_id": quiz.id, "starters": [m.id_number for m in starters],
            "submitters": [(m.id_number, a) for m, a in zip(submitters, attempts)]}


def _cookies(server, usernames: list[str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(lambda u: server.login(u, PASSWORD), usernames))


_LUA = """
local jobs = %(jobs)s
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  -- each wrk thread walks its own eighth of the list, one member per request
  local i = (((tid or 1) - 1) * math.floor(#jobs / 8) + counter) %% #jobs + 1
  counter = counter + 1
  local job = jobs[i]
  return wrk.format("POST", job[2], {["Cookie"] = job[1], ["Content-Type"] = "application/json"}, "")
end
"""


def _lua(pairs: list[tuple[str, str]]) -> str:
    jobs = "{" + ",".join("{%s,%s}" % (json.dumps(c), json.dumps(p)) for c, p in pairs) + "}"
    return _LUA % {"jobs": jobs}


def _attempts_made(quiz_id: int, server) -> int:
    import psycopg
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM quiz_attempts WHERE quiz_id = %s", (quiz_id,)).fetchone()[0]


def _submitted(quiz_id: int, server) -> int:
    import psycopg
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM quiz_attempts WHERE quiz_id = %s AND status = 'submitted'",
                            (quiz_id,)).fetchone()[0]


def scenarios(state: dict, server) -> list[Scenario]:
    quiz_id = state["quiz_id"]
    start_path = f"/api/v1/quiz/quizzes/{quiz_id}/attempts"
    starters = [(c, start_path) for c in _cookies(server, state["starters"])]
    submitters = [(c, f"/api/v1/quiz/attempts/{a}/submit")
                  for c, (_u, a) in zip(_cookies(server, [u for u, _a in state["submitters"]]), state["submitters"])]
    return [
        Scenario(name="quiz: start attempt (draw 20)", lua=_lua(starters), ceiling="write", target=0.5,
                 before=lambda: _attempts_made(quiz_id, server),
                 after=lambda n, result: f"{_attempts_made(quiz_id, server) - n:,} new attempts for {result.requests:,} "
                                         f"requests ({len(starters):,} distinct members; more requests than members "
                                         f"would resume open attempts)"),
        Scenario(name="quiz: submit attempt (grade + award)", lua=_lua(submitters), ceiling="write", target=0.5,
                 before=lambda: _submitted(quiz_id, server),
                 after=lambda n, result: f"{_submitted(quiz_id, server) - n:,} attempts graded and awarded for "
                                         f"{result.requests:,} requests ({len(submitters):,} prepared)"),
    ]
