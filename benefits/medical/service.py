"""The medical benefit (医疗普惠): programmes, the social-insurance import, the preview, payout
batches with a second admin's approval, the bank's payout file and return file, the members'
payouts and the union's totals. One function per operation; services flush, never commit.

Exactness:
- A programme's imports, batch building, payout issue and return reconciliation each take the
  programme row's lock (`FOR NO KEY UPDATE`), so they queue one behind the other for a programme.
- Approval is a guarded UPDATE of the batch (`… WHERE status = 'pending' AND created_by <> me`):
  two approvals racing, or one clicked twice, find one batch to approve and one answer 409. The
  budget is taken in the same transaction by a guarded UPDATE (`… WHERE committed_fen + total ≤
  budget_fen`, and a CHECK), so no approval spends a fen beyond it.
- One award per member per programme (UNIQUE), one live payout per award (partial UNIQUE): a
  member is paid at most once in a programme year, however often anything is clicked or imported.
- A payout is "made" when the bank's return file says it was paid (the money is on the card);
  the member's notice is written then, in the same transaction (`notices.outbox.enqueue`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import BigInteger, Integer, String, and_, bindparam, exists, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert as pg_insert

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, Forbidden, LimitReached, NotFound, ValidationError
from ..extensions import db
from ..inputs import row_id
from ..members.importing import RowError, bulk_insert
from ..members.models import CATEGORIES as MEMBER_CATEGORIES
from ..members.models import Card, Member
from ..notices import outbox
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from ..pii import mask_id_number
from ..promotions.validation import FieldErrors, fen_field
from . import importing, matching, rules
from .models import (InsuranceClaim, InsuranceImport, MedicalAward, MedicalBatch, MedicalPayout, MedicalProgramme,
                     PayoutFile, ReturnFile)

MAX_THRESHOLD_FEN = 100_000_000          # 1,000,000 yuan
MAX_AMOUNT_FEN = 10_000_000              # 100,000 yuan per member: more is a typing mistake
MAX_BUDGET_FEN = 10_000_000_000_00       # 10 billion yuan
CHUNK = 5_000

_p = MedicalProgramme.__table__.c
_b = MedicalBatch.__table__.c
_a = MedicalAward.__table__.c
_y = MedicalPayout.__table__.c
_k = Card.__table__.c


# --- programmes ---------------------------------------------------------------------------------

def _whole(data: dict, name: str, add, *, low: int, high: int):
    value = data.get(name)
    if value in (None, ""):
        add(name, "必填")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        add(name, "须为整数")
        return None
    if not low <= value <= high:
        add(name, f"须在 {low} 到 {high} 之间")
        return None
    return value


def clean_programme(data: dict, scope: Organisation) -> dict:
    """The columns of a valid new programme, or ValidationError naming every bad field."""
    errors = FieldErrors()
    add = errors.add
    out: dict = {}
    name = str(data.get("name") or "").strip()
    if not name:
        add("name", "必填")
    elif len(name) > 128 or not name.isprintable():
        add("name", "最多 128 个字，且不能含控制字符")
    out["name"] = name
    out["year"] = _whole(data, "year", add, low=2000, high=2100)
    out["threshold_fen"] = fen_field(data, "threshold_fen", add, required=True, low=0, high=MAX_THRESHOLD_FEN)
    out["amount_fen"] = fen_field(data, "amount_fen", add, required=True, low=1, high=MAX_AMOUNT_FEN)
    out["budget_fen"] = fen_field(data, "budget_fen", add, required=True, low=1, high=MAX_BUDGET_FEN)
    if out["amount_fen"] and out["budget_fen"] and out["budget_fen"] < out["amount_fen"]:
        add("budget_fen", "预算不够发一人")
    categories = data.get("member_categories") or []
    if not isinstance(categories, (list, tuple)) or any(c not in MEMBER_CATEGORIES for c in categories):
        add("member_categories", "未知的会员类别")
        categories = []
    out["member_categories"] = sorted(set(categories))
    eligible = data.get("eligible_org_id")
    if eligible in (None, ""):
        out["eligible_org_id"] = scope.id
    else:
        org = db.session.get(Organisation, eligible) if row_id(eligible) else None
        if org is None or not scope.contains(org):
            add("eligible_org_id", "组织不在您的管辖范围内")
        else:
            out["eligible_org_id"] = org.id
    if errors:
        raise ValidationError("有的项目没填或填得不对。", details={"fields": dict(errors)})
    return out


def create_programme(actor, scope: Organisation, data: dict) -> MedicalProgramme:
    """A programme of the admin's union for a year (one per union and year)."""
    columns = clean_programme(data, scope)
    new_id = db.session.scalar(pg_insert(MedicalProgramme.__table__).values(
        org_id=scope.id, committed_fen=0, created_by_user_id=getattr(actor, "id", None), created_at=clock.now(),
        **columns).on_conflict_do_nothing(constraint="uq_medical_programmes_org_year")
        .returning(MedicalProgramme.__table__.c.id))
    if new_id is None:
        raise Conflict(f"本工会 {columns['year']} 年度的医疗普惠项目已经建立。", code="programme_exists",
                       details={"fields": {"year": ["本年度已有项目"]}})
    programme = db.session.get(MedicalProgramme, new_id)
    audit.record(actor, "medical_programme.create", "medical_programme", programme.id, org_id=scope.id,
                 after=dict(columns))
    return programme


