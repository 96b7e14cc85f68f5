"""Audit entries as people read them: who (by name and role), when (China time to the second),
what (the action's name), on what (the object's name, never "user #23") and which fields changed,
with values in words (money in yuan, 是/否, — for nothing).

A page of entries is named in one go: every object the page mentions (targets, actors, ids in
the fields) is collected first, then each kind is read with ONE query for the whole page
(`_NAMERS`), never one per row. Member names are masked (张*), as everywhere in the console.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from .. import clock
from ..auth.models import User
from ..extensions import db
from ..festival.models import FestivalCampaign, FestivalGift
from ..inputs import row_id
from ..medical.models import MedicalBatch, MedicalProgramme, PayoutFile
from ..members.models import Card, Member
from ..merchants.models import Merchant, Store, TerminalKey
from ..money import format_yuan
from ..orgs.models import Organisation
from ..prizes.models import PickupPoint, Prize, Redemption
from ..prizes.rules import mask_name
from ..promotions.models import PromotionRule
from ..quiz.models import JobType, Question, Quiz
from ..transactions.models import Statement
from ..vouchers.models import Voucher, VoucherBatch, VoucherProgramme
from . import labels
from .models import AuditEntry

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_MISSING = object()

# kind → (endpoint, its id argument): objects that have a console page of their own.
LINKS = {
    "member": ("admin.member_detail", "member_id"),
    "merchant": ("merchants.merchant_detail", "merchant_id"),
    "promotion_rule": ("promotions.rule_detail", "rule_id"),
    "voucher_programme": ("vouchers.admin_detail", "programme_id"),
    "prize": ("prizes.admin_edit", "prize_id"),
    "medical_programme": ("medical.admin_detail", "programme_id"),
    "user": ("admin.staff.detail", "user_id"),
}


@dataclass(frozen=True)
class Named:
    text: str
    link: tuple[str, dict] | None = None     # (endpoint, arguments) for url_for


@dataclass(frozen=True)
class Change:
    label: str
    before: str | None      # None: the field was not there before (a creation, a new field)
    after: str | None


@dataclass
class ReadableEntry:
    id: int
    at: str
    action: str
    action_name: str
    area_name: str
    actor: Named
    target: Named
    org: str
    changes: list[Change] = field(default_factory=list)


# --- naming: one query per kind ------------------------------------------------------------------

def _day(value) -> str:
    return clock.business_day(value).isoformat() if value else ""


def _pairs(rows) -> dict[int, str]:
    return {row[0]: row[1] for row in rows}


def account_names(ids) -> dict[int, str]:
    """Accounts by display name and role (a member's name masked): 王芳（收银员）."""
    rows = db.session.execute(select(User.id, User.display_name, User.role).where(User.id.in_(ids)))
    return {uid: "%s（%s）" % (mask_name(name) if role == "member" else name, labels.ROLES.get(role, role))
            for uid, name, role in rows}


def _members(ids):
    return {mid: mask_name(name) for mid, name in db.session.execute(
        select(Member.id, Member.name).where(Member.id.in_(ids)))}


def _cards(ids):
    rows = db.session.execute(select(Card.id, Card.number, Member.name).join(Member, Card.member_id == Member.id)
                              .where(Card.id.in_(ids)))
    return {cid: _("%(name)s 的会员卡 %(number)s", name=mask_name(name), number=number) for cid, number, name in rows}


def _stores(ids):
    rows = db.session.execute(select(Store.id, Merchant.name, Store.name).join(Merchant, Store.merchant_id == Merchant.id)
                              .where(Store.id.in_(ids)))
    return {sid: f"{merchant} · {store}" for sid, merchant, store in rows}


def _terminal_keys(ids):
    rows = db.session.execute(select(TerminalKey.id, Store.name, TerminalKey.label, TerminalKey.key_prefix)
                              .join(Store, TerminalKey.store_id == Store.id).where(TerminalKey.id.in_(ids)))
    return {kid: f"{store} · {label or prefix}" for kid, store, label, prefix in rows}


def _statements(ids):
    rows = db.session.execute(select(Statement.id, Merchant.name, Statement.period_start, Statement.period_end)
                              .join(Merchant, Statement.merchant_id == Merchant.id).where(Statement.id.in_(ids)))
    return {sid: f"{name} {start.isoformat()} ~ {end.isoformat()}" for sid, name, start, end in rows}


def _vouchers(ids):
    rows = db.session.execute(select(Voucher.id, VoucherProgramme.name, Member.name)
                              .join(VoucherProgramme, Voucher.programme_id == VoucherProgramme.id)
                              .join(Member, Voucher.member_id == Member.id).where(Voucher.id.in_(ids)))
    return {vid: f"{programme} · {mask_name(member)}" for vid, programme, member in rows}


def _voucher_batches(ids):
    rows = db.session.execute(select(VoucherBatch.id, VoucherProgramme.name, VoucherBatch.created_at, VoucherBatch.round)
                              .join(VoucherProgramme, VoucherBatch.programme_id == VoucherProgramme.id)
                              .where(VoucherBatch.id.in_(ids)))
    return {bid: _("%(programme)s · %(day)s 发放（第 %(round)s 轮）", programme=name, day=_day(at), round=rnd)
            for bid, name, at, rnd in rows}


def _questions(ids):
    rows = db.session.execute(select(Question.id, Question.stem).where(Question.id.in_(ids)))
    return {qid: stem if len(stem) <= 30 else stem[:30] + "…" for qid, stem in rows}


def _redemptions(ids):
    rows = db.session.execute(select(Redemption.id, Prize.name, Member.name)
                              .join(Prize, Redemption.prize_id == Prize.id)
                              .join(Member, Redemption.member_id == Member.id).where(Redemption.id.in_(ids)))
    return {rid: f"{prize} · {mask_name(member)}" for rid, prize, member in rows}


def _festival_gifts(ids):
    rows = db.session.execute(select(FestivalGift.id, Prize.name, PickupPoint.name)
                              .join(Prize, FestivalGift.prize_id == Prize.id)
                              .outerjoin(PickupPoint, FestivalGift.pickup_point_id == PickupPoint.id)
                              .where(FestivalGift.id.in_(ids)))
    return {gid: f"{prize} · {point}" if point else prize for gid, prize, point in rows}


def _medical_batches(ids):
    rows = db.session.execute(select(MedicalBatch.id, MedicalProgramme.name, MedicalBatch.created_at)
                              .join(MedicalProgramme, MedicalBatch.programme_id == MedicalProgramme.id)
                              .where(MedicalBatch.id.in_(ids)))
    return {bid: _("%(programme)s · %(day)s 的批次", programme=name, day=_day(at)) for bid, name, at in rows}


def _payout_files(ids):
    rows = db.session.execute(select(PayoutFile.id, MedicalProgramme.name, PayoutFile.created_at)
                              .join(MedicalProgramme, PayoutFile.programme_id == MedicalProgramme.id)
                              .where(PayoutFile.id.in_(ids)))
    return {fid: _("%(programme)s · %(day)s 的发放文件", programme=name, day=_day(at)) for fid, name, at in rows}


def _by_name(column_id, column_name) -> Callable[[set[int]], dict[int, str]]:
    return lambda ids: _pairs(db.session.execute(select(column_id, column_name).where(column_id.in_(ids))))


_NAMERS: dict[str, Callable[[set[int]], dict[int, str]]] = {
    "organisation": _by_name(Organisation.id, Organisation.name),
    "user": account_names,
    "member": _members,
    "card": _cards,
    "merchant": _by_name(Merchant.id, Merchant.name),
    "store": _stores,
    "terminal_key": _terminal_keys,
    "statement": _statements,
    "promotion_rule": _by_name(PromotionRule.id, PromotionRule.name),
    "voucher_programme": _by_name(VoucherProgramme.id, VoucherProgramme.name),
    "voucher_batch": _voucher_batches,
    "voucher": _vouchers,
    "quiz": _by_name(Quiz.id, Quiz.title),
    "job_type": _by_name(JobType.id, JobType.name),
    "question": _questions,
    "pickup_point": _by_name(PickupPoint.id, PickupPoint.name),
    "prize": _by_name(Prize.id, Prize.name),
    "redemption": _redemptions,
    "festival_campaign": _by_name(FestivalCampaign.id, FestivalCampaign.name),
    "festival_gift": _festival_gifts,
    "medical_programme": _by_name(MedicalProgramme.id, MedicalProgramme.name),
    "medical_batch": _medical_batches,
    "medical_payout_file": _payout_files,
}


def _reference_kind(area: str | None, key: str) -> str | None:
    if key == "programme_id":
        return labels.PROGRAMME_BY_AREA.get(area or "")
    return labels.REFERENCES.get(key)


def _ids(value) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [i for i in (row_id(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
                        for v in values) if i is not None]


def _collect(entry: AuditEntry, wanted: dict[str, set[int]]) -> None:
    area = labels.area_of(entry.action)
    if entry.target_type in _NAMERS and row_id(entry.target_id or ""):
        wanted.setdefault(entry.target_type, set()).add(row_id(entry.target_id))
    if entry.actor_user_id:
        wanted.setdefault("user", set()).add(entry.actor_user_id)
    if entry.org_id:
        wanted.setdefault("organisation", set()).add(entry.org_id)
    for snapshot in (entry.before, entry.after):
        for values in _dicts_in(snapshot):
            for key, value in values.items():
                kind = _reference_kind(area, key)
                if kind:
                    wanted.setdefault(kind, set()).update(_ids(value))


def _dicts_in(snapshot) -> Iterable[dict]:
    """The snapshot and the dicts listed in it (a festival campaign's gifts)."""
    if isinstance(snapshot, dict):
        yield snapshot
        for value in snapshot.values():
            if isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))


