"""`flask db upgrade` builds the whole schema on an empty PostgreSQL database, and the result
matches the models exactly (nothing left for autogenerate)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

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


def test_prize_category_migration_files_existing_prizes_under_other(database_url):
    """0016 adds the category to prizes that exist: each becomes 'other' (其他), an unknown
    category is refused by the database, and the step goes back down cleanly."""
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": _fresh_url(database_url), "REDIS_URL": None})
    directory = str(ROOT / "migrations")
    with app.app_context():
        upgrade(directory=directory, revision="0015_festival")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organisations (id, code, name, level, path, created_at) "
                              "VALUES (1, '34', '安徽省总工会', 'province', '/1/', now())"))
            conn.execute(text(
                "INSERT INTO prizes (id, org_id, name, description, cost_points, stock, eligible_org_id, "
                "eligible_categories, fulfilment, high_value, pickup_days, is_listed, created_at, updated_at) "
                "VALUES (1, 1, '雨伞', '', 800, 5, 1, '', 'pickup', false, 14, true, now(), now())"))
        upgrade(directory=directory, revision="0016_prize_category")
        with db.engine.begin() as conn:
            assert conn.execute(text("SELECT category FROM prizes WHERE id = 1")).scalar_one() == "other"
            conn.execute(text("UPDATE prizes SET category = 'appliances' WHERE id = 1"))
        with pytest.raises(IntegrityError, match="ck_prizes_category_known"), db.engine.begin() as conn:
            conn.execute(text("UPDATE prizes SET category = 'fridges' WHERE id = 1"))
        downgrade(directory=directory, revision="0015_festival")
        with db.engine.connect() as conn:
            columns = conn.execute(text("SELECT column_name FROM information_schema.columns "
                                        "WHERE table_name = 'prizes'")).scalars().all()
        assert "category" not in columns and "name" in columns
        db.engine.dispose()
