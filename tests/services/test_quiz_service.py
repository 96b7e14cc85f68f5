from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from benefits import clock
from benefits.auth.models import User
from benefits.errors import Conflict, LimitReached, NotFound
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz import attempts, bank, draw, leaderboards, quizzes, wrong_book
from benefits.quiz.models import Attempt, AttemptQuestion, Question, WrongBookEntry
from tests import factories
from tests.services import quiz_world as w
from tests.conftest import statements_sent

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


@pytest.fixture
def tree(app):
    return factories.org_tree()


def _draw(job_type_ids, tags, count):
    stamp = tuple(db.session.execute(select(*draw.bank_stamp_columns())).one())
    return draw.draw(job_type_ids, tags, count, stamp, draw.draw_rng())


def _drawn_ids(attempt_id) -> list[int]:
    return list(db.session.scalars(select(AttemptQuestion.question_id).where(AttemptQuestion.attempt_id == attempt_id)
                                   .order_by(AttemptQuestion.position)))


def test_draw_is_random_without_repeats_from_the_chosen_job_types_without_scanning_the_bank(app, tree):
    electric, welding = w.bank("电工", 60), w.bank("焊工", 60)
    w.bank("护士", 30)
    disabled = db.session.scalars(select(Question).where(Question.job_type_id == electric.id).limit(15)).all()
    for q in disabled:
        q.is_enabled = False
    db.session.flush()
    _draw([electric.id, welding.id], [], 20)  # the per-process bank index is loaded once
    with statements_sent() as sent:
        draws = [_draw([electric.id, welding.id], [], 20) for _ in range(30)]
    statements = [s.lower() for s in sent]
    disabled_ids = {q.id for q in disabled}
    for drawn in draws:
        ids = [q.id for q in drawn]
        assert len(ids) == 20 and len(set(ids)) == 20
        assert all(q.job_type_id in (electric.id, welding.id) for q in drawn)
        assert not disabled_ids & set(ids)
    assert len({tuple(q.id for q in d) for d in draws}) == 30
    question_selects = [s for s in statements if "from quiz_questions" in s]
    assert len(question_selects) <= 31  # one lookup per draw (now and then a second: too many disabled)
    assert all("random" not in s and "order by" not in s and "quiz_questions.id = any" in s for s in question_selects)


def test_draw_by_tag_only_returns_tagged_questions(app, tree):
    electric = w.bank("电工", 40)
    drawn = _draw([electric.id], ["安全"], 50)
    tags = db.session.scalars(select(Question.tags).where(Question.id.in_([q.id for q in drawn]))).all()
    assert len(drawn) == 20 and all(",安全," in t for t in tags)


def test_attempt_shuffles_per_attempt_and_hides_answers_until_submitted(app, tree):
    jt = w.bank("电工", 40)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    a, b = w.member(tree["gujing"]), w.member(tree["gujing"])
    first, second = attempts.start_attempt(a.id, quiz.id), attempts.start_attempt(b.id, quiz.id)
    assert _drawn_ids(first["id"]) != _drawn_ids(second["id"])
    orders = db.session.scalars(select(AttemptQuestion.option_order)).all()
    assert len(set(orders)) > 3
    for view in (first, attempts.attempt_view(a.id, first["id"])):
        assert all(set(item) == {"position", "kind", "stem", "options", "chosen"} for item in view["items"])
    attempts.save_answers(a.id, first["id"], w.right_answers(first["id"]))
    view = attempts.submit_attempt(a.id, first["id"])
    assert view["correct_count"] == 10 and all(i["is_correct"] and i["explanation"] for i in view["items"])
    assert points.balance(a.id) == 10


def test_members_only_reach_their_own_attempts_and_eligible_quizzes(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["gujing"], [jt])
    mine, other = w.member(tree["gujing"]), w.member(tree["magang"])
    attempt = attempts.start_attempt(mine.id, quiz.id)
    with pytest.raises(NotFound):
        attempts.attempt_view(other.id, attempt["id"])
    with pytest.raises(NotFound):
        attempts.save_answers(other.id, attempt["id"], {"1": ["A"]})
    with pytest.raises(NotFound):
        attempts.submit_attempt(other.id, attempt["id"])
    with pytest.raises(NotFound):
        attempts.start_attempt(other.id, quiz.id)  # 马钢 is outside 古井's subtree
    assert quizzes.quizzes_for_member(other) == []
    assert db.session.get(Attempt, attempt["id"]).status == "open"


