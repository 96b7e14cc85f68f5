from sqlalchemy import func, select

from benefits.extensions import db
from benefits.quiz import importers
from benefits.quiz.models import JobType, Question


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Question))


def test_generate_import_and_export_a_bank_from_the_command_line(app, tmp_path):
    runner = app.test_cli_runner()
    bank = tmp_path / "bank.csv"
    made = runner.invoke(args=["quiz", "generate-bank", str(bank), "--count", "600"])
    assert made.exit_code == 0, made.output
    refused = runner.invoke(args=["quiz", "import", str(bank)])
    assert refused.exit_code == 1 and "未知工种" in refused.output and count() == 0
    done = runner.invoke(args=["quiz", "import", str(bank), "--create-job-types"])
    assert done.exit_code == 0 and "imported 600, skipped 0" in done.output, done.output
    assert count() == 600 and db.session.scalar(select(func.count()).select_from(JobType)) == 24
    positions = db.session.execute(select(Question.job_type_id, func.min(Question.position), func.max(Question.position),
                                          func.count()).group_by(Question.job_type_id)).all()
    assert all(low == 1 and high == n for _jt, low, high, n in positions)
    out = tmp_path / "out.xlsx"
    exported = runner.invoke(args=["quiz", "export", str(out)])
    assert exported.exit_code == 0
    questions, problems = importers.parse_xlsx(out.read_bytes())
    assert problems == [] and len(questions) == 600


def test_a_file_with_a_bad_row_imports_nothing_unless_skipping(app, tmp_path):
    runner = app.test_cli_runner()
    runner.invoke(args=["quiz", "generate-bank", str(tmp_path / "seed.csv"), "--count", "30"])
    runner.invoke(args=["quiz", "import", str(tmp_path / "seed.csv"), "--create-job-types"])
    before = count()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(importers.write_csv([
        ["电工", "单选", "好题", "甲", "乙", "", "", "", "", "A", 1, "", 2, ""],
        ["电工", "单选", "坏题", "甲", "乙", "", "", "", "", "", 1, "", 2, ""]]))
    refused = runner.invoke(args=["quiz", "import", str(bad)])
    assert refused.exit_code == 1 and "line 3:" in refused.output and count() == before
    skipped = runner.invoke(args=["quiz", "import", str(bad), "--skip-bad"])
    assert skipped.exit_code == 0 and "imported 1, skipped 1" in skipped.output and count() == before + 1
