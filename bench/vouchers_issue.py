"""Voucher issue at the report's volume: one programme issued to all 473,216 members of the
province through the real path (`vouchers.service.issue` as `flask vouchers issue` runs it: a
batch, then chunks of member ids, each locking the programme row, inserting with one
INSERT … SELECT the target's members not yet issued within the budget left, counting them on
the programme and the batch, and committing; the same statement writes each member's
`voucher_issued` notice into the outbox), beside bare bulk inserts of the very same rows into
`vouchers` (COPY from the client, and one INSERT … SELECT from `members` on the server; no
notices), measured in the same run. Target: the issue takes at most 3× the faster bare insert.

Runs on its own PostgreSQL database, rebuilt each time: the schema, the report's organisation
tree and its 473,216 members (`cli.scale.load_scale`, COPY; all made active so every one is
issued), no cards.

    python bench/vouchers_issue.py        (BENCH_VOUCHERS_ISSUE_URL overrides the database)
    make bench BENCH_ARGS="--only vouchers-issue"
"""
from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, select, text, update  # noqa: E402

from benefits import clock, create_app  # noqa: E402
from benefits.cli.demo import PROVINCE_CODE  # noqa: E402
from benefits.cli.scale import ScaleSize, load_scale  # noqa: E402
from benefits.database import unit_of_work  # noqa: E402
from benefits.extensions import db  # noqa: E402
from benefits.members.models import Member  # noqa: E402
from benefits.orgs import service as orgs  # noqa: E402
from benefits.orgs.models import Organisation  # noqa: E402
from benefits.vouchers import service as vouchers  # noqa: E402
from benefits.vouchers.models import Voucher, VoucherProgramme  # noqa: E402
from config import normalise_database_url  # noqa: E402

URL = os.environ.get("BENCH_VOUCHERS_ISSUE_URL", "postgresql://postgres@127.0.0.1/benefits_bench_vouchers")
MEMBERS = 473_216
SIZE = ScaleSize(organisations=5_714, members=MEMBERS, cards=0, cities=16, counties=105)
FACE_FEN, TOPUP_BP = 50_000, 1_000      # 500.00 + 10 % from the merchant, as 扶贫暖心券
TARGET = 3.0
COLUMNS = ("programme_id", "batch_id", "member_id", "seq", "face_fen", "value_fen", "balance_fen", "face_left_fen",
           "status", "valid_from", "valid_until", "issued_at")


def _maintenance_url() -> str:
    return URL.rpartition("/")[0] + "/postgres"


def _name() -> str:
    return URL.rpartition("/")[2].split("?")[0]


def fresh_database() -> psycopg.Connection:
    """Drop and create the database; returns the connection holding this run's advisory lock
    (one run per database at a time)."""
    conn = psycopg.connect(_maintenance_url(), autocommit=True)
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (zlib.crc32(_name().encode()),)).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another run is using {_name()}; wait for it or set BENCH_VOUCHERS_ISSUE_URL")
    conn.execute(f'DROP DATABASE IF EXISTS "{_name()}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{_name()}"')
    return conn


def _timed(work) -> float:
    started = time.perf_counter()
    with unit_of_work():
        work()
    return time.perf_counter() - started


def _empty_vouchers() -> None:
    """No vouchers, nothing counted as issued: the state each measured path starts from."""
    with unit_of_work():
        db.session.execute(text("TRUNCATE vouchers, voucher_uses"))
        db.session.execute(update(VoucherProgramme).values(issued_fen=0, issued_count=0))
        db.session.execute(text("UPDATE voucher_batches SET issued_count = 0, issued_fen = 0"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))      # no path pays for the writes of the one before it


def run(log=print) -> str:
    lock = fresh_database()
    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(URL), "REDIS_URL": None})
    try:
        with app.app_context():
            return _measure(log)
    finally:
        lock.close()


