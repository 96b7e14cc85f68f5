"""The member's side of card payments: the dynamic pay QR, their transactions and savings, and
the partner merchants of their union with today's offers."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from .. import clock
from ..auth.access import member_required
from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import db
from ..merchants import service as merchants
from ..templating import qr_svg
from . import service

bp = Blueprint("transactions", __name__, url_prefix="/me")


def _new_code() -> dict:
    with unit_of_work():
        token, expires_at = service.issue_pay_token(current_user.member)
    return {"token": token, "expires_at": expires_at.isoformat(), "svg": str(qr_svg(token)),
            "refresh_seconds": service.PAY_TOKEN_REFRESH_SECONDS}


@bp.get("/pay")
@member_required
def pay():
    try:
        code, error = _new_code(), None
    except DomainError as exc:
        code, error = None, exc.message
    return render_template("transactions/pay.html", code=code, error=error), 200 if code else 409


@bp.post("/pay/code")
@member_required
def pay_code():
    """A fresh one-time pay code (the page calls this every 30 seconds)."""
    response = jsonify(_new_code())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/transactions")
@member_required
def my_transactions():
    member = current_user.member
    return render_template("transactions/mine.html", items=service.member_transactions(member),
                           savings=service.member_savings(member))


@bp.get("/merchants")
@member_required
def nearby_merchants():
    from ..promotions import service as promotions
    member = current_user.member
    rows = db.session.scalars(merchants.programme_merchants(member.org)).all()
    at = clock.now()
    listing = [(m, promotions.offers_for(merchant=m, at=at)) for m in rows]
    listing.sort(key=lambda pair: (not pair[1], pair[0].category, pair[0].id))
    return render_template("transactions/nearby.html", listing=listing)
