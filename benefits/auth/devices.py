"""The known-device cookie: how an account's owner still signs in while a stranger is delayed.

A successful sign-in leaves a long-lived cookie, signed with SECRET_KEY and HttpOnly, that names a
random id for this browser and the (hashed) accounts that signed in from it. On the next sign-in
to one of those accounts the throttle judges this browser by its own failures, not by the
account's, so someone guessing a member's password from elsewhere cannot keep the member out.
The cookie proves only "this account signed in here before": the password is still required.
"""
from __future__ import annotations

import secrets

from flask import Request, Response, current_app
from itsdangerous import BadData, URLSafeSerializer

from .throttle import KnownDevice, account_digest

MAX_ACCOUNTS = 5  # a family computer; the oldest account is forgotten first
MAX_AGE = 180 * 24 * 3600
_SALT = "benefits.known-device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SALT)


def cookie_name() -> str:
    # __Host-: over HTTPS only, for this host alone (as the session cookie in production).
    return "__Host-known_device" if current_app.config["SESSION_COOKIE_SECURE"] else "known_device"


def read(request: Request) -> KnownDevice | None:
    """The device the request's cookie vouches for, or None (absent, forged or malformed)."""
    value = request.cookies.get(cookie_name())
    if not value or len(value) > 1024:
        return None
    try:
        data = _serializer().loads(value)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    device_id, accounts = data.get("d"), data.get("a")
    if not isinstance(device_id, str) or not isinstance(accounts, list) \
            or not all(isinstance(a, str) for a in accounts):
        return None
    return KnownDevice(device_id, tuple(accounts[-MAX_ACCOUNTS:]))


def remember(response: Response, device: KnownDevice | None, account: str) -> Response:
    """Add `account` to this browser's known-device cookie (a new device id if it had none)."""
    digest = account_digest(account)
    accounts = [a for a in (device.accounts if device else ()) if a != digest] + [digest]
    value = _serializer().dumps({"d": device.id if device else secrets.token_urlsafe(16),
                                 "a": accounts[-MAX_ACCOUNTS:]})
    response.set_cookie(cookie_name(), value, max_age=MAX_AGE, path="/", httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
