"""Sign-in, sign-out, member activation and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, after_this_request, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..database import unit_of_work
from ..errors import DomainError
from ..extensions import api
from . import devices, service
from .forms import ActivateForm, LoginForm

bp = Blueprint("auth", __name__)


def home_for(user) -> str:
    if user.role == "admin":
        return url_for("admin.dashboard")
    if user.role == "merchant_staff":
        return url_for("transactions.terminal") if "transactions.terminal" in _endpoints() else url_for("auth.index")
    if user.role == "pickup_staff":
        return url_for("prizes.pickup")  # the only page they have (auth/access.py)
    return url_for("member.home")


def _endpoints() -> set[str]:
    return {rule.endpoint for rule in current_app.url_map.iter_rules()}


def fresh_session() -> None:
    """Drop everything in the session except the chosen language (renewed on sign-in and sign-out)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def start_session(user, device) -> None:
    """Sign in with a fresh session, and let this browser be known to the account next time."""
    fresh_session()
    login_user(user)
    after_this_request(lambda response: devices.remember(response, device, user.username))


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return render_template("auth/index.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        device = devices.read(request)
        try:
            with unit_of_work():
                user = service.authenticate(form.username.data, form.password.data, request.remote_addr or "",
                                            device)
            start_session(user, device)
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("auth/login.html", form=form), exc.status, exc.headers()
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    with unit_of_work():
        service.rotate_sessions(current_user._get_current_object())
    logout_user()
    fresh_session()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
def activate():
    form = ActivateForm()
    if form.validate_on_submit():
        if not form.card_number.data and not form.activation_code.data:
            flash(_("请填写会员卡号或激活码。"), "error")
            return render_template("auth/activate.html", form=form), 400
        try:
            with unit_of_work():
                user = service.activate_member(
                    id_number=form.id_number.data, password=form.password.data,
                    address=request.remote_addr or "", card_number=form.card_number.data or None,
                    activation_code=form.activation_code.data or None)
            start_session(user, devices.read(request))
            flash(_("账号已激活。"), "info")
            return redirect(url_for("member.home"))
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("auth/activate.html", form=form), exc.status, exc.headers()
    return render_template("auth/activate.html", form=form)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("auth.index"))


def _schema_name(schema: dict | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return _schema_name(schema.get("items")) + "[]"
    return schema.get("type", "")


def _operations(spec: dict) -> list[dict]:
    ops = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ops.append({
                "path": path, "method": method.upper(), "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tag": (op.get("tags") or [""])[0],
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _schema_name(p.get("schema")),
                                "description": p.get("description", "")} for p in shared + op.get("parameters", [])],
                "request": _schema_name(body.get("schema")),
                "responses": [(code, _schema_name(r.get("content", {}).get("application/json", {}).get("schema")))
                              for code, r in op.get("responses", {}).items() if code != "default"],
            })
    return ops


@bp.get("/api/v1/docs")
def api_docs():
    """The API reference, rendered here from the OpenAPI document (works offline, no CDN)."""
    spec = api.spec.to_dict()
    return render_template("auth/api_docs.html", spec=spec, operations=_operations(spec),
                           schemas=spec.get("components", {}).get("schemas", {}))
