"""Audit log: every admin change, written in the same transaction as the change."""
from __future__ import annotations

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


def entries_in_scope(scope: Organisation, action: str | None = None):
    stmt = select(AuditEntry).where(AuditEntry.org_id.in_(subtree_ids_select(scope)))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return stmt.order_by(AuditEntry.id.desc())
