"""Safe retries: the same Idempotency-Key with the same body replays the stored answer;
the same key with a different body is a 409.

The record is written in the same transaction as the work it guards, so it exists exactly when
the work was committed. Concurrent requests with one key: the unique (scope, key) index makes
the later ones wait for the first; they then replay its answer (or, if it rolled back, do the
work themselves). Failed requests store nothing, so a retry after an error runs again.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Callable

from flask import request
from flask_babel import gettext as _
from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, mapped_column

from .clock import now
from .errors import Conflict, ValidationError
from .extensions import db

MAX_KEY_LENGTH = 100


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_records_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


def request_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(_("Idempotency-Key 须为 1 到 %(n)s 个字符。", n=MAX_KEY_LENGTH))
    return key


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def run_once(scope: str, key: str | None, payload: Any,
             operation: Callable[[], tuple[Any, int]]) -> tuple[Any, int]:
    """Run `operation` (which returns a JSON-able body and a status) at most once per key.

    Call inside the request's unit of work; it flushes but does not commit.
    """
    if key is None:
        return operation()
    print_ = fingerprint(payload)
    # One statement claims the key. A concurrent request holding the same key makes this wait on
    # the unique index until it commits (then nothing is inserted and we replay its answer) or
    # rolls back (then the row is ours); nothing raises, so no savepoint is needed.
    record_id = db.session.scalar(_CLAIM, {"scope": scope, "key": key, "fingerprint": print_, "at": now()})
    if record_id is None:
        found = db.session.execute(select(_T.c.fingerprint, _T.c.response, _T.c.status_code)
                                   .where(_T.c.scope == scope, _T.c.key == key)).one()
        if found.fingerprint != print_:
            raise Conflict(_("这个 Idempotency-Key 已用于另一个不同的请求。"),
                           code="idempotency_key_reused")
        return found.response, found.status_code
    body, status = operation()
    db.session.execute(_STORE, {"record_id": record_id, "response": body, "status_code": status})
    return body, status


_T = IdempotencyRecord.__table__
_CLAIM = (insert(_T).values(scope=bindparam("scope"), key=bindparam("key"), fingerprint=bindparam("fingerprint"),
                            status_code=0, response=None, created_at=bindparam("at"))
          .on_conflict_do_nothing(index_elements=[_T.c.scope, _T.c.key]).returning(_T.c.id))
_STORE = (update(_T).where(_T.c.id == bindparam("record_id"))
          .values(response=bindparam("response", type_=JSON), status_code=bindparam("status_code")))
