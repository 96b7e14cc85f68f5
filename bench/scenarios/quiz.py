"""Skills drills: starting an attempt (a random draw of 20 from 31,713 questions) and submitting
one (grading, the points award through the ledger, the wrong-answer book).

`prepare` tops the question bank up to the report's 31,713 questions over 24 job types (through
the bulk import), makes a fresh bench quiz for this run (no per-day limits; earlier bench quizzes
are disabled) and two groups of members: group A starts attempts, group B already has an open
attempt with its answers saved, and submits it. Each group has more members than a run can
send requests (`MAX_RATE` × `BENCH_SECONDS` + connections), and wrk gives every request the next
member, so every measured start is a real draw of a new attempt (never a resume) and every
measured submit a real first grading and award (never a replay); the notes under the table
count them. Bench accounts get a cheap password hash so signing thousands of them in takes
seconds (the quiz endpoints don't touch passwords); they are reused by later runs, which is why
each run takes a new quiz.
"""
from __future__ import annotations

import json
import os
import random
import secrets
from concurrent.futures import ThreadPoolExecutor

import psycopg
from sqlalchemy import func, insert, or_, select, text, update
from werkzeug.security import generate_password_hash

from bench.harness import Scenario
from benefits import clock
from benefits.auth.models import User
from benefits.extensions import db
from benefits.members.models import Member
from benefits.orgs.models import Organisation
from benefits.quiz import attempts, bank, importers, quizzes
from benefits.quiz.demo import JOB_TYPES, generate_rows
from benefits.quiz.models import Question, Quiz

ORDER = 50
BANK = 31_713
TITLE = "压测：全省职工技能练兵"
PASSWORD = "bench-pass-2026"
CHEAP_HASH = "pbkdf2:sha256:1$"
# No quiz endpoint comes near this many requests a second on these machines (the raw-SQL write
# ceiling is about 1,000); each group gets enough members for a whole run at this rate.
MAX_RATE = 1_200
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
GROUP = MAX_RATE * SECONDS + CONNECTIONS


def _top_up_bank() -> int:
    have = db.session.scalar(select(func.count()).select_from(Question)) or 0
    if have < BANK:
        known = bank.resolve_job_types({name for _c, name in JOB_TYPES})
        for code, name in JOB_TYPES:
            if name not in known:
                bank.create_job_type(None, code, name)
        questions, problems = importers.parse_rows(generate_rows(BANK - have, random.Random(have)))
        bank.import_questions(None, questions, problems, skip_bad=True)
    return db.session.scalar(select(func.count()).select_from(Question))


def _bench_quiz() -> Quiz:
    """A new quiz for this run (earlier runs' bench members have open attempts in theirs)."""
    db.session.execute(update(Quiz).where(Quiz.title.like(TITLE + "%")).values(is_enabled=False))
    province = db.session.scalar(select(Organisation).where(Organisation.parent_id.is_(None)).order_by(Organisation.id))
    return quizzes.create_quiz(None, province, {
        "title": f"{TITLE} {clock.now():%Y%m%d%H%M%S}", "job_type_ids": [jt.id for jt in bank.job_types()],
        "question_count": 20, "mode": "scored", "points_per_correct": 1, "pass_percent": 80, "pass_bonus": 5})


def _accounts(count: int) -> list[Member]:
    """`count` members with a bench account: earlier runs' first, then new ones (cheap hash).
    Members with an account of their own (demo users) are left alone."""
    members = list(db.session.scalars(
        select(Member).outerjoin(User, User.member_id == Member.id)
        .where(Member.status == "active", or_(User.id.is_(None), User.password_hash.startswith(CHEAP_HASH)))
        .order_by(User.id.is_(None), Member.id).limit(count)))
    have = set(db.session.scalars(select(User.member_id).where(User.member_id.in_([m.id for m in members]))))
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    fresh = [m for m in members if m.id not in have]
    if fresh:
        db.session.execute(insert(User), [
            {"username": m.id_number, "display_name": m.name, "role": "member", "password_hash": cheap,
             "member_id": m.id, "is_enabled": True, "session_token": secrets.token_hex(16), "created_at": clock.now()}
            for m in fresh])
    db.session.execute(update(User).where(User.member_id.in_(have)).values(is_enabled=True))
    return members


def _open_attempts_with_answers(quiz_id: int, members: list[Member]) -> list[int]:
    """An open attempt per member, started the API's way, with every answer saved as
    `save_answers` stores it (original letters, server time): 80 % right, else shown option A."""
    started = [attempts.start_attempt(m.id, quiz_id)["id"] for m in members]
    db.session.execute(text("""
        UPDATE quiz_attempt_questions AS aq
        SET chosen = CASE WHEN random() < 0.8 THEN q.answer ELSE substr(aq.option_order, 1, 1) END,
            answered_at = :at
        FROM quiz_questions AS q
        WHERE q.id = aq.question_id AND aq.attempt_id = ANY(:ids)"""), {"ids": started, "at": clock.now()})
    return started


def prepare(app) -> dict:
    total = _top_up_bank()
    quiz = _bench_quiz()
    members = _accounts(2 * GROUP)
    starters, submitters = members[:GROUP], members[GROUP:]
    opened = _open_attempts_with_answers(quiz.id, submitters)
    print(f"quiz: {total} questions, quiz {quiz.id}, {len(starters)} starters, {len(opened)} open attempts")
    return {"quiz_id": quiz.id, "starters": [m.id_number for m in starters],
            "submitters": [(m.id_number, a) for m, a in zip(submitters, opened)]}


def _cookies(server, usernames: list[str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
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
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM quiz_attempts WHERE quiz_id = %s", (quiz_id,)).fetchone()[0]


def _submitted(quiz_id: int, server) -> int:
    with psycopg.connect(server.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM quiz_attempts WHERE quiz_id = %s AND status = 'submitted'",
                            (quiz_id,)).fetchone()[0]


def _distinct(requests: int, members: int) -> str:
    if requests <= members:
        return f"{members:,} prepared: every request a different member"
    return f"only {members:,} prepared: {requests - members:,} requests repeated a member"


def scenarios(state: dict, server) -> list[Scenario]:
    quiz_id = state["quiz_id"]
    start_path = f"/api/v1/quiz/quizzes/{quiz_id}/attempts"
    starters = [(c, start_path) for c in _cookies(server, state["starters"])]
    submitters = [(c, f"/api/v1/quiz/attempts/{a}/submit")
                  for c, (_u, a) in zip(_cookies(server, [u for u, _a in state["submitters"]]), state["submitters"])]
    return [
        Scenario(name="quiz: start attempt (draw 20)", lua=_lua(starters), ceiling="write", target=0.45,
                 before=lambda: _attempts_made(quiz_id, server),
                 after=lambda n, result: f"{_attempts_made(quiz_id, server) - n:,} new attempts for {result.requests:,} "
                                         f"requests ({_distinct(result.requests, len(starters))})"),
        Scenario(name="quiz: submit attempt (grade + award)", lua=_lua(submitters), ceiling="write", target=0.45,
                 before=lambda: _submitted(quiz_id, server),
                 after=lambda n, result: f"{_submitted(quiz_id, server) - n:,} attempts graded and awarded for "
                                         f"{result.requests:,} requests ({_distinct(result.requests, len(submitters))})"),
    ]
