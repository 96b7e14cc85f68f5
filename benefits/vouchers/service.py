"""Vouchers: programmes, batch issue, the till's use and refund, voiding, expiry, reports.

Exactness:
- Issuing takes the programme row's lock (`FOR NO KEY UPDATE`: tills' foreign-key checks on the
  row do not wait) for each chunk, so two batches of one programme queue; each chunk is one
  INSERT … SELECT that skips members already in the batch or at the programme's per-member
  limit, never issues beyond the budget left, and then counts what it issued onto the programme
  row (CHECK issued ≤ budget). Unique (batch, member) and
  (programme, member, seq) make a repeated or concurrent batch issue nobody twice.
- At the till a voucher is debited with one compare-and-set statement (its balance and face
  left as read) that also records the use; when another till changed the voucher in between,
  the vouchers are read again and the cover computed afresh. CHECK balance ≥ 0 holds the floor.
- No Redis gate: no crowd meets one voucher (a member's own) and the budget is taken by
  admins issuing, not by payments.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import String, and_, bindparam, case, cast, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import clock
from ..audit import service as audit
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..inputs import row_id
from ..members.models import CATEGORIES as MEMBER_CATEGORIES
from ..members.models import Member
from ..merchants.models import Merchant, Store
from ..notices import outbox
from ..notices.models import Notice
from ..orgs.models import Organisation
from ..promotions.engine import Purchase
from ..promotions.validation import FieldErrors, clean_scope, fen_field
from . import rules
from .models import SPEND_MODES, Voucher, VoucherBatch, VoucherProgramme, VoucherUse

ATTEMPTS = 5
CHUNK = 50_000
MAX_FACE_FEN = 10_000_000           # 100,000 yuan per voucher: more is a typing mistake
MAX_BUDGET_FEN = 10_000_000_000_00  # 10 billion yuan
EXPIRY_NOTICE_DAYS = 7


MERCHANT_CATEGORY_NAMES = {"fuel": "加油站", "supermarket": "超市", "dining": "餐饮", "transport": "公交出行",
                           "retail": "零售", "other": "其他"}


class VoucherRefused(Conflict):
    code = "voucher_refused"


# --- programmes --------------------------------------------------------------------------------

def _fen(data: dict, field: str, add, *, required: bool = False, low: int = 0, high: int = MAX_FACE_FEN):
    return fen_field(data, field, add, required=required, low=low, high=high)


def clean_programme(data: dict, scope: Organisation) -> dict:
    """The columns of a valid new programme, or ValidationError with per-field messages."""
    errors = FieldErrors()
    add = errors.add
    out: dict = {}
    name = str(data.get("name") or "").strip()
    if not name:
        add("name", "必填")
    elif len(name) > 128:
        add("name", "最多 128 个字")
    elif not name.isprintable():
        add("name", "不能含控制字符")
    out["name"] = name
    face = _fen(data, "face_fen", add, required=True, low=1)
    out["face_fen"] = face
    topup_bp, topup_fixed = data.get("topup_bp"), data.get("topup_fen")
    if topup_bp not in (None, "", 0) and topup_fixed not in (None, "", 0):
        add("topup_fen", "商家加赠只能按比例或按固定金额，二选一")
    bp = data.get("topup_bp")
    if bp in (None, ""):
        bp = None
    elif isinstance(bp, bool) or not isinstance(bp, int) or not 0 <= bp <= 10_000:
        add("topup_bp", "加赠比例须为 0%–100%（以万分之一计的整数，10% = 1000）")
        bp = None
    fixed = _fen(data, "topup_fen", add)
    out["topup_bp"] = bp or None
    out["topup_fen"] = rules.topup_fen(face or 0, percent_bp=bp, fixed_fen=fixed)
    out["value_fen"] = (face or 0) + out["topup_fen"]

    split = data.get("split") or {}
    if isinstance(split, dict) and set(split) - set(rules.FUNDERS):
        add("split", "券的面值只能由工会和银行分摊（商家出的是加赠）")
    shares = {}
    for f in rules.FUNDERS:
        v = split.get(f, 0) if isinstance(split, dict) else None
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
            add("split", "工会、银行分摊比例须为 0–100 的整数")
            break
        shares[f] = v
    else:
        if sum(shares.values()) != 100:
            add("split", "工会、银行分摊比例之和须为 100%")
    out["split"] = shares

    out.update(clean_scope(data, scope, errors))

    for field in ("valid_from", "valid_until"):
        value = data.get(field)
        if isinstance(value, date):
            out[field] = value
        else:
            try:
                out[field] = date.fromisoformat(str(value or ""))
            except ValueError:
                add(field, "日期格式应为 YYYY-MM-DD")
    if "valid_from" in out and "valid_until" in out and out["valid_until"] < out["valid_from"]:
        add("valid_until", "结束日期不能早于开始日期")
    mode = data.get("spend_mode") or "balance"
    if mode not in SPEND_MODES:
        add("spend_mode", "请选择一次用完或分次使用")
    out["spend_mode"] = mode
    out["combinable"] = bool(data.get("combinable", True))
    out["min_spend_fen"] = _fen(data, "min_spend_fen", add) or 0
    per_member = data.get("per_member", 1)
    if isinstance(per_member, bool) or not isinstance(per_member, int) or not 1 <= per_member <= 100:
        add("per_member", "每人张数须为 1–100 的整数")
        per_member = 1
    out["per_member"] = per_member
    out["budget_fen"] = _fen(data, "budget_fen", add, required=True, low=1, high=MAX_BUDGET_FEN)
    if face and out["budget_fen"] and out["budget_fen"] < face:
        add("budget_fen", "预算不够发一张券")
    if errors:
        raise ValidationError("有的项目没填或填得不对。", details={"fields": dict(errors)})
    return out


def create_programme(actor, scope: Organisation, data: dict) -> VoucherProgramme:
    columns = clean_programme(data, scope)
    programme = VoucherProgramme(org_id=scope.id, created_by_user_id=getattr(actor, "id", None),
                                 created_at=clock.now(), issued_fen=0, issued_count=0, status="active", **columns)
    db.session.add(programme)
    db.session.flush()
    audit.record(actor, "voucher_programme.create", "voucher_programme", programme.id, org_id=scope.id,
                 after={k: (v.isoformat() if isinstance(v, date) else v) for k, v in columns.items()})
    return programme


def programmes_in_scope(scope: Organisation) -> list[VoucherProgramme]:
    return list(db.session.scalars(
        select(VoucherProgramme).join(Organisation, Organisation.id == VoucherProgramme.org_id)
        .where(Organisation.path.startswith(scope.path)).order_by(VoucherProgramme.id.desc())))


def get_programme(scope: Organisation, programme_id: int) -> VoucherProgramme:
    programme = db.session.get(VoucherProgramme, programme_id) if row_id(programme_id) else None
    if programme is None or not scope.contains(programme.org):
        raise NotFound("没有这个券活动。", code="unknown_programme")
    return programme


def close_programme(actor, programme: VoucherProgramme) -> None:
    """No more batches; vouchers already issued stay usable until they expire."""
    if programme.status == "closed":
        return
    programme.status = "closed"
    db.session.flush()
    audit.record(actor, "voucher_programme.close", "voucher_programme", programme.id, org_id=programme.org_id,
                 before={"status": "active"}, after={"status": "closed"})


def describe_scope(programme: VoucherProgramme) -> str:
    """Where the vouchers can be spent, in words for members and admins."""
    if programme.scope == "categories":
        return "、".join(MERCHANT_CATEGORY_NAMES.get(c, c) for c in programme.categories) + "类普惠商家"
    if programme.scope == "merchants":
        names = db.session.scalars(select(Merchant.name).where(Merchant.id.in_(programme.merchant_ids))).all()
        return "、".join(names)
    if programme.scope == "stores":
        names = db.session.scalars(select(Store.name).where(Store.id.in_(programme.store_ids))).all()
        return "、".join(names)
    return f"{programme.org.name}的全部普惠商家"


# --- batches: who gets a voucher ----------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Members by category and/or organisation subtree, or a list of members (from a file)."""
    member_categories: tuple[str, ...] = ()
    org: Organisation | None = None
    member_ids: tuple[int, ...] | None = None
    source_name: str = ""
    round: int = 1

    @property
    def kind(self) -> str:
        return "target" if self.member_ids is None else "list"

    def fingerprint(self) -> str:
        """The same target, however its categories or members are ordered or repeated."""
        key = {"round": self.round}
        if self.member_ids is None:
            key.update(categories=sorted(set(self.member_categories)), org=self.org.id if self.org else None)
        else:
            key["members"] = sorted(set(self.member_ids))
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def check_target(programme: VoucherProgramme, target: Target) -> None:
    """A closed programme issues nothing; a target names categories, an organisation of the
    programme's union, or members."""
    if programme.status != "active":
        raise Conflict("此券活动已结束，不能再发券。", code="programme_closed")
    errors = FieldErrors()
    add = errors.add
    if any(c not in MEMBER_CATEGORIES for c in target.member_categories):
        add("member_categories", "未知的会员类别")
    if target.org is not None and not programme.org.contains(target.org):
        add("org_id", "组织不在本活动的工会范围内")
    if target.member_ids is None and not target.member_categories and target.org is None:
        add("member_categories", "请选择会员类别或组织，或上传名单")
    if target.member_ids is not None and not target.member_ids:
        add("file", "名单里没有可以发券的会员")
    if not 1 <= target.round <= 100:
        add("round", "轮次须为 1–100")
    if errors:
        raise ValidationError("发放对象不对。", details={"fields": dict(errors)})


