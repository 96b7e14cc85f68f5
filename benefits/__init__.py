"""The benefits platform application factory."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask, redirect, request, url_for
from flask_babel import gettext as _

from config import config_from_env

from . import counters, i18n, idempotency, inputs, proxies, security, templating  # noqa: F401
from .auth.service import load_user
from .database import end_request
from .benchmark import bp as bench_bp
from .errors import NotAuthenticated, is_api_request, register_error_handlers
from .extensions import api, babel, csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent

# Each domain folder may provide `api.py` (exposing `blp`, a flask-smorest Blueprint),
# `views.py` (exposing `bp`, a Flask Blueprint) and `cli.py` (exposing `register(app)`).
DOMAINS = ("orgs", "members", "auth", "audit", "points", "quiz", "merchants", "promotions",
           "vouchers", "transactions", "prizes", "notices", "medical", "festival", "admin", "cli")


def create_app(config: type | None = None, overrides: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    config = config or config_from_env()
    app.config.from_object(config)
    if overrides:
        app.config.update(overrides)
    config.init_app(app)  # development/testing: embedded servers for unset URLs; production: checks
    app.json.ensure_ascii = False  # readable Chinese in API responses
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_template_helpers(app)
    register_cli(app)
    return app


def register_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    Path(app.instance_path).mkdir(exist_ok=True)
    proxies.init_app(app)
    db.init_app(app)
    app.teardown_request(end_request)
    register_models()
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    inputs.init_app(app)  # ids that fit their column, no NUL, no deep JSON: before anything reads the request
    csrf.init_app(app)
    security.init_app(app)
    i18n.init_app(app, babel)
    counters.init_app(app)
    api.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)

    @login_manager.unauthorized_handler
    def unauthorized():
        if is_api_request():
            raise NotAuthenticated(_("请先登录。"))
        return redirect(url_for("auth.login", next=request.full_path))


def _domain_module(domain: str, name: str):
    try:
        return importlib.import_module(f"benefits.{domain}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"benefits.{domain}", f"benefits.{domain}.{name}"):
            return None
        raise


def register_models() -> None:
    """Import every domain's models so the metadata (and Alembic) sees all tables (the
    idempotency records' model is imported above)."""
    for domain in DOMAINS:
        _domain_module(domain, "models")


def register_blueprints(app: Flask) -> None:
    for domain in DOMAINS:
        api_module = _domain_module(domain, "api")
        if api_module is not None:
            # JSON API authenticates by session or terminal key, so no form tokens here: a call
            # that carries the session cookie must send JSON (or an X-CSRF-Token header) from our
            # own origin instead (security.py).
            csrf.exempt(api_module.blp)
            api.register_blueprint(api_module.blp, url_prefix=f"/api/v1{api_module.URL_PREFIX}")
        views_module = _domain_module(domain, "views")
        if views_module is not None:
            app.register_blueprint(views_module.bp)
    if app.config.get("BENCHMARK_ENDPOINTS"):
        csrf.exempt(bench_bp)
        app.register_blueprint(bench_bp)


def register_errors(app: Flask) -> None:
    register_error_handlers(app)


def register_template_helpers(app: Flask) -> None:
    templating.init_app(app)


def register_cli(app: Flask) -> None:
    for domain in DOMAINS:
        cli_module = _domain_module(domain, "cli")
        if cli_module is not None:
            cli_module.register(app)
