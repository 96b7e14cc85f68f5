from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from benefits import clock
from benefits.auth.models import User
from benefits.errors import LimitReached, NotFound
from benefits.extensions import db
from benefits.points import service as points
from benefits.points.models import PointsEntry
from benefits.quiz import service
from benefits.quiz.models import Question, WrongBookEntry
from tests import factories
from tests.services import quiz_world as w

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


@pytest.fixture
def tree(app):
    return factories.org_tree()


def test_draw_is_random_without_repeats_from_the_chosen_job_types_without_scanning_the_bank(app, tree):
    electric, welding = w.bank("电工", 60), w.bank("焊工", 60)
    w.bank("护士", 30)
    disabled = db.session.scalars(select(Question).where(Question.job_type_id == electric.id).limit(15)).all()
    for q in disabled:
        q.is_enabled = False
    db.session.flush()
    statements = []
    listener = lambda conn, cursor, stmt, *a: statements.append(stmt.lower())  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        draws = [service.draw_questions([electric.id, welding.id], [], 20) for _ in range(30)]
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    disabled_ids = {q.id for q in disabled}
    for draw in draws:
        ids = [q.id for q in draw]
        assert len(ids) == 20 and len(set(ids)) == 20
        assert all(q.job_type_id in (electric.id, welding.id) for q in draw)
        assert not disabled_ids & set(ids)
    assert len({tuple(q.id for q in d) for d in draws}) == 30
    question_selects = [s for s in statements if "from quiz_questions" in s]
    assert question_selects and all("random" not in s and "order by" not in s for s in question_selects)
    assert all("position in" in s or "position in" in s.replace("\n", " ") for s in question_selects)


def test_draw_by_tag_only_returns_tagged_questions(app, tree):
    electric = w.bank("电工", 40)
    draw = service.draw_questions([electric.id], ["安全"], 50)
    assert len(draw) == 20 and all("安全" in q.tag_list for q in draw)


def test_attempt_shuffles_per_attempt_and_hides_answers_until_submitted(app, tree):
    jt = w.bank("电工", 40)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    a, b = w.member(tree["gujing"]), w.member(tree["gujing"])
    first, second = service.start_attempt(a, quiz.id), service.start_attempt(b, quiz.id)
    assert [i.question_id for i in first.items] != [i.question_id for i in second.items]
    orders = [i.option_order for i in first.items + second.items]
    assert len(set(orders)) > 3
    view = service.attempt_view(first)
    assert all(set(item) == {"position", "kind", "stem", "options", "chosen"} for item in view["items"])
    service.save_answers(a, first.id, w.right_answers(first))
    view = service.attempt_view(service.submit_attempt(a, first.id))
    assert view["correct_count"] == 10 and all(i["is_correct"] and i["explanation"] for i in view["items"])
    assert points.balance(a.id) == 10


def test_members_only_reach_their_own_attempts_and_eligible_quizzes(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["gujing"], [jt])
    mine, other = w.member(tree["gujing"]), w.member(tree["magang"])
    attempt = service.start_attempt(mine, quiz.id)
    with pytest.raises(NotFound):
        service.get_own_attempt(other, attempt.id)
    with pytest.raises(NotFound):
        service.submit_attempt(other, attempt.id)
    with pytest.raises(NotFound):
        service.start_attempt(other, quiz.id)  # 马钢 is outside 古井's subtree
    assert service.quizzes_for_member(other) == []


def test_late_submission_is_graded_only_on_answers_saved_in_time(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=4, time_limit_seconds=60, grace_seconds=10,
                  points_per_correct=5)
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        attempt = service.start_attempt(m, quiz.id)
    right = w.right_answers(attempt)
    with clock.freeze(T0 + timedelta(seconds=69)):  # within limit + grace
        service.save_answers(m, attempt.id, {"1": right["1"], "2": right["2"]})
    with clock.freeze(T0 + timedelta(seconds=71)), pytest.raises(service.TimeUp):
        service.save_answers(m, attempt.id, {"3": right["3"]})
    with clock.freeze(T0 + timedelta(hours=2)):
        result = service.submit_attempt(m, attempt.id)
    assert (result.correct_count, result.points_awarded, result.late) == (2, 10, True)
    assert points.balance(m.id) == 10


def test_refuse_policy_refuses_a_late_submission_and_awards_nothing(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=4, time_limit_seconds=60, grace_seconds=0, late_policy="refuse")
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        attempt = service.start_attempt(m, quiz.id)
        service.save_answers(m, attempt.id, w.right_answers(attempt))
    with clock.freeze(T0 + timedelta(seconds=61)), pytest.raises(service.TimeUp):
        service.submit_attempt(m, attempt.id)
    assert points.balance(m.id) == 0