def _candidates(programme: VoucherProgramme, target: Target, batch_id, lo=None, hi=None):
    """Members of the target who can still get a voucher of this batch: active, in the
    programme's union, not yet in the batch, under the programme's per-member limit. Their next
    sequence number comes along."""
    members, v = Member.__table__, Voucher.__table__.c
    m = members.c
    # what each member already holds of the programme, counted once per statement (a hash join),
    # not once per member: the batch's own INSERT reads it
    held = (select(v.member_id, func.count().label("n")).where(v.programme_id == programme.id)
            .group_by(v.member_id).subquery("held"))
    n = func.coalesce(held.c.n, 0)
    conditions = [m.status == "active", n < programme.per_member,
                  m.org_id.in_(select(Organisation.id).where(Organisation.path.startswith(programme.org.path)))]
    if batch_id is not None:
        conditions.append(~exists().where(v.batch_id == batch_id, v.member_id == m.id))
    if target.member_ids is not None:
        conditions.append(m.id.in_(list(target.member_ids)))
    else:
        if target.member_categories:
            conditions.append(m.category.in_(list(target.member_categories)))
        if target.org is not None:
            conditions.append(m.org_id.in_(select(Organisation.id).where(Organisation.path.startswith(target.org.path))))
    if lo is not None:
        conditions += [m.id >= lo, m.id < hi]
    return (select(m.id.label("member_id"), (n + 1).label("seq"))
            .select_from(members.outerjoin(held, held.c.member_id == m.id)).where(*conditions))


