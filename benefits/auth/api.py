"""Sign-in over JSON for apps and tills: the same session cookie, throttle and generic error as the page."""
from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf

from ..database import transactional, unit_of_work
from ..errors import NotAuthenticated
from ..extensions import Blueprint
from . import devices, service
from .views import fresh_session, start_session
from .schemas import ActivateSchema, CsrfTokenSchema, LoginSchema, SessionUserSchema

URL_PREFIX = "/auth"
blp = Blueprint("auth_api", __name__, description="Sign-in, sign-out and member activation")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema, error_status_code=400)
    @blp.response(200, SessionUserSchema)
    @blp.alt_response(429, description="too_many_requests: too many failures from this account or address; "
                                        "`Retry-After` (and `details.retry_after_seconds`) says when to try again")
    def post(self, data):
        """Sign in; sets the session cookie (and the known-device cookie, see docs/security.md).
        Unknown account and wrong password give one generic 401."""
        device = devices.read(request)
        with unit_of_work():
            user = service.authenticate(data["username"], data["password"], request.remote_addr or "", device)
        start_session(user, device)
        return user


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """Sign out everywhere: every session of this account stops working."""
        if not current_user.is_authenticated:
            raise NotAuthenticated(_("请先登录。"))
        with unit_of_work():
            service.rotate_sessions(current_user._get_current_object())
        logout_user()
        fresh_session()


@blp.route("/activate")
class Activate(MethodView):
    @blp.arguments(ActivateSchema, error_status_code=400)
    @blp.response(201, SessionUserSchema)
    @transactional
    def post(self, data):
        """Activate a member account once (ID number + card number or activation code) and sign in."""
        user = service.activate_member(address=request.remote_addr or "", **data)
        start_session(user, devices.read(request))
        return user


@blp.route("/csrf-token")
class CsrfToken(MethodView):
    @blp.response(200, CsrfTokenSchema)
    def get(self):
        """A token for the `X-CSRF-Token` header. A call that carries the session cookie must be
        JSON or send this header: a multipart upload needs it (see docs/security.md)."""
        return {"csrf_token": generate_csrf()}
