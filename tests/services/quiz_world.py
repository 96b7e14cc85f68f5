"""Builders shared by the quiz tests."""
from __future__ import annotations

from sqlalchemy import select

from benefits.extensions import db
from benefits.quiz import bank as question_bank
from benefits.quiz import grading, quizzes
from benefits.quiz.models import AttemptQuestion, Question
from tests import factories


def bank(job_type_name: str = "电工", count: int = 40, code: str | None = None, kinds=("single", "multiple", "truefalse")):
    job_type = question_bank.create_job_type(None, code or f"JT{job_type_name}", job_type_name)
    questions = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        options = ["正确", "错误"] if kind == "truefalse" else [f"选项{n}-{i}" for i in range(4)]
        answer = {"single": "B", "multiple": "AC", "truefalse": "A"}[kind]
        questions.append({"job_type": job_type_name, "kind": kind, "stem": f"{job_type_name}第{n}题", "options": options,
                          "answer": answer, "score": 1, "difficulty": 2, "tags": ["安全"] if n % 2 else [],
                          "explanation": f"解析{n}", "line": n + 2})
    question_bank.import_questions(None, questions, [], skip_bad=False)
    return job_type


def quiz(org, job_types, **settings):
    values = {"title": "安全知识竞赛", "job_type_ids": [jt.id for jt in job_types], "question_count": 10}
    values.update(settings)
    return quizzes.create_quiz(None, org, values)


def _drawn(attempt_id: int) -> list:
    """(position, option order, answer) of each of the attempt's questions, as stored."""
    return db.session.execute(
        select(AttemptQuestion.position, AttemptQuestion.option_order, Question.answer)
        .join(Question, Question.id == AttemptQuestion.question_id)
        .where(AttemptQuestion.attempt_id == attempt_id).order_by(AttemptQuestion.position)).all()


def right_answers(attempt_id: int) -> dict:
    """Every question answered right, in shown letters, as a member would send them."""
    return {str(position): list(grading.to_shown(order, answer)) for position, order, answer in _drawn(attempt_id)}


def wrong_answers(attempt_id: int) -> dict:
    answers = {}
    for position, order, answer in _drawn(attempt_id):
        right = grading.to_shown(order, answer)
        answers[str(position)] = [next(ch for ch in "ABCDEF"[:len(order)] if ch not in right)]
    return answers


def member(org, **kwargs):
    return factories.member_user(org, **kwargs).member
