"""festival gift campaigns and claims: campaigns, their gifts (an item of the prize catalogue at
one pickup point, with the campaign's own stock), and a claim as a prize redemption that names its
campaign (one per member per campaign).

Revision ID: 0015_festival
Revises: 0014_medical

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_festival'
down_revision = '0014_medical'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('festival_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('eligible_org_id', sa.Integer(), nullable=False),
    sa.Column('eligible_categories', sa.String(length=128), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pickup_until', sa.Date(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_festival_campaigns_dates_ordered')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_festival_campaigns_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['eligible_org_id'], ['organisations.id'], name=op.f('fk_festival_campaigns_eligible_org_id_organisations')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_festival_campaigns_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_festival_campaigns'))
    )
    op.create_index(op.f('ix_festival_campaigns_org_id'), 'festival_campaigns', ['org_id'], unique=False)

    op.create_table('festival_gifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('prize_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=True),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.CheckConstraint('stock >= 0 AND stock <= allocated', name=op.f('ck_festival_gifts_stock_within_allocated')),
    sa.ForeignKeyConstraint(['campaign_id'], ['festival_campaigns.id'], name=op.f('fk_festival_gifts_campaign_id_festival_campaigns')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_festival_gifts_pickup_point_id_pickup_points')),
    sa.ForeignKeyConstraint(['prize_id'], ['prizes.id'], name=op.f('fk_festival_gifts_prize_id_prizes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_festival_gifts')),
    sa.UniqueConstraint('campaign_id', 'prize_id', 'pickup_point_id', name='uq_festival_gifts_choice',
                        postgresql_nulls_not_distinct=True)
    )

    op.add_column('prize_redemptions', sa.Column('campaign_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_prize_redemptions_campaign_id_festival_campaigns'), 'prize_redemptions',
                          'festival_campaigns', ['campaign_id'], ['id'])
    op.create_unique_constraint('uq_prize_redemptions_campaign_member', 'prize_redemptions',
                                ['campaign_id', 'member_id'])


def downgrade():
    op.drop_constraint('uq_prize_redemptions_campaign_member', 'prize_redemptions', type_='unique')
    op.drop_constraint(op.f('fk_prize_redemptions_campaign_id_festival_campaigns'), 'prize_redemptions',
                       type_='foreignkey')
    op.drop_column('prize_redemptions', 'campaign_id')
    op.drop_table('festival_gifts')
    op.drop_index(op.f('ix_festival_campaigns_org_id'), table_name='festival_campaigns')
    op.drop_table('festival_campaigns')
