"""The medical benefit's services on PostgreSQL: the insurance import (bad rows, skipping, the same
file twice), matching by ID number only, the preview's groups, batches with a second admin's
approval, the budget, the bank's payout file and return file, issuing again, members' payouts,
the notices and the totals."""
from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.errors import Conflict, Forbidden, LimitReached, NotFound
from benefits.extensions import db
from benefits.medical import bankfile, service as medical
from benefits.medical.models import (InsuranceClaim, InsuranceImport, MedicalAward, MedicalBatch, MedicalPayout,
                                     MedicalProgramme, PayoutFile, ReturnFile)
from benefits.members import service as members
from benefits.members.importing import ImportRefused
from benefits.notices.models import Notice
from benefits.pii import make_id_number
from tests import factories, medical_factories as mf

pytestmark = pytest.mark.services
NOT_A_MEMBER = make_id_number("341602", date(1960, 2, 2), 321)


@pytest.fixture
def w(app):
    """Bozhou's programme for 2020 (over 1,000.00, 200.00 each) and members who show every group."""
    with unit_of_work():
        tree = factories.org_tree()
        w = SimpleNamespace(tree=tree)
        w.creator = factories.admin(tree["bozhou"], "bozhou_admin")
        w.second = factories.admin(tree["bozhou"], "bozhou_second")
        w.far_admin = factories.admin(tree["maanshan"], "maanshan_admin")
        w.wang = factories.member(tree["gujing"], name="王芳")                   # 3,250.50: qualifies
        w.li = factories.member(tree["qiaocheng"], name="李强", category="hardship")   # 1,000.01: qualifies
        w.zhang = factories.member(tree["gujing"], name="张伟")                  # 1,000.00: not over
        w.zhao = factories.member(tree["gujing"], name="赵敏", with_card=False)   # no card
        w.chen = factories.member(tree["gujing"], name="陈静")                   # left the union
        members.record_leave(None, w.chen)
        w.ma = factories.member(tree["magang"], name="马军")                     # Ma'anshan: outside
        w.p = mf.programme(tree["bozhou"])
    w.rows = [mf.claim(w.wang, "3250.50"), mf.claim(w.li, "1000.01"), mf.claim(w.zhang, "1000.00"),
              mf.claim(w.zhao, "5000"), mf.claim(w.chen, "2000"), mf.claim(w.ma, "8000"),
              (NOT_A_MEMBER, "孙丽", "2020", "4500.00")]
    return w


def _import(w, rows=None, **kwargs):
    with unit_of_work():
        return mf.import_claims(db.session.get(MedicalProgramme, w.p.id), mf.claims_csv(rows or w.rows), **kwargs)


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _batch(w, actor=None):
    with unit_of_work():
        return medical.create_batch(actor or w.creator, db.session.get(MedicalProgramme, w.p.id))


def _approve(w, batch, actor=None):
    with unit_of_work():
        return medical.approve_batch(actor or w.second, db.session.get(MedicalBatch, batch.id))


# --- the insurance import ---------------------------------------------------------------------------

def test_a_good_file_is_imported_and_matched_by_id_number_and_the_same_file_again_adds_nothing(w):
    report = _import(w)
    assert (report.total_rows, report.bad_rows, report.added, report.updated, report.unchanged) == (7, 0, 7, 0, 0)
    assert report.claims == 7 and report.matched == 6          # all but the one who is not a member
    assert _count(InsuranceClaim) == 7 and _count(InsuranceImport) == 1
    again = _import(w)
    assert (again.added, again.updated, again.unchanged, again.import_id) == (0, 0, 7, None)
    assert _count(InsuranceClaim) == 7 and _count(InsuranceImport) == 1
    assert _count(AuditEntry, AuditEntry.action == "medical_claims.import") == 1


def test_matching_never_uses_the_name(w):
    # the right ID number under another name is the member; the member's name under an unknown ID is not
    _import(w, [(w.wang.id_number, "别人的名字", "2020", "3000"), (NOT_A_MEMBER, w.li.name, "2020", "3000")])
    groups = medical.preview(db.session.get(MedicalProgramme, w.p.id)).groups
    assert groups["qualifies"][0] == 1 and groups["not_member"][0] == 1


