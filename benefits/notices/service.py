"""The member's side of notices: their 消息 list and which optional kinds they get by SMS.

Every notice is listed, whatever became of its SMS: turning a kind off stops its SMS (the sender
marks those skipped), not the record in the app.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .. import clock
from ..errors import ValidationError
from ..extensions import db
from ..pagination import paginate
from . import kinds
from .models import Notice, NoticeOptOut


@dataclass(frozen=True)
class Shown:
    """A notice as the member reads it."""
    id: int
    kind: str
    label: str
    text: str
    at: datetime
    status: str
    link: tuple[str, dict] | None


def shown(notice: Notice) -> Shown:
    return Shown(notice.id, notice.kind, kinds.kind(notice.kind).label, kinds.render(notice.kind, notice.params),
                 notice.created_at, notice.status, kinds.link(notice.kind, notice.params))


def member_notices(member_id: int, page: int = 1, per_page: int = 50) -> tuple[list[Shown], int]:
    """The member's notices, newest first, one page at a time, with the total."""
    rows, total = paginate(select(Notice).where(Notice.member_id == member_id).order_by(Notice.id.desc()),
                           page, per_page)
    return [shown(n) for n in rows], total


@dataclass(frozen=True)
class Setting:
    kind: str
    label: str
    sms: bool


def settings(member_id: int) -> list[Setting]:
    """Each optional kind and whether the member gets it by SMS (the default: yes)."""
    off = set(db.session.scalars(select(NoticeOptOut.kind).where(NoticeOptOut.member_id == member_id)))
    return [Setting(name, kinds.kind(name).label, name not in off) for name in kinds.OPTIONAL]


def set_sms_off(member_id: int, turned_off) -> list[Setting]:
    """The member's SMS choice: exactly `turned_off` (optional kinds) are not sent to them."""
    wanted = list(dict.fromkeys(turned_off or ()))
    unknown = [k for k in wanted if k not in kinds.OPTIONAL]
    if unknown:
        raise ValidationError("只有可选的通知才能关闭短信。",
                              details={"fields": {"sms_off": [f"不能关闭：{', '.join(map(str, unknown))}"]}})
    db.session.execute(delete(NoticeOptOut).where(NoticeOptOut.member_id == member_id,
                                                  NoticeOptOut.kind.not_in(wanted)))
    if wanted:
        at = clock.now()
        db.session.execute(pg_insert(NoticeOptOut.__table__).values(
            [{"member_id": member_id, "kind": k, "created_at": at} for k in wanted]).on_conflict_do_nothing())
    return settings(member_id)
