"""transactions (filled in by that domain's slice)

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
    pass


def downgrade():
    pass