def test_a_later_file_with_a_new_amount_replaces_it(w):
    _import(w)
    report = _import(w, [mf.claim(w.zhang, "1500.00"), mf.claim(w.wang, "3250.50")])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    amount = db.session.scalar(select(InsuranceClaim.out_of_pocket_fen)
                               .where(InsuranceClaim.id_number == w.zhang.id_number))
    assert amount == 150_000


def test_bad_rows_are_listed_by_row_number_and_reason_and_nothing_is_imported(w):
    bad_check = w.wang.id_number[:17] + ("0" if w.wang.id_number[17] != "0" else "1")
    rows = [mf.claim(w.li, "1200"),                           # row 2: good
            (bad_check, "王芳", "2020", "3000"),              # row 3: check digit
            mf.claim(w.zhang, "-10.00"),                      # row 4: negative
            mf.claim(w.zhao, "12.345"),                       # row 5: three decimals
            mf.claim(w.chen, "abc"),                          # row 6: not an amount
            mf.claim(w.ma, "3000", year=2019),                # row 7: wrong year
            mf.claim(w.li, "1300"),                           # row 8: the same person again
            ("", "", "2020", "")]                             # row 9: empty ID, name and amount
    report = _import(w, rows)
    reasons = [(e.row, e.reason) for e in report.errors]
    assert reasons == [(3, "id_number_check_digit"), (4, "amount_negative"), (5, "amount_invalid"),
                       (6, "amount_invalid"), (7, "year_wrong"), (8, "duplicate_in_file"),
                       (9, "id_number_length"), (9, "name_invalid"), (9, "amount_invalid")]
    assert report.refused and report.bad_rows == 7 and report.added == 0
    assert report.errors[0].value == bad_check[:4] + "*" * 10 + bad_check[-4:]      # masked
    assert _count(InsuranceClaim) == 0 and _count(InsuranceImport) == 0

    skipped = _import(w, rows, skip_bad_rows=True)
    assert not skipped.refused and skipped.added == 1 and skipped.bad_rows == 7
    assert _count(InsuranceClaim) == 1


def test_an_xlsx_file_with_numbers_as_cells_imports(w):
    data = mf.xlsx_bytes(mf.CLAIM_HEADER, [(w.wang.id_number, "王芳", 2020, 3250.5), (w.li.id_number, "李强", 2020, 1200)])
    with unit_of_work():
        report = mf.import_claims(db.session.get(MedicalProgramme, w.p.id), data, name="yibao.xlsx")
    assert report.added == 2 and not report.errors
    assert sorted(db.session.scalars(select(InsuranceClaim.out_of_pocket_fen))) == [120_000, 325_050]


def test_a_file_without_the_columns_or_rows_is_refused_as_a_whole(w):
    p = db.session.get(MedicalProgramme, w.p.id)
    with pytest.raises(ImportRefused) as missing:
        mf.import_claims(p, mf.csv_bytes(("身份证号", "姓名"), [(w.wang.id_number, "王芳")]))
    assert missing.value.code == "missing_columns" and "年度" in missing.value.message
    with pytest.raises(ImportRefused) as empty:
        mf.import_claims(p, mf.claims_csv([]))
    assert empty.value.code == "empty_file"
    with pytest.raises(ImportRefused) as capped:
        mf.import_claims(p, mf.claims_csv(w.rows), max_rows=3)
    assert capped.value.code == "too_many_rows"


# --- preview -----------------------------------------------------------------------------------------

def test_the_preview_puts_every_record_in_its_group_and_totals_against_the_budget(w):
    _import(w)
    p = db.session.get(MedicalProgramme, w.p.id)
    preview = medical.preview(p)
    counts = {reason: n for reason, (n, _fen) in preview.groups.items()}
    assert counts == {"qualifies": 2, "below_threshold": 1, "no_card": 1, "member_left": 1, "outside_union": 1,
                      "not_member": 1}
    assert preview.groups["qualifies"][1] == 325_050 + 100_001
    assert (preview.qualifying, preview.total_fen, preview.left_fen, preview.fits) == (2, 40_000, 2_000_000, True)
    rows = medical.preview_rows(p, "qualifies", 1, 50)
    assert [r.out_of_pocket_fen for r in rows] == [325_050, 100_001]
    assert rows[0].masked_id == w.wang.id_number[:4] + "*" * 10 + w.wang.id_number[-4:]


