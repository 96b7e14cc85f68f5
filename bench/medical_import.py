"""Medical-benefit import at the report's volume: a social-insurance file of 473,216 rows (national
ID number, name, year, out-of-pocket amount) imported into a programme and matched to the
province's 473,216 members through the real path (`medical.service.import_claims`, as
`flask medical import` runs it: read the CSV, check every row — ID number with its GB 11643 check
digit, name, year, amount —, lock the programme, read what it holds, COPY the new records, count
the records that name a member by ID number, audit, commit), beside a bare COPY of the very same
rows into `medical_claims`, measured in the same run. Target: at most 3× the bare COPY.

Runs on its own PostgreSQL database, rebuilt each time: the schema, the report's organisation
tree and its 473,216 members (`cli.scale.load_scale`, COPY). Nine in ten insurance rows name a
member; the rest are people the union does not have.

    python bench/medical_import.py        (BENCH_MEDICAL_IMPORT_URL overrides the database)
"""
from __future__ import annotations

import csv
import io
import os
import random
import sys
import time
import zlib
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from benefits import create_app  # noqa: E402
from benefits.cli.demo import PROVINCE_CODE  # noqa: E402
from benefits.cli.scale import ScaleSize, load_scale  # noqa: E402
from benefits.database import unit_of_work  # noqa: E402
from benefits.extensions import db  # noqa: E402
from benefits.medical import service as medical  # noqa: E402
from benefits.medical.models import InsuranceClaim, InsuranceImport, MedicalProgramme  # noqa: E402
from benefits.members.importing import bulk_insert  # noqa: E402
from benefits.members.models import Member  # noqa: E402
from benefits.orgs import service as orgs  # noqa: E402
from benefits.pii import make_id_number  # noqa: E402
from config import normalise_database_url  # noqa: E402

URL = os.environ.get("BENCH_MEDICAL_IMPORT_URL", "postgresql://postgres@127.0.0.1/benefits_bench_medical")
ROWS = 473_216
SIZE = ScaleSize(organisations=5_714, members=ROWS, cards=0, cities=16, counties=105)
TARGET = 3.0
YEAR = 2020


def _maintenance_url() -> str:
    return URL.rpartition("/")[0] + "/postgres"


def _name() -> str:
    return URL.rpartition("/")[2].split("?")[0]


def fresh_database() -> psycopg.Connection:
    """Drop and create the database; returns the connection holding this run's advisory lock."""
    conn = psycopg.connect(_maintenance_url(), autocommit=True)
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (zlib.crc32(_name().encode()),)).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another run is using {_name()}; wait for it or set BENCH_MEDICAL_IMPORT_URL")
    conn.execute(f'DROP DATABASE IF EXISTS "{_name()}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{_name()}"')
    return conn


def _insurance_file(rng: random.Random) -> tuple[bytes, list[tuple[str, str, int]]]:
    """The CSV the social-insurance bureau sends, and its rows as the bare COPY writes them."""
    members = db.session.execute(select(Member.id_number, Member.name).order_by(Member.id)).all()
    chosen = rng.sample(members, ROWS * 9 // 10)
    seen = {m.id_number for m in members}
    outsiders = []
    base = date(1950, 1, 1).toordinal()
    while len(chosen) + len(outsiders) < ROWS:
        # region 1101xx (Beijing) never occurs in the Anhui scale data: not members
        number = make_id_number(f"1101{rng.randrange(1, 100):02d}", date.fromordinal(base + rng.randrange(20_000)),
                                rng.randrange(1000))
        if number not in seen:
            seen.add(number)
            outsiders.append((number, "非会员"))
    people = chosen + outsiders
    rng.shuffle(people)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("身份证号", "姓名", "年度", "自付金额（元）"))
    bare = []
    for number, name in people:
        fen = rng.randrange(0, 2_000_000)
        writer.writerow((number, name, YEAR, f"{fen // 100}.{fen % 100:02d}"))
        bare.append((number, name, fen))
    return out.getvalue().encode("utf-8"), bare


def _empty() -> None:
    with unit_of_work():
        db.session.execute(text("TRUNCATE medical_claims, medical_imports"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))      # no path pays for the writes of the one before it


