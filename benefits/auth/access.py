"""Who may do what: role checks for pages and API, and the admin's organisation scope."""
from __future__ import annotations

import functools

from flask import redirect, request, url_for
from flask_login import current_user

from ..errors import Forbidden, NotAuthenticated, is_api_request
from ..orgs.models import Organisation


def _require(role: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if is_api_request():
                    raise NotAuthenticated("Sign in first.")
                return redirect(url_for("auth.login", next=request.full_path))
            if current_user.role != role:
                raise Forbidden("You do not have access to this.")
            return view(*args, **kwargs)
        return wrapper
    return decorator


admin_required = _require("admin")
member_required = _require("member")
merchant_staff_required = _require("merchant_staff")


def current_scope() -> Organisation:
    """The admin's own union: everything they see and change is inside its subtree."""
    return current_user.org


def current_actor():
    return current_user._get_current_object()
