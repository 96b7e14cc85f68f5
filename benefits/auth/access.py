"""Who may do what: role checks for pages and API, and the admin's organisation scope.

Least privilege lives here, once: every page and API operation names the roles that may reach it
with one of the decorators below, and an account of any other role is refused (403; anonymous:
401 from the API, the sign-in page otherwise) before its input is even read. A role is a job,
not a rank: pickup staff hand out prizes and do nothing else, a cashier works the till (and the
prize counter) of their own merchant, an admin runs the console inside their union's subtree.
Which object a permitted account may touch (its subtree, its own card, its own merchant) is the
services' object-level check, answered 404 so that ids in other scopes are not revealed.
`tests/api/test_access_matrix.py` holds every url rule × role to this.
"""
from __future__ import annotations

import functools

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..errors import Forbidden, NotAuthenticated, is_api_request
from ..orgs.models import Organisation
from .service import signed_user_id


def roles_required(*roles: str, levels: tuple[str, ...] | None = None):
    """Only accounts of these roles reach the view (each then sees only its own objects); with
    `levels`, only those whose union is at one of these levels."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                if is_api_request():
                    raise NotAuthenticated(_("请先登录。"))
                return redirect(url_for("auth.login", next=request.full_path))
            if current_user.role not in roles:
                raise Forbidden(_("您没有权限访问此页面。"))
            if levels is not None and (current_user.org is None or current_user.org.level not in levels):
                raise Forbidden(_("您所在工会的级别无权进行此操作。"))
            return view(*args, **kwargs)
        return wrapper
    return decorator


def admin_required_at(*levels: str):
    """Admins of unions at these levels only (the question bank: province and city)."""
    return roles_required("admin", levels=levels)


admin_required = roles_required("admin")
member_required = roles_required("member")
merchant_staff_required = roles_required("merchant_staff")
# The prize counter: pickup staff at their union office's points, cashiers at their merchant's
# store points (prizes.service.staff_points). Admins are not on it: a pickup code is checked only
# where the prize is handed over, by whoever hands it over.
pickup_staff_required = roles_required("pickup_staff", "merchant_staff")


def current_scope() -> Organisation:
    """The admin's own union: everything they see and change is inside its subtree."""
    return current_user.org


def current_actor():
    return current_user._get_current_object()


def signed_session_required(view):
    """Nobody signed in: 401 before the body is read, judged from the signed session cookie alone
    (no database), as the Redis gates in front of a crowd (prize redemption, festival claims) read
    it; the service then loads and checks the user before it writes anything."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if signed_user_id() is None:
            raise NotAuthenticated(_("请先登录。"))
        return view(*args, **kwargs)
    return wrapper