@dataclass
class Preview:
    members: int
    face_fen: int
    budget_left_fen: int
    fits: bool
    can_issue: int
    batch_id: int | None

    def as_dict(self) -> dict:
        return {"members": self.members, "face_fen": self.face_fen, "budget_left_fen": self.budget_left_fen,
                "fits": self.fits, "can_issue": self.can_issue, "batch_id": self.batch_id}


def _existing_batch(programme: VoucherProgramme, target: Target) -> VoucherBatch | None:
    return db.session.scalar(select(VoucherBatch).where(VoucherBatch.programme_id == programme.id,
                                                        VoucherBatch.fingerprint == target.fingerprint()))


def preview(programme: VoucherProgramme, target: Target) -> Preview:
    """How many members would get a voucher now and how much face value, against the budget."""
    check_target(programme, target)
    batch = _existing_batch(programme, target)
    n = db.session.scalar(select(func.count()).select_from(
        _candidates(programme, target, batch.id if batch else None).subquery()))
    left = programme.budget_fen - programme.issued_fen
    room = left // programme.face_fen
    return Preview(n, n * programme.face_fen, left, n <= room, min(n, room), batch.id if batch else None)


@dataclass
class IssueResult:
    batch: VoucherBatch
    issued: int
    face_fen: int
    not_issued_for_budget: int


def _batch_for(actor, programme: VoucherProgramme, target: Target) -> VoucherBatch:
    at = clock.now()
    db.session.execute(pg_insert(VoucherBatch.__table__).values(
        programme_id=programme.id, kind=target.kind, fingerprint=target.fingerprint(), round=target.round,
        member_categories=sorted(set(target.member_categories)), org_id=target.org.id if target.org else None,
        source_name=target.source_name[:255], member_ids=sorted(set(target.member_ids or ())), issued_count=0,
        issued_fen=0, created_by_user_id=getattr(actor, "id", None), created_at=at, updated_at=at)
        .on_conflict_do_nothing(constraint="uq_voucher_batches_target"))
    return _existing_batch(programme, target)


