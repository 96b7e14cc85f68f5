"""Sending notices at volume: 10,000 notices through the HTTP channel (`flask notices send`'s
path: `notices.sender.send_due` with `channels.HttpChannel`) to a local SMS gateway (a
ThreadingHTTPServer in a process of its own on 127.0.0.1, HTTP/1.1 keep-alive, checking each
HMAC signature and answering 200), with one sender and with two sender processes at once.
Beside it, in the same run, the floor of any sender through this channel: the same 10,000
signed bodies POSTed by one bare `requests.Session` loop, no database.

Reports notices per second and the CPU per notice (µs of one core): the senders (their own
process time, start-up excluded), PostgreSQL (every server process, from /proc), the gateway,
and the whole machine.

Runs on its own PostgreSQL database, rebuilt each time (BENCH_NOTICES_URL): the schema, a small
organisation tree, 1,000 members with phones, 10,000 pending `points_expiring` notices (one
INSERT … SELECT), sent back to pending before each measured run.

    python bench/notices_send.py
    make bench BENCH_ARGS="--only notices-send"
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from sqlalchemy import String, cast, func, literal, select, text, true, update  # noqa: E402

from bench.harness import cpu_per_request, cpu_snapshot  # noqa: E402

URL = os.environ.get("BENCH_NOTICES_URL", "postgresql://postgres@127.0.0.1/benefits_bench_notices")
NOTICES = 10_000
MEMBERS = 1_000
SECRET = "bench-gateway-secret"
BATCH = 20


def _maintenance_url() -> str:
    return URL.rpartition("/")[0] + "/postgres"


def _name() -> str:
    return URL.rpartition("/")[2].split("?")[0]


def _app():
    from benefits import create_app
    from config import normalise_database_url
    return create_app(overrides={"SQLALCHEMY_DATABASE_URI": normalise_database_url(URL), "REDIS_URL": None})


# --- the gateway: its own process -----------------------------------------------------------------

def _gateway(port_out, stop) -> None:
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    secret = SECRET.encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            good = hmac.compare_digest("sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
                                       self.headers.get("X-Benefits-Signature", ""))
            self.send_response(200 if good else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop.wait()
    server.shutdown()


# --- one sender process ---------------------------------------------------------------------------

def _sender(gateway_url: str, start, out) -> None:
    from benefits.notices.channels import HttpChannel
    from benefits.notices.sender import Policy, send_due
    app = _app()
    with app.app_context():
        channel = HttpChannel(gateway_url, SECRET, timeout=5, tries=3, backoff=0.5)
        policy = Policy(batch=BATCH)
        start.wait()
        cpu = time.process_time()
        report = send_due(channel, policy)
        out.put((report.sent, report.failed + report.retrying, time.process_time() - cpu))


def _bare(gateway_url: str, bodies: list[tuple[bytes, dict]], start, out) -> None:
    session = requests.Session()
    start.wait()
    cpu = time.process_time()
    ok = sum(session.post(gateway_url, data=b, headers=h, timeout=5).status_code == 200 for b, h in bodies)
    out.put((ok, 0, time.process_time() - cpu))


# --- measuring --------------------------------------------------------------------------------------

def _measure(ctx, gateway_pid: int, targets: list[tuple]) -> dict:
    """Run the target processes together (released at once) and what they and the rest used."""
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=fn, args=(*args, start, out)) for fn, args in targets]
    for p in procs:
        p.start()
    time.sleep(5)        # start-up (imports, the app) is not measured
    before = cpu_snapshot(gateway_pid)        # "app" here is the gateway process
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in procs]
    seconds = time.perf_counter() - began
    cpu = cpu_per_request(before, cpu_snapshot(gateway_pid), sum(r[0] for r in results))
    for p in procs:
        p.join()
    sent = sum(r[0] for r in results)
    return {"sent": sent, "not_sent": sum(r[1] for r in results), "seconds": seconds,
            "per_second": sent / seconds, "sender_us": sum(r[2] for r in results) * 1e6 / max(sent, 1),
            "db_us": cpu["db"], "gateway_us": cpu["app"], "all_us": cpu["all"]}


def _reset() -> None:
    from benefits.extensions import db
    from benefits.notices.models import Notice
    from benefits import clock
    db.session.execute(update(Notice).values(status="pending", attempts=0, claim=None, sent_at=None,
                                             last_error=None, next_attempt_at=clock.now()))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE notices"))
        conn.execute(text("CHECKPOINT"))


def _load(log) -> list[tuple[bytes, dict]]:
    """The database's content; returns the bodies and headers the bare loop POSTs."""
    from benefits import clock
    from benefits.cli.demo import PROVINCE_CODE
    from benefits.cli.scale import ScaleSize, load_scale
    from benefits.database import unit_of_work
    from benefits.extensions import db
    from benefits.members.models import Member
    from benefits.notices import channels, kinds, outbox
    from benefits.notices.models import Notice
    from benefits.orgs import service as orgs

    db.create_all()
    with unit_of_work():
        orgs.create_org(PROVINCE_CODE, "安徽省总工会", "province", None)
        load_scale(ScaleSize(organisations=60, members=MEMBERS, cards=0, cities=2, counties=6))
        k = func.generate_series(1, NOTICES // MEMBERS).table_valued("k").alias("k")
        key = literal("bench:", String) + cast(Member.id, String) + literal(":", String) + cast(k.c.k, String)
        db.session.execute(outbox.notices_from("points_expiring", select(
            Member.id, func.json_build_object("points", k.c.k, "date", "2026-12-31"), key)
            .select_from(Member.__table__.join(k, true()))))
    rows = db.session.execute(select(Notice.id, Notice.kind, Notice.params, Notice.dedupe_key, Member.phone)
                              .join(Member, Member.id == Notice.member_id)).all()
    assert len(rows) == NOTICES and all(r.phone for r in rows)
    secret = SECRET.encode()
    bodies = []
    for r in rows:
        body = channels.body_of(channels.Outgoing(r.id, r.kind, r.phone, kinds.render(r.kind, r.params), r.dedupe_key))
        bodies.append((body, {"Content-Type": "application/json; charset=utf-8",
                              channels.SIGNATURE_HEADER: channels.sign(secret, body), "Idempotency-Key": r.dedupe_key}))
    log(f"notices-send: {NOTICES:,} notices for {MEMBERS:,} members loaded ({clock.now():%H:%M:%S})")
    return bodies


def run(log=print) -> str:
    lock = psycopg.connect(_maintenance_url(), autocommit=True)
    if not lock.execute("SELECT pg_try_advisory_lock(%s)", (zlib.crc32(_name().encode()),)).fetchone()[0]:
        lock.close()
        raise SystemExit(f"another run is using {_name()}; wait for it or set BENCH_NOTICES_URL")
    lock.execute(f'DROP DATABASE IF EXISTS "{_name()}" WITH (FORCE)')
    lock.execute(f'CREATE DATABASE "{_name()}"')
    ctx = mp.get_context("spawn")
    port_out, stop = ctx.Queue(), ctx.Event()
    gateway = ctx.Process(target=_gateway, args=(port_out, stop), daemon=True)
    gateway.start()
    url = f"http://127.0.0.1:{port_out.get(timeout=30)}/sms"
    app = _app()
    try:
        with app.app_context():
            from benefits.extensions import db
            bodies = _load(log)
            log("notices-send: floor — the same signed bodies POSTed by one bare requests loop")
            bare = _measure(ctx, gateway.pid, [(_bare, (url, bodies))])
            figures = {}
            for senders in (1, 2):
                _reset()
                log(f"notices-send: {senders} sender process(es), send_due over the HTTP channel")
                figures[senders] = _measure(ctx, gateway.pid, [(_sender, (url,))] * senders)
                status = dict(db.session.execute(text("SELECT status, count(*) FROM notices GROUP BY status")).all())
                if status != {"sent": NOTICES} or figures[senders]["sent"] != NOTICES:
                    raise RuntimeError(f"{senders} senders: {status}, reported {figures[senders]['sent']}")
            db.session.remove()
            db.engine.dispose()
    finally:
        stop.set()
        gateway.join(timeout=10)
        lock.close()

    def row(name, f, ratio=""):
        return (f"| {name} | {f['seconds']:.1f} | {f['per_second']:,.0f} | {ratio} | {f['sender_us']:,.0f} · "
                f"{f['db_us']:,.0f} · {f['gateway_us']:,.0f} · {f['all_us']:,.0f} |")

    return (f"## Notices: {NOTICES:,} sent through the HTTP channel to a local gateway\n\n"
            "| path | seconds | notices/s | ÷ floor | CPU µs/notice sender · db · gateway · all |\n"
            "|---|---:|---:|---:|---:|\n"
            + row("floor: the signed POSTs alone (one `requests.Session`, no database)", bare) + "\n"
            + row(f"`send_due`, 1 sender (batches of {BATCH}: claim, POST each, write back)", figures[1],
                  f"{figures[1]['per_second'] / bare['per_second']:.2f}") + "\n"
            + row("`send_due`, 2 sender processes at once", figures[2],
                  f"{figures[2]['per_second'] / bare['per_second']:.2f}") + "\n\n"
            f"Every notice ended `sent` exactly once in each run ({os.cpu_count()} CPU cores).")


if __name__ == "__main__":
    print(run(log=lambda m: print(f"[bench] {m}", flush=True)))
