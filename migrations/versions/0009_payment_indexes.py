"""transactions and promotions: two indexes fewer to write at every payment — promotion_usages
was indexed twice by usage_key (its own index and the unique (usage_key, rule_id) one), and
card_transactions' statement index now holds only settled rows (a payment is written unsettled)

Revision ID: 0009_payment_indexes
Revises: 0008_till_live_indexes
"""
from alembic import op
import sqlalchemy as sa

revision = '0009_payment_indexes'
down_revision = '0008_till_live_indexes'
branch_labels = None
depends_on = None

SETTLED = sa.text('statement_id IS NOT NULL')


def upgrade():
    op.drop_index('ix_promotion_usages_usage_key', table_name='promotion_usages')
    op.drop_index('ix_card_transactions_statement_id', table_name='card_transactions')
    op.create_index('ix_card_transactions_statement_id', 'card_transactions', ['statement_id'],
                    postgresql_where=SETTLED)


def downgrade():
    op.drop_index('ix_card_transactions_statement_id', table_name='card_transactions')
    op.create_index('ix_card_transactions_statement_id', 'card_transactions', ['statement_id'])
    op.create_index('ix_promotion_usages_usage_key', 'promotion_usages', ['usage_key'])
