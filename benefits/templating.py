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


def init_app(app) -> None:
    app.jinja_env.filters.update(yuan=format_yuan, mask_id=mask_id_number, mask_phone=mask_phone,
                                 china_time=china_time)
    app.jinja_env.globals.update(qr_svg=qr_svg)

    @app.context_processor
    def inject_locale():
        return {"current_locale": str(get_locale()), "request_path": request.path}