def test_attempts_per_day_count_in_china_time_at_the_day_boundary(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3, attempts_per_day=2)
    m = w.member(tree["gujing"])
    last_minute = datetime(2026, 5, 6, 15, 58, tzinfo=timezone.utc)  # 23:58 in China
    for n in range(2):
        with clock.freeze(last_minute + timedelta(seconds=n)):
            service.submit_attempt(m, service.start_attempt(m, quiz.id).id)
    with clock.freeze(datetime(2026, 5, 6, 15, 59, 59, tzinfo=timezone.utc)), pytest.raises(LimitReached) as exc:
        service.start_attempt(m, quiz.id)
    assert exc.value.code == "attempts_per_day"
    with clock.freeze(datetime(2026, 5, 6, 16, 0, tzinfo=timezone.utc)):  # midnight in China: a new day
        assert service.start_attempt(m, quiz.id).status == "open"


def test_minimum_delay_between_attempts(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3, min_delay_seconds=60)
    m = w.member(tree["gujing"])
    with clock.freeze(T0):
        service.submit_attempt(m, service.start_attempt(m, quiz.id).id)
    with clock.freeze(T0 + timedelta(seconds=59)), pytest.raises(LimitReached) as exc:
        service.start_attempt(m, quiz.id)
    assert exc.value.code == "too_soon" and exc.value.details["retry_after_seconds"] == 2
    with clock.freeze(T0 + timedelta(seconds=60)):
        assert service.start_attempt(m, quiz.id).status == "open"


def test_daily_points_cap_holds_per_china_day_and_pass_bonus_counts(app, tree):
    jt = w.bank("电工", 30, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=2, pass_percent=80, pass_bonus=3,
                  daily_points_cap=20)
    m = w.member(tree["gujing"])

    def perfect(at):
        with clock.freeze(at):
            attempt = service.start_attempt(m, quiz.id)
            service.save_answers(m, attempt.id, w.right_answers(attempt))
        with clock.freeze(at + timedelta(minutes=1)):
            return service.submit_attempt(m, attempt.id)

    assert perfect(T0).points_awarded == 13  # 5 × 2 + bonus 3
    assert perfect(T0 + timedelta(minutes=5)).points_awarded == 7  # capped at 20 for the day
    capped = perfect(T0 + timedelta(minutes=10))
    assert capped.points_awarded == 0 and points.entry_by_source(f"quiz-attempt:{capped.id}") is None
    assert perfect(T0 + timedelta(days=1)).points_awarded == 13
    assert points.balance(m.id) == 33


def test_partial_credit_for_multiple_choice(app, tree):
    jt = w.bank("电工", 10, kinds=("multiple",))  # answer AC of 4
    quiz = w.quiz(tree["bozhou"], [jt], question_count=1, points_per_correct=4, partial_credit=True)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    item = attempt.items[0]
    half = w.right_answers(attempt)["1"][:1]
    service.save_answers(m, attempt.id, {"1": half})
    result = service.submit_attempt(m, attempt.id)
    assert (result.correct_count, result.points_awarded) == (0, 2) and item.is_correct is False


def test_a_second_submit_returns_the_same_result_and_awards_once(app, tree):
    jt = w.bank("电工", 20, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=5, points_per_correct=3)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    service.save_answers(m, attempt.id, w.right_answers(attempt))
    first = service.submit_attempt(m, attempt.id).points_awarded
    again = service.submit_attempt(m, attempt.id)
    assert first == again.points_awarded == 15
    entries = db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == m.id)).all()
    assert len(entries) == 1 and entries[0].source_key == f"quiz-attempt:{attempt.id}"
    with pytest.raises(service.AttemptSubmitted):
        service.save_answers(m, attempt.id, {"1": ["A"]})


def test_suspiciously_fast_attempts_are_flagged_for_admins(app, tree):
    jt = w.bank("电工", 20)
    quiz = w.quiz(tree["bozhou"], [jt], question_count=10)
    fast, slow = w.member(tree["gujing"]), w.member(tree["gujing"])
    for member, seconds in ((fast, 5), (slow, 300)):
        with clock.freeze(T0):
            attempt = service.start_attempt(member, quiz.id)
            service.save_answers(member, attempt.id, w.right_answers(attempt))
        with clock.freeze(T0 + timedelta(seconds=seconds)):
            service.submit_attempt(member, attempt.id)
    flagged = db.session.scalars(service.flagged_attempts(tree["bozhou"])).all()
    assert [a.member_id for a in flagged] == [fast.id]
    assert db.session.scalars(service.flagged_attempts(tree["maanshan"])).all() == []


