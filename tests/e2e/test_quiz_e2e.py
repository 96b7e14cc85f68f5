import re

from benefits.database import unit_of_work
from tests import factories
from tests.services import quiz_world as qw


def test_member_takes_a_quiz_on_a_phone_and_sees_their_points_rise(live, phone_page):
    with live.seed.app_context(), unit_of_work():
        tree = factories.org_tree()
        jt = qw.bank("电工", 30)
        quiz = qw.quiz(tree["bozhou"], [jt], title="电工安全知识竞赛", question_count=4, points_per_correct=5,
                       time_limit_seconds=600)
        user = factories.member_user(tree["gujing"], name="李娜")
        username, quiz_id = user.username, quiz.id
    page = phone_page
    page.goto(live.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/me")
    page.goto(live.url + "/me/points")
    assert page.get_by_test_id("points-balance").inner_text() == "0"
    page.get_by_test_id("tab-quiz").click()
    assert "电工安全知识竞赛" in page.get_by_test_id(f"quiz-{quiz_id}").inner_text()
    page.snap("quizzes")
    page.get_by_test_id(f"start-{quiz_id}").click()
    page.wait_for_url(re.compile(r".*/quiz/attempts/\d+$"))
    attempt_id = int(page.url.rsplit("/", 1)[1])
    assert "正确答案" not in page.content()
    with live.seed.app_context():
        answers = qw.right_answers(attempt_id)
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_test_id("submit-attempt").click()        # nothing answered yet: the member is warned and stays
    assert dialogs == ["还有 4 题没有作答，交卷后不能再改。确定交卷吗？"]
    assert page.get_by_test_id("submit-attempt").is_visible()
    for position, letters in answers.items():
        for letter in letters:
            page.get_by_test_id(f"question-{position}").locator(f"input[value={letter}]").check()
    page.snap("answered")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("submit-attempt").click()
    page.wait_for_selector("[data-testid=result]")
    assert page.get_by_test_id("score").inner_text() == "4/4"
    assert page.get_by_test_id("points-awarded").inner_text() == "20"
    assert page.get_by_test_id("feedback-1").is_visible()
    page.snap("result")
    page.get_by_test_id("tab-mine").click()
    page.get_by_test_id("nav-points").click()
    assert page.get_by_test_id("points-balance").inner_text() == "20"
    assert "答题得分：电工安全知识竞赛" in page.get_by_test_id("points-history").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