def issue(actor, programme: VoucherProgramme, target: Target, *, commit_each: Callable | None = None,
          progress: Callable[[int], None] | None = None) -> IssueResult:
    """Issue the programme's vouchers to the target, chunk by chunk of member ids. Each chunk
    locks the programme row, inserts what the budget left allows and counts it. `commit_each`
    (the CLI) ends each chunk's transaction so a long batch holds no lock for long and a
    rerun continues where it stopped. Returns what this run issued."""
    check_target(programme, target)
    batch = _batch_for(actor, programme, target)
    m = Member.__table__.c
    lo, hi = db.session.execute(select(func.min(m.id), func.max(m.id))).one()
    issued = face = short = 0
    if lo is not None:
        for start in range(lo, hi + 1, CHUNK):
            n, missed = _issue_chunk(programme.id, batch.id, target, start, start + CHUNK)
            issued, face, short = issued + n, face + n * programme.face_fen, short + missed
            if commit_each:
                commit_each()
            if progress:
                progress(min(CHUNK, hi + 1 - start))
    db.session.refresh(programme)
    db.session.refresh(batch)
    audit.record(actor, "voucher_batch.issue", "voucher_batch", batch.id, org_id=programme.org_id,
                 after={"programme_id": programme.id, "issued": issued, "face_fen": face,
                        "not_issued_for_budget": short, "target": target.kind, "source": target.source_name})
    if commit_each:
        commit_each()
    return IssueResult(batch, issued, face, short)


def _issue_chunk(programme_id: int, batch_id: int, target: Target, lo: int, hi: int) -> tuple[int, int]:
    """One chunk, in the caller's transaction: (issued, left out because the budget ran out)."""
    # FOR NO KEY UPDATE: batches of the programme queue here, while the foreign keys of a new
    # batch row or of a till's voucher use (KEY SHARE) do not wait for it, nor deadlock with it
    programme = db.session.scalar(select(VoucherProgramme).where(VoucherProgramme.id == programme_id)
                                  .with_for_update(key_share=True).execution_options(populate_existing=True))
    room = (programme.budget_fen - programme.issued_fen) // programme.face_fen
    candidates = _candidates(programme, target, batch_id, lo, hi).order_by(Member.__table__.c.id)
    wanted = db.session.scalar(select(func.count()).select_from(candidates.subquery())) if room == 0 else None
    if room == 0:
        return 0, wanted
    chosen = candidates.limit(room).cte("chosen")
    at = clock.now()
    v = Voucher.__table__
    rows = select(literal(programme.id), literal(batch_id), chosen.c.member_id, chosen.c.seq,
                  literal(programme.face_fen), literal(programme.value_fen), literal(programme.value_fen),
                  literal(programme.face_fen), literal("active"), literal(programme.valid_from),
                  literal(programme.valid_until), literal(at))
    issued = (pg_insert(v).from_select(["programme_id", "batch_id", "member_id", "seq", "face_fen", "value_fen",
                                        "balance_fen", "face_left_fen", "status", "valid_from", "valid_until",
                                        "issued_at"], rows)
              .on_conflict_do_nothing().returning(v.c.id, v.c.member_id).cte("issued"))
    # each voucher's notice in the same statement: it exists exactly when the voucher does
    notices = outbox.notices_from("voucher_issued", select(
        issued.c.member_id,
        func.json_build_object("programme", literal(programme.name, String), "value_fen", programme.value_fen,
                               "valid_until", literal(programme.valid_until.isoformat(), String),
                               "voucher_id", issued.c.id),
        literal("voucher_issued:", String) + cast(issued.c.id, String)).select_from(issued)).cte("issued_notices")
    n = db.session.scalar(select(func.count()).select_from(issued).add_cte(notices))
    if n:
        p = VoucherProgramme.__table__.c
        db.session.execute(update(VoucherProgramme.__table__).where(p.id == programme_id).values(
            issued_fen=p.issued_fen + n * programme.face_fen, issued_count=p.issued_count + n))
        b = VoucherBatch.__table__.c
        db.session.execute(update(VoucherBatch.__table__).where(b.id == batch_id).values(
            issued_count=b.issued_count + n, issued_fen=b.issued_fen + n * programme.face_fen, updated_at=at))
    missed = 0
    if n == room:
        missed = db.session.scalar(select(func.count()).select_from(
            _candidates(programme, target, batch_id, lo, hi).subquery()))
    return n, missed


