"""Sign-in over JSON for apps and tills: the same session cookie, throttle and generic error as the page."""
from flask import request
from flask.views import MethodView
from flask_login import current_user, login_user, logout_user
from flask_smorest import Blueprint

from ..database import transactional, unit_of_work
from ..errors import NotAuthenticated
from . import service
from .views import fresh_session
from .schemas import ActivateSchema, LoginSchema, SessionUserSchema

URL_PREFIX = "/auth"
blp = Blueprint("auth_api", __name__, description="Sign-in, sign-out and member activation")


def _start_session(user) -> None:
    fresh_session()  # a fresh session on every sign-in
    login_user(user)


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema, error_status_code=400)
    @blp.response(200, SessionUserSchema)
    def post(self, data):
        """Sign in; sets the session cookie. Unknown account and wrong password give one generic 401."""
        with unit_of_work():
            user = service.authenticate(data["username"], data["password"], request.remote_addr or "")
        _start_session(user)
        return user


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """Sign out everywhere: every session of this account stops working."""
        if not current_user.is_authenticated:
            raise NotAuthenticated("Sign in first.")
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
        _start_session(user)
        return user
