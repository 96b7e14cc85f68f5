"""promotions: discount rules, their versions, per-member use counters and usages

Revision ID: 0004_promotions
Revises: 0003_merchants
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_promotions'
down_revision = '0003_merchants'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('promotion_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('current_version_id', sa.Integer(), nullable=True),
    sa.Column('budget_fen', sa.BigInteger(), nullable=True),
    sa.Column('budget_used_fen', sa.BigInteger(), nullable=False),
    sa.Column('global_limit', sa.Integer(), nullable=True),
    sa.Column('uses_count', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active','paused')", name=op.f('ck_promotion_rules_status_known')),
    sa.CheckConstraint('budget_used_fen >= 0 AND (budget_fen IS NULL OR budget_used_fen <= budget_fen)', name=op.f('ck_promotion_rules_budget_within')),
    sa.CheckConstraint('uses_count >= 0 AND (global_limit IS NULL OR uses_count <= global_limit)', name=op.f('ck_promotion_rules_uses_within')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_promotion_rules_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_rules'))
    )
    op.create_index(op.f('ix_promotion_rules_org_id'), 'promotion_rules', ['org_id'], unique=False)

    op.create_table('promotion_rule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_promotion_rule_versions_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['rule_id'], ['promotion_rules.id'], name=op.f('fk_promotion_rule_versions_rule_id_promotion_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_rule_versions')),
    sa.UniqueConstraint('rule_id', 'number', name='uq_promotion_rule_versions_number')
    )
    op.create_index(op.f('ix_promotion_rule_versions_rule_id'), 'promotion_rule_versions', ['rule_id'], unique=False)

    op.create_table('promotion_member_uses',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.CheckConstraint('uses >= 0', name=op.f('ck_promotion_member_uses_uses_not_negative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_promotion_member_uses_member_id_members')),
    sa.ForeignKeyConstraint(['rule_id'], ['promotion_rules.id'], name=op.f('fk_promotion_member_uses_rule_id_promotion_rules')),
    sa.PrimaryKeyConstraint('rule_id', 'member_id', 'period', name=op.f('pk_promotion_member_uses'))
    )

    op.create_table('promotion_usages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('usage_key', sa.String(length=100), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('discount_fen', sa.BigInteger(), nullable=False),
    sa.Column('union_fen', sa.BigInteger(), nullable=False),
    sa.Column('bank_fen', sa.BigInteger(), nullable=False),
    sa.Column('merchant_fen', sa.BigInteger(), nullable=False),
    sa.Column('returned_fen', sa.BigInteger(), nullable=False),
    sa.Column('returned_union_fen', sa.BigInteger(), nullable=False),
    sa.Column('returned_bank_fen', sa.BigInteger(), nullable=False),
    sa.Column('returned_merchant_fen', sa.BigInteger(), nullable=False),
    sa.Column('use_returned', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('returned_fen >= 0 AND returned_fen <= discount_fen', name=op.f('ck_promotion_usages_returned_within')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_promotion_usages_member_id_members')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_promotion_usages_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['rule_id'], ['promotion_rules.id'], name=op.f('fk_promotion_usages_rule_id_promotion_rules')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_promotion_usages_store_id_stores')),
    sa.ForeignKeyConstraint(['version_id'], ['promotion_rule_versions.id'], name=op.f('fk_promotion_usages_version_id_promotion_rule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_usages')),
    sa.UniqueConstraint('usage_key', 'rule_id', name='uq_promotion_usages_key_rule')
    )
    op.create_index(op.f('ix_promotion_usages_member_id'), 'promotion_usages', ['member_id'], unique=False)
    op.create_index(op.f('ix_promotion_usages_rule_id'), 'promotion_usages', ['rule_id'], unique=False)
    op.create_index(op.f('ix_promotion_usages_usage_key'), 'promotion_usages', ['usage_key'], unique=False)


def downgrade():
    op.drop_table('promotion_usages')
    op.drop_table('promotion_member_uses')
    op.drop_table('promotion_rule_versions')
    op.drop_table('promotion_rules')
