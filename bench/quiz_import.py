"""Question import at the report's volume: 31,713 questions over 24 job types through the real
import path (`flask quiz import`'s: read the CSV template, check every row, resolve job types,
number the questions per job type, bulk insert, commit), beside bare bulk inserts of the very
same rows (psycopg `executemany` of one INSERT, and COPY) measured in the same run. Runs on its
own PostgreSQL database, rebuilt each time.

    python bench/quiz_import.py        (BENCH_QUIZ_IMPORT_URL overrides the database)
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

URL = os.environ.get("BENCH_QUIZ_IMPORT_URL", "postgresql://postgres@127.0.0.1/benefits_bench_quiz_import")
COUNT = 31_713
COLUMNS = ("job_type_id", "position", "kind", "stem", "options", "answer", "explanation", "difficulty", "score",
           "tags", "is_enabled", "created_at")


def fresh_database() -> None:
    base, _, name = URL.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    from sqlalchemy import text

    from benefits import create_app
    from benefits.extensions import db
    from benefits.quiz import bank as service
    from benefits.quiz import importers
    from benefits.quiz.demo import JOB_TYPES, generate_rows
    from config import normalise_database_url

    fresh_database()
    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(URL), "REDIS_URL": None})
    data = importers.write_csv(generate_rows(COUNT, random.Random(2020)))
    with app.app_context():
        db.create_all()
        for code, name in JOB_TYPES:
            service.create_job_type(None, code, name)
        db.session.commit()
        names = {jt.name: jt.id for jt in service.job_types()}
        # the bare rows: what the import ends up writing, prepared before the clock starts
        questions, _problems = importers.parse_csv(data)
        counters: dict[int, int] = {}
        bare = []
        for q in questions:
            jt = names[q["job_type"]]
            counters[jt] = counters.get(jt, 0) + 1
            values = service.question_values(q, service.get_job_type(jt), counters[jt])
            bare.append(tuple(json.dumps(values[c], ensure_ascii=False) if c == "options" else values[c]
                              for c in COLUMNS))
        db.session.rollback()

        def reset():
            db.session.execute(text("TRUNCATE quiz_questions RESTART IDENTITY CASCADE"))
            db.session.execute(text("UPDATE quiz_job_types SET next_position = 1"))
            db.session.commit()

        def real_import() -> float:
            reset()
            started = time.perf_counter()
            parsed, problems = importers.parse_csv(data)
            result = service.import_questions(None, parsed, problems, skip_bad=False)
            db.session.commit()
            assert result["imported"] == COUNT, result["problems"][:3]
            return time.perf_counter() - started

        insert_sql = (f"INSERT INTO quiz_questions ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})")

        def bare_insert() -> float:
            reset()
            with psycopg.connect(URL) as conn:
                started = time.perf_counter()
                with conn.cursor() as cur:
                    cur.executemany(insert_sql, bare)
                conn.commit()
                return time.perf_counter() - started

        def bare_copy() -> float:
            reset()
            with psycopg.connect(URL) as conn:
                started = time.perf_counter()
                with conn.cursor() as cur, cur.copy(f"COPY quiz_questions ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in bare:
                        copy.write_row(row)
                conn.commit()
                return time.perf_counter() - started

        runs = {"import": [], "insert": [], "copy": []}
        for _ in range(2):
            runs["insert"].append(bare_insert())
            runs["copy"].append(bare_copy())
            runs["import"].append(real_import())
        best = {k: min(v) for k, v in runs.items()}
        db.session.remove()
        db.engine.dispose()
    report = (f"## Question import ({COUNT:,} questions, 24 job types, PostgreSQL, best of 2)\n\n"
              f"| path | seconds | questions/s | × bare INSERT |\n|---|---:|---:|---:|\n"
              f"| real import (parse CSV, check, number, insert, commit) | {best['import']:.2f} | "
              f"{COUNT / best['import']:,.0f} | {best['import'] / best['insert']:.2f} (target ≤ 3) |\n"
              f"| bare executemany INSERT of the same rows | {best['insert']:.2f} | {COUNT / best['insert']:,.0f} | 1.00 |\n"
              f"| bare COPY of the same rows | {best['copy']:.2f} | {COUNT / best['copy']:,.0f} | "
              f"{best['copy'] / best['insert']:.2f} |\n")
    print(report)
    base, _, name = URL.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
