"""`flask prizes expire` and the Redis reconciler (also run once when the app starts)."""
from __future__ import annotations

import logging

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from .. import counters
from ..database import transactional, unit_of_work
from ..extensions import db
from . import gate, service

log = logging.getLogger(__name__)
prizes_cli = AppGroup("prizes", help="Prize mall.")


@prizes_cli.command("expire")
@click.option("--batch", default=500, show_default=True, help="At most this many per run.")
def expire_command(batch: int):
    """Expire unclaimed redemptions past their pickup deadline (safe to run every minute)."""
    with unit_of_work():
        due = service.due_for_expiry(batch)
    expire_one = transactional(service.expire)  # one unit of work each: one failure undoes only itself
    expired = sum(expire_one(redemption_id) is not None for redemption_id in due)
    click.echo(f"expired {expired} redemption(s)")


def reconcile_on_start(app: Flask) -> None:
    """Rebuild the prize gate from SQL when a process starts; Redis or a not-yet-migrated
    database only cost a warning, never the start-up."""
    if not app.config.get("REDIS_URL"):
        return
    with app.app_context():
        try:
            r = counters.client()  # None: a Redis Cluster that cannot be reached now (logged)
            if r is not None:
                log.info("prize gate rebuilt from SQL: %s", gate.reconcile(r))
        except (*counters.UNAVAILABLE, SQLAlchemyError) as exc:
            log.warning("prize gate not rebuilt at start-up (%s); requests use SQL until it is", exc)
        finally:
            db.session.remove()
            db.engine.dispose()


def register(app: Flask) -> None:
    counters.register_reconciler("prizes", gate.reconcile)
    app.cli.add_command(prizes_cli)
    reconcile_on_start(app)