def names_for(entries: Iterable[AuditEntry]) -> dict[tuple[str, int], str]:
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        _collect(entry, wanted)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        if ids:
            names.update(((kind, i), text) for i, text in _NAMERS[kind](ids).items())
    return names


# --- values in words -----------------------------------------------------------------------------

def _kind_and_number(kind: str, object_id) -> str:
    return f"{labels.KINDS.get(kind, kind)} #{object_id}"


def _time(text: str) -> str:
    try:
        return clock.as_utc(datetime.fromisoformat(text)).astimezone(clock.CHINA).strftime(TIME_FORMAT)
    except ValueError:
        return text


def _scalar(kind: str, key: str, value, names, ref: str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if ref and _ids(value):
        return names.get((ref, _ids(value)[0])) or _kind_and_number(ref, value)
    if key == "status":
        return str(labels.STATUSES.get(kind, {}).get(value, value))
    if key in labels.VALUES:
        return str(labels.VALUES[key].get(value, value))
    if isinstance(value, int):
        return _number(key, value)
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return _time(value)
    return str(value)


def _number(key: str, value: int) -> str:
    if key.endswith(labels.MONEY_SUFFIX):
        return _("%(yuan)s 元", yuan=format_yuan(value))
    if key in labels.BASIS_POINT_FIELDS:
        return f"{value / 100:g}%"
    if key in labels.PERCENT_FIELDS:
        return f"{value}%"
    if key in labels.SECOND_FIELDS:
        return _("%(n)s 分钟", n=value // 60) if value and value % 60 == 0 else _("%(n)s 秒", n=value)
    if key in labels.POINT_FIELDS:
        return _("%(n)s 积分", n=f"{value:+d}" if key == "amount" else value)
    if key in labels.HOUR_FIELDS:
        return f"{value}:00"
    if key == "version":
        return _("第 %(n)s 版", n=value)
    if key == "bytes":
        return f"{value / 1024:.1f} KB"
    return str(value)


def format_value(kind: str, area: str | None, key: str, value, names: dict) -> str:
    """One field's value in words (money in yuan, 是/否, names for ids, — for nothing)."""
    ref = _reference_kind(area, key)
    if key in labels.CATEGORY_FIELDS and isinstance(value, str):
        value = [v for v in value.split(",") if v]   # prizes and festival campaigns keep "a,b"
    if key in labels.OPEN_WHEN_EMPTY and value in ([], ""):
        return _("不限")
    if isinstance(value, list):
        if not value:
            return "—"
        if key in labels.CATEGORY_FIELDS:
            key = "category"
        return "、".join(_item(kind, area, key, item, names, ref) for item in value)
    if isinstance(value, dict):
        return _dict(kind, area, key, value, names)
    return _scalar(kind, key, value, names, ref)


def _item(kind, area, key, item, names, ref) -> str:
    if isinstance(item, dict):
        return "（%s）" % _dict(kind, area, key, item, names)
    if ref and _ids(item):
        return names.get((ref, _ids(item)[0])) or _kind_and_number(ref, item)
    return _scalar(kind, key, item, names, None)


def _dict(kind, area, key, value: dict, names) -> str:
    inner = labels.DICT_KEYS.get(key)
    if inner is not None:   # shares in %, limits as counts
        suffix = "%" if key == "split" else ""
        return "，".join(f"{inner.get(k, k)} {v}{suffix}" for k, v in value.items()) or "—"
    return "，".join(f"{labels.field_label(kind, k) or k}：{format_value(kind, area, k, v, names)}"
                    for k, v in value.items() if k not in labels.HIDDEN)


def changes_of(entry: AuditEntry, names: dict) -> list[Change]:
    """The fields an entry changed: for an edit (before and after) only those that differ; for a
    creation every field; for a removal every field it had."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(after) + [k for k in before if k not in after]
    area, kind = labels.area_of(entry.action), entry.target_type
    out = []
    for key in keys:
        if key in labels.HIDDEN:
            continue
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if before and after and old == new:
            continue
        out.append(Change(
            str(labels.field_label(kind, key) or key),
            None if old is _MISSING else format_value(kind, area, key, old, names),
            None if new is _MISSING else format_value(kind, area, key, new, names)))
    return out


# --- entries --------------------------------------------------------------------------------------

def _target(entry: AuditEntry, names: dict) -> Named:
    kind, object_id = entry.target_type, row_id(entry.target_id or "")
    if kind == "import":
        file_name = (entry.after or {}).get("file")
        return Named(_("文件 %(name)s", name=file_name) if file_name else str(labels.KINDS["import"]))
    if object_id is None:
        return Named(str(labels.KINDS.get(kind, kind)))
    text = names.get((kind, object_id))
    if text is None:
        return Named(_kind_and_number(kind, object_id))
    link = LINKS.get(kind)
    return Named(text, (link[0], {link[1]: object_id}) if link else None)


def _actor(entry: AuditEntry, names: dict) -> Named:
    if entry.actor_user_id is None:
        return Named(_("系统"))
    text = names.get(("user", entry.actor_user_id))
    return Named(text or entry.actor_label)


def readable(entries: list[AuditEntry]) -> list[ReadableEntry]:
    names = names_for(entries)
    out = []
    for entry in entries:
        area = labels.area_of(entry.action)
        out.append(ReadableEntry(
            id=entry.id,
            at=clock.as_utc(entry.at).astimezone(clock.CHINA).strftime(TIME_FORMAT),
            action=entry.action,
            action_name=str(labels.action_name(entry.action)),
            area_name=str(labels.AREAS[area]) if area else "",
            actor=_actor(entry, names),
            target=_target(entry, names),
            org=names.get(("organisation", entry.org_id), "") if entry.org_id else "",
            changes=changes_of(entry, names)))
    return out

