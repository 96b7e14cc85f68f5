"""The member's own pages: card with QR code and a masked profile."""
from flask import Blueprint, render_template
from flask_login import current_user

from ..auth.access import member_required
from ..vouchers.member_pages import wallet

bp = Blueprint("member", __name__, url_prefix="/me")


@bp.get("")
@member_required
def home():
    member = current_user.member
    return render_template("member/home.html", member=member, card=member.current_card,
                           past_cards=[c for c in member.cards if c.status in ("lost", "cancelled")],
                           wallet=wallet(member))
