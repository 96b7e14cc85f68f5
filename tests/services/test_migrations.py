"""`flask db upgrade` builds the whole schema on an empty PostgreSQL database, and the result
matches the models exactly (nothing left for autogenerate)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benefits import create_app
from benefits.extensions import db
from config import TestingConfig
from tests.conftest import ROOT


def _fresh_url(database_url: str) -> str:
    """An empty database beside the test database, on the same server."""
    base = make_url(database_url)
    name = f"{base.database}_migrations"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _significant(diff) -> list:
    """Ignore differences alembic reports but that are not schema drift."""
    out = []
    for item in diff:
        entry = item[0] if isinstance(item, list) else item
        kind = entry[0]
        if kind in ("remove_table",) and entry[1].name in ("bench_counters", "bench_log"):
            continue
        out.append(item)
    return out


def test_upgrade_from_empty_matches_models(database_url):
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": _fresh_url(database_url), "REDIS_URL": None})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = _significant(compare_metadata(context, db.metadata))
        db.engine.dispose()
    assert diff == [], diff
