"""Member import at volume: 100,000 generated members (valid, unique ID numbers) through the real
import path (`benefits.members.importing.import_members`: read CSV, check every row against the
organisations and existing members, insert, audit, commit), beside a bare COPY of the same rows
into `members`. Both run on the bench PostgreSQL database and are deleted afterwards.

    python bench/run.py --only import
"""
from __future__ import annotations

import csv
import io
import random
import time
from datetime import date

ROWS = 100_000


def _generate(grassroots: list[tuple[int, str]], rng: random.Random) -> tuple[bytes, list[tuple]]:
    """The CSV a union would upload, and the same rows ready for a bare insert."""
    from benefits.cli.demo import random_category, random_name, random_phone
    from benefits.pii import make_id_number

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("组织代码", "姓名", "身份证号", "手机号", "类别"))
    bare: list[tuple] = []
    seen: set[str] = set()
    chinese = {"ordinary": "普通", "hardship": "困难职工", "retiree": "退休", "model_worker": "劳模"}
    base = date(1965, 1, 1).toordinal()
    while len(bare) < ROWS:
        # region 1101xx (Beijing) never occurs in the Anhui scale data, so no row is "already a member"
        id_number = make_id_number(f"1101{rng.randrange(1, 100):02d}",
                                   date.fromordinal(base + rng.randrange(14_000)), rng.randrange(1000))
        if id_number in seen:
            continue
        seen.add(id_number)
        org_id, code = grassroots[rng.randrange(len(grassroots))]
        name, phone, category = random_name(rng), random_phone(rng), random_category(rng)
        writer.writerow((code, name, id_number, phone, chinese[category]))
        bare.append((org_id, name, id_number, phone, category))
    return out.getvalue().encode("utf-8"), bare


def run(database_url: str, log=print) -> str:
    from sqlalchemy import delete, func, select, text

    from benefits import clock, create_app
    from benefits.audit.models import AuditEntry
    from benefits.database import unit_of_work
    from benefits.extensions import db
    from benefits.members import importing
    from benefits.members.models import Member
    from benefits.orgs.models import Organisation
    from config import normalise_database_url

    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url), "REDIS_URL": None})
    with app.app_context():
        grassroots = list(db.session.execute(select(Organisation.id, Organisation.code)
                                             .where(Organisation.level == "grassroots")))
        log(f"import: generating {ROWS:,} members as CSV")
        data, bare_rows = _generate(grassroots, random.Random(2020))
        before = db.session.scalar(select(func.count(Member.id)))
        last_id = db.session.scalar(select(func.max(Member.id))) or 0
        last_audit = db.session.scalar(select(func.max(AuditEntry.id))) or 0
        db.session.rollback()

        def clean() -> None:
            with unit_of_work():
                db.session.execute(delete(Member).where(Member.id > last_id))
                db.session.execute(delete(AuditEntry).where(AuditEntry.id > last_audit))

        try:
            log("import: real import path (flask members import)")
            started = time.perf_counter()
            with unit_of_work():
                report = importing.import_members(None, "bench-100k.csv", data,
                                                  max_uncompressed=app.config["XLSX_MAX_UNCOMPRESSED"])
            real_seconds = time.perf_counter() - started
            if report.imported != ROWS:
                raise RuntimeError(f"import refused rows: {report.errors[:5]}")
            clean()

            log("import: bare COPY of the same rows")
            joined, created = clock.business_day(), clock.now()
            started = time.perf_counter()
            with unit_of_work():
                raw = db.session.connection().connection.driver_connection
                with raw.cursor() as cursor:
                    with cursor.copy("COPY members (org_id, name, id_number, phone, category, status, joined_on, "
                                     "created_at) FROM STDIN") as copy:
                        for row in bare_rows:
                            copy.write_row((*row, "active", joined, created))
            bare_seconds = time.perf_counter() - started
        finally:
            clean()
            db.session.execute(text("ANALYZE members"))
            db.session.commit()
        assert db.session.scalar(select(func.count(Member.id))) == before
        db.session.remove()
        db.engine.dispose()

    real, bare = ROWS / real_seconds, ROWS / bare_seconds
    return ("## Member import (100,000 rows, PostgreSQL, on top of the scale data)\n\n"
            "| path | seconds | rows/s |\n|---|---:|---:|\n"
            f"| `import_members` (parse CSV, check every row, COPY, audit, commit) | {real_seconds:.1f} | {real:,.0f} |\n"
            f"| bare COPY of the same rows | {bare_seconds:.1f} | {bare:,.0f} |\n\n"
            f"Import runs at **{real / bare:.2f}×** the bare insert rate.")
