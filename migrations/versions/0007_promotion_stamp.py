"""promotions: one stamp row that moves with every rule change (tills compare it cheaply), and
budget slices so concurrent payments under one rule do not queue on its row

Revision ID: 0007_promotion_stamp
Revises: 0006_prizes
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = '0007_promotion_stamp'
down_revision = '0006_prizes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('promotion_book_stamps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_book_stamps'))
    )
    op.create_table('promotion_budget_slices',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('slice', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('allot_fen', sa.BigInteger(), nullable=True),
    sa.Column('used_fen', sa.BigInteger(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.CheckConstraint('used_fen >= 0 AND (allot_fen IS NULL OR used_fen <= allot_fen)', name=op.f('ck_promotion_budget_slices_within_allotment')),
    sa.CheckConstraint('uses >= 0', name=op.f('ck_promotion_budget_slices_uses_not_negative')),
    sa.ForeignKeyConstraint(['rule_id'], ['promotion_rules.id'], name=op.f('fk_promotion_budget_slices_rule_id_promotion_rules')),
    sa.PrimaryKeyConstraint('rule_id', 'slice', name=op.f('pk_promotion_budget_slices'))
    )
    # start from the rules already there: any number that differs from a fresh process's is fine
    op.execute(sa.text("INSERT INTO promotion_book_stamps (id, version, nonce) "
                       "SELECT 1, COALESCE(SUM(revision), 0) + COUNT(*), :nonce FROM promotion_rules")
               .bindparams(nonce=secrets.token_hex(16)))


def downgrade():
    op.drop_table('promotion_budget_slices')
    op.drop_table('promotion_book_stamps')
