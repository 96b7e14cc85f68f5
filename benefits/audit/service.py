"""Audit log: every admin change, written in the same transaction as the change."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..orgs.models import Organisation
from ..orgs.service import subtree_ids_select
from .models import AuditEntry


def record(actor, action: str, target_type: str, target_id: Any, *, org_id: int | None,
           before: dict | None = None, after: dict | None = None) -> AuditEntry:
    """Append an entry. `before`/`after` must already have PII masked."""
    entry = AuditEntry(
        actor_user_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "username", None) or "system",
        org_id=org_id, action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before, after=after)
    db.session.add(entry)
    db.session.flush()
    return entry


SYSTEM = "system"   # the actor filter for entries written by commands and the demo (no account)


def entries_in_scope(scope: Organisation, action: str | None = None, *, actions: Sequence[str] | None = None,
                     actor: int | str | None = None, since: datetime | None = None,
                     before: datetime | None = None):
    """Entries about organisations in `scope`'s subtree, newest first: of one action or any of
    `actions`, by one account (`actor`: a user id, or SYSTEM), at `since` or later and before
    `before`."""
    stmt = select(AuditEntry).where(AuditEntry.org_id.in_(subtree_ids_select(scope)))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actions is not None:
        stmt = stmt.where(AuditEntry.action.in_(actions))
    if actor == SYSTEM:
        stmt = stmt.where(AuditEntry.actor_user_id.is_(None))
    elif actor is not None:
        stmt = stmt.where(AuditEntry.actor_user_id == actor)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if before is not None:
        stmt = stmt.where(AuditEntry.at < before)
    return stmt.order_by(AuditEntry.id.desc())


def actors_in_scope(scope: Organisation) -> list[int]:
    """The accounts that wrote entries in `scope`'s subtree (for the actor filter)."""
    return list(db.session.scalars(
        select(AuditEntry.actor_user_id).where(AuditEntry.org_id.in_(subtree_ids_select(scope)),
                                               AuditEntry.actor_user_id.is_not(None))
        .group_by(AuditEntry.actor_user_id)))
