"""PostgreSQL express path for a member's quiz start and submit: two statements, in autocommit.

The API's start and submit are the quiz's hot paths. On PostgreSQL they run here without
Flask-Login loading the user, without BEGIN / COMMIT and without the session's transaction:

- the signed session names the user (`auth.service.session_identity`); the first statement, the
  service's usual read, repeats `auth.service.load_user`'s checks (session token, enabled) and
  `member_required`'s (role) in SQL, so a rotated, disabled or non-member session gets no row;
- the second statement is the service's one-statement write (draw and insert, or claim, grade,
  wrong-answer book and award), atomic by itself. The read takes no lock in either path: run in
  a transaction at READ COMMITTED the two statements behave exactly as they do here, and the
  same guards hold (the unique daily slot, the conditional claim, the ledger's unique source
  key `quiz-attempt:<id>`).

Whenever the express path cannot answer as the portable one would — no row from the read (the
user check failed, or not the member's attempt), a session Flask-Login would not take as it is,
a draw that needs the general path, a daily points cap (its award reads and writes under the
account lock), a session already in a transaction — it returns None having written nothing, and
the API runs the portable path (Flask-Login, `member_required`, one unit of work), which gives
the exact answer or refusal. Refusals the service raises (not found, closed, limits, time up)
are raised here as there, before anything is written.
"""
from __future__ import annotations

from ..auth.service import session_as_flask_login_takes_it, session_identity
from ..database import hot_reads, is_postgres
from ..extensions import db
from . import service


def _identity() -> tuple[int, str] | None:
    if not is_postgres() or db.session().in_transaction():
        return None
    identity = session_identity()
    if identity is None or not session_as_flask_login_takes_it():
        return None
    return identity


def start(quiz_id: int) -> dict | None:
    """The member's view of the started (or resumed) attempt; None: run the portable path."""
    identity = _identity()
    if identity is None:
        return None
    with hot_reads():  # the pool's connection in autocommit: each statement commits itself
        return service.start_attempt_as(identity[0], identity[1], quiz_id)


def submit(attempt_id: int) -> dict | None:
    """The member's view of the graded attempt; None: run the portable path."""
    identity = _identity()
    if identity is None:
        return None
    with hot_reads():
        return service.submit_attempt_as(identity[0], identity[1], attempt_id)
