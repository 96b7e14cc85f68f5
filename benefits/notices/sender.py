"""The sender: `flask notices send` takes due notices in small batches and delivers them.

Safe as several processes at once. A batch is claimed with one statement: the due pending
notices are selected `FOR UPDATE SKIP LOCKED` (another sender's batch is skipped, not waited
for), and each is leased to this run (`claim`, and `next_attempt_at` moved past the time the
batch can take) and its try counted; the claim commits before anything is delivered, so no
database lock is held while the gateway answers. Results are written back for the batch,
only where the claim is still this run's.

At least once: a sender that dies after delivering but before writing back leaves its batch
pending; when the lease runs out another sender delivers it again with the same dedupe key,
which the gateway uses to drop the repeat. The same happens if a batch outlives its lease (the
lease is sized from the channel's longest delivery, so only when the machine stalls). Nothing
else sends a notice twice.

Not sent, marked `skipped`: a member without a phone, or an optional kind the member turned off.
A failed try is retried with exponential backoff (NOTICE_RETRY_SECONDS doubling, up to
NOTICE_RETRY_MAX_SECONDS); after NOTICE_MAX_ATTEMPTS tries, or a refusal no retry can mend, the
notice is `failed` with the last error.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, case, func, or_, select, update

from .. import clock
from ..database import unit_of_work
from ..extensions import db
from ..members.models import Member
from . import kinds
from .channels import DeliveryFailed, Outgoing
from .models import Notice, NoticeOptOut

LEASE_MARGIN_SECONDS = 60


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    sent_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    batch: int = 20
    max_attempts: int = 6
    retry_seconds: float = 60
    retry_max_seconds: float = 3600

    @classmethod
    def from_config(cls, config) -> "Policy":
        return cls(batch=config["NOTICE_SEND_BATCH"], max_attempts=config["NOTICE_MAX_ATTEMPTS"],
                   retry_seconds=config["NOTICE_RETRY_SECONDS"], retry_max_seconds=config["NOTICE_RETRY_MAX_SECONDS"])

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try: doubling from retry_seconds, capped."""
        return timedelta(seconds=min(self.retry_max_seconds, self.retry_seconds * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    params: dict
    dedupe_key: str
    attempts: int
    phone: str | None
    skipped: bool


_n = Notice.__table__.c


def claim(batch: int, lease_seconds: float, token: str) -> list[Claimed]:
    """Lease up to `batch` due notices to `token` (one statement, flushed in the caller's
    transaction, which must commit before delivering). Notices not to be sent are marked skipped
    in the same statement."""
    at = clock.now()
    m, o = Member.__table__.c, NoticeOptOut.__table__
    turned_off = o.c.kind.is_not(None)
    due = (select(_n.id, m.phone.label("phone"), turned_off.label("turned_off"))
           .select_from(Notice.__table__.join(Member.__table__, m.id == _n.member_id)
                        .outerjoin(o, and_(o.c.member_id == _n.member_id, o.c.kind == _n.kind,
                                           _n.kind.in_(kinds.OPTIONAL))))
           .where(_n.status == "pending", _n.next_attempt_at <= at)
           .order_by(_n.next_attempt_at, _n.id).limit(batch)
           .with_for_update(skip_locked=True, of=Notice.__table__)).cte("due")
    no_phone = func.coalesce(due.c.phone, "") == ""
    skip = or_(no_phone, due.c.turned_off)
    stmt = (update(Notice.__table__).where(_n.id == due.c.id)
            .values(status=case((skip, "skipped"), else_=_n.status),
                    last_error=case((no_phone, "no_phone"), (due.c.turned_off, "turned_off"), else_=_n.last_error),
                    attempts=case((skip, _n.attempts), else_=_n.attempts + 1),
                    next_attempt_at=case((skip, _n.next_attempt_at),
                                         else_=at + timedelta(seconds=lease_seconds + LEASE_MARGIN_SECONDS)),
                    claim=token)
            .returning(_n.id, _n.kind, _n.params, _n.dedupe_key, _n.attempts, due.c.phone, _n.status))
    rows = db.session.execute(stmt).all()
    return sorted((Claimed(r.id, r.kind, r.params, r.dedupe_key, r.attempts, r.phone, r.status == "skipped")
                   for r in rows), key=lambda c: c.id)


@dataclass(frozen=True)
class Outcome:
    notice: Claimed
    error: DeliveryFailed | None


def deliver(channel, claimed: list[Claimed]) -> list[Outcome]:
    """Each notice of the batch through the channel, outside any transaction."""
    outcomes = []
    for c in claimed:
        if c.skipped:
            continue
        try:
            text = kinds.render(c.kind, c.params)
        except (KeyError, ValueError, IndexError) as exc:    # a kind or template gone since it was written
            outcomes.append(Outcome(c, DeliveryFailed(f"cannot render ({type(exc).__name__})", permanent=True)))
            continue
        try:
            channel.send(Outgoing(c.id, c.kind, c.phone, text, c.dedupe_key))
        except DeliveryFailed as exc:
            outcomes.append(Outcome(c, exc))
        else:
            outcomes.append(Outcome(c, None))
    return outcomes


def record(token: str, outcomes: list[Outcome], policy: Policy, report: SendReport) -> None:
    """Write the batch's results where the claim is still `token` (flushed in the caller's
    transaction)."""
    at = clock.now()
    sent = [o.notice.id for o in outcomes if o.error is None]
    if sent:
        done = db.session.execute(update(Notice.__table__).where(
            _n.id.in_(sent), _n.claim == token, _n.status == "pending")
            .values(status="sent", sent_at=at, last_error=None).returning(_n.id)).scalars().all()
        report.sent += len(done)
        report.sent_ids.extend(done)
    for o in outcomes:
        if o.error is None:
            continue
        give_up = o.error.permanent or o.notice.attempts >= policy.max_attempts
        values = {"last_error": o.error.reason}
        if give_up:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = at + policy.backoff(o.notice.attempts)
        hit = db.session.execute(update(Notice.__table__).where(
            _n.id == o.notice.id, _n.claim == token, _n.status == "pending").values(**values)).rowcount
        if hit:
            if give_up:
                report.failed += 1
            else:
                report.retrying += 1


def send_due(channel, policy: Policy, *, limit: int | None = None) -> SendReport:
    """Deliver due notices batch by batch until none is due (or `limit` were taken): each
    batch's claim and its results are units of work of their own."""
    report = SendReport()
    lease = policy.batch * channel.longest_seconds
    taken = 0
    while limit is None or taken < limit:
        token = uuid.uuid4().hex
        size = policy.batch if limit is None else min(policy.batch, limit - taken)
        with unit_of_work():
            claimed = claim(size, lease, token)
        if not claimed:
            break
        taken += len(claimed)
        report.batches += 1
        report.skipped += sum(c.skipped for c in claimed)
        outcomes = deliver(channel, claimed)
        with unit_of_work():
            record(token, outcomes, policy, report)
    return report