def batches_of(programme: VoucherProgramme) -> list[VoucherBatch]:
    return list(db.session.scalars(select(VoucherBatch).where(VoucherBatch.programme_id == programme.id)
                                   .order_by(VoucherBatch.id.desc())))


# --- the till -----------------------------------------------------------------------------------

def vouchers_column(member_id_column):
    """The member's active vouchers with their programmes' terms, as one JSON column of the
    till's statement (NULL when there are none)."""
    v, p, o = Voucher.__table__.c, VoucherProgramme.__table__.c, Organisation.__table__.alias("voucher_org")
    row = func.json_build_array(v.id, v.balance_fen, v.face_left_fen, v.value_fen, v.valid_from, v.valid_until,
                                p.id, p.name, o.c.path, p.scope, p.categories, p.merchant_ids, p.store_ids,
                                p.spend_mode, p.combinable, p.min_spend_fen, p.split)
    return (select(func.json_agg(row))
            .select_from(Voucher.__table__.join(VoucherProgramme.__table__, p.id == v.programme_id)
                         .join(o, o.c.id == p.org_id))
            .where(v.member_id == member_id_column, v.status == "active")
            .correlate(member_id_column.table).scalar_subquery())


def held_from_column(value) -> list[rules.HeldVoucher]:
    """The vouchers in a `vouchers_column` value, soonest expiry first."""
    held = []
    for (vid, balance, face_left, value_fen, valid_from, valid_until, pid, name, path, scope, categories,
         merchant_ids, store_ids, mode, combinable, min_spend, split) in value or ():
        terms = rules.VoucherTerms(pid, name, path, scope, tuple(categories or ()), tuple(merchant_ids or ()),
                                   tuple(store_ids or ()), mode, bool(combinable), int(min_spend or 0),
                                   tuple((split or {}).items()))
        held.append(rules.HeldVoucher(vid, balance, face_left, value_fen, date.fromisoformat(valid_from),
                                      date.fromisoformat(valid_until), terms))
    held.sort(key=lambda h: (h.valid_until, h.id))
    return held


_MEMBER_VOUCHERS = None


def held_vouchers(member_id: int) -> list[rules.HeldVoucher]:
    """The member's active vouchers now (read again after another till changed one)."""
    global _MEMBER_VOUCHERS
    if _MEMBER_VOUCHERS is None:
        m = Member.__table__.c
        _MEMBER_VOUCHERS = select(vouchers_column(m.id)).where(m.id == bindparam("member_id"))
    return held_from_column(db.session.scalar(_MEMBER_VOUCHERS, {"member_id": member_id}))


@dataclass(frozen=True)
class Offered:
    """A voucher as the till lists it: what it would pay, or why it cannot."""
    voucher: rules.HeldVoucher
    refusal: tuple[str, str] | None
    chosen: bool

    def as_dict(self, covers_fen: int) -> dict:
        v = self.voucher
        return {"id": v.id, "name": v.terms.name, "balance_fen": v.balance_fen, "value_fen": v.value_fen,
                "valid_until": v.valid_until.isoformat(), "spend_mode": v.terms.spend_mode,
                "combinable": v.terms.combinable, "usable": self.refusal is None, "chosen": self.chosen,
                "covers_fen": covers_fen, "reason": self.refusal[0] if self.refusal else None,
                "message": self.refusal[1] if self.refusal else None}


def choose(held: list[rules.HeldVoucher], voucher_ids, p: Purchase, day: date, member_id: int
           ) -> tuple[list[Offered], list[rules.HeldVoucher]]:
    """Every voucher the card holds with what stops it here, and the chosen ones in the order
    given. A chosen voucher that cannot pay here is refused with the sentence to read out."""
    ids = list(dict.fromkeys(voucher_ids or ()))
    by_id = {v.id: v for v in held}
    offered = [Offered(v, rules.refusal(v, p, day), v.id in ids) for v in held]
    refusals = {o.voucher.id: o.refusal for o in offered}
    chosen = []
    for vid in ids:
        if vid not in by_id:
            raise _unavailable(vid, member_id)
        if refusals[vid] is not None:
            code, message = refusals[vid]
            raise VoucherRefused(message, code=f"voucher_{code}", details={"voucher_id": vid})
        chosen.append(by_id[vid])
    return offered, chosen


