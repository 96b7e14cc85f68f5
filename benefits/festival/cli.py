"""The festival gate's reconciler for `flask counters reconcile`, also run once when a process
starts, so the opening crowd meets a warm gate."""
from __future__ import annotations

import logging

import redis
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .. import counters
from ..extensions import db
from . import gate

log = logging.getLogger(__name__)


def reconcile_on_start(app: Flask) -> None:
    """Rebuild the gate of every campaign not yet closed; Redis or a not-yet-migrated database
    only cost a warning, never the start-up."""
    if not app.config.get("REDIS_URL"):
        return
    with app.app_context():
        try:
            result = gate.reconcile(counters.client())
            log.info("festival gate rebuilt from SQL: %s", result)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("festival gate not rebuilt at start-up (%s); claims use SQL until it is", exc)
        finally:
            db.session.remove()
            db.engine.dispose()


def register(app: Flask) -> None:
    counters.register_reconciler("festival", gate.reconcile)
    reconcile_on_start(app)
