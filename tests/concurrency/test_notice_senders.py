"""Several `flask notices send` processes at once, as cron on two hosts would run them: real
processes against the same PostgreSQL and a real local HTTP gateway. The gateway holds the first
three requests until three are in flight together, so the test fails unless three senders
deliver at the same moment (each sender delivers one notice at a time). Every notice is
delivered, each exactly once, and the senders' own counts add up to the total."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.notices import kinds, outbox
from benefits.notices.models import Notice
from tests import factories
from tests.conftest import ROOT
from tests.notice_gateway import Gateway

pytestmark = [pytest.mark.concurrency, pytest.mark.services]

SENDERS = 3
NOTICES = 240
SECRET = "parallel-secret"


def _sender(database_url: str, gateway_url: str) -> subprocess.Popen:
    env = {**os.environ, "BENEFITS_ENV": "testing", "FLASK_APP": "wsgi:app", "DATABASE_URL": database_url,
           "REDIS_URL": "off", "NOTICE_CHANNEL": "http", "NOTICE_GATEWAY_URL": gateway_url,
           "NOTICE_GATEWAY_SECRET": SECRET, "NOTICE_SEND_BATCH": "4", "NOTICE_HTTP_TIMEOUT_SECONDS": "40"}
    return subprocess.Popen([sys.executable, "-m", "flask", "notices", "send"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_parallel_senders_deliver_every_notice_once(pg_app, postgres_url):
    with unit_of_work():
        tree = factories.org_tree()
        members = [factories.member(tree["gujing"], name=f"会员{i}", phone=f"1391234{i:04d}") for i in range(8)]
        for i in range(NOTICES):
            outbox.enqueue(members[i % 8].id, "points_expiring", {"points": i + 1, "date": "2026-12-31"},
                           f"points_expiring:test:{i}")
    gateway = Gateway(SECRET, barrier=threading.Barrier(SENDERS, timeout=60), delay=0.005)
    try:
        processes = [_sender(postgres_url, gateway.url) for _ in range(SENDERS)]
        outputs = [p.communicate(timeout=180)[0] for p in processes]
    finally:
        gateway.stop()
    assert [p.returncode for p in processes] == [0] * SENDERS, outputs
    counts = [int(re.search(r"已发送 (\d+) 条", out).group(1)) for out in outputs]
    assert sum(counts) == NOTICES, outputs
    assert all(counts), counts              # every process took part

    seen = Counter(s.key for s in gateway.seen)
    assert len(seen) == NOTICES and set(seen.values()) == {1}, [k for k, n in seen.items() if n > 1]
    assert all(s.signed and s.outcome == "accepted" for s in gateway.seen)
    db.session.expire_all()
    rows = list(db.session.scalars(select(Notice)))
    assert {(n.status, n.attempts) for n in rows} == {("sent", 1)}
    phones = {m.id: m.phone for m in members}
    for n in rows:
        body = gateway.accepted[n.dedupe_key]
        assert body["text"] == kinds.render(n.kind, n.params) and body["phone"] == phones[n.member_id]