def run(log=print) -> str:
    lock = fresh_database()
    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(URL), "REDIS_URL": None})
    try:
        with app.app_context():
            return _measure(app, log)
    finally:
        lock.close()


def _measure(app, log) -> str:
    db.create_all()
    log(f"medical-import: loading {ROWS:,} members and {SIZE.organisations:,} organisations (COPY)")
    with unit_of_work():
        province = orgs.create_org(PROVINCE_CODE, "安徽省总工会", "province", None)
        load_scale(SIZE)
        programme = medical.create_programme(None, province, {
            "name": "医疗普惠", "year": YEAR, "threshold_fen": 100_000, "amount_fen": 20_000,
            "budget_fen": 20_000 * ROWS})
        programme_id = programme.id
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        conn.execute(text("CHECKPOINT"))
    data, bare_rows = _insurance_file(random.Random(2020))
    db.session.rollback()
    log(f"medical-import: the file has {ROWS:,} rows, {len(data) / 1e6:.1f} MB")

    log("medical-import: the real path (medical.import_claims, as flask medical import)")
    started = time.perf_counter()
    with unit_of_work():
        report = medical.import_claims(None, db.session.get(MedicalProgramme, programme_id), "bench.csv", data,
                                       max_uncompressed=app.config["XLSX_MAX_UNCOMPRESSED"])
    real_seconds = time.perf_counter() - started
    if (report.added, report.bad_rows) != (ROWS, 0):
        raise RuntimeError(f"the import refused rows: {report.errors[:5]}")
    matched = report.matched
    _empty()

    log("medical-import: bare COPY of the same rows")
    with unit_of_work():
        record = InsuranceImport(programme_id=programme_id, file_name="bare", total_rows=ROWS, bad_rows=0,
                                 added=ROWS, updated=0, unchanged=0)
        db.session.add(record)
        db.session.flush()
        import_id = record.id
    started = time.perf_counter()
    with unit_of_work():
        bulk_insert("medical_claims", ("programme_id", "import_id", "id_number", "name", "out_of_pocket_fen"),
                    ((programme_id, import_id, number, name, fen) for number, name, fen in bare_rows))
    bare_seconds = time.perf_counter() - started
    assert db.session.scalar(select(func.count()).select_from(InsuranceClaim)) == ROWS

    log("medical-import: the same file again through the real path (nothing new)")
    _empty()
    with unit_of_work():
        medical.import_claims(None, db.session.get(MedicalProgramme, programme_id), "bench.csv", data,
                              max_uncompressed=app.config["XLSX_MAX_UNCOMPRESSED"])
    started = time.perf_counter()
    with unit_of_work():
        again = medical.import_claims(None, db.session.get(MedicalProgramme, programme_id), "bench.csv", data,
                                      max_uncompressed=app.config["XLSX_MAX_UNCOMPRESSED"])
    again_seconds = time.perf_counter() - started
    assert (again.added, again.unchanged) == (0, ROWS)
    db.session.remove()
    db.engine.dispose()

    ratio = real_seconds / bare_seconds
    met = "met" if ratio <= TARGET else "MISSED"
    return (f"## Medical-benefit import ({ROWS:,} insurance rows, {ROWS:,} members, PostgreSQL, own database)\n\n"
            "| path | seconds | rows/s |\n|---|---:|---:|\n"
            f"| `medical.import_claims` (read CSV, check every row, lock, COPY, match by ID number, audit, commit) "
            f"| {real_seconds:.1f} | {ROWS / real_seconds:,.0f} |\n"
            f"| bare COPY of the same rows into `medical_claims` | {bare_seconds:.1f} | {ROWS / bare_seconds:,.0f} |\n"
            f"| the same file imported again (nothing new) | {again_seconds:.1f} | {ROWS / again_seconds:,.0f} |\n\n"
            f"{matched:,} of the rows name a member. The import takes **{ratio:.2f}×** the bare COPY "
            f"(target ≤ {TARGET:.0f}×: {met}).")


if __name__ == "__main__":
    print(run(log=lambda m: print(f"[bench] {m}", flush=True)))
