"""merchants (filled in by that domain's slice)

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
    pass


def downgrade():
    pass