def programmes_in_scope(scope: Organisation) -> list[MedicalProgramme]:
    return list(db.session.scalars(select(MedicalProgramme).where(
        MedicalProgramme.org_id.in_(subtree_ids_select(scope)))
        .order_by(MedicalProgramme.year.desc(), MedicalProgramme.id.desc())))


def get_programme(scope: Organisation, programme_id) -> MedicalProgramme:
    programme = db.session.get(MedicalProgramme, programme_id) if row_id(programme_id) else None
    if programme is None or not scope.contains(programme.org):
        raise NotFound("没有这个医疗普惠项目。", code="unknown_programme")
    return programme


def _lock(programme: MedicalProgramme) -> MedicalProgramme:
    """The programme row, locked for this transaction (imports, batches, payouts and returns of
    one programme queue here; foreign keys onto it do not wait: NO KEY UPDATE)."""
    return db.session.scalar(select(MedicalProgramme).where(MedicalProgramme.id == programme.id)
                             .with_for_update(key_share=True).execution_options(populate_existing=True))


# --- the social-insurance import ------------------------------------------------------------------

@dataclass
class ClaimImport:
    file_name: str
    total_rows: int
    errors: list[RowError]
    bad_rows: int
    skip_bad_rows: bool
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    import_id: int | None = None
    claims: int = 0              # the programme's records after this import
    matched: int = 0             # …of which name a member (by ID number)

    @property
    def refused(self) -> bool:
        """Nothing was imported because the file has bad rows and skipping them was not asked for."""
        return self.bad_rows > 0 and not self.skip_bad_rows


def import_claims(actor, programme: MedicalProgramme, file_name: str, data: bytes, *, skip_bad_rows: bool = False,
                  max_rows: int | None = None, max_uncompressed: int,
                  on_stage: Callable[[str, int], Callable[[int], None] | None] | None = None) -> ClaimImport:
    """Check the whole file, then write its good rows (all of them, or none while any row is bad
    and `skip_bad_rows` is not given). A person already in the programme's records keeps one
    record: the same amount again changes nothing, a new amount replaces the old one. So the same
    file imported twice adds nothing. `on_stage(stage, total)` may return a progress callback
    ("check", then "write")."""
    check = importing.read_claims(file_name, data, programme.year, max_rows=max_rows,
                                  max_uncompressed=max_uncompressed, on_stage=on_stage)
    report = ClaimImport(file_name=file_name, total_rows=check.total_rows, errors=check.errors,
                         bad_rows=check.bad_rows, skip_bad_rows=skip_bad_rows)
    if report.refused or not check.rows:
        return report
    _lock(programme)
    known = dict(db.session.execute(select(InsuranceClaim.id_number, InsuranceClaim.out_of_pocket_fen)
                                    .where(InsuranceClaim.programme_id == programme.id)).all())
    added = [r for r in check.rows if r.id_number not in known]
    changed = [r for r in check.rows if known.get(r.id_number, r.out_of_pocket_fen) != r.out_of_pocket_fen]
    report.added, report.updated = len(added), len(changed)
    report.unchanged = len(check.rows) - len(added) - len(changed)
    if added or changed:
        record = InsuranceImport(programme_id=programme.id, file_name=file_name[:255], total_rows=check.total_rows,
                                 bad_rows=check.bad_rows, added=report.added, updated=report.updated,
                                 unchanged=report.unchanged, created_by_user_id=getattr(actor, "id", None),
                                 created_at=clock.now())
        db.session.add(record)
        db.session.flush()
        report.import_id = record.id
        bulk_insert("medical_claims", ("programme_id", "import_id", "id_number", "name", "out_of_pocket_fen"),
                    ((programme.id, record.id, r.id_number, r.name, r.out_of_pocket_fen) for r in added),
                    on_stage("write", len(added)) if on_stage else None)
        if changed:
            _update_claims(programme.id, record.id, changed)
        audit.record(actor, "medical_claims.import", "medical_programme", programme.id, org_id=programme.org_id,
                     after={"file": file_name[:200], "rows": check.total_rows, "bad_rows": check.bad_rows,
                            "added": report.added, "updated": report.updated, "unchanged": report.unchanged})
    report.claims = db.session.scalar(select(func.count()).where(InsuranceClaim.programme_id == programme.id))
    report.matched = db.session.scalar(matching.matched_count(programme.id))
    return report


