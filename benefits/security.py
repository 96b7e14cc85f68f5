"""Browser-facing defences that hold for every request: cross-site calls to the JSON API and the
security headers on every response (docs/security.md says what each one defends against).

Forms are covered by Flask-WTF's tokens. The JSON API is exempt from those, because tills call it
with a terminal key and scripts with a JSON body; but SameSite=Lax keeps the session cookie off
a cross-site form post only in current browsers and never off one from a sibling subdomain (the
same site), and an endpoint that reads no body would accept that form. So an unsafe API call that carries the session cookie must be one a form cannot
make: a JSON body or a CSRF token header (either needs a script on our own origin, since we
grant no CORS), and it must come from our own origin by the browser's account (Sec-Fetch-Site,
else Origin). Calls without the cookie (tills with a terminal key, scripts) are not affected:
a cross-site page cannot make them carry a credential.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError as TokenError

from .errors import Forbidden

UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
TOKEN_HEADERS = ("X-CSRF-Token", "X-CSRFToken")
# What Sec-Fetch-Site may say about an unsafe call: our own page, or the user themself (typed).
ALLOWED_FETCH_SITES = frozenset(("same-origin", "none"))

# Every script and style is a file under static/: no inline script, style attribute or handler
# may come back (the browser tests fail on any CSP violation). QR codes are inline SVG.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.before_request(refuse_cross_site_api_calls)
    app.after_request(add_security_headers)


def _carries_session_cookie() -> bool:
    names = (current_app.config["SESSION_COOKIE_NAME"], current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return any(name in request.cookies for name in names)


def _has_valid_token() -> bool:
    token = next((request.headers[name] for name in TOKEN_HEADERS if request.headers.get(name)), None)
    if token is None:
        return False
    try:
        validate_csrf(token)
    except (TokenError, CSRFError):
        return False
    return True


def _same_origin() -> bool:
    """The browser's word that the call comes from one of our own pages. Sec-Fetch-Site is the
    precise answer (every current browser sends it); else Origin must name this host (its
    scheme may differ behind a proxy that ends TLS); a client that sends neither is no browser."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ALLOWED_FETCH_SITES
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.host


def refuse_cross_site_api_calls() -> None:
    if request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
        return
    if not _carries_session_cookie():
        return
    if not _same_origin():
        raise Forbidden(_("跨站请求被拒绝。"), code="cross_site_request")
    if not (request.mimetype == "application/json" or _has_valid_token()):
        raise Forbidden(_("请以 JSON 发送此请求（Content-Type: application/json）或带上 X-CSRF-Token 请求头。"),
                        code="cross_site_request")


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages, API answers and exports hold people's data: no browser or proxy keeps a copy.
    # Static files, and what a view itself marked public (prize pictures), stay cacheable.
    if request.endpoint != "static" and not response.cache_control.public:
        response.headers["Cache-Control"] = "no-store"
    return response
