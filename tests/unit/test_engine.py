"""The discount engine with the report's own offers (DOMAIN.md)."""
from datetime import date, datetime, timezone

from benefits.promotions import engine
from benefits.promotions.engine import Purchase, RuleBook, RuleState, RuleTerms, describe, prepare, preview, zhe

NOON_TUESDAY = datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc)     # 12:00 in China, a Tuesday
SPLIT = (("union", 50), ("bank", 30), ("merchant", 20))
FREE = RuleState()


def evaluate(purchase, candidates):
    """The engine on (terms, live state) pairs: the rules as a till's prepared candidates."""
    return engine.evaluate(purchase, prepare([t for t, _s in candidates]), {t.rule_id: s for t, s in candidates})


def buy(amount_fen, at=NOON_TUESDAY, **kw):
    base = dict(merchant_id=1, merchant_category="fuel", merchant_org_path="/1/2/", store_id=10)
    base.update(kw)
    return Purchase(amount_fen=amount_fen, at=at, **base)


def percent(rule_id=1, pay_bp=9000, **kw):
    return RuleTerms(rule_id, rule_id * 10, f"{zhe(pay_bp)}", "percent", pay_bp=pay_bp, split=SPLIT, **kw)


def spend(rule_id, x, y, kind="threshold", **kw):
    return RuleTerms(rule_id, rule_id * 10, f"满{x // 100}减{y // 100}", kind, threshold_fen=x, off_fen=y,
                     split=SPLIT, **kw)


def test_nine_zhe_on_100_pays_90():
    q = evaluate(buy(10000), [(percent(), FREE)])
    assert (q.discount_fen, q.pay_fen) == (1000, 9000)
    assert q.applied[0].shares == {"union": 500, "bank": 300, "merchant": 200}


def test_percent_rounds_discount_down_to_the_fen():
    q = evaluate(buy(999), [(percent(pay_bp=8500), FREE)])   # 15 % of 9.99 = 1.4985
    assert q.discount_fen == 149 and q.pay_fen == 850


def test_spend_200_save_40_on_250_pays_210():
    q = evaluate(buy(25000), [(spend(2, 20000, 4000), FREE)])
    assert q.pay_fen == 21000
    assert sum(q.applied[0].shares.values()) == 4000


def test_spend_100_save_30_and_save_50_best_of():
    q = evaluate(buy(12000), [(spend(3, 10000, 3000), FREE), (spend(4, 10000, 5000), FREE)])
    assert q.discount_fen == 5000 and [a.rule_id for a in q.applied] == [4]
    assert {(r.rule_id, r.reason) for r in q.rejected} == {(3, "not_best")}


def test_best_of_percent_against_threshold_depends_on_amount():
    rules = [(percent(1, 9000), FREE), (spend(2, 20000, 4000), FREE)]
    assert evaluate(buy(25000), rules).applied[0].rule_id == 2      # 40 > 25
    assert evaluate(buy(50000), rules).applied[0].rule_id == 1      # 50 > 40


def test_repeating_with_max_repeats_and_cap():
    every = spend(5, 10000, 1000, kind="repeating", max_repeats=3)
    assert evaluate(buy(25000), [(every, FREE)]).discount_fen == 2000
    assert evaluate(buy(99000), [(every, FREE)]).discount_fen == 3000
    capped = spend(6, 10000, 1000, kind="repeating", max_repeats=10, cap_fen=2500)
    assert evaluate(buy(99000), [(capped, FREE)]).discount_fen == 2500
    assert evaluate(buy(100000), [(percent(cap_fen=3000), FREE)]).discount_fen == 3000


def test_budget_clamp_gives_only_what_remains_and_spent_budget_rejects():
    q = evaluate(buy(25000), [(spend(2, 20000, 4000), RuleState(budget_left_fen=1234))])
    assert q.discount_fen == 1234 and sum(q.applied[0].shares.values()) == 1234
    q = evaluate(buy(25000), [(spend(2, 20000, 4000), RuleState(budget_left_fen=0))])
    assert q.discount_fen == 0 and q.rejected[0].reason == "budget_spent"


def test_hint_tells_how_much_more_to_spend():
    q = evaluate(buy(18800), [(percent(), FREE), (spend(2, 20000, 4000), FREE)])
    assert q.discount_fen == 1880
    assert q.hints == ("再消费 12.00 元可减 40.00 元",)
    assert evaluate(buy(5000), [(spend(2, 20000, 1000), FREE), (percent(pay_bp=5000), FREE)]).hints == ()