def _update_claims(programme_id: int, import_id: int, rows) -> None:
    c = InsuranceClaim.__table__
    source = (select(func.unnest(bindparam("ids", type_=ARRAY(String))).label("id_number"),
                     func.unnest(bindparam("fens", type_=ARRAY(BigInteger))).label("fen"),
                     func.unnest(bindparam("names", type_=ARRAY(String))).label("name")).subquery("incoming"))
    for start in range(0, len(rows), CHUNK):
        part = rows[start:start + CHUNK]
        db.session.execute(update(c).where(c.c.programme_id == programme_id, c.c.id_number == source.c.id_number)
                           .values(out_of_pocket_fen=source.c.fen, name=source.c.name, import_id=import_id),
                           {"ids": [r.id_number for r in part], "fens": [r.out_of_pocket_fen for r in part],
                            "names": [r.name for r in part]})


def imports_of(programme: MedicalProgramme) -> list[InsuranceImport]:
    return list(db.session.scalars(select(InsuranceImport).where(InsuranceImport.programme_id == programme.id)
                                   .order_by(InsuranceImport.id.desc())))


# --- preview ----------------------------------------------------------------------------------------

@dataclass
class Preview:
    groups: dict[str, tuple[int, int]]      # reason → (records, their out-of-pocket fen)
    qualifying: int
    total_fen: int
    budget_fen: int
    committed_fen: int
    pending_fen: int

    @property
    def left_fen(self) -> int:
        """The budget left after the approved batches."""
        return self.budget_fen - self.committed_fen

    @property
    def fits(self) -> bool:
        return rules.budget_fits(self.total_fen, self.budget_fen, self.committed_fen)

    def count(self, *reasons: str) -> int:
        return sum(self.groups.get(r, (0, 0))[0] for r in reasons)


def _pending_fen(programme_id: int) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(_b.total_fen), 0))
                                 .where(_b.programme_id == programme_id, _b.status == "pending")))


def preview(programme: MedicalProgramme) -> Preview:
    """Every record of the programme in its group (who qualifies, who was already paid or is
    being paid, who is not a member, has left, is outside the union or its categories, has no
    active card, or stayed under the threshold), and what paying everyone who qualifies costs
    against the budget."""
    rows = matching.classified(programme).subquery()
    groups = {reason: (int(n), int(fen)) for reason, n, fen in db.session.execute(
        select(rows.c.reason, func.count(), func.coalesce(func.sum(rows.c.out_of_pocket_fen), 0))
        .group_by(rows.c.reason))}
    n = groups.get("qualifies", (0, 0))[0]
    return Preview(groups, n, n * programme.amount_fen, programme.budget_fen, programme.committed_fen,
                   _pending_fen(programme.id))


@dataclass(frozen=True)
class PreviewRow:
    claim_id: int
    masked_id: str
    name: str
    out_of_pocket_fen: int
    org_name: str | None
    reason: str