_UNAVAILABLE = {"spent": ("voucher_spent", "此券余额已用完。"),
                "expired": ("voucher_expired", "此券已过期。"),
                "voided": ("voucher_voided", "此券已被工会作废。")}


def _unavailable(voucher_id, member_id) -> VoucherRefused:
    """Why a voucher the till asked for is not among the card's usable ones (read only when refusing)."""
    status = None
    if row_id(voucher_id) and member_id is not None:
        status = db.session.scalar(select(Voucher.status).where(Voucher.id == voucher_id,
                                                                Voucher.member_id == member_id))
    code, message = _UNAVAILABLE.get(status, ("voucher_unavailable", "这张券不属于此卡的会员。"))
    return VoucherRefused(message, code=code, details={"voucher_id": voucher_id})


_v = Voucher.__table__.c
_DEBIT = (update(Voucher.__table__)
          .where(_v.id == bindparam("b_id"), _v.member_id == bindparam("b_member"), _v.status == "active",
                 _v.balance_fen == bindparam("b_balance"), _v.face_left_fen == bindparam("b_face_left"))
          .values(balance_fen=bindparam("b_balance_after"), face_left_fen=bindparam("b_face_left_after"),
                  status=case((bindparam("b_balance_after") == 0, "spent"), else_="active"),
                  closed_at=case((bindparam("b_balance_after") == 0, bindparam("b_at")), else_=None))
          .returning(_v.id).cte("debit"))
_USE_COLUMNS = ("usage_key", "programme_id", "member_id", "merchant_id", "amount_fen", "face_fen", "topup_fen",
                "union_fen", "bank_fen", "forfeited_fen", "forfeited_face_fen", "business_day")
_u = VoucherUse.__table__.c
# one statement per voucher: the compare-and-set debit, and the use recorded only if it hit
_SPEND = (insert(VoucherUse.__table__)
          .from_select(["voucher_id", *_USE_COLUMNS, "returned_fen", "returned_union_fen", "returned_bank_fen",
                        "returned_topup_fen", "created_at"],
                       select(_DEBIT.c.id, *[bindparam("u_" + c, type_=_u[c].type) for c in _USE_COLUMNS],
                              literal(0), literal(0), literal(0), literal(0), bindparam("b_at", type_=_u.created_at.type)))
          .returning(_u.id))


def spend(covers: list[rules.Cover], *, member_id: int, merchant_id: int, usage_key: str, day: date) -> bool:
    """Debit each cover's voucher exactly as read (compare-and-set) and record its use, one
    statement each. False, with nothing of this call left written by it, when another till
    changed one of them: read them again (`held_vouchers`) and plan afresh. Flush only: the
    caller's unit of work commits."""
    at = clock.now()
    done = []
    for c in covers:
        after = 0 if c.forfeited_fen or c.amount_fen == c.balance_before else c.balance_before - c.amount_fen
        face_after = 0 if after == 0 else c.face_left_before - c.face_fen
        use_id = db.session.scalar(_SPEND, {
            "b_id": c.voucher_id, "b_member": member_id, "b_balance": c.balance_before,
            "b_face_left": c.face_left_before, "b_balance_after": after, "b_face_left_after": face_after, "b_at": at,
            "u_usage_key": usage_key, "u_programme_id": c.programme_id, "u_member_id": member_id,
            "u_merchant_id": merchant_id, "u_amount_fen": c.amount_fen, "u_face_fen": c.face_fen,
            "u_topup_fen": c.topup_fen, "u_union_fen": c.union_fen, "u_bank_fen": c.bank_fen,
            "u_forfeited_fen": c.forfeited_fen, "u_forfeited_face_fen": c.forfeited_face_fen, "u_business_day": day})
        if use_id is None:
            for d, use in done:
                db.session.execute(update(Voucher.__table__).where(_v.id == d.voucher_id).values(
                    balance_fen=d.balance_before, face_left_fen=d.face_left_before, status="active", closed_at=None))
                db.session.execute(VoucherUse.__table__.delete().where(_u.id == use))
            return False
        done.append((c, use_id))
    return True


