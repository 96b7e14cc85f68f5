"""Builders shared by the quiz tests."""
from __future__ import annotations

from benefits.quiz import grading, service
from tests import factories


def bank(job_type_name: str = "电工", count: int = 40, code: str | None = None, kinds=("single", "multiple", "truefalse")):
    job_type = service.create_job_type(None, code or f"JT{job_type_name}", job_type_name)
    questions = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        options = ["正确", "错误"] if kind == "truefalse" else [f"选项{n}-{i}" for i in range(4)]
        answer = {"single": "B", "multiple": "AC", "truefalse": "A"}[kind]
        questions.append({"job_type": job_type_name, "kind": kind, "stem": f"{job_type_name}第{n}题", "options": options,
                          "answer": answer, "score": 1, "difficulty": 2, "tags": ["安全"] if n % 2 else [],
                          "explanation": f"解析{n}", "line": n + 2})
    service.import_questions(None, questions, [], skip_bad=False)
    return job_type


def quiz(org, job_types, **settings):
    values = {"title": "安全知识竞赛", "job_type_ids": [jt.id for jt in job_types], "question_count": 10}
    values.update(settings)
    return service.create_quiz(None, org, values)


def right_answers(attempt) -> dict:
    return {str(i.position): list(grading.to_shown(i.option_order, i.question.answer)) for i in attempt.items}


def wrong_answers(attempt) -> dict:
    answers = {}
    for i in attempt.items:
        right = grading.to_shown(i.option_order, i.question.answer)
        answers[str(i.position)] = [next(ch for ch in "ABCDEF"[:len(i.option_order)] if ch not in right)]
    return answers


def member(org, **kwargs):
    return factories.member_user(org, **kwargs).member