def preview_rows(programme: MedicalProgramme, reason: str, page: int, per_page: int) -> list[PreviewRow]:
    """One page of a group's records, highest costs first (ID numbers masked; the group's size is
    the preview's count)."""
    rows = matching.classified(programme).subquery()
    found = db.session.execute(select(rows).where(rows.c.reason == reason)
                               .order_by(rows.c.out_of_pocket_fen.desc(), rows.c.claim_id)
                               .limit(per_page).offset((page - 1) * per_page)).all()
    return [PreviewRow(r.claim_id, mask_id_number(r.id_number), r.name, r.out_of_pocket_fen, r.org_name, r.reason)
            for r in found]


# --- batches and four-eyes approval ---------------------------------------------------------------

def _over_budget(total_fen: int, left_fen: int) -> LimitReached:
    return LimitReached(f"预算不足：本批需要 {total_fen / 100:.2f} 元，剩余预算 {left_fen / 100:.2f} 元。",
                        code="over_budget", details={"total_fen": total_fen, "left_fen": left_fen})


def create_batch(actor, programme: MedicalProgramme) -> MedicalBatch:
    """A batch of everyone who qualifies now, each with the programme's amount. Refused when
    nobody qualifies or the budget left after approved batches does not cover it (approval
    checks again, exactly: another batch may have been approved meanwhile)."""
    programme = _lock(programme)
    rows = matching.classified(programme).subquery()
    qualifying = select(rows.c.member_id, rows.c.out_of_pocket_fen).where(rows.c.reason == "qualifies")
    n = db.session.scalar(select(func.count()).select_from(qualifying.subquery()))
    if not n:
        raise Conflict("目前没有符合条件、尚未发放的会员。", code="nobody_qualifies")
    total = n * programme.amount_fen
    if not rules.budget_fits(total, programme.budget_fen, programme.committed_fen):
        raise _over_budget(total, programme.budget_left_fen)
    at = clock.now()
    batch = MedicalBatch(programme_id=programme.id, status="pending", member_count=n, total_fen=total,
                         created_by_user_id=getattr(actor, "id", None), created_at=at)
    db.session.add(batch)
    db.session.flush()
    q = qualifying.subquery("q")
    inserted = db.session.execute(pg_insert(MedicalAward.__table__).from_select(
        ["programme_id", "batch_id", "member_id", "amount_fen", "out_of_pocket_fen", "status", "created_at"],
        select(literal(programme.id), literal(batch.id), q.c.member_id, literal(programme.amount_fen),
               q.c.out_of_pocket_fen, literal("proposed"), literal(at, type_=_a.created_at.type)))
        .on_conflict_do_nothing().returning(_a.id)).all()
    if len(inserted) != n:    # impossible while the programme row is locked; never leave a wrong total
        raise Conflict("名单在生成时发生变化，请重试。", code="batch_changed")
    audit.record(actor, "medical_batch.create", "medical_batch", batch.id, org_id=programme.org_id,
                 after={"programme_id": programme.id, "members": n, "total_fen": total})
    return batch


def batches_of(programme: MedicalProgramme) -> list[MedicalBatch]:
    return list(db.session.scalars(select(MedicalBatch).where(MedicalBatch.programme_id == programme.id)
                                   .order_by(MedicalBatch.id.desc())))


def get_batch(scope: Organisation, batch_id) -> MedicalBatch:
    batch = db.session.get(MedicalBatch, batch_id) if row_id(batch_id) else None
    if batch is None or not scope.contains(batch.programme.org):
        raise NotFound("没有这个批次。", code="unknown_batch")
    return batch


def batch_awards(batch: MedicalBatch, page: int, per_page: int) -> tuple[list, int]:
    """One page of the batch's members: (award, member name, organisation name, card number or None)."""
    stmt = (select(MedicalAward, Member.name, Organisation.name, Card.number)
            .join(Member, Member.id == MedicalAward.member_id)
            .join(Organisation, Organisation.id == Member.org_id)
            .outerjoin(Card, and_(Card.member_id == Member.id, Card.status == "active"))
            .where(MedicalAward.batch_id == batch.id))
    total = db.session.scalar(select(func.count()).where(MedicalAward.batch_id == batch.id))
    rows = db.session.execute(stmt.order_by(MedicalAward.id).limit(per_page).offset((page - 1) * per_page)).all()
    return [tuple(r) for r in rows], int(total or 0)