def test_categories_and_the_eligible_subtree_narrow_who_qualifies(w):
    with unit_of_work():
        hardship = mf.programme(w.tree["province"], year=2021, member_categories=["hardship"],
                                eligible_org_id=w.tree["qiaocheng"].id)
        mf.import_claims(hardship, mf.claims_csv([mf.claim(w.wang, "3000", 2021), mf.claim(w.li, "3000", 2021),
                                                   mf.claim(w.ma, "3000", 2021)]))
    groups = medical.preview(db.session.get(MedicalProgramme, hardship.id)).groups
    # 王芳 is ordinary, 李强 hardship in 谯城区, 马军 outside 谯城区 (the union is the province's)
    assert (groups["category"][0], groups["qualifies"][0], groups["outside_union"][0]) == (1, 1, 1)


# --- batches, four eyes, budget ------------------------------------------------------------------------

def test_a_batch_is_approved_by_a_second_admin_once_and_writes_the_payout_file(w):
    _import(w)
    batch = _batch(w)
    assert (batch.status, batch.member_count, batch.total_fen) == ("pending", 2, 40_000)
    assert medical.preview(db.session.get(MedicalProgramme, w.p.id)).groups["proposed"][0] == 2
    with pytest.raises(Conflict) as again:
        _batch(w)
    assert again.value.code == "nobody_qualifies"

    with pytest.raises(Forbidden) as own:
        _approve(w, batch, actor=w.creator)
    assert own.value.code == "second_admin_required"
    approval = _approve(w, batch)
    assert (approval.payouts, approval.without_card, approval.file.total_fen) == (2, 0, 40_000)
    assert db.session.get(MedicalProgramme, w.p.id).committed_fen == 40_000
    with pytest.raises(Conflict) as twice:
        _approve(w, batch)
    assert twice.value.code == "batch_not_pending"
    assert db.session.get(MedicalProgramme, w.p.id).committed_fen == 40_000
    assert _count(MedicalPayout) == 2 and _count(PayoutFile) == 1

    lines = medical.payout_file_lines(db.session.get(PayoutFile, approval.file.id))
    references = sorted(line[3] for line in lines)
    assert references == sorted(db.session.scalars(select(MedicalPayout.reference)))
    assert all(ref.startswith("YL2020") and len(ref) == 16 for ref in references)
    rows = list(load_workbook(io.BytesIO(bankfile.payout_xlsx(lines))).active.iter_rows(values_only=True))
    assert rows[0] == ("卡号", "姓名", "金额（元）", "业务参考号")
    assert {r[0] for r in rows[1:]} == {w.wang.current_card.number, w.li.current_card.number}
    assert {r[1] for r in rows[1:]} == {"王*", "李*"} and {r[2] for r in rows[1:]} == {"200.00"}
    text = bankfile.payout_csv(lines).decode("utf-8-sig").splitlines()
    assert text[0] == "卡号,姓名,金额（元）,业务参考号" and len(text) == 3


def test_a_rejected_batch_frees_its_members_for_a_later_one(w):
    _import(w)
    batch = _batch(w)
    with unit_of_work():
        medical.reject_batch(w.creator, db.session.get(MedicalBatch, batch.id))
    assert _count(MedicalAward) == 0
    with pytest.raises(Conflict):
        _approve(w, batch)
    assert _batch(w).member_count == 2


def test_a_batch_beyond_the_budget_left_is_refused_and_approval_never_spends_past_it(w):
    with unit_of_work():
        db.session.get(MedicalProgramme, w.p.id).budget_fen = 30_000      # one payment and a half
    _import(w, [mf.claim(w.wang, "3000")])
    first = _batch(w)
    _import(w, [mf.claim(w.li, "3000")])
    second = _batch(w)                      # fits what is left now: 30,000 − 0
    assert second.total_fen == 20_000
    _approve(w, first)
    with pytest.raises(LimitReached) as over:
        _approve(w, second)
    assert over.value.code == "over_budget" and over.value.details["left_fen"] == 10_000
    db.session.expire_all()
    assert db.session.get(MedicalBatch, second.id).status == "pending"     # nothing of it was written
    assert db.session.get(MedicalProgramme, w.p.id).committed_fen == 20_000
    assert _count(MedicalPayout) == 1
    _import(w, [mf.claim(w.zhang, "3000")])
    with pytest.raises(LimitReached):       # 李强 is still in the pending batch; 张伟 alone does not fit
        _batch(w)