def give_back(usage_key: str, back_fen: int, *, final: bool, day: date) -> dict[str, int]:
    """A refund's voucher part: spread over the payment's uses, each returning its parts pro
    rata; the balances come back (a single-payment voucher's forfeited value too when the whole
    payment is refunded). A voucher that has expired or been voided meanwhile takes the balance
    back but stays closed: it counts as expired (voided) and nobody can spend it. Returns the
    funders' parts given back: {"union", "bank", "topup"}."""
    uses = db.session.scalars(select(VoucherUse).where(VoucherUse.usage_key == usage_key)
                              .order_by(VoucherUse.id).with_for_update()
                              .execution_options(populate_existing=True)).all()
    left = [rules.UseLeft(u.id, u.amount_fen, u.union_fen, u.bank_fen, u.topup_fen, u.returned_fen,
                          u.returned_union_fen, u.returned_bank_fen, u.returned_topup_fen) for u in uses]
    by_id = {u.id: u for u in uses}
    total = {"union": 0, "bank": 0, "topup": 0}
    for r in rules.returns(left, back_fen):
        u = by_id[r.use_id]
        u.returned_fen += r.back_fen
        u.returned_union_fen += r.union_fen
        u.returned_bank_fen += r.bank_fen
        u.returned_topup_fen += r.topup_fen
        balance_back, face_back = r.back_fen, r.face_fen
        if final and u.forfeited_fen:
            balance_back, face_back = balance_back + u.forfeited_fen, face_back + u.forfeited_face_fen
        db.session.execute(update(Voucher.__table__).where(_v.id == u.voucher_id).values(
            balance_fen=_v.balance_fen + balance_back, face_left_fen=_v.face_left_fen + face_back,
            status=case((and_(_v.status == "spent", _v.valid_until >= day), "active"), else_=_v.status),
            closed_at=case((and_(_v.status == "spent", _v.valid_until >= day), None), else_=_v.closed_at)))
        total["union"] += r.union_fen
        total["bank"] += r.bank_fen
        total["topup"] += r.topup_fen
    db.session.flush()
    return total


# --- members ------------------------------------------------------------------------------------

def member_vouchers(member: Member) -> list[Voucher]:
    """All of the member's vouchers: usable ones first (soonest expiry first), then the rest."""
    rows = db.session.scalars(select(Voucher).where(Voucher.member_id == member.id)
                              .order_by(Voucher.id.desc())).all()
    return sorted(rows, key=lambda v: (v.status != "active", v.valid_until if v.status == "active" else date.min,
                                       -v.id))


def get_member_voucher(member: Member, voucher_id: int) -> Voucher:
    v = db.session.get(Voucher, voucher_id) if row_id(voucher_id) else None
    if v is None or v.member_id != member.id:
        raise NotFound("没有这张券。", code="unknown_voucher")
    return v


def voucher_uses(voucher: Voucher) -> list[VoucherUse]:
    return list(db.session.scalars(select(VoucherUse).where(VoucherUse.voucher_id == voucher.id)
                                   .order_by(VoucherUse.id.desc())))


# --- voiding and expiry ---------------------------------------------------------------------------

def get_voucher_in_scope(scope: Organisation, voucher_id: int) -> Voucher:
    v = db.session.get(Voucher, voucher_id) if row_id(voucher_id) else None
    if v is None or not scope.contains(v.programme.org):
        raise NotFound("没有这张券。", code="unknown_voucher")
    return v