def _second_admin(actor, batch: MedicalBatch) -> None:
    if actor is None or getattr(actor, "id", None) is None or actor.id == batch.created_by_user_id:
        raise Forbidden("须由建立批次以外的另一位管理员审批。", code="second_admin_required")


@dataclass
class Approval:
    batch: MedicalBatch
    file: PayoutFile
    payouts: int
    without_card: int           # approved awards with no active card now: paid by a later reissue


def approve_batch(actor, batch: MedicalBatch) -> Approval:
    """A second admin approves: the batch (once: a guarded UPDATE), the budget (a guarded UPDATE:
    never beyond it), its awards, and a payout file for the bank with one payout per member who
    holds an active card."""
    _second_admin(actor, batch)
    at = clock.now()
    approved = db.session.execute(update(MedicalBatch.__table__).where(
        _b.id == batch.id, _b.status == "pending", _b.created_by_user_id.is_distinct_from(actor.id))
        .values(status="approved", decided_by_user_id=actor.id, decided_at=at)).rowcount
    if approved != 1:
        raise Conflict("此批次已经审批或已驳回。", code="batch_not_pending")
    budgeted = db.session.execute(update(MedicalProgramme.__table__).where(
        _p.id == batch.programme_id, _p.committed_fen + batch.total_fen <= _p.budget_fen)
        .values(committed_fen=_p.committed_fen + batch.total_fen)).rowcount
    if budgeted != 1:
        left = db.session.scalar(select(_p.budget_fen - _p.committed_fen).where(_p.id == batch.programme_id))
        raise _over_budget(batch.total_fen, left)
    db.session.execute(update(MedicalAward.__table__).where(_a.batch_id == batch.id, _a.status == "proposed")
                       .values(status="approved"))
    db.session.refresh(batch)
    programme = db.session.get(MedicalProgramme, batch.programme_id)
    db.session.refresh(programme)
    file = _payout_file(actor, programme, "approval", batch.id)
    payouts = _issue_payouts(programme, file, [_a.batch_id == batch.id])
    without = batch.member_count - payouts
    audit.record(actor, "medical_batch.approve", "medical_batch", batch.id, org_id=programme.org_id,
                 after={"members": batch.member_count, "total_fen": batch.total_fen, "payout_file_id": file.id,
                        "payouts": payouts, "without_card": without})
    return Approval(batch, file, payouts, without)


def reject_batch(actor, batch: MedicalBatch) -> MedicalBatch:
    """Any admin in scope (the creator too: a withdrawal) rejects a pending batch; its members
    can be in a later batch."""
    at = clock.now()
    rejected = db.session.execute(update(MedicalBatch.__table__).where(_b.id == batch.id, _b.status == "pending")
                                  .values(status="rejected", decided_by_user_id=getattr(actor, "id", None),
                                          decided_at=at)).rowcount
    if rejected != 1:
        raise Conflict("此批次已经审批或已驳回。", code="batch_not_pending")
    db.session.execute(MedicalAward.__table__.delete().where(_a.batch_id == batch.id, _a.status == "proposed"))
    db.session.refresh(batch)
    audit.record(actor, "medical_batch.reject", "medical_batch", batch.id, org_id=batch.programme.org_id,
                 after={"members": batch.member_count, "total_fen": batch.total_fen})
    return batch


# --- payouts and the bank's files -------------------------------------------------------------------

def _payout_file(actor, programme: MedicalProgramme, kind: str, batch_id: int | None) -> PayoutFile:
    file = PayoutFile(programme_id=programme.id, batch_id=batch_id, kind=kind, payout_count=0, total_fen=0,
                      created_by_user_id=getattr(actor, "id", None), created_at=clock.now())
    db.session.add(file)
    db.session.flush()
    return file


_NEXT_IDS = text("SELECT nextval('medical_payouts_id_seq') FROM generate_series(1, :n)")
PAYOUT_COLUMNS = ("id", "reference", "award_id", "programme_id", "member_id", "file_id", "card_id", "card_number",
                  "amount_fen", "status", "created_at")


