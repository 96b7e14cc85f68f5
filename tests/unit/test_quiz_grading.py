import random

from benefits.quiz import grading


def test_option_order_maps_shown_letters_back_and_forth():
    rng = random.Random(7)
    orders = {grading.shuffled_order(4, rng) for _ in range(50)}
    assert len(orders) > 5 and all(sorted(o) == list("ABCD") for o in orders)
    order = "CADB"  # shown A is original C
    assert grading.to_original(order, "A") == "C"
    assert grading.to_original(order, "BD") == "AB"
    assert grading.to_shown(order, "AB") == "BD"


def test_all_or_nothing_and_partial_credit_for_multiple_choice():
    assert grading.item_points("multiple", "ABD", "ABD", 6, False) == (True, 6)
    assert grading.item_points("multiple", "ABD", "AB", 6, False) == (False, 0)
    assert grading.item_points("multiple", "ABD", "AB", 6, True) == (False, 4)
    assert grading.item_points("multiple", "ABD", "ABC", 6, True) == (False, 0)  # a wrong option: nothing
    assert grading.item_points("single", "B", None, 2, True) == (False, 0)
    assert grading.item_points("truefalse", "A", "B", 2, True) == (False, 0)


def test_percent_rounds_down():
    assert grading.percent(2, 3) == 66
    assert grading.percent(0, 0) == 0
