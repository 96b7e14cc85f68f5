"""promotions: budget slices go. Every payment takes its use and discount from the rule row with
one conditional UPDATE; the bench measured that queue (README) and it is short. What the slices
hold is folded onto their rules first: spent money and uses added, unspent allotments returned.

Revision ID: 0010_no_budget_slices
Revises: 0009_payment_indexes
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_no_budget_slices'
down_revision = '0009_payment_indexes'
branch_labels = None
depends_on = None


def upgrade():
    # A budgeted slice's allotment was already counted in budget_used_fen: give back what it did
    # not spend. An unbudgeted slice only counted: add what it spent. Uses are added either way.
    op.execute("""
        UPDATE promotion_rules r
        SET budget_used_fen = r.budget_used_fen - s.unspent + s.spent_unbudgeted,
            uses_count = r.uses_count + s.uses
        FROM (SELECT rule_id,
                     COALESCE(SUM(allot_fen - used_fen) FILTER (WHERE allot_fen IS NOT NULL), 0) AS unspent,
                     COALESCE(SUM(used_fen) FILTER (WHERE allot_fen IS NULL), 0) AS spent_unbudgeted,
                     COALESCE(SUM(uses), 0) AS uses
              FROM promotion_budget_slices GROUP BY rule_id) s
        WHERE r.id = s.rule_id""")
    op.drop_table('promotion_budget_slices')


def downgrade():
    op.create_table(
        'promotion_budget_slices',
        sa.Column('rule_id', sa.Integer(), nullable=False),
        sa.Column('slice', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('allot_fen', sa.BigInteger(), nullable=True),
        sa.Column('used_fen', sa.BigInteger(), nullable=False),
        sa.Column('uses', sa.Integer(), nullable=False),
        sa.CheckConstraint('used_fen >= 0 AND (allot_fen IS NULL OR used_fen <= allot_fen)',
                           name=op.f('ck_promotion_budget_slices_within_allotment')),
        sa.CheckConstraint('uses >= 0', name=op.f('ck_promotion_budget_slices_uses_not_negative')),
        sa.ForeignKeyConstraint(['rule_id'], ['promotion_rules.id'],
                                name=op.f('fk_promotion_budget_slices_rule_id_promotion_rules')),
        sa.PrimaryKeyConstraint('rule_id', 'slice', name=op.f('pk_promotion_budget_slices')))