def test_wrong_answer_book_keeps_a_question_until_right_twice_in_a_row(app, tree):
    jt = w.bank("电工", 3, kinds=("single",))
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    answers = w.right_answers(attempt)
    answers["1"] = w.wrong_answers(attempt)["1"]
    missed = attempt.items[0].question_id
    service.save_answers(m, attempt.id, answers)
    service.submit_attempt(m, attempt.id)
    assert [e.question_id for e in service.wrong_book(m)] == [missed]

    def practise(right: bool):
        practice = service.start_wrong_book_practice(m)
        assert practice.quiz_id is None and len(practice.items) == 1
        service.save_answers(m, practice.id, (w.right_answers if right else w.wrong_answers)(practice))
        view = service.attempt_view(practice)
        assert view["items"][0]["is_correct"] is right  # practice: feedback at once
        service.submit_attempt(m, practice.id)

    practise(True)
    assert service.wrong_book(m)[0].streak == 1
    practise(False)
    practise(True)
    assert service.wrong_book(m)[0].streak == 1
    practise(True)
    assert service.wrong_book(m) == []
    assert points.balance(m.id) == 2  # the two right in the quiz; practice earns nothing


def _score(member, quiz, at, right: int):
    with clock.freeze(at):
        attempt = service.start_attempt(member, quiz.id)
        answers = w.right_answers(attempt)
        service.save_answers(member, attempt.id, {k: v for k, v in answers.items() if int(k) <= right})
    with clock.freeze(at + timedelta(minutes=2)):
        return service.submit_attempt(member, attempt.id)


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
        week = service.leaderboard(quiz_id=quiz.id, period="week", org=tree["gujing"])
        everyone = service.leaderboard(quiz_id=quiz.id, period="week")
        all_time = service.leaderboard(quiz_id=quiz.id, period="all", org=tree["gujing"])
        by_job = service.leaderboard(job_type_id=jt.id, period="all")
    assert [(r["member_id"], r["points"]) for r in week] == [(top.id, 10), (early.id, 6), (late.id, 6)]
    assert week[0]["name"] == "赵*"
    assert [r["member_id"] for r in everyone] == [top.id, far.id, early.id, late.id]
    assert [(r["member_id"], r["points"]) for r in all_time][:2] == [(early.id, 16), (top.id, 10)]
    assert by_job[0]["member_id"] == early.id


def test_import_writes_nothing_on_problems_unless_skipping(app, tree):
    service.create_job_type(None, "DG", "电工")
    good = {"job_type": "电工", "kind": "single", "stem": "好题", "options": ["甲", "乙"], "answer": "A",
            "score": 1, "difficulty": 2, "tags": [], "explanation": "", "line": 2}
    unknown = {**good, "job_type": "木工", "stem": "未知工种", "line": 3}
    result = service.import_questions(None, [good, unknown], [], skip_bad=False)
    assert result["imported"] == 0 and result["problems"][0]["line"] == 3
    assert db.session.scalar(select(Question.id)) is None
    result = service.import_questions(None, [good, unknown], [], skip_bad=True)
    assert (result["imported"], result["skipped"]) == (1, 1)
    assert db.session.scalar(select(Question.position)) == 1


def test_disabling_a_question_keeps_past_attempts_intact(app, tree):
    jt = w.bank("电工", 3, kinds=("single",))
    admin = factories.admin(tree["bozhou"])
    quiz = w.quiz(tree["bozhou"], [jt], question_count=3)
    m = w.member(tree["gujing"])
    attempt = service.start_attempt(m, quiz.id)
    service.submit_attempt(m, attempt.id)
    service.set_question_enabled(admin, attempt.items[0].question_id, False)
    assert len(service.attempt_view(attempt)["items"]) == 3
    assert len(service.draw_questions([jt.id], [], 3)) == 2
    grassroots_admin = factories.admin(tree["gujing"])
    with pytest.raises(Exception) as exc:
        service.set_question_enabled(grassroots_admin, attempt.items[1].question_id, False)
    assert exc.value.code == "forbidden"
    assert db.session.scalar(select(WrongBookEntry.id).where(WrongBookEntry.member_id == m.id)) is not None