def _issue_payouts(programme: MedicalProgramme, file: PayoutFile, awards_where: list) -> int:
    """A payout in `file` for each approved award the conditions name that has none in flight
    or paid, onto the member's active card now (awards without one wait for a reissue)."""
    live = exists().where(_y.award_id == _a.id, _y.status.in_(("sent", "paid")))
    wanted = db.session.execute(
        select(_a.id, _a.member_id, _a.amount_fen, _k.id, _k.number)
        .select_from(MedicalAward.__table__.join(Card.__table__, and_(_k.member_id == _a.member_id,
                                                                      _k.status == "active")))
        .where(*awards_where, _a.programme_id == programme.id, _a.status == "approved", ~live)
        .order_by(_a.id)).all()
    if not wanted:
        return 0
    ids = db.session.scalars(_NEXT_IDS, {"n": len(wanted)}).all()
    at = clock.now()
    rows = [(pid, rules.reference(programme.year, pid), award_id, programme.id, member_id, file.id, card_id,
             number, amount, "sent", at)
            for pid, (award_id, member_id, amount, card_id, number) in zip(ids, wanted)]
    bulk_insert("medical_payouts", PAYOUT_COLUMNS, rows)
    file.payout_count = len(rows)
    file.total_fen = sum(r[8] for r in rows)
    db.session.flush()
    return len(rows)


def reissue(actor, programme: MedicalProgramme) -> PayoutFile:
    """A new payout file for the approved awards that have no payout in flight or paid (their
    last payout failed, or the member had no active card): each gets a new payout with a new
    reference, onto the member's active card now. Still once per member: one live payout per award."""
    programme = _lock(programme)
    file = _payout_file(actor, programme, "reissue", None)
    n = _issue_payouts(programme, file, [])
    if n == 0:
        raise Conflict("没有需要重新发放的款项（或相关会员还没有正常状态的会员卡）。", code="nothing_to_reissue")
    audit.record(actor, "medical_payouts.reissue", "medical_payout_file", file.id, org_id=programme.org_id,
                 after={"programme_id": programme.id, "payouts": n, "total_fen": file.total_fen})
    return file


def payout_files_of(programme: MedicalProgramme) -> list[PayoutFile]:
    return list(db.session.scalars(select(PayoutFile).where(PayoutFile.programme_id == programme.id)
                                   .order_by(PayoutFile.id.desc())))


def get_payout_file(scope: Organisation, file_id) -> PayoutFile:
    file = db.session.get(PayoutFile, file_id) if row_id(file_id) else None
    if file is None or not scope.contains(file.programme.org):
        raise NotFound("没有这个发放文件。", code="unknown_payout_file")
    return file


def payout_file_lines(file: PayoutFile) -> list[tuple[str, str, int, str]]:
    """The file's lines for the bank: (card number, member's name, amount fen, reference)."""
    return [tuple(r) for r in db.session.execute(
        select(MedicalPayout.card_number, Member.name, MedicalPayout.amount_fen, MedicalPayout.reference)
        .join(Member, Member.id == MedicalPayout.member_id)
        .where(MedicalPayout.file_id == file.id).order_by(MedicalPayout.id))]


def payouts_of(programme: MedicalProgramme, status: str | None = None):
    stmt = select(MedicalPayout).where(MedicalPayout.programme_id == programme.id)
    if status:
        stmt = stmt.where(MedicalPayout.status == status)
    return stmt.order_by(MedicalPayout.id.desc())


def payout_counts(programme: MedicalProgramme) -> dict:
    """Awards and payouts of the programme by state, counts and fen."""
    awards = {s: (int(n), int(f)) for s, n, f in db.session.execute(
        select(_a.status, func.count(), func.coalesce(func.sum(_a.amount_fen), 0))
        .where(_a.programme_id == programme.id).group_by(_a.status))}
    payouts = {s: (int(n), int(f)) for s, n, f in db.session.execute(
        select(_y.status, func.count(), func.coalesce(func.sum(_y.amount_fen), 0))
        .where(_y.programme_id == programme.id).group_by(_y.status))}
    waiting = db.session.scalar(select(func.count()).select_from(MedicalAward.__table__).where(
        _a.programme_id == programme.id, _a.status == "approved",
        ~exists().where(_y.award_id == _a.id, _y.status.in_(("sent", "paid")))))
    return {"awards": awards, "payouts": payouts, "awaiting_reissue": int(waiting or 0)}


# --- the bank's return file -------------------------------------------------------------------------