def test_starting_again_resumes_the_open_attempt(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, time_limit_seconds=60)
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        first = attempts.start_attempt(m.id, quiz.id)
    with clock.freeze(T0 + timedelta(seconds=20)):
        again = attempts.start_attempt(m.id, quiz.id)
    assert again["id"] == first["id"] and again["items"] == first["items"] and again["remaining_seconds"] == 40


def test_late_submission_is_graded_only_on_answers_saved_in_time(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=4, time_limit_seconds=60, grace_seconds=10,
                  points_per_correct=5)
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        attempt = attempts.start_attempt(m.id, quiz.id)
    right = w.right_answers(attempt["id"])
    with clock.freeze(T0 + timedelta(seconds=69)):  # within limit + grace
        attempts.save_answers(m.id, attempt["id"], {"1": right["1"], "2": right["2"]})
    with clock.freeze(T0 + timedelta(seconds=71)), pytest.raises(attempts.TimeUp):
        attempts.save_answers(m.id, attempt["id"], {"3": right["3"]})
    with clock.freeze(T0 + timedelta(hours=2)):
        result = attempts.submit_attempt(m.id, attempt["id"], {"4": right["4"]})  # too late to count
    assert (result["correct_count"], result["points_awarded"], result["late"]) == (2, 10, True)
    assert points.balance(m.id) == 10


def test_refuse_policy_refuses_a_late_submission_and_awards_nothing(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=4, time_limit_seconds=60, grace_seconds=0, late_policy="refuse")
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        attempt = attempts.start_attempt(m.id, quiz.id)
        attempts.save_answers(m.id, attempt["id"], w.right_answers(attempt["id"]))
    with clock.freeze(T0 + timedelta(seconds=61)), pytest.raises(attempts.TimeUp):
        attempts.submit_attempt(m.id, attempt["id"])
    assert points.balance(m.id) == 0
    with clock.freeze(T0 + timedelta(seconds=62)):  # the refused attempt is not resumed: a new one starts
        assert attempts.start_attempt(m.id, quiz.id)["id"] != attempt["id"]


def test_attempts_per_day_count_in_china_time_at_the_day_boundary(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3, attempts_per_day=2)
    m = w.member(tree["gujing"])
    last_minute = datetime(2026, 5, 6, 15, 58, tzinfo=timezone.utc)  # 23:58 in China
    for n in range(2):
        with clock.freeze(last_minute + timedelta(seconds=n)):
            attempts.submit_attempt(m.id, attempts.start_attempt(m.id, quiz.id)["id"])
    with clock.freeze(datetime(2026, 5, 6, 15, 59, 59, tzinfo=timezone.utc)), pytest.raises(LimitReached) as exc:
        attempts.start_attempt(m.id, quiz.id)
    assert exc.value.code == "attempts_per_day"
    with clock.freeze(datetime(2026, 5, 6, 16, 0, tzinfo=timezone.utc)):  # midnight in China: a new day
        assert attempts.start_attempt(m.id, quiz.id)["status"] == "open"


def test_minimum_delay_between_attempts(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3, min_delay_seconds=60)
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        attempts.submit_attempt(m.id, attempts.start_attempt(m.id, quiz.id)["id"])
    with clock.freeze(T0 + timedelta(seconds=59)), pytest.raises(LimitReached) as exc:
        attempts.start_attempt(m.id, quiz.id)
    assert exc.value.code == "too_soon" and exc.value.details["retry_after_seconds"] == 2
    with clock.freeze(T0 + timedelta(seconds=60)):
        assert attempts.start_attempt(m.id, quiz.id)["status"] == "open"


def test_a_closed_or_empty_quiz_cannot_be_started(app, tree):
    jt = w.bank("电工", 5)
    m = w.member(tree["gujing"])
    closed = w.quiz(tree["bozhou"], [jt], closes_at=T0)
    with clock.freeze(T0), pytest.raises(attempts.QuizClosed):
        attempts.start_attempt(m.id, closed.id)
    empty = w.quiz(tree["bozhou"], [bank.create_job_type(None, "MG", "木工")])
    with pytest.raises(Conflict) as exc:
        attempts.start_attempt(m.id, empty.id)
    assert exc.value.code == "no_questions"


