"""promotions: indexes that let a till read only the rules whose counters could bind (nearly
spent budget, no uses left) and a member's uses in the current periods, without naming its
candidate rules

Revision ID: 0008_till_live_indexes
Revises: 0007_promotion_stamp
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_till_live_indexes'
down_revision = '0007_promotion_stamp'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_promotion_rules_budget_left', 'promotion_rules', [sa.text('(budget_fen - budget_used_fen)')])
    op.create_index('ix_promotion_rules_uses_left', 'promotion_rules', [sa.text('(global_limit - uses_count)')])
    op.create_index('ix_promotion_member_uses_member_period', 'promotion_member_uses', ['member_id', 'period'])


def downgrade():
    op.drop_index('ix_promotion_member_uses_member_period', table_name='promotion_member_uses')
    op.drop_index('ix_promotion_rules_uses_left', table_name='promotion_rules')
    op.drop_index('ix_promotion_rules_budget_left', table_name='promotion_rules')
