"""The sender and its channels: the log channel masks the phone; members without a phone and
kinds turned off are skipped; failures are retried with backoff and given up after N tries with
the last error; a batch whose sender died is delivered again after its lease with the same
dedupe key; and the HTTP channel against a real local server that fails some requests (500) and
times out on others ends with every notice delivered exactly as the server saw it, every
signature valid, and dedupe keys repeated only on retries."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from benefits import clock
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.notices import kinds, outbox, sender
from benefits.notices import service as notices
from benefits.notices.channels import DeliveryFailed, HttpChannel, LogChannel
from benefits.notices.models import Notice, NoticeOptOut
from tests import factories
from tests.notice_gateway import Gateway

NOON = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)
PHONE = "13812345678"
SECRET = "gateway-secret"
POLICY = sender.Policy(batch=5, max_attempts=3, retry_seconds=60, retry_max_seconds=600)


@pytest.fixture
def members(app):
    clock.set_frozen(NOON)
    with unit_of_work():
        tree = factories.org_tree()
        with_phone = factories.member(tree["gujing"], name="王芳", phone=PHONE)
        no_phone = factories.member(tree["gujing"], name="李强", phone=None)
    return with_phone, no_phone


def _voucher_notice(member_id: int, n: int) -> str:
    key = f"voucher_issued:{n}"
    outbox.enqueue(member_id, "voucher_issued", {"programme": "扶贫暖心券", "value_fen": 55000,
                                                 "valid_until": "2026-12-31", "voucher_id": n}, key)
    return key


def _all() -> list[Notice]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notice).order_by(Notice.id)))


class Flaky:
    """A channel that fails each notice's first `fails` tries, or always with `permanent`."""
    longest_seconds = 0.0

    def __init__(self, fails: int = 0, permanent: bool = False):
        self.fails, self.permanent, self.tries, self.delivered = fails, permanent, {}, []

    def send(self, notice):
        self.tries[notice.notice_id] = self.tries.get(notice.notice_id, 0) + 1
        if self.permanent:
            raise DeliveryFailed("gateway answered 400", permanent=True)
        if self.tries[notice.notice_id] <= self.fails:
            raise DeliveryFailed("gateway answered 503")
        self.delivered.append(notice)


def test_the_log_channel_sends_and_masks_the_phone(members, caplog):
    member, _ = members
    with unit_of_work():
        _voucher_notice(member.id, 1)
    caplog.set_level(logging.INFO, logger="benefits.notices")
    report = sender.send_due(LogChannel(), POLICY)
    assert (report.sent, report.failed, report.skipped) == (1, 0, 0)
    [n] = _all()
    assert (n.status, n.attempts, n.sent_at, n.last_error) == ("sent", 1, NOON, None)
    [line] = [r.getMessage() for r in caplog.records if r.name == "benefits.notices.channels"]
    assert f"notice {n.id} (voucher_issued) to 138****5678" in line and PHONE not in line
    assert sender.send_due(LogChannel(), POLICY).sent == 0          # nothing twice


def test_no_phone_and_turned_off_kinds_are_skipped_but_listed(members):
    member, no_phone = members
    with unit_of_work():
        notices.set_sms_off(member.id, ["voucher_issued"])
        _voucher_notice(member.id, 1)
        _voucher_notice(no_phone.id, 2)
        outbox.enqueue(member.id, "voucher_voided", {"programme": "扶贫暖心券", "reason": "重复", "voucher_id": 1},
                       "voucher_voided:1")
        # an opt-out of a kind that cannot be turned off (say, from before it became mandatory) counts for nothing
        db.session.add(NoticeOptOut(member_id=member.id, kind="voucher_voided", created_at=NOON))
    channel = Flaky()
    report = sender.send_due(channel, POLICY)
    assert (report.sent, report.skipped) == (1, 2)
    assert [(n.dedupe_key, n.status, n.last_error, n.attempts) for n in _all()] == [
        ("voucher_issued:1", "skipped", "turned_off", 0), ("voucher_issued:2", "skipped", "no_phone", 0),
        ("voucher_voided:1", "sent", None, 1)]
    assert [o.phone for o in channel.delivered] == [PHONE]
    items, total = notices.member_notices(member.id)
    assert total == 2 and {i.status for i in items} == {"skipped", "sent"}


def test_a_failing_notice_is_retried_with_backoff_then_given_up_with_the_last_error(members):
    member, _ = members
    with unit_of_work():
        _voucher_notice(member.id, 1)
    channel = Flaky(fails=99)
    report = sender.send_due(channel, POLICY)
    [n] = _all()
    assert (report.retrying, n.status, n.attempts, n.last_error) == (1, "pending", 1, "gateway answered 503")
    assert n.next_attempt_at == NOON + timedelta(seconds=60)
    assert sender.send_due(channel, POLICY).retrying == 0               # not due yet
    clock.set_frozen(NOON + timedelta(seconds=60))
    sender.send_due(channel, POLICY)
    [n] = _all()
    assert n.attempts == 2 and n.next_attempt_at == NOON + timedelta(seconds=60 + 120)   # doubled
    clock.set_frozen(NOON + timedelta(seconds=180))
    report = sender.send_due(channel, POLICY)
    [n] = _all()
    assert (report.failed, n.status, n.attempts, n.last_error) == (1, "failed", 3, "gateway answered 503")
    clock.set_frozen(NOON + timedelta(days=1))
    assert sender.send_due(channel, POLICY).batches == 0 and channel.tries[n.id] == 3


