"""The benefits platform application factory."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

# Each domain folder may provide `api.py` (exposing `blp`, a flask-smorest Blueprint),
# `views.py` (exposing `bp`, a Flask Blueprint) and `cli.py` (exposing `register(app)`).
DOMAINS = ("orgs", "members", "auth", "audit", "points", "quiz", "merchants", "promotions",
           "transactions", "prizes", "admin", "cli")


def create_app(config: type | None = None, overrides: dict | None = None) -> Flask:
    from config import config_from_env

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    app.config.from_object(config or config_from_env())
    if overrides:
        app.config.update(overrides)
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
    from . import counters, i18n
    from .auth.service import load_user
    from .errors import NotAuthenticated, is_api_request
    from .extensions import api, babel, csrf, db, login_manager, migrate

    Path(app.instance_path).mkdir(exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        options.setdefault("connect_args", {"timeout": 15})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    register_models()
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
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
        from flask import redirect, request, url_for
        if is_api_request():
            raise NotAuthenticated("Sign in first.")
        return redirect(url_for("auth.login", next=request.full_path))


def _domain_module(domain: str, name: str):
    try:
        return importlib.import_module(f"benefits.{domain}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"benefits.{domain}", f"benefits.{domain}.{name}"):
            return None
        raise


def register_models() -> None:
    """Import every domain's models so the metadata (and Alembic) sees all tables."""
    from . import idempotency  # noqa: F401
    for domain in DOMAINS:
        _domain_module(domain, "models")


def register_blueprints(app: Flask) -> None:
    from .extensions import api, csrf

    for domain in DOMAINS:
        api_module = _domain_module(domain, "api")
        if api_module is not None:
            # JSON API authenticates by session or terminal key; CSRF is covered by requiring a
            # JSON body (browsers cannot send one cross-site without CORS) and SameSite cookies.
            csrf.exempt(api_module.blp)
            api.register_blueprint(api_module.blp, url_prefix=f"/api/v1{api_module.URL_PREFIX}")
        views_module = _domain_module(domain, "views")
        if views_module is not None:
            app.register_blueprint(views_module.bp)
    if app.config.get("BENCHMARK_ENDPOINTS"):
        from .benchmark import bp as bench_bp
        csrf.exempt(bench_bp)
        app.register_blueprint(bench_bp)


def register_errors(app: Flask) -> None:
    from .errors import register_error_handlers
    register_error_handlers(app)


def register_template_helpers(app: Flask) -> None:
    from . import templating
    templating.init_app(app)


def register_cli(app: Flask) -> None:
    for domain in DOMAINS:
        cli_module = _domain_module(domain, "cli")
        if cli_module is not None:
            cli_module.register(app)