@dataclass
class ReturnImport:
    file_name: str
    total_rows: int
    errors: list[RowError] = field(default_factory=list)
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    return_file_id: int | None = None

    @property
    def refused(self) -> bool:
        return bool(self.errors)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def import_returns(actor, programme: MedicalProgramme, file_name: str, data: bytes, *, max_rows: int | None = None,
                   max_uncompressed: int) -> ReturnImport:
    """Reconcile each payout the bank's return file names: paid (the award is paid and the member
    gets a notice, in this transaction) or failed with the bank's reason (the award can be issued
    again). Any bad row — a reference that is not a payout of this programme, a result that is
    neither paid nor failed, a result that contradicts an earlier return — refuses the whole file,
    naming the rows. A row that repeats what is already recorded changes nothing, so the same
    file imported twice changes nothing."""
    check = importing.read_returns(file_name, data, max_rows=max_rows, max_uncompressed=max_uncompressed)
    report = ReturnImport(file_name=file_name, total_rows=check.total_rows, errors=list(check.errors))
    programme = _lock(programme)
    known: dict[str, tuple[int, str]] = {}
    references = [r.reference for r in check.rows]
    for start in range(0, len(references), CHUNK):
        known.update((ref, (pid, status)) for ref, pid, status in db.session.execute(
            select(_y.reference, _y.id, _y.status).where(_y.programme_id == programme.id,
                                                          _y.reference.in_(references[start:start + CHUNK]))))
    paid: list[int] = []
    failed: list[tuple[int, str]] = []
    for row in check.rows:
        found = known.get(row.reference)
        if found is None:
            report.errors.append(importing.reference_error(row, "unknown_reference"))
        elif found[1] == "sent":
            (paid.append(found[0]) if row.result == "paid" else failed.append((found[0], row.reason)))
        elif found[1] == row.result:
            report.unchanged += 1
        else:
            report.errors.append(importing.reference_error(row, "already_returned"))
    report.errors.sort(key=lambda e: e.row)
    if report.errors or not (paid or failed):
        return report
    at = clock.now()
    record = ReturnFile(programme_id=programme.id, file_name=file_name[:255], total_rows=check.total_rows,
                        paid=len(paid), failed=len(failed), unchanged=report.unchanged,
                        created_by_user_id=getattr(actor, "id", None), created_at=at)
    db.session.add(record)
    db.session.flush()
    report.return_file_id = record.id
    report.paid = _mark_paid(programme, paid, record.id, at)
    report.failed = _mark_failed(failed, record.id, at)
    audit.record(actor, "medical_returns.import", "medical_programme", programme.id, org_id=programme.org_id,
                 after={"file": file_name[:200], "rows": check.total_rows, "paid": report.paid,
                        "failed": report.failed, "unchanged": report.unchanged})
    return report


def _mark_paid(programme: MedicalProgramme, payout_ids: list[int], return_file_id: int, at) -> int:
    """Paid payouts, their awards, and a notice to each member (same transaction)."""
    done = 0
    for start in range(0, len(payout_ids), CHUNK):
        rows = db.session.execute(update(MedicalPayout.__table__).where(
            _y.id.in_(payout_ids[start:start + CHUNK]), _y.status == "sent")
            .values(status="paid", returned_at=at, return_file_id=return_file_id)
            .returning(_y.id, _y.award_id, _y.member_id, _y.amount_fen, _y.card_number)).all()
        if rows:
            db.session.execute(update(MedicalAward.__table__).where(
                _a.id.in_([r.award_id for r in rows]), _a.status == "approved").values(status="paid", paid_at=at))
        for r in rows:
            outbox.enqueue(r.member_id, "payout_made", {"programme": programme.name, "amount_fen": r.amount_fen,
                                                        "card_tail": rules.card_tail(r.card_number)},
                           dedupe_key=f"medical-payout:{r.id}")
        done += len(rows)
    return done


def _mark_failed(failures: list[tuple[int, str]], return_file_id: int, at) -> int:
    done = 0
    y = MedicalPayout.__table__
    for start in range(0, len(failures), CHUNK):
        part = failures[start:start + CHUNK]
        source = select(func.unnest(bindparam("ids", type_=ARRAY(Integer))).label("id"),
                        func.unnest(bindparam("reasons", type_=ARRAY(String))).label("reason")).subquery("failed")
        done += db.session.execute(update(y).where(y.c.id == source.c.id, y.c.status == "sent").values(
            status="failed", failure_reason=source.c.reason, returned_at=at, return_file_id=return_file_id),
            {"ids": [p for p, _r in part], "reasons": [r for _p, r in part]}).rowcount
    return done


