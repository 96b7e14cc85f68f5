"""pickup staff: a role of its own for the prize counter at a union office (least privilege:
before it, office pickup staff were admins of the office's union and reached its whole console).

Revision ID: 0012_pickup_staff
Revises: 0011_vouchers

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012_pickup_staff'
down_revision = '0011_vouchers'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint(op.f('ck_users_role_known'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role_known'), 'users',
                               "role IN ('member','merchant_staff','pickup_staff','admin')")
    op.create_check_constraint(op.f('ck_users_pickup_staff_has_office'), 'users',
                               "role <> 'pickup_staff' OR org_id IS NOT NULL")


def downgrade():
    op.drop_constraint(op.f('ck_users_pickup_staff_has_office'), 'users', type_='check')
    op.drop_constraint(op.f('ck_users_role_known'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role_known'), 'users', "role IN ('member','merchant_staff','admin')")
