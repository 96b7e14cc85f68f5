"""The redemption boundary shared by the API and the pages: Redis gate, then one SQL
transaction, then confirm or release the reservation. This module owns the commit."""
from __future__ import annotations

import uuid

from flask import session
from flask_login import current_user

from .. import counters
from ..database import unit_of_work
from ..errors import Forbidden, NotAuthenticated
from ..idempotency import run_once
from ..points import service as points
from . import gate, schemas, service


def session_user_id() -> int | None:
    """The signed session names the user; reading it costs no database round trip."""
    raw = session.get("_user_id")
    try:
        return int(str(raw).split(":", 1)[0]) if raw else None
    except ValueError:
        return None


def redeem(prize_id: int, args: dict, idempotency_key: str | None) -> tuple[dict, int]:
    """Returns (body, status). Refusals raise the same DomainError whether Redis or SQL said no."""
    user_id = session_user_id()
    if user_id is None:
        raise NotAuthenticated("Sign in first.")
    reservation = gate.reserve(prize_id, user_id, args["quantity"], args.get("pickup_point_id"), idempotency_key)
    if reservation.refusal:
        raise service.refusal_error(reservation.refusal)
    performed: list[int] = []
    try:
        with unit_of_work():
            if not current_user.is_authenticated or current_user.id != user_id:
                raise NotAuthenticated("Sign in first.")
            if current_user.role != "member":
                raise Forbidden("Only members redeem prizes.")
            member = current_user.member
            prize = service.prize_for_member(member, prize_id)

            def operation():
                r = service.redeem(member, prize, quantity=args["quantity"],
                                   pickup_point_id=args.get("pickup_point_id"),
                                   delivery_address=args.get("delivery_address"),
                                   delivery_phone=args.get("delivery_phone"),
                                   request_key=f"u{user_id}:{idempotency_key or 'auto:' + uuid.uuid4().hex}",
                                   actor_user_id=user_id)
                performed.append(r.id)
                body = schemas.RedemptionOut().dump(schemas.redemption_view(r, r.balance_after))
                return body, 201

            body, status = run_once(f"prizes.redeem:{user_id}", idempotency_key, {"prize_id": prize_id, **args},
                                    operation)
    except BaseException:
        reservation.release()
        raise
    if not performed:  # a replayed answer: the first request's reservation stands for it
        reservation.release()
    if reservation.outcome == "miss":
        _warm(prize)
    return body, status


def _warm(prize) -> None:
    """A cold key (new prize, flushed Redis): one request rebuilds it from SQL; others skip."""
    r = counters.client()
    if r is None:
        return
    try:
        if not r.set(counters.key(gate.tag(prize.id), "syncing"), "1", nx=True, ex=5):
            return
    except Exception:  # noqa: BLE001 - Redis trouble never fails a committed redemption
        return
    gate.sync_one(prize, members=False)  # member counters re-grow from their reservations


def cancel(redemption_id: int) -> tuple[dict, int]:
    with unit_of_work():
        member = current_user.member
        r = service.cancel(member, redemption_id, current_user.id)
        body = schemas.RedemptionOut().dump(schemas.redemption_view(r, points.balance(member.id)))
        prize, user_id, quantity, point_id, day = r.prize, current_user.id, r.quantity, r.pickup_point_id, r.business_day
    gate.give_back(prize, user_id, quantity, point_id, day)
    return body, 200


def close_by_admin(action, redemption_id: int):
    """Reject (a refund) or approve / deliver; Redis gets stock back after a reject commits."""
    from ..auth.access import current_actor, current_scope
    with unit_of_work():
        r = action(current_actor(), current_scope(), redemption_id)
        body = schemas.AdminRedemptionOut().dump(schemas.redemption_view(r))
        refund = r.status == "cancelled"
        prize, member_id, quantity, point_id, day = r.prize, r.member_id, r.quantity, r.pickup_point_id, r.business_day
    if refund:
        with unit_of_work():
            user_id = service.user_id_of(member_id)
        gate.give_back(prize, user_id, quantity, point_id, day)
    return body


def expire_due(batch: int = 500) -> int:
    """Expire every unclaimed redemption past its deadline, one transaction each."""
    done = 0
    with unit_of_work():
        ids = service.due_for_expiry(batch)
    for redemption_id in ids:
        with unit_of_work():
            r = service.expire(redemption_id)
            if r is None:
                continue
            prize, quantity, point_id, day = r.prize, r.quantity, r.pickup_point_id, r.business_day
            user_id = service.user_id_of(r.member_id)
        gate.give_back(prize, user_id, quantity, point_id, day)
        done += 1
    return done