def test_daily_points_cap_holds_per_china_day_and_pass_bonus_counts(app, tree):
    jt = w.bank("电工", 30, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2, pass_percent=80, pass_bonus=3,
                  daily_points_cap=20)
    m = w.member(tree["gujing"])

    def perfect(at):
        with clock.freeze(at):
            attempt = attempts.start_attempt(m.id, quiz.id)
            attempts.save_answers(m.id, attempt["id"], w.right_answers(attempt["id"]))
        with clock.freeze(at + timedelta(minutes=1)):
            return attempts.submit_attempt(m.id, attempt["id"])

    assert perfect(T0)["points_awarded"] == 13  # 5 × 2 + bonus 3
    assert perfect(T0 + timedelta(minutes=5))["points_awarded"] == 7  # capped at 20 for the day
    capped = perfect(T0 + timedelta(minutes=10))
    assert capped["points_awarded"] == 0 and points.entry_by_source(f"quiz-attempt:{capped['id']}") is None
    assert db.session.get(Attempt, capped["id"]).points_awarded == 0
    assert perfect(T0 + timedelta(days=1))["points_awarded"] == 13
    assert points.balance(m.id) == 33


def test_partial_credit_for_multiple_choice(app, tree):
    jt = w.bank("电工", 10, kinds=("multiple",))  # answer AC of 4
    quiz = w.quiz(tree["bozhou"], [jt], question_count=1, points_per_correct=4, partial_credit=True)
    m = w.member(tree["gujing"])
    attempt = attempts.start_attempt(m.id, quiz.id)
    half = w.right_answers(attempt["id"])["1"][:1]
    attempts.save_answers(m.id, attempt["id"], {"1": half})
    result = attempts.submit_attempt(m.id, attempt["id"])
    assert (result["correct_count"], result["points_awarded"]) == (0, 2)
    assert (result["items"][0]["is_correct"], result["items"][0]["points"]) == (False, 2)


def test_a_second_submit_returns_the_same_result_and_awards_once(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=3)
    m = w.member(tree["gujing"])
    attempt = attempts.start_attempt(m.id, quiz.id)
    attempts.save_answers(m.id, attempt["id"], w.right_answers(attempt["id"]))
    first = attempts.submit_attempt(m.id, attempt["id"])
    again = attempts.submit_attempt(m.id, attempt["id"])
    assert first["points_awarded"] == 15 and again == first
    entries = db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == m.id)).all()
    assert len(entries) == 1 and entries[0].source_key == f"quiz-attempt:{attempt['id']}"
    with pytest.raises(attempts.AttemptSubmitted):
        attempts.save_answers(m.id, attempt["id"], {"1": ["A"]})


