"""`make bench`: load measurements against ceilings measured in the same run (see bench/README.md).

    python bench/run.py [--reload] [--only NAME ...]

NAME is a scenario name, a scenario module (e.g. `foundation`), `import` (the member-import
benchmark), `vouchers-issue` (issuing vouchers to 473,216 members, bench/vouchers_issue.py) or
`notices-send` (10,000 notices through the HTTP channel, bench/notices_send.py).
Without --only everything runs.
"""
from __future__ import annotations

import argparse
import importlib
import os
import secrets
import socket
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
import sqlalchemy  # noqa: E402

from bench.harness import Result, Scenario, Server, cpu_per_request, cpu_snapshot, run_wrk, table  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/benefits_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
SCALE = "report"
RESULTS = ROOT / "bench" / "results"
CEILINGS = [Scenario(name="ceiling: bare JSON", path="/bench/bare", ceiling=None),
            Scenario(name="ceiling: raw SQL write", method="POST", path="/bench/write", body="{}", ceiling=None)]
# Not a ceiling: one primary-key SELECT on the till's hot-read path, as a ratio of bare JSON, so
# the table shows what any request that reads the database once can reach on this machine.
READ_REFERENCE = Scenario(name="reference: one SQL read", path="/bench/read", ceiling="bare")
# benchmarks of their own, not wrk scenarios
NOT_HTTP = ("import", "vouchers-issue", "notices-send")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def app_env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "FLASK_APP": "wsgi:app",
            "BENEFITS_ENV": "production", "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_hex(32),
            # the sign-in scenario signs in thousands of times from one address on purpose
            "LOGIN_MAX_PER_ACCOUNT": "1000000000", "LOGIN_MAX_PER_ADDRESS": "1000000000"}


def flask(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).parent / "flask"), *args], cwd=ROOT, env=app_env(), check=True)


def postgres_admin_url() -> str:
    base, _, _name = DATABASE_URL.rpartition("/")
    return base + "/postgres"


def database_name() -> str:
    return DATABASE_URL.rpartition("/")[2].split("?")[0]


def exclusive_run() -> psycopg.Connection:
    """One run per bench database at a time (two would trip over each other's data and load):
    a session advisory lock, held on the maintenance database until the returned connection closes."""
    conn = psycopg.connect(postgres_admin_url(), autocommit=True)
    key = zlib.crc32(database_name().encode())
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another bench run is using {database_name()}; wait for it or set BENCH_DATABASE_URL")
    return conn


def prepare_database(reload: bool) -> None:
    with psycopg.connect(postgres_admin_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database_name(),)).fetchone()
        if exists and reload:
            log(f"--reload: dropping {database_name()}")
            conn.execute(f'DROP DATABASE "{database_name()}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{database_name()}"')
    log("migrating (flask db upgrade)")
    flask("db", "upgrade")
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_dataset (name TEXT PRIMARY KEY, loaded_at TIMESTAMPTZ NOT NULL)")
        loaded = conn.execute("SELECT loaded_at FROM bench_dataset WHERE name = %s", (SCALE,)).fetchone()
    if loaded:
        log(f"scale data '{SCALE}' already loaded ({loaded[0]:%Y-%m-%d %H:%M}); --reload rebuilds it")
        return
    log(f"loading demo data and scale '{SCALE}' (once)")
    started = time.monotonic()
    flask("demo", "load", "--scale", SCALE)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("INSERT INTO bench_dataset (name, loaded_at) VALUES (%s, now())", (SCALE,))
    log(f"scale data loaded in {time.monotonic() - started:.0f} s")


