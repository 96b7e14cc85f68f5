"""transactions: card transactions, refunds, merchant statements and dynamic pay QR tokens

Revision ID: 0005_transactions
Revises: 0004_promotions
"""
from alembic import op
import sqlalchemy as sa

revision = '0005_transactions'
down_revision = '0004_promotions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('union_owes_fen', sa.Integer(), nullable=False),
    sa.Column('bank_owes_fen', sa.Integer(), nullable=False),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_statements_period_ordered')),
    sa.ForeignKeyConstraint(['closed_by_user_id'], ['users.id'], name=op.f('fk_statements_closed_by_user_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_statements_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements')),
    sa.UniqueConstraint('merchant_id', 'period_start', name='uq_statements_merchant_start')
    )
    op.create_index(op.f('ix_statements_merchant_id'), 'statements', ['merchant_id'], unique=False)

    op.create_table('card_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('discount_fen', sa.Integer(), nullable=False),
    sa.Column('pay_fen', sa.Integer(), nullable=False),
    sa.Column('union_fen', sa.Integer(), nullable=False),
    sa.Column('bank_fen', sa.Integer(), nullable=False),
    sa.Column('merchant_fen', sa.Integer(), nullable=False),
    sa.Column('refunded_pay_fen', sa.Integer(), nullable=False),
    sa.Column('refunded_discount_fen', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('usage_key', sa.String(length=64), nullable=False),
    sa.Column('applied', sa.JSON(), nullable=False),
    sa.Column('cashier_user_id', sa.Integer(), nullable=True),
    sa.Column('terminal_key_id', sa.Integer(), nullable=True),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_card_transactions_amount_positive')),
    sa.CheckConstraint("channel IN ('card_number','qr')", name=op.f('ck_card_transactions_channel_known')),
    sa.CheckConstraint('discount_fen >= 0 AND discount_fen <= amount_fen', name=op.f('ck_card_transactions_discount_in_range')),
    sa.CheckConstraint('pay_fen = amount_fen - discount_fen', name=op.f('ck_card_transactions_pay_is_amount_less_discount')),
    sa.CheckConstraint('refunded_discount_fen >= 0 AND refunded_discount_fen <= discount_fen', name=op.f('ck_card_transactions_refund_discount_bounded')),
    sa.CheckConstraint('refunded_pay_fen >= 0 AND refunded_pay_fen <= pay_fen', name=op.f('ck_card_transactions_refund_pay_bounded')),
    sa.CheckConstraint('union_fen + bank_fen + merchant_fen = discount_fen', name=op.f('ck_card_transactions_shares_sum')),
    sa.CheckConstraint('union_fen >= 0 AND bank_fen >= 0 AND merchant_fen >= 0', name=op.f('ck_card_transactions_shares_positive')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_transactions_card_id_cards')),
    sa.ForeignKeyConstraint(['cashier_user_id'], ['users.id'], name=op.f('fk_card_transactions_cashier_user_id_users')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_card_transactions_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_card_transactions_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_card_transactions_statement_id_statements')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_card_transactions_store_id_stores')),
    sa.ForeignKeyConstraint(['terminal_key_id'], ['terminal_keys.id'], name=op.f('fk_card_transactions_terminal_key_id_terminal_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_transactions')),
    sa.UniqueConstraint('usage_key', name=op.f('uq_card_transactions_usage_key'))
    )
    op.create_index(op.f('ix_card_transactions_card_id'), 'card_transactions', ['card_id'], unique=False)
    op.create_index('ix_card_transactions_member_day', 'card_transactions', ['member_id', 'business_day'], unique=False)
    op.create_index('ix_card_transactions_merchant_day', 'card_transactions', ['merchant_id', 'business_day'], unique=False)
    op.create_index(op.f('ix_card_transactions_statement_id'), 'card_transactions', ['statement_id'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('pay_fen', sa.Integer(), nullable=False),
    sa.Column('discount_fen', sa.Integer(), nullable=False),
    sa.Column('union_fen', sa.Integer(), nullable=False),
    sa.Column('bank_fen', sa.Integer(), nullable=False),
    sa.Column('merchant_fen', sa.Integer(), nullable=False),
    sa.Column('by_rule', sa.JSON(), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('cashier_user_id', sa.Integer(), nullable=True),
    sa.Column('terminal_key_id', sa.Integer(), nullable=True),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('pay_fen >= 0 AND discount_fen >= 0 AND pay_fen + discount_fen > 0', name=op.f('ck_refunds_positive')),
    sa.CheckConstraint('union_fen + bank_fen + merchant_fen = discount_fen', name=op.f('ck_refunds_shares_sum')),
    sa.ForeignKeyConstraint(['cashier_user_id'], ['users.id'], name=op.f('fk_refunds_cashier_user_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_refunds_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_refunds_statement_id_statements')),
    sa.ForeignKeyConstraint(['terminal_key_id'], ['terminal_keys.id'], name=op.f('fk_refunds_terminal_key_id_terminal_keys')),
    sa.ForeignKeyConstraint(['transaction_id'], ['card_transactions.id'], name=op.f('fk_refunds_transaction_id_card_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    op.create_index('ix_refunds_merchant_day', 'refunds', ['merchant_id', 'business_day'], unique=False)
    op.create_index(op.f('ix_refunds_statement_id'), 'refunds', ['statement_id'], unique=False)
    op.create_index(op.f('ix_refunds_transaction_id'), 'refunds', ['transaction_id'], unique=False)

    op.create_table('pay_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_pay_tokens_card_id_cards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pay_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pay_tokens_token_hash'))
    )
    op.create_index(op.f('ix_pay_tokens_card_id'), 'pay_tokens', ['card_id'], unique=False)
    op.create_index(op.f('ix_pay_tokens_expires_at'), 'pay_tokens', ['expires_at'], unique=False)


def downgrade():
    # a dropped table takes its indexes with it
    for table in ('pay_tokens', 'refunds', 'card_transactions', 'statements'):
        op.drop_table(table)
