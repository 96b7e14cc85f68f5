"""The demo bank holds each question once, and every demo quiz can deal a full paper of distinct
questions from its job types and the common bank (a quiz over several job types once showed the
same safety question twice)."""
from collections import Counter

from benefits.quiz import demo


def test_every_demo_question_is_in_the_bank_once():
    stems = Counter(row[2] for row in demo.question_rows())
    assert [stem for stem, n in stems.items() if n > 1] == []


def test_every_demo_quiz_has_enough_distinct_questions_for_a_full_paper():
    per_type = Counter(row[0] for row in demo.question_rows())
    for _org, title, names, settings in demo.QUIZZES:
        available = sum(per_type[name] for name in {*names, demo.COMMON_JOB_TYPE[1]})
        assert available >= settings["question_count"], title