def scenario_modules() -> list:
    modules = []
    for path in sorted((ROOT / "bench" / "scenarios").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        modules.append(importlib.import_module(f"bench.scenarios.{path.stem}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def prepare_modules(modules: list) -> dict[str, dict]:
    from benefits import counters, create_app
    from benefits.extensions import db
    from config import normalise_database_url

    counters.connect(REDIS_URL, socket_timeout=30).flushdb()  # the bench Redis DB (or cluster) is ours alone
    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(DATABASE_URL),
                                "REDIS_URL": REDIS_URL})
    states: dict[str, dict] = {}
    with app.app_context():
        for module in modules:
            log(f"prepare {module.__name__}")
            states[module.__name__] = module.prepare(app) or {}
            db.session.commit()
        counters.reconcile_all()  # Redis gates start from what SQL says
        # What autovacuum does in production (this machine's server may run without it): the
        # planner's statistics for the data just loaded, so the bench meets the plans a live
        # database gets, not the guesses of a never-analysed one.
        db.session.execute(sqlalchemy.text("ANALYZE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return states


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log = open(RESULTS / "gunicorn.log", "w")
        env = {**app_env(), "BENEFITS_BENCHMARK_ENDPOINTS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
             "--no-control-socket", "wsgi:app"],  # the default control socket is shared host-wide
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log.name}")
            try:
                if requests.get(self.url + "/bench/bare", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def measure(gunicorn: Gunicorn, scenario: Scenario) -> Result:
    log(f"wrk {scenario.name} ({SECONDS} s, {CONNECTIONS} connections)")
    before = cpu_snapshot(gunicorn.proc.pid)
    result = run_wrk(gunicorn.url, scenario, SECONDS, CONNECTIONS, THREADS)
    # (run_wrk's few settling requests after the run are counted too: a rounding error)
    result.cpu_us = cpu_per_request(before, cpu_snapshot(gunicorn.proc.pid), result.requests)
    return result


def wanted(only: list[str], *names: str) -> bool:
    return not only or any(n in only for n in names)


def run_http(modules: list, only: list[str], notes: list[str]) -> list[Result]:
    states = prepare_modules(modules)
    gunicorn = Gunicorn()
    try:
        server = Server(gunicorn.url, DATABASE_URL)
        ceilings = {"bare": measure(gunicorn, CEILINGS[0]), "write": measure(gunicorn, CEILINGS[1])}
        results = list(ceilings.values())
        reference = measure(gunicorn, READ_REFERENCE)
        reference.ratio = reference.requests_per_second / ceilings["bare"].requests_per_second
        results.append(reference)
        for module in modules:
            short = module.__name__.rsplit(".", 1)[1]
            for scenario in module.scenarios(states[module.__name__], server):
                if not wanted(only, short, scenario.name):
                    continue
                before = scenario.before() if scenario.before else None
                result = measure(gunicorn, scenario)
                if scenario.after:
                    note = scenario.after(before, result)
                    if note:
                        notes.append(f"- {scenario.name}: {note}")
                if scenario.ceiling in ceilings:
                    result.ratio = result.requests_per_second / ceilings[scenario.ceiling].requests_per_second
                ceilings.setdefault(scenario.name, result)   # a later scenario may measure against it
                results.append(result)
        return results
    finally:
        gunicorn.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reload", action="store_true", help="drop the bench database and load the scale data again")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this scenario, scenario module, or 'import' (repeatable)")
    args = parser.parse_args()

    started = time.monotonic()
    lock = exclusive_run()
    prepare_database(args.reload)
    modules = scenario_modules()
    module_names = {m.__name__.rsplit(".", 1)[1] for m in modules}
    if args.only and all(n in module_names or n in NOT_HTTP for n in args.only):
        modules = [m for m in modules if m.__name__.rsplit(".", 1)[1] in args.only]  # skip others' prepare
    http_wanted = not args.only or any(n not in NOT_HTTP for n in args.only)
    notes: list[str] = []
    results = run_http(modules, [n for n in args.only if n not in NOT_HTTP], notes) if http_wanted else []
    import_report = None
    if wanted(args.only, "import"):
        from bench import import_members
        import_report = import_members.run(DATABASE_URL, log=log)
    issue_report = None
    if wanted(args.only, "vouchers-issue"):
        from bench import vouchers_issue
        issue_report = vouchers_issue.run(log=log)
    notices_report = None
    if wanted(args.only, "notices-send"):
        from bench import notices_send
        notices_report = notices_send.run(log=log)

    sections = [f"# Benchmark results\n\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · gunicorn 2 sync "
                f"workers · wrk {SECONDS} s × {CONNECTIONS} connections, {THREADS} thread(s) · "
                f"PostgreSQL `{database_name()}` + Redis · {os.cpu_count()} CPU cores"]
    if results:
        sections.append(table(results))
    if notes:
        sections.append("\n".join(notes))
    if import_report:
        sections.append(import_report)
    if issue_report:
        sections.append(issue_report)
    if notices_report:
        sections.append(notices_report)
    report = "\n\n".join(sections) + "\n"
    print("\n" + report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    log(f"written to {RESULTS / 'latest.md'} in {time.monotonic() - started:.0f} s")
    lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