def test_suspiciously_fast_attempts_are_flagged_for_admins(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    fast, slow = w.member(tree["gujing"]), w.member(tree["gujing"])
    for member, seconds in ((fast, 5), (slow, 300)):
        with clock.freeze(T0):
            attempt = attempts.start_attempt(member.id, quiz.id)
            attempts.save_answers(member.id, attempt["id"], w.right_answers(attempt["id"]))
        with clock.freeze(T0 + timedelta(seconds=seconds)):
            attempts.submit_attempt(member.id, attempt["id"])
    flagged = db.session.scalars(quizzes.flagged_attempts(tree["bozhou"])).all()
    assert [a.member_id for a in flagged] == [fast.id]
    assert db.session.scalars(quizzes.flagged_attempts(tree["maanshan"])).all() == []


def test_wrong_answer_book_keeps_a_question_until_right_twice_in_a_row(app, tree):
    jt = w.bank("电工", 3, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3)
    m = w.member(tree["gujing"])
    attempt = attempts.start_attempt(m.id, quiz.id)
    answers = w.right_answers(attempt["id"])
    answers["1"] = w.wrong_answers(attempt["id"])["1"]
    missed = _drawn_ids(attempt["id"])[0]
    attempts.save_answers(m.id, attempt["id"], answers)
    attempts.submit_attempt(m.id, attempt["id"])
    assert [e.question_id for e in wrong_book.entries(m.id)] == [missed]

    def practise(right: bool):
        practice = wrong_book.start_practice(m.id)
        assert practice["quiz_id"] is None and practice["mode"] == "practice" and len(practice["items"]) == 1
        assert wrong_book.start_practice(m.id)["id"] == practice["id"]  # resumed, not a second one
        chosen = (w.right_answers if right else w.wrong_answers)(practice["id"])
        view = attempts.save_answers(m.id, practice["id"], chosen)
        assert view["items"][0]["is_correct"] is right  # practice: feedback at once
        other = w.wrong_answers(practice["id"]) if right else w.right_answers(practice["id"])
        kept = attempts.save_answers(m.id, practice["id"], other)  # an answer once given stays
        assert kept["items"][0]["chosen"] == view["items"][0]["chosen"]
        assert attempts.submit_attempt(m.id, practice["id"])["points_awarded"] == 0

    practise(True)
    assert wrong_book.entries(m.id)[0].streak == 1
    practise(False)
    assert (wrong_book.entries(m.id)[0].streak, wrong_book.entries(m.id)[0].wrong_count) == (0, 2)
    practise(True)
    assert wrong_book.entries(m.id)[0].streak == 1
    practise(True)
    assert wrong_book.entries(m.id) == [] and wrong_book.size(m.id) == 0
    with pytest.raises(Conflict) as exc:
        wrong_book.start_practice(m.id)
    assert exc.value.code == "wrong_book_empty"
    assert points.balance(m.id) == 2  # the two right in the quiz; practice earns nothing


def _score(member, quiz, at, right: int):
    with clock.freeze(at):
        attempt = attempts.start_attempt(member.id, quiz.id)
        answers = w.right_answers(attempt["id"])
        attempts.save_answers(member.id, attempt["id"], {k: v for k, v in answers.items() if int(k) <= right})
    with clock.freeze(at + timedelta(minutes=2)):
        return attempts.submit_attempt(member.id, attempt["id"])


def test_leaderboard_orders_by_points_ties_to_the_first_and_leaves_out_disabled_and_departed(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["province"], [jt], question_count=5, points_per_correct=2)
    early, late, top, gone, off, far = (w.member(tree["gujing"], name=n) for n in ("李明", "王芳", "赵强", "刘走", "陈停", "周远"))
    far.org_id = tree["magang"].id
    db.session.flush()
    monday = datetime(2026, 5, 4, 1, 0, tzinfo=timezone.utc)
    _score(late, quiz, monday + timedelta(hours=1), 3)
    _score(early, quiz, monday, 3)
    _score(top, quiz, monday + timedelta(hours=2), 5)
    _score(gone, quiz, monday, 5)
    _score(off, quiz, monday, 5)
    _score(far, quiz, monday + timedelta(hours=3), 4)
    _score(early, quiz, monday - timedelta(days=7), 5)  # last week
    gone.status = "left"
    db.session.scalar(select(User).where(User.member_id == off.id)).is_enabled = False
    db.session.flush()
    with clock.freeze(monday + timedelta(days=2)):
        week = leaderboards.leaderboard(quiz_id=quiz.id, period="week", org=tree["gujing"])
        everyone = leaderboards.leaderboard(quiz_id=quiz.id, period="week")
        all_time = leaderboards.leaderboard(quiz_id=quiz.id, period="all", org=tree["gujing"])
        by_job = leaderboards.leaderboard(job_type_id=jt.id, period="all")
    assert [(r["member_id"], r["points"]) for r in week] == [(top.id, 10), (early.id, 6), (late.id, 6)]
    assert week[0]["name"] == "赵*"
    assert [r["member_id"] for r in everyone] == [top.id, far.id, early.id, late.id]
    assert [(r["member_id"], r["points"]) for r in all_time][:2] == [(early.id, 16), (top.id, 10)]
    assert by_job[0]["member_id"] == early.id


def test_import_writes_nothing_on_problems_unless_skipping(app, tree):
    bank.create_job_type(None, "DG", "电工")
    good = {"job_type": "电工", "kind": "single", "stem": "好题", "options": ["甲", "乙"], "answer": "A",
            "score": 1, "difficulty": 2, "tags": [], "explanation": "", "line": 2}
    unknown = {**good, "job_type": "木工", "stem": "未知工种", "line": 3}
    result = bank.import_questions(None, [good, unknown], [], skip_bad=False)
    assert result["imported"] == 0 and result["problems"][0]["line"] == 3
    assert db.session.scalar(select(Question.id)) is None
    result = bank.import_questions(None, [good, unknown], [], skip_bad=True)
    assert (result["imported"], result["skipped"]) == (1, 1)
    assert db.session.scalar(select(Question.position)) == 1


def test_disabling_a_question_keeps_past_attempts_intact(app, tree):
    jt = w.bank("电工", 3, kinds=("single",))
    admin = factories.admin(tree["bozhou"])
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3)
    m = w.member(tree["gujing"])
    attempt = attempts.start_attempt(m.id, quiz.id)
    attempts.submit_attempt(m.id, attempt["id"])
    drawn = _drawn_ids(attempt["id"])
    bank.set_question_enabled(admin, drawn[0], False)
    assert len(attempts.attempt_view(m.id, attempt["id"])["items"]) == 3
    assert len(_draw([jt.id], [], 3)) == 2
    grassroots_admin = factories.admin(tree["gujing"])
    with pytest.raises(Exception) as exc:
        bank.set_question_enabled(grassroots_admin, drawn[1], False)
    assert exc.value.code == "forbidden"
    assert db.session.scalar(select(WrongBookEntry.id).where(WrongBookEntry.member_id == m.id)) is not None