def test_approval_without_an_active_card_waits_for_a_reissue(w):
    _import(w)
    batch = _batch(w)
    with unit_of_work():
        members.freeze_card(None, w.li.current_card)
    approval = _approve(w, batch)
    assert (approval.payouts, approval.without_card) == (1, 1)
    state = medical.payout_counts(db.session.get(MedicalProgramme, w.p.id))
    assert state["awaiting_reissue"] == 1
    with unit_of_work():
        members.unfreeze_card(None, db.session.get(type(w.li.current_card), w.li.current_card.id))
        file = medical.reissue(w.creator, db.session.get(MedicalProgramme, w.p.id))
    assert (file.kind, file.payout_count, file.total_fen) == ("reissue", 1, 20_000)


# --- returns, notices, reissue ------------------------------------------------------------------------

def _approved(w):
    _import(w)
    batch = _batch(w)
    _approve(w, batch)
    return {m: db.session.scalar(select(MedicalPayout.reference).where(MedicalPayout.member_id == m.id))
            for m in (w.wang, w.li)}


def test_the_return_file_reconciles_payouts_notifies_the_paid_and_the_same_file_again_changes_nothing(w):
    refs = _approved(w)
    data = mf.returns_csv([(refs[w.wang], "成功", ""), (refs[w.li], "失败", "账户已冻结")])
    with unit_of_work():
        report = mf.import_returns(db.session.get(MedicalProgramme, w.p.id), data)
    assert (report.paid, report.failed, report.unchanged, report.refused) == (1, 1, 0, False)
    paid = db.session.scalar(select(MedicalPayout).where(MedicalPayout.reference == refs[w.wang]))
    failed = db.session.scalar(select(MedicalPayout).where(MedicalPayout.reference == refs[w.li]))
    assert (paid.status, failed.status, failed.failure_reason) == ("paid", "failed", "账户已冻结")
    assert db.session.get(MedicalAward, paid.award_id).status == "paid"
    assert db.session.get(MedicalAward, failed.award_id).status == "approved"
    notice = db.session.scalar(select(Notice))
    assert (notice.member_id, notice.kind, notice.dedupe_key) == (w.wang.id, "payout_made", f"medical-payout:{paid.id}")
    assert notice.params == {"programme": "医疗普惠", "amount_fen": 20_000,
                             "card_tail": w.wang.current_card.number[-4:]}

    with unit_of_work():
        again = mf.import_returns(db.session.get(MedicalProgramme, w.p.id), data)
    assert (again.paid, again.failed, again.unchanged, again.return_file_id) == (0, 0, 2, None)
    assert _count(ReturnFile) == 1 and _count(Notice) == 1


def test_a_return_file_naming_an_unknown_reference_is_refused_naming_the_row_and_changes_nothing(w):
    refs = _approved(w)
    data = mf.returns_csv([(refs[w.wang], "成功", ""), ("YL20209999999999", "成功", ""), (refs[w.li], "已到", "")])
    with unit_of_work():
        report = mf.import_returns(db.session.get(MedicalProgramme, w.p.id), data)
    assert report.refused and [(e.row, e.reason) for e in report.errors] == [(3, "unknown_reference"),
                                                                             (4, "result_unknown")]
    assert report.errors[0].value == "YL20209999999999"
    assert _count(MedicalPayout, MedicalPayout.status == "sent") == 2 and _count(Notice) == 0
    assert _count(ReturnFile) == 0


