"""The console's home: a union at a glance, for the organisation the admin is looking at (their
own union or one below it). Every figure is read by the service function that the report pages
and the API use for it, so the console can never say something the reports do not:

- card spend today and this month, discount by funder and what vouchers paid:
  `transactions.settlement.daily_spend` (the merchant report's sum, per day; net of refunds);
- budget burn of the active rules: `promotions.rules.budget_burn` (the tills' budget counter);
- quiz participation: `quiz.reports.at_a_glance`;
- redemptions and prizes running low: `prizes.service.redemption_overview` and `low_stock`.

`overview` is plain data (tested without a request); `chart_specs` turns it into the charts'
data in the reader's language."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from .. import charts, clock, periods
from ..orgs.models import Organisation
from ..prizes import service as prizes
from ..prizes.models import Prize
from ..promotions import rules as promotions
from ..quiz import reports as quiz_reports
from ..transactions import settlement

BUDGET_LINES = 10      # rules drawn in the budget chart, the most spent first
LOW_STOCK_LINES = 10


@dataclass(frozen=True)
class Overview:
    today: date
    month: periods.Period
    days: list[dict]                 # card spend per day of the month so far
    today_spend: dict                # the last of `days`
    month_spend: dict                # `days` added up
    budget: list[promotions.BudgetLine]
    budget_rules: int                # active rules with a budget (the chart shows BUDGET_LINES of them)
    unbudgeted_rules: int            # active rules without one
    quiz: dict[str, quiz_reports.Participation]
    redemptions: dict
    low_stock: list[Prize]
    low_stock_units: int             # "running low" means this many left or fewer


def overview(scope: Organisation, today: date | None = None) -> Overview:
    today = today or clock.business_day()
    month = periods.month_to_date(today)
    days = settlement.daily_spend(scope, month)
    budget, budget_rules, unbudgeted = promotions.budget_burn(scope, BUDGET_LINES)
    return Overview(today=today, month=month, days=days, today_spend=days[-1],
                    month_spend=settlement.report_totals(days), budget=budget, budget_rules=budget_rules,
                    unbudgeted_rules=unbudgeted, quiz=quiz_reports.at_a_glance(scope, today),
                    redemptions=prizes.redemption_overview(scope, today),
                    low_stock=prizes.low_stock(scope, LOW_STOCK_LINES), low_stock_units=prizes.LOW_STOCK)


def funder_rows(o: Overview) -> list[tuple[str, int, int]]:
    """(funder, discount this month, voucher face value or top-up this month), all net."""
    m = o.month_spend
    return [(_("工会"), m["union_fen"], m["voucher_union_fen"]),
            (_("银行"), m["bank_fen"], m["voucher_bank_fen"]),
            (_("商家"), m["merchant_fen"], m["voucher_topup_fen"])]


def quiz_rows(o: Overview) -> list[tuple[str, quiz_reports.Participation]]:
    return [(_("今日"), o.quiz["today"]), (_("近 7 天"), o.quiz["week"]), (_("本月"), o.quiz["month"])]


def chart_specs(o: Overview) -> dict:
    funders = funder_rows(o)
    quiz = quiz_rows(o)
    return {
        "spend": charts.chart("line", [charts.day_label(d["day"]) for d in o.days],
                              [(_("消费额"), [d["amount_fen"] for d in o.days]),
                               (_("优惠"), [d["discount_fen"] for d in o.days])], money=True),
        "funders": charts.chart("bar", [f[0] for f in funders],
                                [(_("优惠"), [f[1] for f in funders]), (_("券"), [f[2] for f in funders])],
                                money=True, stack=True),
        "budget": charts.chart("hbar", [line.name for line in o.budget],
                               [(_("已用金额"), [line.spent_fen for line in o.budget]),
                                (_("剩余金额"), [line.left_fen for line in o.budget])], money=True, stack=True),
        "quiz": charts.chart("bar", [q[0] for q in quiz],
                             [(_("答题次数"), [q[1].attempts for q in quiz]),
                              (_("参与人数"), [q[1].members for q in quiz])]),
    }
