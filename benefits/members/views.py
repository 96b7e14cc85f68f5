"""The member's own pages: 首页 (card, points, pay code, shortcuts) and 我的 (everything of theirs)."""
from flask import Blueprint, render_template
from flask_login import current_user

from ..auth.access import member_required
from ..points import service as points
from ..vouchers.member_pages import wallet

bp = Blueprint("member", __name__, url_prefix="/me")


@bp.get("")
@member_required
def home():
    """首页: the card, the points balance, the pay code on a tap, shortcuts and the wallet."""
    member = current_user.member
    return render_template("member/home.html", member=member, card=member.current_card,
                           points_balance=points.balance(member.id), wallet=wallet(member))


@bp.get("/mine")
@member_required
def mine():
    """我的: everything of the member's own, the profile (masked), the language and signing out."""
    member = current_user.member
    return render_template("member/mine.html", member=member, card=member.current_card,
                           past_cards=[c for c in member.cards if c.status in ("lost", "cancelled")],
                           points_balance=points.balance(member.id))