def _measure(log) -> str:
    db.create_all()
    log(f"vouchers-issue: loading {MEMBERS:,} members and {SIZE.organisations:,} organisations (COPY)")
    started = time.perf_counter()
    with unit_of_work():
        province = orgs.create_org(PROVINCE_CODE, "安徽省总工会", "province", None)
        load_scale(SIZE)
        db.session.execute(update(Member).values(status="active", left_on=None))
        today = clock.business_day()
        programme = vouchers.create_programme(None, province, {
            "name": "压测全省消费券", "face_fen": FACE_FEN, "topup_bp": TOPUP_BP, "split": {"union": 60, "bank": 40},
            "scope": "programme", "valid_from": today, "valid_until": today.replace(year=today.year + 1),
            "budget_fen": FACE_FEN * MEMBERS})
        programme_id, province_id = programme.id, province.id
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))      # the load's writes are not charged to the first path
    log(f"vouchers-issue: loaded in {time.perf_counter() - started:.0f} s")

    log("vouchers-issue: the real path (vouchers.issue, a commit per chunk, as the CLI)")
    chunks: list[float] = []
    last = [0.0]

    def progress(_n: int) -> None:
        now = time.perf_counter()
        chunks.append(now - last[0])
        last[0] = now

    def issue() -> None:
        programme = db.session.get(VoucherProgramme, programme_id)
        target = vouchers.Target(org=db.session.get(Organisation, province_id))
        last[0] = time.perf_counter()
        result = vouchers.issue(None, programme, target, commit_each=db.session.commit, progress=progress)
        if result.issued != MEMBERS:
            raise RuntimeError(f"issued {result.issued:,} of {MEMBERS:,}")

    real_seconds = _timed(issue)
    programme = db.session.get(VoucherProgramme, programme_id)
    assert (programme.issued_count, programme.issued_fen) == (MEMBERS, MEMBERS * FACE_FEN)
    batch_id = db.session.scalar(select(func.max(Voucher.batch_id)))
    value_fen, valid_from, valid_until = programme.value_fen, programme.valid_from, programme.valid_until
    at = clock.now()
    member_ids = list(db.session.scalars(select(Member.id).order_by(Member.id)))
    rows = [(programme_id, batch_id, m, 1, FACE_FEN, value_fen, value_fen, FACE_FEN, "active", valid_from, valid_until,
             at) for m in member_ids]
    db.session.commit()

    _empty_vouchers()
    log("vouchers-issue: bare COPY of the same rows")

    def copy() -> None:
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY vouchers ({', '.join(COLUMNS)}) FROM STDIN") as out:
            for row in rows:
                out.write_row(row)

    copy_seconds = _timed(copy)

    _empty_vouchers()
    log("vouchers-issue: bare INSERT … SELECT of the same rows")

    def insert_select() -> None:
        db.session.execute(text(
            f"INSERT INTO vouchers ({', '.join(COLUMNS)}) "
            "SELECT :p, :b, id, 1, :face, :value, :value, :face, 'active', :vf, :vu, :at FROM members"),
            {"p": programme_id, "b": batch_id, "face": FACE_FEN, "value": value_fen, "vf": valid_from,
             "vu": valid_until, "at": at})

    insert_seconds = _timed(insert_select)
    assert db.session.scalar(select(func.count(Voucher.id))) == MEMBERS
    db.session.remove()
    db.engine.dispose()

    bare = min(copy_seconds, insert_seconds)
    ratio = real_seconds / bare
    met = "met" if ratio <= TARGET else "MISSED"
    return (f"## Voucher issue ({MEMBERS:,} members, PostgreSQL, own database)\n\n"
            "| path | seconds | vouchers/s |\n|---|---:|---:|\n"
            f"| `vouchers.issue` ({len(chunks)} chunks of {vouchers.CHUNK:,} member ids: lock the programme, "
            f"INSERT … SELECT, count, commit) | {real_seconds:.1f} | {MEMBERS / real_seconds:,.0f} |\n"
            f"| bare COPY of the same rows | {copy_seconds:.1f} | {MEMBERS / copy_seconds:,.0f} |\n"
            f"| bare INSERT … SELECT of the same rows | {insert_seconds:.1f} | {MEMBERS / insert_seconds:,.0f} |\n\n"
            f"The issue takes **{ratio:.2f}×** the faster bare insert (target ≤ {TARGET:.0f}×: {met}). "
            f"Its longest chunk held the programme row for {max(chunks):.1f} s "
            f"(chunks: {', '.join(f'{c:.1f}' for c in chunks)} s).")


if __name__ == "__main__":
    print(run(log=lambda m: print(f"[bench] {m}", flush=True)))
