"""prize category (品类): which placeholder picture a prize shows until one is uploaded. Prizes
that exist already become 'other' (其他) through the column's server default.

Revision ID: 0016_prize_category
Revises: 0015_festival

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_prize_category'
down_revision = '0015_festival'
branch_labels = None
depends_on = None

# The list as this revision knows it (benefits/prizes/categories.py is the living one).
CATEGORIES = ('appliances', 'food', 'household', 'digital', 'books_sports', 'gift_cards', 'other')


def upgrade():
    op.add_column('prizes', sa.Column('category', sa.String(length=16), nullable=False, server_default='other'))
    op.create_check_constraint(op.f('ck_prizes_category_known'), 'prizes',
                               'category IN (%s)' % ','.join(f"'{c}'" for c in CATEGORIES))


def downgrade():
    op.drop_constraint(op.f('ck_prizes_category_known'), 'prizes', type_='check')
    op.drop_column('prizes', 'category')