def test_special_period_weekend_and_hours_in_china_time():
    weekend = spend(2, 20000, 4000, days_of_week=(6, 7), hour_from=8, hour_to=22)
    saturday_10 = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)    # 10:00 Saturday in China
    friday_late_utc = datetime(2026, 11, 27, 16, 30, tzinfo=timezone.utc)  # 00:30 Saturday in China
    saturday_23 = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)   # 23:00 Saturday in China
    assert evaluate(buy(25000, at=saturday_10), [(weekend, FREE)]).discount_fen == 4000
    assert evaluate(buy(25000, at=NOON_TUESDAY), [(weekend, FREE)]).rejected[0].reason == "wrong_day"
    assert evaluate(buy(25000, at=friday_late_utc), [(weekend, FREE)]).rejected[0].reason == "wrong_hour"
    assert evaluate(buy(25000, at=saturday_23), [(weekend, FREE)]).rejected[0].reason == "wrong_hour"


def test_validity_dates_are_china_days():
    rule = percent(valid_from=date(2026, 11, 25), valid_until=date(2026, 11, 30))
    before_midnight_utc = datetime(2026, 11, 24, 16, 5, tzinfo=timezone.utc)   # 00:05 on the 25th in China
    assert evaluate(buy(10000, at=NOON_TUESDAY), [(rule, FREE)]).rejected[0].reason == "not_started"
    assert evaluate(buy(10000, at=before_midnight_utc), [(rule, FREE)]).discount_fen == 1000
    assert evaluate(buy(10000, at=datetime(2026, 12, 1, 4, tzinfo=timezone.utc)), [(rule, FREE)]).rejected[0].reason == "ended"


def test_eligibility_reasons():
    hardship = percent(member_categories=("hardship",), member_org_path="/1/2/3/")
    assert evaluate(buy(10000, member_category="ordinary", member_org_path="/1/2/3/"),
                    [(hardship, FREE)]).rejected[0].reason == "member_category"
    assert evaluate(buy(10000, member_category="hardship", member_org_path="/1/9/"),
                    [(hardship, FREE)]).rejected[0].reason == "member_org"
    assert evaluate(buy(10000, member_category="hardship", member_org_path="/1/2/3/4/"),
                    [(hardship, FREE)]).discount_fen == 1000
    assert evaluate(buy(10000, card_active=False), [(percent(), FREE)]).rejected[0].reason == "card_not_active"


def test_limits_reject_with_their_reason():
    daily = percent(per_member=(("day", 1),))
    assert evaluate(buy(10000), [(daily, RuleState(member_used=(("day", 1),)))]).rejected[0].reason == "member_limit_day"
    assert evaluate(buy(10000), [(percent(), RuleState(uses_left=0))]).rejected[0].reason == "global_limit"
    assert evaluate(buy(10000), [(percent(), RuleState(active=False))]).rejected[0].reason == "paused"


def test_scope_programme_categories_merchants_stores():
    assert evaluate(buy(10000), [(percent(owner_path="/1/9/"), FREE)]).rejected[0].reason == "out_of_scope"
    assert evaluate(buy(10000), [(percent(scope="categories", categories=("dining",), owner_path="/1/"),
                                  FREE)]).rejected[0].reason == "out_of_scope"
    assert evaluate(buy(10000), [(percent(scope="merchants", merchant_ids=(1,)), FREE)]).discount_fen == 1000
    assert evaluate(buy(10000), [(percent(scope="stores", store_ids=(11,)), FREE)]).discount_fen == 0


def test_combinable_rules_stack_in_priority_order_never_beyond_price():
    base = spend(2, 10000, 3000)
    extra = percent(3, 9000, combinable=True, priority=5)
    q = evaluate(buy(10000), [(base, FREE), (extra, FREE)])
    assert [a.rule_id for a in q.applied] == [2, 3]
    assert q.discount_fen == 3000 + 700 and q.pay_fen == 6300   # 9折 on the 70.00 left
    huge = spend(4, 1000, 900, kind="repeating", max_repeats=100, combinable=True)
    q = evaluate(buy(10000), [(base, FREE), (huge, FREE)])
    assert q.discount_fen == 10000 and q.pay_fen == 0


def test_deterministic_tie_goes_to_priority_then_older_rule():
    a, b = spend(7, 10000, 3000), spend(8, 10000, 3000)
    assert evaluate(buy(10000), [(b, FREE), (a, FREE)]).applied[0].rule_id == 7
    b_high = spend(8, 10000, 3000, priority=1)
    assert evaluate(buy(10000), [(a, FREE), (b_high, FREE)]).applied[0].rule_id == 8


