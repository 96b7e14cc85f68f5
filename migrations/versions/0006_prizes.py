"""prizes: pickup points, prizes with stock per pickup point and stock history, per-period
counters, redemptions with pickup codes, uploaded pictures

Revision ID: 0006_prizes
Revises: 0005_transactions
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_prizes'
down_revision = '0005_transactions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('prize_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prize_images'))
    )
    op.create_table('pickup_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('office_org_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(office_org_id IS NULL) <> (store_id IS NULL)', name=op.f('ck_pickup_points_office_or_store')),
    sa.ForeignKeyConstraint(['office_org_id'], ['organisations.id'], name=op.f('fk_pickup_points_office_org_id_organisations')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organisations.id'], name=op.f('fk_pickup_points_owner_org_id_organisations')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_pickup_points_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_points'))
    )
    op.create_index(op.f('ix_pickup_points_owner_org_id'), 'pickup_points', ['owner_org_id'], unique=False)

    op.create_table('prizes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=True),
    sa.Column('cost_points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('per_day_limit', sa.Integer(), nullable=True),
    sa.Column('per_month_limit', sa.Integer(), nullable=True),
    sa.Column('lifetime_limit', sa.Integer(), nullable=True),
    sa.Column('daily_quota', sa.Integer(), nullable=True),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('eligible_org_id', sa.Integer(), nullable=False),
    sa.Column('eligible_categories', sa.String(length=128), nullable=False),
    sa.Column('fulfilment', sa.String(length=8), nullable=False),
    sa.Column('high_value', sa.Boolean(), nullable=False),
    sa.Column('pickup_days', sa.Integer(), nullable=False),
    sa.Column('is_listed', sa.Boolean(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("fulfilment IN ('pickup','delivery')", name=op.f('ck_prizes_fulfilment_known')),
    sa.CheckConstraint('cost_points > 0', name=op.f('ck_prizes_cost_positive')),
    sa.CheckConstraint('pickup_days > 0', name=op.f('ck_prizes_pickup_days_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_prizes_stock_not_negative')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_prizes_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['eligible_org_id'], ['organisations.id'], name=op.f('fk_prizes_eligible_org_id_organisations')),
    sa.ForeignKeyConstraint(['image_id'], ['prize_images.id'], name=op.f('fk_prizes_image_id_prize_images')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_prizes_org_id_organisations')),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['users.id'], name=op.f('fk_prizes_updated_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prizes'))
    )
    op.create_index(op.f('ix_prizes_org_id'), 'prizes', ['org_id'], unique=False)

    op.create_table('prize_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=24), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_prize_counters_count_not_negative')),
    sa.ForeignKeyConstraint(['prize_id'], ['prizes.id'], name=op.f('fk_prize_counters_prize_id_prizes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prize_counters')),
    sa.UniqueConstraint('prize_id', 'subject', 'period', name='uq_prize_counters_slot')
    )
    op.create_table('prize_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points_spent', sa.Integer(), nullable=False),
    sa.Column('fulfilment', sa.String(length=8), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=True),
    sa.Column('pickup_code', sa.String(length=12), nullable=True),
    sa.Column('pickup_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivery_address', sa.String(length=255), nullable=True),
    sa.Column('delivery_phone', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('approval', sa.String(length=12), nullable=False),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handed_over_by_user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("approval IN ('not_needed','pending','approved')", name=op.f('ck_prize_redemptions_approval_known')),
    sa.CheckConstraint("fulfilment IN ('pickup','delivery')", name=op.f('ck_prize_redemptions_fulfilment_known')),
    sa.CheckConstraint("status IN ('redeemed','handed_over','cancelled','expired')", name=op.f('ck_prize_redemptions_status_known')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_prize_redemptions_quantity_positive')),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['users.id'], name=op.f('fk_prize_redemptions_approved_by_user_id_users')),
    sa.ForeignKeyConstraint(['handed_over_by_user_id'], ['users.id'], name=op.f('fk_prize_redemptions_handed_over_by_user_id_users')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_prize_redemptions_member_id_members')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_prize_redemptions_pickup_point_id_pickup_points')),
    sa.ForeignKeyConstraint(['prize_id'], ['prizes.id'], name=op.f('fk_prize_redemptions_prize_id_prizes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prize_redemptions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_prize_redemptions_idempotency_key')),
    sa.UniqueConstraint('pickup_code', name=op.f('uq_prize_redemptions_pickup_code'))
    )
    op.create_index(op.f('ix_prize_redemptions_member_id'), 'prize_redemptions', ['member_id'], unique=False)
    op.create_index(op.f('ix_prize_redemptions_prize_id'), 'prize_redemptions', ['prize_id'], unique=False)
    op.create_index(op.f('ix_prize_redemptions_status'), 'prize_redemptions', ['status'], unique=False)

    op.create_table('prize_stock_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=True),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_prize_stock_changes_actor_user_id_users')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_prize_stock_changes_pickup_point_id_pickup_points')),
    sa.ForeignKeyConstraint(['prize_id'], ['prizes.id'], name=op.f('fk_prize_stock_changes_prize_id_prizes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prize_stock_changes'))
    )
    op.create_index(op.f('ix_prize_stock_changes_prize_id'), 'prize_stock_changes', ['prize_id'], unique=False)

    op.create_table('prize_stocks',
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_prize_stocks_stock_not_negative')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_prize_stocks_pickup_point_id_pickup_points')),
    sa.ForeignKeyConstraint(['prize_id'], ['prizes.id'], name=op.f('fk_prize_stocks_prize_id_prizes')),
    sa.PrimaryKeyConstraint('prize_id', 'pickup_point_id', name=op.f('pk_prize_stocks'))
    )


def downgrade():
    op.drop_table('prize_stocks')
    op.drop_index(op.f('ix_prize_stock_changes_prize_id'), table_name='prize_stock_changes')

    op.drop_table('prize_stock_changes')
    op.drop_index(op.f('ix_prize_redemptions_status'), table_name='prize_redemptions')
    op.drop_index(op.f('ix_prize_redemptions_prize_id'), table_name='prize_redemptions')
    op.drop_index(op.f('ix_prize_redemptions_member_id'), table_name='prize_redemptions')

    op.drop_table('prize_redemptions')
    op.drop_table('prize_counters')
    op.drop_index(op.f('ix_prizes_org_id'), table_name='prizes')

    op.drop_table('prizes')
    op.drop_index(op.f('ix_pickup_points_owner_org_id'), table_name='pickup_points')

    op.drop_table('pickup_points')
    op.drop_table('prize_images')
