"""Demo medical benefit from the report (DOMAIN.md): Bozhou's 2020 programme — out-of-pocket
costs over 1,000 yuan, one unified consolation payment, a budget of 220,000 yuan — with a
social-insurance file for the demo's Bozhou members (some over the threshold, some under, a few
people who are not members), imported, built into a batch by admin_bozhou, approved by
admin_province (a second admin), sent to the bank and reconciled: all paid, the demo member
张伟 among them (with his notice), except one the bank returned; then a second file with more
people, so that the preview shows who qualifies for the next batch. Runs after the vouchers' demo.

Everything goes through the same service functions as the pages, so the demo is also a smoke
test of the whole flow."""
from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select

from ..auth.models import User
from ..cli.demo import DEMO_MEMBER_ID
from ..extensions import db
from ..members.models import Member
from ..orgs.models import Organisation
from ..pii import make_id_number
from . import importing, service
from .models import MedicalPayout

YEAR = 2020
THRESHOLD_FEN = 100_000       # 1,000 yuan from 2020
AMOUNT_FEN = 20_000           # 200 yuan each
BUDGET_FEN = 22_000_000       # 220,000 yuan


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(importing.CLAIM_TEMPLATE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def load(ctx) -> None:
    bozhou = ctx.orgs["3416"]
    creator = db.session.scalar(select(User).where(User.username == "admin_bozhou"))
    approver = db.session.scalar(select(User).where(User.username == "admin_province"))
    programme = service.create_programme(creator, bozhou, {
        "name": "医疗普惠", "year": YEAR, "threshold_fen": THRESHOLD_FEN, "amount_fen": AMOUNT_FEN,
        "budget_fen": BUDGET_FEN})
    people = db.session.execute(
        select(Member.id_number, Member.name).join(Organisation, Organisation.id == Member.org_id)
        .where(Organisation.path.startswith(bozhou.path)).order_by(Member.id)).all()
    rows = []
    for i, (id_number, name) in enumerate(people):
        if id_number == DEMO_MEMBER_ID:      # 张伟, who signs in on the demo
            rows.append((id_number, name, str(YEAR), "3250.50"))
        elif i % 3 == 0:
            rows.append((id_number, name, str(YEAR), f"{ctx.rng.randrange(100_001, 900_000) / 100:.2f}"))
        elif i % 3 == 1:
            rows.append((id_number, name, str(YEAR), f"{ctx.rng.randrange(0, 100_001) / 100:.2f}"))
    for n in range(5):   # people in the insurance data who are not members
        rows.append((make_id_number("341602", date(1958 + n, 3, 1 + n), 900 + n), "非会员", str(YEAR), "2400.00"))
    service.import_claims(creator, programme, "亳州医保2020.csv", _csv(rows), max_uncompressed=16 * 1024 * 1024)
    batch = service.create_batch(creator, programme)
    approval = service.approve_batch(approver, batch)
    references = db.session.scalars(select(MedicalPayout.reference).where(MedicalPayout.file_id == approval.file.id)
                                    .order_by(MedicalPayout.id)).all()
    returned = [(ref, "成功", "") for ref in references[:-1]] + [(references[-1], "失败", "户名不符")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("业务参考号", "结果", "失败原因"))
    writer.writerows(returned)
    service.import_returns(creator, programme, "银行回盘.csv", out.getvalue().encode("utf-8"),
                           max_uncompressed=16 * 1024 * 1024)
    # a later file from the bureau: people not in the first one, some over the threshold — what an
    # admin of the demo can build into a batch and have another admin approve
    later = [(id_number, name, str(YEAR), f"{ctx.rng.randrange(50_000, 600_000) / 100:.2f}")
             for i, (id_number, name) in enumerate(people) if i % 3 == 2]
    service.import_claims(creator, programme, "亳州医保2020-补充.csv", _csv(later), max_uncompressed=16 * 1024 * 1024)
    ctx.notes.append(f"medical: {YEAR} 医疗普惠 ×{approval.payouts} payouts ({approval.payouts - 1} paid, 1 returned "
                     "by the bank: 重新发放 on the programme page)")