def test_rule_book_only_returns_candidates():
    rules = [percent(1, owner_path="/1/"), percent(2, scope="stores", store_ids=(10,)),
             percent(3, scope="stores", store_ids=(99,)), percent(4, scope="categories", categories=("fuel",), owner_path="/1/"),
             percent(5, scope="categories", categories=("dining",), owner_path="/1/"),
             percent(6, scope="merchants", merchant_ids=(1,)), percent(7, owner_path="/5/")]
    found = RuleBook.build(rules).candidates(merchant_id=1, store_id=10, category="fuel", merchant_org_path="/1/2/")
    assert sorted(t.rule_id for t in found) == [1, 2, 4, 6]


def test_preview_and_describe():
    assert preview(spend(2, 20000, 4000), 19999).discount_fen == 0
    assert preview(spend(2, 20000, 4000, budget_fen=3000), 20000).discount_fen == 3000
    assert describe(spend(2, 20000, 4000, days_of_week=(6, 7))) == "满200减40 · 周六、周日"
    assert describe(percent(pay_bp=8500, hour_from=8, hour_to=22)) == "8.5折 · 08:00–22:00"


def _random_rule(rng, rule_id):
    kind = rng.choice(("percent", "threshold", "repeating"))
    terms = dict(priority=rng.randrange(3), combinable=rng.random() < 0.25,
                 cap_fen=rng.choice((None, None, 500, 3000)),
                 budget_fen=rng.choice((None, 100_000)), global_limit=rng.choice((None, None, 5)))
    if rng.random() < 0.2:
        terms["valid_from"] = date(2026, 11, rng.randrange(20, 28))
    if rng.random() < 0.2:
        terms["valid_until"] = date(2026, 11, rng.randrange(20, 28))
    if rng.random() < 0.2:
        terms["days_of_week"] = tuple(sorted(rng.sample(range(1, 8), 3)))
    if rng.random() < 0.2:
        terms["hour_from"], terms["hour_to"] = rng.choice(((8, 22), (0, 12), (13, 24)))
    if rng.random() < 0.2:
        terms["member_categories"] = ("hardship",)
    if rng.random() < 0.2:
        terms["member_org_path"] = rng.choice(("/1/2/", "/1/9/"))
    if rng.random() < 0.3:
        terms["per_member"] = (("day", 1),) if rng.random() < 0.5 else (("day", 2), ("month", 3))
    scope = rng.choice(("programme", "programme", "categories", "merchants", "stores"))
    terms.update(scope=scope, owner_path=rng.choice(("/1/", "/1/2/", "/1/9/")),
                 categories=(rng.choice(("fuel", "dining")),), merchant_ids=(rng.choice((1, 2)),),
                 store_ids=(rng.choice((10, 11)),))
    if kind == "percent":
        return percent(rule_id, rng.choice((8000, 8500, 9000, 9500, 10_000)), **terms)
    x = rng.choice((0, 5000, 10000, 20000))
    if kind == "repeating":
        terms["max_repeats"] = rng.randrange(1, 4)
    return spend(rule_id, x, rng.choice((0, x // 4, x // 10, 4000)), kind=kind, **terms)


def _random_state(rng):
    return rng.choice((FREE, FREE, FREE, RuleState(active=False), RuleState(budget_left_fen=rng.choice((0, 700, 2500))),
                       RuleState(uses_left=rng.choice((0, 1))), RuleState(member_used=(("day", rng.randrange(3)),)),
                       RuleState(member_used=(("month", 3),), budget_left_fen=100)))


def test_a_prepared_till_reused_across_purchases_answers_as_a_fresh_one():
    """A till's prepared candidates memoise the checks that depend on neither price nor counters
    (per day, hour and member class). Reused across purchases, times, members and live states
    they must answer exactly what candidates prepared afresh for each purchase answer."""
    import random
    from datetime import timedelta

    rng = random.Random(20261124)
    for _round in range(150):
        rules = [_random_rule(rng, i) for i in range(1, rng.randrange(2, 25))]
        reused = prepare(rules)
        for _purchase in range(12):
            at = NOON_TUESDAY + timedelta(days=rng.randrange(-4, 4), hours=rng.randrange(24))
            p = buy(rng.choice((999, 5000, 10000, 18800, 20000, 25000, 60000)), at=at,
                    member_category=rng.choice(("ordinary", "hardship")), card_active=rng.random() < 0.9,
                    member_org_path=rng.choice(("/1/2/3/", "/1/9/4/")))
            # often no live state at all (the common quote), else some rules with one, and a
            # state for a rule that is not a candidate here
            states = {} if rng.random() < 0.3 else {t.rule_id: _random_state(rng) for t in rules if rng.random() < 0.4}
            if states and rng.random() < 0.3:
                states[10_000] = _random_state(rng)
            assert engine.evaluate(p, reused, states) == engine.evaluate(p, prepare(rules), states)