def return_files_of(programme: MedicalProgramme) -> list[ReturnFile]:
    return list(db.session.scalars(select(ReturnFile).where(ReturnFile.programme_id == programme.id)
                                   .order_by(ReturnFile.id.desc())))


# --- members ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberPayout:
    """A member's award as they see it: paid (the money is on the card), being paid, or not paid
    yet (the bank returned it, or there was no active card) and to be issued again."""
    award_id: int
    programme: str
    year: int
    amount_fen: int
    state: str                    # paid | sending | retry
    card_tail: str | None
    failure_reason: str | None
    approved_at: object
    paid_at: object


def member_payouts(member: Member) -> list[MemberPayout]:
    """The member's approved and paid awards, newest first, each with its latest payout."""
    latest = (select(_y.award_id, func.max(_y.id).label("payout_id")).where(_y.member_id == member.id)
              .group_by(_y.award_id).subquery())
    y = MedicalPayout.__table__.alias("last_payout")
    rows = db.session.execute(
        select(_a.id, MedicalProgramme.name, MedicalProgramme.year, _a.amount_fen, _a.status, _a.paid_at,
               MedicalBatch.decided_at, y.c.status, y.c.card_number, y.c.failure_reason)
        .select_from(MedicalAward.__table__.join(MedicalProgramme, MedicalProgramme.id == _a.programme_id)
                     .join(MedicalBatch, MedicalBatch.id == _a.batch_id)
                     .outerjoin(latest, latest.c.award_id == _a.id).outerjoin(y, y.c.id == latest.c.payout_id))
        .where(_a.member_id == member.id, _a.status.in_(("approved", "paid")))
        .order_by(MedicalProgramme.year.desc(), _a.id.desc())).all()
    out = []
    for award_id, name, year, amount, status, paid_at, approved_at, payout_status, card, reason in rows:
        state = "paid" if status == "paid" else ("sending" if payout_status == "sent" else "retry")
        out.append(MemberPayout(award_id, name, year, amount, state, rules.card_tail(card) if card else None,
                                reason if state == "retry" else None, approved_at, paid_at))
    return out


# --- the union's totals ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TotalLine:
    year: int
    org_id: int
    org_code: str
    org_name: str
    paid: int
    paid_fen: int
    in_payment: int
    in_payment_fen: int


def totals(scope: Organisation, year: int | None = None) -> list[TotalLine]:
    """Approved and paid consolation payments by programme year and by the member's organisation,
    for the members of the admin's subtree; newest year first, organisations by code."""
    is_paid = _a.status == "paid"
    is_sending = _a.status == "approved"
    stmt = (select(MedicalProgramme.year, Organisation.id, Organisation.code, Organisation.name,
                   func.count().filter(is_paid), func.coalesce(func.sum(_a.amount_fen).filter(is_paid), 0),
                   func.count().filter(is_sending), func.coalesce(func.sum(_a.amount_fen).filter(is_sending), 0))
            .select_from(MedicalAward.__table__.join(MedicalProgramme, MedicalProgramme.id == _a.programme_id)
                         .join(Member, Member.id == _a.member_id).join(Organisation, Organisation.id == Member.org_id))
            .where(_a.status.in_(("approved", "paid")), Member.org_id.in_(subtree_ids_select(scope)))
            .group_by(MedicalProgramme.year, Organisation.id, Organisation.code, Organisation.name)
            .order_by(MedicalProgramme.year.desc(), Organisation.code))
    if year is not None:
        stmt = stmt.where(MedicalProgramme.year == year)
    return [TotalLine(*(int(v) if isinstance(v, int) else v for v in row)) for row in db.session.execute(stmt)]


def yearly(lines: list[TotalLine]) -> list[TotalLine]:
    """The lines summed per year (org fields empty)."""
    years: dict[int, list[int]] = {}
    for line in lines:
        acc = years.setdefault(line.year, [0, 0, 0, 0])
        acc[0] += line.paid
        acc[1] += line.paid_fen
        acc[2] += line.in_payment
        acc[3] += line.in_payment_fen
    return [TotalLine(y, 0, "", "", *acc) for y, acc in sorted(years.items(), reverse=True)]
