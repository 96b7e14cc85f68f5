"""`flask medical import` and `flask medical returns` through click's runner (bad rows refused
unless --skip-bad-rows, the same file twice, an unknown reference), and the demo's programme
built through the whole flow."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from benefits.cli import demo as cli_demo
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.medical import demo, service as medical
from benefits.medical.models import InsuranceClaim, MedicalBatch, MedicalPayout, MedicalProgramme
from benefits.members.models import Member
from benefits.notices.models import Notice
from tests import factories, medical_factories as mf

pytestmark = pytest.mark.services


@pytest.fixture
def world(app, tmp_path):
    with unit_of_work():
        tree = factories.org_tree()
        creator = factories.admin(tree["bozhou"], "bozhou_admin")
        second = factories.admin(tree["bozhou"], "bozhou_second")
        people = [factories.member(tree["gujing"], name=n) for n in ("王芳", "李强", "张伟")]
        programme = mf.programme(tree["bozhou"])
    return {"pid": programme.id, "people": people, "creator": creator, "second": second, "tmp": tmp_path}


def run(app, *args):
    return app.test_cli_runner().invoke(args=["medical", *args])


def claims() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(InsuranceClaim))


def test_import_refuses_a_file_with_bad_rows_unless_skipped_and_the_same_file_twice_adds_nothing(app, world):
    wang, li, zhang = world["people"]
    path = world["tmp"] / "医保.csv"
    path.write_bytes(mf.claims_csv([mf.claim(wang, "3250.50"), mf.claim(li, "-1"), mf.claim(zhang, "1800")]))
    refused = run(app, "import", str(path), "--programme", str(world["pid"]))
    assert refused.exit_code == 1 and "第 3 行：自付金额不能为负数" in refused.output
    assert "未导入任何数据" in refused.output and claims() == 0
    done = run(app, "import", str(path), "--programme", str(world["pid"]), "--skip-bad-rows")
    assert done.exit_code == 0, done.output
    assert "新增 2 条" in done.output and "比对到会员 2 人" in done.output and claims() == 2
    again = run(app, "import", str(path), "--programme", str(world["pid"]), "--skip-bad-rows")
    assert "新增 0 条" in again.output and "与已导入的相同 2 条" in again.output and claims() == 2
    missing = run(app, "import", str(path), "--programme", "999")
    assert missing.exit_code != 0 and "没有这个医疗普惠项目" in missing.output
    wrong = world["tmp"] / "医保.pdf"
    wrong.write_bytes(b"%PDF")
    assert run(app, "import", str(wrong), "--programme", str(world["pid"])).exit_code != 0


def test_returns_refuse_an_unknown_reference_and_reconcile_the_rest(app, world):
    wang, li, _zhang = world["people"]
    with unit_of_work():
        p = db.session.get(MedicalProgramme, world["pid"])
        mf.import_claims(p, mf.claims_csv([mf.claim(wang, "3000"), mf.claim(li, "3000")]))
        batch = medical.create_batch(world["creator"], p)
    with unit_of_work():
        medical.approve_batch(world["second"], db.session.get(MedicalBatch, batch.id))
    refs = db.session.scalars(select(MedicalPayout.reference).order_by(MedicalPayout.id)).all()
    path = world["tmp"] / "回盘.csv"
    path.write_bytes(mf.returns_csv([(refs[0], "成功", ""), ("YL20200000999999", "成功", "")]))
    refused = run(app, "returns", str(path), "--programme", str(world["pid"]))
    assert refused.exit_code == 1 and "第 3 行：没有这个业务参考号的发放记录" in refused.output
    path.write_bytes(mf.returns_csv([(refs[0], "成功", ""), (refs[1], "失败", "户名不符")]))
    done = run(app, "returns", str(path), "--programme", str(world["pid"]))
    assert done.exit_code == 0 and "到账 1 笔，未成功 1 笔" in done.output
    again = run(app, "returns", str(path), "--programme", str(world["pid"]))
    assert "到账 0 笔，未成功 0 笔，以前已回盘 2 笔" in again.output


def test_the_demo_runs_the_whole_flow(app):
    with unit_of_work():
        ctx = cli_demo.DemoContext(rng=random.Random(2020))
        cli_demo.load(ctx)
        demo.load(ctx)
    programme = db.session.scalar(select(MedicalProgramme))
    assert (programme.year, programme.threshold_fen, programme.amount_fen) == (2020, 100_000, 20_000)
    statuses = dict(db.session.execute(select(MedicalPayout.status, func.count()).group_by(MedicalPayout.status)).all())
    assert statuses["failed"] == 1 and statuses["paid"] >= 10
    assert programme.committed_fen == 20_000 * (statuses["paid"] + 1)
    zhang = db.session.scalar(select(Member.id).where(Member.id_number == cli_demo.DEMO_MEMBER_ID))
    assert db.session.scalar(select(Notice.kind).where(Notice.member_id == zhang)) == "payout_made"
    assert medical.preview(programme).qualifying > 0          # the later file: a batch to build next
    assert any("medical" in note for note in ctx.notes)
