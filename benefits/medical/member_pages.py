"""The member's page: my consolation payments (我的慰问金), on the phone."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..auth.access import member_required
from . import service
from .blueprint import bp


@bp.get("/me/medical")
@member_required
def mine():
    return render_template("medical/mine.html", items=service.member_payouts(current_user.member))
