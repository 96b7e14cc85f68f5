"""merchants: partner merchants, their stores, cashier links and terminal keys

Revision ID: 0003_merchants
Revises: 0002_quiz
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_merchants'
down_revision = '0002_quiz'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('merchants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('contact_name', sa.String(length=64), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('accepts_card_number', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('fuel','supermarket','dining','transport','retail','other')", name=op.f('ck_merchants_category_known')),
    sa.CheckConstraint("status IN ('active','suspended','ended')", name=op.f('ck_merchants_status_known')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_merchants_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants'))
    )
    op.create_index(op.f('ix_merchants_category'), 'merchants', ['category'], unique=False)
    op.create_index(op.f('ix_merchants_org_id'), 'merchants', ['org_id'], unique=False)

    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_stores_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores'))
    )
    op.create_index(op.f('ix_stores_merchant_id'), 'stores', ['merchant_id'], unique=False)

    op.create_table('merchant_staff',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_merchant_staff_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_merchant_staff_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_merchant_staff_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_merchant_staff'))
    )
    op.create_index(op.f('ix_merchant_staff_merchant_id'), 'merchant_staff', ['merchant_id'], unique=False)

    op.create_table('terminal_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=12), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_terminal_keys_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_terminal_keys_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terminal_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_terminal_keys_key_hash'))
    )
    op.create_index(op.f('ix_terminal_keys_store_id'), 'terminal_keys', ['store_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_terminal_keys_store_id'), table_name='terminal_keys')
    op.drop_table('terminal_keys')
    op.drop_index(op.f('ix_merchant_staff_merchant_id'), table_name='merchant_staff')
    op.drop_table('merchant_staff')
    op.drop_index(op.f('ix_stores_merchant_id'), table_name='stores')
    op.drop_table('stores')
    op.drop_index(op.f('ix_merchants_org_id'), table_name='merchants')
    op.drop_index(op.f('ix_merchants_category'), table_name='merchants')
    op.drop_table('merchants')
