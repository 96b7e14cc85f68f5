"""Ceiling endpoints for `make bench` (DESIGN.md §7), mounted only when BENCHMARK_ENDPOINTS is on.

`GET /bench/bare` is the framework ceiling (no database). `POST /bench/write` is the floor of
any correct write: one conditional UPDATE and one INSERT in raw SQL, then commit. Two references,
not ceilings, show what a database round trip costs next to `bare`: `GET /bench/read`, one
primary-key SELECT through the session, as every request reads, and `POST /bench/till-read`,
the till quote's own read (`transactions.service.payment_read`) with its body and terminal key
and a fixed answer. Their two tables are benchmark-only
scaffolding, created on first use, not part of the schema.
"""
from __future__ import annotations

import os

from flask import Blueprint, jsonify, request
from sqlalchemy import bindparam, literal_column, select, table, text

from . import clock
from .extensions import db
from .inputs import whole_number
from .money import parse_yuan
from .transactions.api import terminal_key_from_request
from .transactions.service import TillRef, payment_read

bp = Blueprint("bench", __name__, url_prefix="/bench")

COUNTER_ROWS = 16
CAP = 2_000_000_000
_ready: set[str] = set()


def _ensure_tables() -> None:
    url = str(db.engine.url)
    if url in _ready:
        return
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # two workers creating the same table at once would collide in the catalogue
            conn.execute(text("SELECT pg_advisory_xact_lock(4732160)"))
        serial = "BIGSERIAL" if postgres else "INTEGER"
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_counters (id INTEGER PRIMARY KEY, value BIGINT NOT NULL)"))
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS bench_log (id {serial} PRIMARY KEY, counter_id INTEGER NOT NULL, "
                          "at TIMESTAMP WITH TIME ZONE NOT NULL)"))
        existing = conn.scalar(text("SELECT count(*) FROM bench_counters"))
        if existing < COUNTER_ROWS:
            conn.execute(text("INSERT INTO bench_counters (id, value) VALUES (:id, 0)"),
                         [{"id": i} for i in range(existing + 1, COUNTER_ROWS + 1)])
    _ready.add(url)


@bp.get("/bare")
def bare():
    return jsonify(ok=True)


_READ = select(literal_column("value")).select_from(table("bench_counters")).where(
    literal_column("id") == bindparam("id"))


@bp.get("/read")
def read():
    _ensure_tables()
    value = db.session.scalar(_READ, {"id": os.getpid() % COUNTER_ROWS + 1})
    return jsonify(ok=value is not None)


@bp.post("/till-read")
def till_read():
    """A reference for the till quote: its database read alone — the statement a quote sends
    (terminal key, store, merchant, card, member, the member's offer counters at this price) —
    with the same body and key, then a fixed answer: no engine, no quote. What a quote costs
    before it computes anything."""
    body = request.get_json()
    read = payment_read(TillRef(terminal_key=terminal_key_from_request()), amount_fen=parse_yuan(body["amount"]),
                        day=clock.business_day(), card_number=body["card_number"])
    return jsonify(ok=read.card.id > 0)


@bp.post("/write")
def write():
    _ensure_tables()
    # one row per worker process by default: the floor without lock waits; ?id= to share a row
    counter_id = request.args.get("id", type=whole_number) or (os.getpid() % COUNTER_ROWS + 1)
    updated = db.session.execute(
        text("UPDATE bench_counters SET value = value + 1 WHERE id = :id AND value < :cap"),
        {"id": counter_id, "cap": CAP}).rowcount
    if updated:
        db.session.execute(text("INSERT INTO bench_log (counter_id, at) VALUES (:id, :at)"),
                           {"id": counter_id, "at": clock.now()})
    db.session.commit()
    return jsonify(ok=bool(updated)), 200 if updated else 409
