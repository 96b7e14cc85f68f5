"""`flask vouchers issue` and `flask vouchers expire` through click's runner: the preview, the
confirmation, the progress bar, a file's bad rows (nothing issued unless --skip-errors), re-runs
that issue nobody twice, and expiry that is safe to run again."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.vouchers import service as vouchers
from benefits.vouchers.models import Voucher, VoucherBatch, VoucherProgramme
from tests import factories
from tests import voucher_factories as vf


@pytest.fixture
def world(app):
    with unit_of_work():
        tree = factories.org_tree()
        poor = [factories.member(tree["gujing"], name=n, category="hardship") for n in ("王芳", "张丽")]
        retiree = factories.member(tree["gujing"], name="陈静", category="retiree")
        elsewhere = factories.member(tree["magang"], name="刘洋", category="hardship")
        programme = vf.programme(tree["bozhou"], budget_fen=50000 * 10)
    return {"tree": tree, "poor": poor, "retiree": retiree, "elsewhere": elsewhere, "pid": programme.id}


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["vouchers", *args], input=input)


def vouchers_count(*where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Voucher).where(*where))


def test_issue_by_category_with_yes_then_a_rerun_issues_nobody_twice(app, world):
    result = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", "--yes")
    assert result.exit_code == 0, result.output
    assert "可发券会员 2 人" in result.output and "需要面值 1000.00 元" in result.output
    assert "已发放 2 张" in result.output and "发券" in result.output
    assert vouchers_count() == 2 and vouchers_count(Voucher.member_id == world["elsewhere"].id) == 0
    again = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", "--yes")
    assert again.exit_code == 0 and "没有需要发券的会员" in again.output
    assert vouchers_count() == 2
    p = db.session.get(VoucherProgramme, world["pid"])
    assert (p.issued_count, p.issued_fen) == (2, 100000)


def test_a_new_round_is_a_new_batch_within_the_per_member_limit(app, world):
    with unit_of_work():
        db.session.get(VoucherProgramme, world["pid"]).per_member = 2
    assert run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship,retiree",
               "--org", "341602001", "--yes").exit_code == 0
    second = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship,retiree",
                 "--org", "341602001", "--round", "2", "--yes")
    assert second.exit_code == 0 and "已发放 3 张" in second.output
    assert vouchers_count() == 6 and db.session.scalar(select(func.count()).select_from(VoucherBatch)) == 2


def test_it_asks_before_issuing(app, world):
    declined = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", input="n\n")
    assert declined.exit_code != 0 and "确认发放" in declined.output
    assert vouchers_count() == 0
    accepted = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", input="y\n")
    assert accepted.exit_code == 0 and "已发放 2 张" in accepted.output and vouchers_count() == 2


def test_a_budget_that_runs_out_is_reported(app, world):
    with unit_of_work():
        db.session.get(VoucherProgramme, world["pid"]).budget_fen = 50000
    result = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", "--yes")
    assert result.exit_code == 0
    assert "预算不够：只能再发 1 张" in result.output and "还有 1 人没有发到" in result.output
    assert vouchers_count() == 1


def test_a_file_with_bad_rows_issues_nothing_unless_skipping(app, world, tmp_path):
    good = world["poor"][0]
    path = tmp_path / "名单.csv"
    path.write_text(f"卡号\n{good.current_card.number}\nabc\n{world['elsewhere'].current_card.number}\n",
                    encoding="utf-8")
    refused = run(app, "issue", "--programme", str(world["pid"]), "--file", str(path), "--yes")
    assert refused.exit_code == 1
    assert "第 3 行：卡号格式不对" in refused.output and "第 4 行：会员不属于本活动的工会" in refused.output
    assert "可发券会员 1 人" in refused.output and "--skip-errors" in refused.output
    assert vouchers_count() == 0
    done = run(app, "issue", "--programme", str(world["pid"]), "--file", str(path), "--skip-errors", "--yes")
    assert done.exit_code == 0, done.output
    assert "已发放 1 张" in done.output and vouchers_count(Voucher.member_id == good.id) == 1
    assert vouchers_count() == 1


def test_bad_arguments_are_messages(app, world, tmp_path):
    unknown = run(app, "issue", "--programme", "999", "--categories", "hardship", "--yes")
    assert unknown.exit_code != 0 and "没有这个券活动" in unknown.output
    org = run(app, "issue", "--programme", str(world["pid"]), "--org", "nope", "--yes")
    assert org.exit_code != 0 and "没有这个组织代码" in org.output
    category = run(app, "issue", "--programme", str(world["pid"]), "--categories", "vip", "--yes")
    assert category.exit_code != 0 and "未知的会员类别" in category.output
    outside = run(app, "issue", "--programme", str(world["pid"]), "--org", "340503001", "--yes")
    assert outside.exit_code != 0 and "组织不在本活动的工会范围内" in outside.output
    path = tmp_path / "list.csv"
    path.write_text("姓名\n王芳\n", encoding="utf-8")
    header = run(app, "issue", "--programme", str(world["pid"]), "--file", str(path), "--yes")
    assert header.exit_code != 0 and "身份证号" in header.output
    both = run(app, "issue", "--programme", str(world["pid"]), "--file", str(path), "--categories", "hardship")
    assert both.exit_code != 0 and "不能再指定" in both.output
    with unit_of_work():
        vouchers.close_programme(None, db.session.get(VoucherProgramme, world["pid"]))
    closed = run(app, "issue", "--programme", str(world["pid"]), "--categories", "hardship", "--yes")
    assert closed.exit_code != 0 and "已结束发放" in closed.output
    assert vouchers_count() == 0


def test_expire_is_safe_to_run_again(app, world):
    with unit_of_work():
        vf.issue(db.session.get(VoucherProgramme, world["pid"]))
    clock.set_frozen(datetime(2026, 12, 28, 2, 0, tzinfo=timezone.utc))   # within a week of the end
    noticed = run(app, "expire")
    assert noticed.exit_code == 0 and "已过期 0 张；到期提醒 2 张" in noticed.output
    clock.set_frozen(datetime(2027, 1, 1, 2, 0, tzinfo=timezone.utc))
    first = run(app, "expire")
    assert first.exit_code == 0 and "已过期 2 张" in first.output
    second = run(app, "expire")
    assert second.exit_code == 0 and "已过期 0 张；到期提醒 0 张" in second.output
    assert vouchers_count(Voucher.status == "expired") == 2
    assert db.session.scalar(select(Voucher.valid_until)) == date(2026, 12, 31)