def void(actor, voucher: Voucher, reason: str) -> Voucher:
    """Close an active voucher for good, with the reason (audited). Its balance is no longer
    spendable and counts as voided in the programme's report."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写作废原因。", details={"fields": {"reason": ["必填"]}})
    if len(reason) > 255 or not reason.isprintable():
        raise ValidationError("作废原因最多 255 个字，且不能含控制字符。",
                              details={"fields": {"reason": ["最多 255 个字，不能含控制字符"]}})
    at = clock.now()
    hit = db.session.execute(update(Voucher.__table__).where(_v.id == voucher.id, _v.status == "active")
                             .values(status="voided", void_reason=reason, closed_at=at)).rowcount
    if hit != 1:
        raise Conflict("只有可用的券才能作废。", code="voucher_not_active")
    db.session.refresh(voucher)
    outbox.enqueue(voucher.member_id, "voucher_voided",
                   {"programme": voucher.programme.name, "reason": reason, "voucher_id": voucher.id},
                   f"voucher_voided:{voucher.id}")
    audit.record(actor, "voucher.void", "voucher", voucher.id, org_id=voucher.programme.org_id,
                 before={"status": "active", "balance_fen": voucher.balance_fen},
                 after={"status": "voided", "reason": reason})
    return voucher


def expire(today: date | None = None) -> dict[str, int]:
    """Expire active vouchers whose last day has passed, and tell the members whose vouchers
    end within EXPIRY_NOTICE_DAYS (`notice_expiring`). Conditional UPDATEs: safe at any time,
    concurrently."""
    today = today or clock.business_day()
    at = clock.now()
    expired = db.session.execute(update(Voucher.__table__).where(_v.status == "active", _v.valid_until < today)
                                 .values(status="expired", closed_at=at)).rowcount
    return {"expired": expired, "noticed": notice_expiring(today)}


def notice_expiring(today: date | None = None) -> int:
    """Mark the active vouchers ending within EXPIRY_NOTICE_DAYS (`expiry_noticed_at`, once per
    voucher) and write each member's `voucher_expiring` notice in the same statement. Returns
    how many notices were written."""
    today = today or clock.business_day()
    noticed = (update(Voucher.__table__).where(
        _v.status == "active", _v.valid_until >= today, _v.valid_until <= today + timedelta(days=EXPIRY_NOTICE_DAYS),
        _v.expiry_noticed_at.is_(None)).values(expiry_noticed_at=clock.now())
        .returning(_v.id, _v.member_id, _v.programme_id, _v.balance_fen, _v.valid_until).cte("noticed"))
    p = VoucherProgramme.__table__.c
    rows = (select(noticed.c.member_id,
                   func.json_build_object("programme", p.name, "balance_fen", noticed.c.balance_fen,
                                          "valid_until", noticed.c.valid_until, "voucher_id", noticed.c.id),
                   literal("voucher_expiring:", String) + cast(noticed.c.id, String))
            .select_from(noticed.join(VoucherProgramme.__table__, p.id == noticed.c.programme_id)))
    notices = outbox.notices_from("voucher_expiring", rows).returning(Notice.__table__.c.id).cte("expiring_notices")
    return db.session.scalar(select(func.count()).select_from(notices))


# --- reports --------------------------------------------------------------------------------------

def programme_report(programme: VoucherProgramme) -> dict:
    """Issued, spent (net of refunds), expired, voided and outstanding, in value and in face value,
    with each funder's part of the face value. Spent parts are the uses' own; what was never
    spent is split by the programme's shares."""
    u = VoucherUse
    spent = db.session.execute(select(
        func.count(), func.coalesce(func.sum(u.amount_fen - u.returned_fen), 0),
        func.coalesce(func.sum(u.union_fen - u.returned_union_fen), 0),
        func.coalesce(func.sum(u.bank_fen - u.returned_bank_fen), 0),
        func.coalesce(func.sum(u.topup_fen - u.returned_topup_fen), 0)).where(u.programme_id == programme.id)).one()
    by_status = {row[0]: row[1:] for row in db.session.execute(
        select(Voucher.status, func.count(), func.coalesce(func.sum(Voucher.balance_fen), 0),
               func.coalesce(func.sum(Voucher.face_left_fen), 0))
        .where(Voucher.programme_id == programme.id).group_by(Voucher.status))}

    def left(status):
        count, balance, face = by_status.get(status, (0, 0, 0))
        shares = rules.funders_split(int(face), programme.split)
        return {"count": int(count), "value_fen": int(balance), "face_fen": int(face),
                "union_fen": shares["union"], "bank_fen": shares["bank"], "topup_fen": int(balance) - int(face)}

    issued_shares = rules.funders_split(programme.issued_fen, programme.split)
    forfeited = db.session.execute(select(
        func.coalesce(func.sum(u.forfeited_fen), 0), func.coalesce(func.sum(u.forfeited_face_fen), 0))
        .where(u.programme_id == programme.id, u.returned_fen < u.amount_fen)).one()
    return {
        "issued": {"count": programme.issued_count, "face_fen": programme.issued_fen,
                   "value_fen": programme.issued_count * programme.value_fen,
                   "union_fen": issued_shares["union"], "bank_fen": issued_shares["bank"]},
        "spent": {"uses": int(spent[0]), "value_fen": int(spent[1]), "face_fen": int(spent[2]) + int(spent[3]),
                  "union_fen": int(spent[2]), "bank_fen": int(spent[3]), "topup_fen": int(spent[4])},
        "forfeited": {"value_fen": int(forfeited[0]), "face_fen": int(forfeited[1])},
        "outstanding": left("active"), "expired": left("expired"), "voided": left("voided"),
        "budget_fen": programme.budget_fen, "budget_left_fen": programme.budget_fen - programme.issued_fen,
    }

