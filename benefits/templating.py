"""Jinja filters and globals shared by every page."""
from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import request
from flask_babel import get_locale
from markupsafe import Markup

from . import clock
from .money import format_yuan
from .pii import mask_id_number, mask_phone


def qr_svg(data: str, box_size: int = 8) -> Markup:
    """An inline SVG QR code (no network, no JavaScript)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return Markup(svg[svg.index("<svg"):])


def china_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return clock.as_utc(value).astimezone(clock.CHINA).strftime(fmt)


# The member's bottom tab bar (首页 · 优惠 · 答题 · 商城 · 我的): which tab a member page belongs to,
# by blueprint, or by endpoint where a blueprint's pages fall under several tabs.
MEMBER_TABS = ("home", "offers", "quiz", "mall", "mine")
_TAB_OF_ENDPOINT = {"member.home": "home", "transactions.pay": "home",
                    "transactions.nearby_merchants": "offers", "transactions.my_transactions": "mine"}
_TAB_OF_BLUEPRINT = {"vouchers": "offers", "quiz": "quiz", "prizes": "mall", "festival": "mall",
                     "member": "mine", "points": "mine", "notices": "mine", "medical": "mine"}


def member_tab(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    return _TAB_OF_ENDPOINT.get(endpoint) or _TAB_OF_BLUEPRINT.get(endpoint.partition(".")[0])


def init_app(app) -> None:
    app.jinja_env.filters.update(yuan=format_yuan, mask_id=mask_id_number, mask_phone=mask_phone,
                                 china_time=china_time)
    app.jinja_env.globals.update(qr_svg=qr_svg, member_tab=member_tab)

    @app.context_processor
    def inject_locale():
        return {"current_locale": str(get_locale()), "request_path": request.path}
