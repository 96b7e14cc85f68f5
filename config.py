"""Configuration classes; every setting can come from the environment (see README)."""
from __future__ import annotations

import logging
import os

# The value of SQLALCHEMY_DATABASE_URI / REDIS_URL when DATABASE_URL / REDIS_URL is unset:
# development and testing then start embedded servers (devservers.py) when the app is created,
# never when this module is imported; production refuses to start.
EMBEDDED = "embedded"


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and always use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redis_url_from_env() -> str | None:
    """REDIS_URL=off runs without Redis: None, as the app (and most tests) spell it; the SQL
    path alone is always exact."""
    url = os.environ.get("REDIS_URL") or EMBEDDED
    return None if url == "off" else url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key")
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or EMBEDDED)
    # A pre-ping costs one extra round trip on every request; recycling connections before the
    # server's idle timeout covers the same failure. DB_POOL_PRE_PING=1 turns it back on.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": os.environ.get("DB_POOL_PRE_PING") == "1",
        "pool_recycle": int(os.environ.get("DB_POOL_RECYCLE_SECONDS", "1800")),
        # A statement's parameters (ID numbers, phones) stay out of error messages and logs.
        "hide_parameters": True,
    }
    REDIS_URL = redis_url_from_env()
    # werkzeug's method string; the stored hash names its own, so changing this re-hashes nothing
    # and every old password still verifies.
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 8 * 3600

    # Requests bigger than this are refused with 413 before any parsing.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "8")) * 1024 * 1024
    # An XLSX is a zip: refuse archives that inflate beyond this.
    XLSX_MAX_UNCOMPRESSED = int(os.environ.get("XLSX_MAX_UNCOMPRESSED_MB", "64")) * 1024 * 1024
    # Uploads through the admin page; the CLI import has no row cap.
    WEB_IMPORT_MAX_ROWS = int(os.environ.get("WEB_IMPORT_MAX_ROWS", "5000"))

    # Sign-in throttling counts failures only (benefits/auth/throttle.py, docs/security.md): an
    # address may fail LOGIN_MAX_PER_ADDRESS times per window; an account LOGIN_MAX_PER_ACCOUNT
    # times, then each failure doubles its wait from LOGIN_DELAY_SECONDS up to the cap; its
    # failures are forgotten LOGIN_ACCOUNT_MEMORY_SECONDS after the last one.
    LOGIN_MAX_PER_ACCOUNT = int(os.environ.get("LOGIN_MAX_PER_ACCOUNT", "5"))
    LOGIN_MAX_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_PER_ADDRESS", "30"))
    LOGIN_WINDOW_SECONDS = int(os.environ.get("LOGIN_WINDOW_SECONDS", "900"))
    LOGIN_DELAY_SECONDS = int(os.environ.get("LOGIN_DELAY_SECONDS", "60"))
    LOGIN_DELAY_MAX_SECONDS = int(os.environ.get("LOGIN_DELAY_MAX_SECONDS", "1800"))
    LOGIN_ACCOUNT_MEMORY_SECONDS = int(os.environ.get("LOGIN_ACCOUNT_MEMORY_SECONDS", "86400"))
    # How many proxies in front of the app set X-Forwarded-For/-Proto (nginx: 1). 0 ignores
    # those headers, which any client can send; the client address is then the peer's.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh", "en")

    API_TITLE = "Benefits platform API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    WTF_CSRF_TIME_LIMIT = None
    BENCHMARK_ENDPOINTS = os.environ.get("BENEFITS_BENCHMARK_ENDPOINTS") == "1"

    # Notices to members (docs/notices.md): `flask notices send` delivers through NOTICE_CHANNEL,
    # `log` (prints, phone masked; refused in production) or `http` (POST to the SMS gateway,
    # signed with HMAC-SHA256 over the body with the secret).
    NOTICE_CHANNEL = os.environ.get("NOTICE_CHANNEL", "log")
    NOTICE_LOG_CHANNEL_ALLOWED = True
    NOTICE_GATEWAY_URL = os.environ.get("NOTICE_GATEWAY_URL", "")
    NOTICE_GATEWAY_SECRET = os.environ.get("NOTICE_GATEWAY_SECRET", "")
    NOTICE_HTTP_TIMEOUT_SECONDS = float(os.environ.get("NOTICE_HTTP_TIMEOUT_SECONDS", "5"))
    NOTICE_HTTP_TRIES = int(os.environ.get("NOTICE_HTTP_TRIES", "3"))
    NOTICE_HTTP_BACKOFF_SECONDS = float(os.environ.get("NOTICE_HTTP_BACKOFF_SECONDS", "0.5"))
    NOTICE_SEND_BATCH = int(os.environ.get("NOTICE_SEND_BATCH", "20"))
    NOTICE_MAX_ATTEMPTS = int(os.environ.get("NOTICE_MAX_ATTEMPTS", "6"))
    NOTICE_RETRY_SECONDS = float(os.environ.get("NOTICE_RETRY_SECONDS", "60"))
    NOTICE_RETRY_MAX_SECONDS = float(os.environ.get("NOTICE_RETRY_MAX_SECONDS", "3600"))

    @staticmethod
    def init_app(app) -> None:
        """Replace each EMBEDDED setting by the URL of a server kept under the instance folder,
        starting it if needed (the database `benefits`; see devservers.py)."""
        if EMBEDDED not in (app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"]):
            return
        # Imported only here: devservers needs the `dev` extra, which production does not install.
        import devservers
        if app.config["SQLALCHEMY_DATABASE_URI"] == EMBEDDED:
            app.config["SQLALCHEMY_DATABASE_URI"] = devservers.database_url(app.instance_path)
        if app.config["REDIS_URL"] == EMBEDDED:
            app.config["REDIS_URL"] = devservers.redis_url(app.instance_path)


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    SECRET_KEY = "testing-secret"
    LOGIN_MAX_PER_ACCOUNT = 5
    LOGIN_MAX_PER_ADDRESS = 30
    # The tests make thousands of accounts: scrypt at 1/32 of werkzeug's default cost.
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"


class ProductionConfig(Config):
    # __Host-: the browser takes the cookie only over HTTPS, for the whole site and from this
    # host alone, so a sibling subdomain cannot plant or overwrite it.
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_NAME = "__Host-remember_token"
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    NOTICE_CHANNEL = os.environ.get("NOTICE_CHANNEL", "http")
    NOTICE_LOG_CHANNEL_ALLOWED = False

    @staticmethod
    def init_app(app) -> None:
        """Production never starts embedded servers: every URL is given (REDIS_URL may be `off`)."""
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"production configuration needs {', '.join(missing)} in the environment")
        # The site runs without an SMS gateway (notices are still written and listed at 消息);
        # only `flask notices send` refuses, so say so at start.
        if app.config["NOTICE_CHANNEL"] != "http" or not (app.config["NOTICE_GATEWAY_URL"]
                                                          and app.config["NOTICE_GATEWAY_SECRET"]):
            logging.getLogger("benefits.notices").warning(
                "no SMS gateway configured (NOTICE_CHANNEL=http, NOTICE_GATEWAY_URL, NOTICE_GATEWAY_SECRET): "
                "notices are kept and listed, and `flask notices send` refuses to run")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    name = os.environ.get("BENEFITS_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"BENEFITS_ENV must be one of {sorted(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
