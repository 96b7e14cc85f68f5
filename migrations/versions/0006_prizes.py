"""prizes (filled in by that domain's slice)

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
    pass


def downgrade():
    pass
