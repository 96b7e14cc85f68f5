"""The wrong-answer book: questions a member got wrong, kept until answered right
WRONG_BOOK_STREAK_TO_LEAVE times in a row (grading.book_moves, filed by each submit), and
practice from it (immediate feedback, no points). Services flush, never commit."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from .. import clock
from ..errors import Conflict
from ..extensions import db
from . import attempts, draw, store
from .models import WrongBookEntry

PRACTICE_SIZE = 10


def entries(member_id: int) -> list[WrongBookEntry]:
    """The member's book with each question, most recently changed first."""
    return list(db.session.scalars(select(WrongBookEntry).options(joinedload(WrongBookEntry.question))
                                   .where(WrongBookEntry.member_id == member_id)
                                   .order_by(WrongBookEntry.updated_at.desc())))


def size(member_id: int) -> int:
    return db.session.scalar(select(func.count()).where(WrongBookEntry.member_id == member_id))


def start_practice(member_id: int) -> dict:
    """Practise up to PRACTICE_SIZE questions drawn from the book, or resume the open practice;
    the member's view of it."""
    at = clock.now()
    day = clock.business_day(at)
    open_id, taken_today, book = store.practice_state(member_id, day)
    if open_id is not None:
        return attempts.attempt_view(member_id, open_id)
    if not book:
        raise Conflict(_("错题本是空的。"), code="wrong_book_empty")
    rng = draw.draw_rng()
    questions = draw.by_ids(rng.sample(book, min(PRACTICE_SIZE, len(book))))
    return attempts.begin({"quiz_id": None, "member_id": member_id, "day": day, "day_seq": taken_today + 1,
                           "started_at": at, "deadline_at": None}, questions, rng, None)
