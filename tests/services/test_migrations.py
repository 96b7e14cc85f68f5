"""`flask db upgrade` builds the whole schema on an empty SQLite and an empty PostgreSQL
database, and the result matches the models exactly (nothing left for autogenerate)."""
from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benefits import create_app
from benefits.extensions import db
from config import TestingConfig
from tests.conftest import ROOT, ensure_postgres_database


def _fresh_url(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    from tests.conftest import require_service
    base = make_url(ensure_postgres_database(require_service("TEST_DATABASE_URL")))
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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_models(kind, tmp_path):
    url = _fresh_url(kind, tmp_path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            with warnings.catch_warnings():
                # SQLAlchemy cannot reflect SQLite's expression indexes, so both it and alembic
                # skip them (with a warning); they are checked by name instead
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
                warnings.filterwarnings("ignore", ".*expression-based index.*can't reflect")
                diff = _significant(compare_metadata(context, db.metadata))
            if kind == "sqlite":
                names = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'")))
                assert {"ix_promotion_rules_budget_left", "ix_promotion_rules_uses_left"} <= names
        db.engine.dispose()
    assert diff == [], diff
