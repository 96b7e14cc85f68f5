"""Job types, the question bank, quizzes, attempts and the wrong-answer book."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..extensions import db

QUESTION_KINDS = ("single", "multiple", "truefalse")
QUIZ_MODES = ("practice", "scored")
LATE_POLICIES = ("grade_saved", "refuse")


class JobType(db.Model):
    """A job type (工种). `next_position` numbers its questions 1..n so a draw can pick random
    positions instead of scanning or sorting the bank."""
    __tablename__ = "quiz_job_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_position: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Question(db.Model):
    __tablename__ = "quiz_questions"
    __table_args__ = (
        CheckConstraint("kind IN ('single','multiple','truefalse')", name="kind_known"),
        CheckConstraint("difficulty BETWEEN 1 AND 5", name="difficulty_range"),
        CheckConstraint("score >= 1", name="score_positive"),
        UniqueConstraint("job_type_id", "position", name="uq_quiz_questions_job_type_position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("quiz_job_types.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(String(6))  # original option letters, sorted: "AC"
    explanation: Mapped[str] = mapped_column(Text, default="")
    difficulty: Mapped[int] = mapped_column(Integer, default=2)
    score: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[str] = mapped_column(String(255), default="")  # ",tag1,tag2," for LIKE matching
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    job_type: Mapped[JobType] = relationship()

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]


class Quiz(db.Model):
    __tablename__ = "quizzes"
    __table_args__ = (
        CheckConstraint("mode IN ('practice','scored')", name="mode_known"),
        CheckConstraint("late_policy IN ('grade_saved','refuse')", name="late_policy_known"),
        CheckConstraint("question_count BETWEEN 1 AND 200", name="question_count_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)  # eligible subtree
    title: Mapped[str] = mapped_column(String(128))
    job_type_ids: Mapped[list] = mapped_column(JSON)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    question_count: Mapped[int] = mapped_column(Integer, default=20)
    mode: Mapped[str] = mapped_column(String(10), default="scored")
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer, default=30)
    late_policy: Mapped[str] = mapped_column(String(12), default="grade_saved")
    attempts_per_day: Mapped[int | None] = mapped_column(Integer)
    min_delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    points_per_correct: Mapped[int] = mapped_column(Integer, default=1)
    partial_credit: Mapped[bool] = mapped_column(Boolean, default=False)
    pass_percent: Mapped[int | None] = mapped_column(Integer)
    pass_bonus: Mapped[int] = mapped_column(Integer, default=0)
    daily_points_cap: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Attempt(db.Model):
    """One sitting. `day_seq` numbers a member's attempts at a quiz per China day; the unique
    index makes the attempts-per-day limit hold under concurrent starts."""
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        CheckConstraint("status IN ('open','submitted')", name="status_known"),
        UniqueConstraint("quiz_id", "member_id", "day", "day_seq", name="uq_quiz_attempts_daily_slot"),
        Index("ix_quiz_attempts_member_quiz", "member_id", "quiz_id"),
        Index("ix_quiz_attempts_submitted", "quiz_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quiz_id: Mapped[int | None] = mapped_column(ForeignKey("quizzes.id"))  # None: wrong-book practice
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    day: Mapped[date] = mapped_column(Date)
    day_seq: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    correct_count: Mapped[int] = mapped_column(Integer, default=0)
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    score_percent: Mapped[int] = mapped_column(Integer, default=0)
    points_awarded: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged_fast: Mapped[bool] = mapped_column(Boolean, default=False)

    quiz: Mapped[Quiz | None] = relationship()
    items: Mapped[list[AttemptQuestion]] = relationship(order_by="AttemptQuestion.position")


class AttemptQuestion(db.Model):
    """A drawn question in an attempt. `option_order` maps shown letters to original ones:
    "CADB" means shown A is original C; it never leaves the server."""
    __tablename__ = "quiz_attempt_questions"
    __table_args__ = (UniqueConstraint("attempt_id", "position", name="uq_quiz_attempt_questions_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id"))
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id"))
    job_type_id: Mapped[int] = mapped_column(ForeignKey("quiz_job_types.id"))
    option_order: Mapped[str] = mapped_column(String(6))
    chosen: Mapped[str | None] = mapped_column(String(6))  # original letters
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_correct: Mapped[bool | None] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer, default=0)

    question: Mapped[Question] = relationship()


class WrongBookEntry(db.Model):
    """A question the member got wrong; it leaves after `streak` reaches 2 right in a row."""
    __tablename__ = "quiz_wrong_book"
    __table_args__ = (UniqueConstraint("member_id", "question_id", name="uq_quiz_wrong_book_member_question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id"))
    streak: Mapped[int] = mapped_column(Integer, default=0)
    wrong_count: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    question: Mapped[Question] = relationship()