def test_a_refusal_no_retry_mends_fails_at_once(members):
    member, _ = members
    with unit_of_work():
        _voucher_notice(member.id, 1)
    report = sender.send_due(Flaky(permanent=True), POLICY)
    [n] = _all()
    assert (report.failed, n.status, n.attempts, n.last_error) == (1, "failed", 1, "gateway answered 400")


def test_a_batch_whose_sender_died_is_sent_again_after_its_lease_with_the_same_key(members):
    member, _ = members
    with unit_of_work():
        _voucher_notice(member.id, 1)
    with unit_of_work():
        [taken] = sender.claim(5, lease_seconds=30, token="dead-sender")   # then the process died
    channel = Flaky()
    assert sender.send_due(channel, POLICY).sent == 0                      # leased: nobody takes it
    clock.set_frozen(NOON + timedelta(seconds=30 + sender.LEASE_MARGIN_SECONDS + 1))
    assert sender.send_due(channel, POLICY).sent == 1
    [n] = _all()
    assert (n.status, n.attempts) == ("sent", 2) and channel.delivered[0].dedupe_key == taken.dedupe_key
    # the dead sender's late write-back, had it come, changes nothing: the claim is no longer its
    with unit_of_work():
        sender.record("dead-sender", [sender.Outcome(taken, DeliveryFailed("x"))], POLICY, sender.SendReport())
    assert _all()[0].status == "sent"


def test_the_http_channel_ends_with_every_notice_delivered_as_the_gateway_saw_it(members):
    member, _ = members
    n_notices = 24

    def script(key: str, n: int):
        i = int(key.rsplit(":", 1)[1])
        if i % 4 == 1 and n == 1:
            return 500
        if i % 4 == 2 and n == 1:
            return ("sleep", 0.6)           # beyond the client's timeout: taken late, then repeated
        if i % 4 == 3 and n <= 3:
            return 500                      # both tries of the first attempt and the first of the next
        return None

    gateway = Gateway(SECRET, script)
    try:
        with unit_of_work():
            keys = [_voucher_notice(member.id, i) for i in range(n_notices)]
        channel = HttpChannel(gateway.url, SECRET, timeout=0.3, tries=2, backoff=0.01)
        for _ in range(4):
            sender.send_due(channel, POLICY)
            clock.set_frozen(clock.now() + timedelta(hours=1))
    finally:
        gateway.stop()
    rows = _all()
    assert all(n.status == "sent" for n in rows), [(n.dedupe_key, n.status, n.last_error) for n in rows]
    assert [n.attempts for n in rows] == [2 if i % 4 == 3 else 1 for i in range(n_notices)]
    assert all(s.signed for s in gateway.seen)
    assert set(gateway.accepted) == set(keys)
    for n in rows:
        assert gateway.accepted[n.dedupe_key] == {"notice_id": n.id, "kind": "voucher_issued", "phone": PHONE,
                                                  "dedupe_key": n.dedupe_key, "text": kinds.render(n.kind, n.params)}
    for key in keys:
        outcomes = [s.outcome for s in gateway.seen if s.key == key]
        # a key comes again only after a try the sender saw fail
        assert all(o in ("500", "timeout") for o in outcomes[:-1]), (key, outcomes)
        assert outcomes[-1] in ("accepted", "duplicate"), (key, outcomes)
        i = int(key.rsplit(":", 1)[1])
        assert outcomes == {0: ["accepted"], 1: ["500", "accepted"], 2: ["timeout", "duplicate"],
                            3: ["500", "500", "500", "accepted"]}[i % 4], (key, outcomes)


def test_send_refuses_the_log_channel_in_production_and_an_unconfigured_gateway(app, members):
    app.config.update(NOTICE_CHANNEL="log", NOTICE_LOG_CHANNEL_ALLOWED=False)
    refused = app.test_cli_runner().invoke(args=["notices", "send"])
    assert refused.exit_code == 1 and "NOTICE_CHANNEL=http" in refused.output
    app.config.update(NOTICE_CHANNEL="http", NOTICE_GATEWAY_URL="", NOTICE_GATEWAY_SECRET="")
    refused = app.test_cli_runner().invoke(args=["notices", "send"])
    assert refused.exit_code == 1 and "NOTICE_GATEWAY_URL" in refused.output


def test_flask_notices_send_reports_what_it_did(app, members):
    member, no_phone = members
    with unit_of_work():
        _voucher_notice(member.id, 1)
        _voucher_notice(no_phone.id, 2)
    result = app.test_cli_runner().invoke(args=["notices", "send"])
    assert result.exit_code == 0, result.output
    assert "已发送 1 条" in result.output and "1 条。" in result.output
    with unit_of_work():
        db.session.execute(update(Notice).values(status="pending", next_attempt_at=NOON))
    assert "已发送 1 条" in app.test_cli_runner().invoke(args=["notices", "send", "--limit", "1"]).output
