"""The redemption boundary shared by the API and the pages: Redis gate, then one SQL
transaction, then confirm or release the reservation. This module owns the commit."""
from __future__ import annotations

import uuid

from flask_login import current_user

from .. import counters
from ..auth.service import session_as_flask_login_takes_it, session_identity
from ..database import unit_of_work
from ..extensions import db
from ..errors import Forbidden, NotAuthenticated
from ..idempotency import run_once
from ..points import service as points
from . import express, gate, schemas, service


def session_user_id() -> int | None:
    """The signed session names the user; reading it costs no database round trip."""
    identity = session_identity()
    return identity[0] if identity else None


_QUICK_FIELDS = frozenset(("quantity", "pickup_point_id", "delivery_address", "delivery_phone"))


def plain_args(raw) -> dict | None:
    """The complete arguments, exactly as `schemas.RedeemArgs` would load them, for a plain body
    (`{}`, `quantity` and/or `pickup_point_id` with valid values); None for anything else."""
    if not isinstance(raw, dict) or not raw.keys() <= _PLAIN_FIELDS:
        return None
    args = quick_args(raw)
    if args is not None:
        args["delivery_address"] = args["delivery_phone"] = None
    return args


_PLAIN_FIELDS = frozenset(("quantity", "pickup_point_id"))


def quick_args(raw) -> dict | None:
    """What the Redis gate needs (quantity, pickup point) from a JSON body, checked by hand so a
    refused request never runs marshmallow; None when the body needs the full schema's verdict
    (the caller then validates first). The full load still runs before anything is written."""
    if not isinstance(raw, dict) or not raw.keys() <= _QUICK_FIELDS:
        return None
    quantity, point = raw.get("quantity", 1), raw.get("pickup_point_id")
    if type(quantity) is not int or not 1 <= quantity <= service.MAX_QUANTITY:
        return None
    if point is not None and type(point) is not int:
        return None
    return {"quantity": quantity, "pickup_point_id": point}


def redeem(prize_id: int, args: dict, idempotency_key: str | None, complete_args=None,
           express_ok: bool = False, refused=None):
    """Returns (body, status). Refusals raise the same DomainError whether Redis or SQL said no.

    The refusal path reads only the signed session's user id (no database, no user row): a
    session of a since-disabled account can still be told "sold out" — which the mall shows
    anyone anyway — but nothing is written before `load_user` has checked the account and its
    session token inside the transaction. `complete_args`, when given, returns the fully
    validated arguments; it runs only once the gate has let the request through.

    `express_ok` (the API, with complete plain arguments, nothing read from the database yet):
    on PostgreSQL the SQL step is first tried as one autocommit statement (express.py); when
    that changes nothing, the portable unit of work below runs and gives the answer.

    `refused(outcome)`, when given, answers a Redis refusal instead of raising it (the API
    returns the same error response without the exception round; see api.py)."""
    identity = session_identity()
    if identity is None:
        raise NotAuthenticated("Sign in first.")
    user_id = identity[0]
    reservation = gate.reserve(prize_id, user_id, args["quantity"], args.get("pickup_point_id"), idempotency_key)
    if reservation.refusal:
        if refused is not None:
            return refused(reservation.refusal)
        raise service.refusal_error(reservation.refusal)
    if (express_ok and reservation.outcome != "retry" and express.applies(args)
            and db.engine.dialect.name == "postgresql" and session_as_flask_login_takes_it()):
        try:
            body = express.try_redeem(user_id, identity[1], prize_id, args, idempotency_key)
        except BaseException:
            reservation.release()
            raise
        if body is not None:  # committed: the reservation stands for it
            if reservation.outcome == "miss":
                _warm_by_id(prize_id)
            return body, 201
    performed: list[int] = []
    try:
        if complete_args is not None:
            args = complete_args()
        with unit_of_work():
            # one round trip for the user, member, organisation, prize, its stock rows and pickup
            # points; load_user and the relationships below then find them in the identity map
            loaded = service.load_for_redemption(user_id, prize_id)  # noqa: F841 - held, see there
            if not current_user.is_authenticated or current_user.id != user_id:
                raise NotAuthenticated("Sign in first.")
            if current_user.role != "member":
                raise Forbidden("Only members redeem prizes.")
            member = current_user.member
            prize = service.prize_for_member(member, prize_id)

            def operation():
                answer: list[dict] = []

                def dump(r):  # before the stock update: the prize row's lock is not held meanwhile
                    answer.append(_REDEMPTION_OUT.dump(schemas.redemption_view(r, r.balance_after)))

                r = service.redeem(member, prize, quantity=args["quantity"],
                                   pickup_point_id=args.get("pickup_point_id"),
                                   delivery_address=args.get("delivery_address"),
                                   delivery_phone=args.get("delivery_phone"),
                                   request_key=f"u{user_id}:{idempotency_key or 'auto:' + uuid.uuid4().hex}",
                                   actor_user_id=user_id, before_stock=dump)
                performed.append(r.id)
                return answer[0], 201

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


_REDEMPTION_OUT = schemas.RedemptionOut()


def _warm(prize) -> None:
    """A cold key (new prize, flushed Redis): one request rebuilds it from SQL; others skip."""
    if _claim_warming(prize.id):
        gate.sync_one(prize, members=False)  # member counters re-grow from their reservations


def _warm_by_id(prize_id: int) -> None:
    if _claim_warming(prize_id):
        with unit_of_work():
            prize = db.session.get(service.Prize, prize_id)
            if prize is not None:
                gate.sync_one(prize, members=False)


def _claim_warming(prize_id: int) -> bool:
    r = counters.client()
    if r is None:
        return False
    try:
        return bool(r.set(counters.key(gate.tag(prize_id), "syncing"), "1", nx=True, ex=5))
    except Exception:  # noqa: BLE001 - Redis trouble never fails a committed redemption
        return False


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
