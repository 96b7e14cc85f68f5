"""promotions (filled in by that domain's slice)

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
    pass


def downgrade():
    pass