def test_a_return_that_contradicts_an_earlier_one_is_refused(w):
    refs = _approved(w)
    with unit_of_work():
        mf.import_returns(db.session.get(MedicalProgramme, w.p.id), mf.returns_csv([(refs[w.wang], "成功", "")]))
    with unit_of_work():
        report = mf.import_returns(db.session.get(MedicalProgramme, w.p.id),
                                   mf.returns_csv([(refs[w.wang], "失败", "户名不符"), (refs[w.li], "失败", "")]))
    assert [(e.row, e.reason) for e in report.errors] == [(2, "already_returned"), (3, "reason_missing")]
    assert _count(MedicalPayout, MedicalPayout.status == "paid") == 1


def test_a_failed_payout_is_issued_again_with_a_new_reference_and_is_paid_once(w):
    refs = _approved(w)
    with unit_of_work():
        mf.import_returns(db.session.get(MedicalProgramme, w.p.id), mf.returns_csv([(refs[w.li], "失败", "卡已挂失")]))
    with unit_of_work():
        file = medical.reissue(w.second, db.session.get(MedicalProgramme, w.p.id))
    new_ref = db.session.scalar(select(MedicalPayout.reference).where(MedicalPayout.file_id == file.id))
    assert new_ref != refs[w.li] and file.payout_count == 1
    with pytest.raises(Conflict) as nothing:
        with unit_of_work():
            medical.reissue(w.second, db.session.get(MedicalProgramme, w.p.id))
    assert nothing.value.code == "nothing_to_reissue"
    with unit_of_work():
        mf.import_returns(db.session.get(MedicalProgramme, w.p.id), mf.returns_csv([(new_ref, "成功", "")]))
    li_payouts = db.session.execute(select(MedicalPayout.status).where(MedicalPayout.member_id == w.li.id)
                                    .order_by(MedicalPayout.id)).scalars().all()
    assert li_payouts == ["failed", "paid"]
    assert _count(MedicalAward, MedicalAward.member_id == w.li.id) == 1
    assert [p.state for p in medical.member_payouts(w.li)] == ["paid"]


def test_members_see_their_payouts_and_the_union_its_totals(w):
    refs = _approved(w)
    assert [p.state for p in medical.member_payouts(w.wang)] == ["sending"]
    with unit_of_work():
        mf.import_returns(db.session.get(MedicalProgramme, w.p.id),
                          mf.returns_csv([(refs[w.wang], "成功", ""), (refs[w.li], "失败", "户名不符")]))
    [mine] = medical.member_payouts(w.wang)
    assert (mine.state, mine.amount_fen, mine.year, mine.card_tail) == ("paid", 20_000, 2020,
                                                                         w.wang.current_card.number[-4:])
    [li] = medical.member_payouts(w.li)
    assert (li.state, li.failure_reason) == ("retry", "户名不符")
    assert medical.member_payouts(w.zhang) == []

    lines = medical.totals(w.tree["bozhou"])
    by_org = {line.org_code: line for line in lines}
    assert (by_org["341602001"].paid, by_org["341602001"].paid_fen) == (1, 20_000)       # 王芳, 古井
    assert (by_org["341602"].in_payment, by_org["341602"].in_payment_fen) == (1, 20_000)  # 李强, 谯城区
    [year] = medical.yearly(lines)
    assert (year.year, year.paid_fen, year.in_payment_fen) == (2020, 20_000, 20_000)
    assert medical.totals(w.tree["maanshan"]) == []
    assert medical.totals(w.tree["bozhou"], 2019) == []
    csv_text = bankfile.totals_csv(lines).decode("utf-8-sig").splitlines()
    assert csv_text[0] == "年度,组织代码,组织,已到账人数,已到账金额（元）,发放中人数,发放中金额（元）"


# --- programmes and scope ------------------------------------------------------------------------------

def test_one_programme_per_union_and_year_and_another_union_sees_none_of_it(w):
    with pytest.raises(Conflict) as twice:
        with unit_of_work():
            mf.programme(w.tree["bozhou"])
    assert twice.value.code == "programme_exists"
    assert medical.programmes_in_scope(w.tree["maanshan"]) == []
    with pytest.raises(NotFound):
        medical.get_programme(w.tree["maanshan"], w.p.id)
    assert [p.id for p in medical.programmes_in_scope(w.tree["province"])] == [w.p.id]
