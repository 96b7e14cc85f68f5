"""notices: the outbox of messages to members, their preferences

Revision ID: 0013_notices
Revises: 0012_pickup_staff

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_notices'
down_revision = '0012_pickup_staff'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notices',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=160), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending','sent','failed','skipped')", name=op.f('ck_notices_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_notices_attempts_not_negative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_notices_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notices_dedupe_key'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index('ix_notices_due', ['next_attempt_at'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"))

    op.create_table('notice_opt_outs',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_notice_opt_outs_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'kind', name=op.f('pk_notice_opt_outs'))
    )


def downgrade():
    op.drop_table('notice_opt_outs')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_due', postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_notices_member_id_id')
    op.drop_table('notices')
