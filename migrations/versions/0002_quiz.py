"""quiz: job types, question bank, quizzes, attempts and their drawn questions, wrong-answer book

Revision ID: 0002_quiz
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa

revision = '0002_quiz'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quiz_job_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('next_position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_job_types')),
    sa.UniqueConstraint('code', name=op.f('uq_quiz_job_types_code')),
    sa.UniqueConstraint('name', name=op.f('uq_quiz_job_types_name'))
    )
    op.create_table('quiz_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_type_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('stem', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('answer', sa.String(length=6), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('difficulty', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('tags', sa.String(length=255), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('single','multiple','truefalse')", name=op.f('ck_quiz_questions_kind_known')),
    sa.CheckConstraint('difficulty BETWEEN 1 AND 5', name=op.f('ck_quiz_questions_difficulty_range')),
    sa.CheckConstraint('score >= 1', name=op.f('ck_quiz_questions_score_positive')),
    sa.ForeignKeyConstraint(['job_type_id'], ['quiz_job_types.id'], name=op.f('fk_quiz_questions_job_type_id_quiz_job_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_questions')),
    sa.UniqueConstraint('job_type_id', 'position', name='uq_quiz_questions_job_type_position')
    )
    op.create_table('quizzes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('job_type_ids', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.Column('time_limit_seconds', sa.Integer(), nullable=True),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.Column('late_policy', sa.String(length=12), nullable=False),
    sa.Column('attempts_per_day', sa.Integer(), nullable=True),
    sa.Column('min_delay_seconds', sa.Integer(), nullable=False),
    sa.Column('points_per_correct', sa.Integer(), nullable=False),
    sa.Column('partial_credit', sa.Boolean(), nullable=False),
    sa.Column('pass_percent', sa.Integer(), nullable=True),
    sa.Column('pass_bonus', sa.Integer(), nullable=False),
    sa.Column('daily_points_cap', sa.Integer(), nullable=True),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("late_policy IN ('grade_saved','refuse')", name=op.f('ck_quizzes_late_policy_known')),
    sa.CheckConstraint("mode IN ('practice','scored')", name=op.f('ck_quizzes_mode_known')),
    sa.CheckConstraint('question_count BETWEEN 1 AND 200', name=op.f('ck_quizzes_question_count_range')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_quizzes_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quizzes'))
    )
    op.create_index(op.f('ix_quizzes_org_id'), 'quizzes', ['org_id'], unique=False)

    op.create_table('quiz_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('day_seq', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('correct_count', sa.Integer(), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('score_percent', sa.Integer(), nullable=False),
    sa.Column('points_awarded', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('flagged_fast', sa.Boolean(), nullable=False),
    sa.CheckConstraint("status IN ('open','submitted')", name=op.f('ck_quiz_attempts_status_known')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_quiz_attempts_member_id_members')),
    sa.ForeignKeyConstraint(['quiz_id'], ['quizzes.id'], name=op.f('fk_quiz_attempts_quiz_id_quizzes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_attempts')),
    sa.UniqueConstraint('quiz_id', 'member_id', 'day', 'day_seq', name='uq_quiz_attempts_daily_slot')
    )
    op.create_index('ix_quiz_attempts_member_quiz', 'quiz_attempts', ['member_id', 'quiz_id'], unique=False)
    op.create_index('ix_quiz_attempts_submitted', 'quiz_attempts', ['quiz_id', 'submitted_at'], unique=False)

    op.create_table('quiz_wrong_book',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('wrong_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_quiz_wrong_book_member_id_members')),
    sa.ForeignKeyConstraint(['question_id'], ['quiz_questions.id'], name=op.f('fk_quiz_wrong_book_question_id_quiz_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_wrong_book')),
    sa.UniqueConstraint('member_id', 'question_id', name='uq_quiz_wrong_book_member_question')
    )
    op.create_index(op.f('ix_quiz_wrong_book_member_id'), 'quiz_wrong_book', ['member_id'], unique=False)

    op.create_table('quiz_attempt_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('job_type_id', sa.Integer(), nullable=False),
    sa.Column('option_order', sa.String(length=6), nullable=False),
    sa.Column('chosen', sa.String(length=6), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_correct', sa.Boolean(), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['quiz_attempts.id'], name=op.f('fk_quiz_attempt_questions_attempt_id_quiz_attempts')),
    sa.ForeignKeyConstraint(['job_type_id'], ['quiz_job_types.id'], name=op.f('fk_quiz_attempt_questions_job_type_id_quiz_job_types')),
    sa.ForeignKeyConstraint(['question_id'], ['quiz_questions.id'], name=op.f('fk_quiz_attempt_questions_question_id_quiz_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_attempt_questions')),
    sa.UniqueConstraint('attempt_id', 'position', name='uq_quiz_attempt_questions_slot')
    )


def downgrade():
    op.drop_table('quiz_attempt_questions')
    op.drop_index(op.f('ix_quiz_wrong_book_member_id'), table_name='quiz_wrong_book')

    op.drop_table('quiz_wrong_book')
    op.drop_index('ix_quiz_attempts_submitted', table_name='quiz_attempts')
    op.drop_index('ix_quiz_attempts_member_quiz', table_name='quiz_attempts')

    op.drop_table('quiz_attempts')
    op.drop_index(op.f('ix_quizzes_org_id'), table_name='quizzes')

    op.drop_table('quizzes')
    op.drop_table('quiz_questions')
    op.drop_table('quiz_job_types')
