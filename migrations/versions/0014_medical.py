"""medical benefit: programmes, insurance imports, payout batches and payouts

Revision ID: 0014_medical
Revises: 0013_notices

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_medical'
down_revision = '0013_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('medical_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('eligible_org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('threshold_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('budget_fen', sa.BigInteger(), nullable=False),
    sa.Column('committed_fen', sa.BigInteger(), nullable=False),
    sa.Column('member_categories', sa.JSON(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_medical_programmes_year_range')),
    sa.CheckConstraint('threshold_fen >= 0', name=op.f('ck_medical_programmes_threshold_not_negative')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_medical_programmes_amount_positive')),
    sa.CheckConstraint('budget_fen >= amount_fen', name=op.f('ck_medical_programmes_budget_covers_one')),
    sa.CheckConstraint('committed_fen >= 0 AND committed_fen <= budget_fen', name=op.f('ck_medical_programmes_committed_within_budget')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_medical_programmes_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['eligible_org_id'], ['organisations.id'], name=op.f('fk_medical_programmes_eligible_org_id_organisations')),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_medical_programmes_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_programmes')),
    sa.UniqueConstraint('org_id', 'year', name='uq_medical_programmes_org_year')
    )
    with op.batch_alter_table('medical_programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_programmes_org_id'), ['org_id'], unique=False)

    op.create_table('medical_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('bad_rows', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_medical_imports_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_imports_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_imports'))
    )
    with op.batch_alter_table('medical_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_imports_programme_id'), ['programme_id'], unique=False)

    op.create_table('medical_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('out_of_pocket_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('out_of_pocket_fen >= 0', name=op.f('ck_medical_claims_amount_not_negative')),
    sa.ForeignKeyConstraint(['import_id'], ['medical_imports.id'], name=op.f('fk_medical_claims_import_id_medical_imports')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_claims_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_claims')),
    sa.UniqueConstraint('programme_id', 'id_number', name='uq_medical_claims_programme_id_number')
    )
    with op.batch_alter_table('medical_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_claims_import_id'), ['import_id'], unique=False)

    op.create_table('medical_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending','approved','rejected')", name=op.f('ck_medical_batches_status_known')),
    sa.CheckConstraint("status <> 'approved' OR (decided_by_user_id IS NOT NULL AND decided_by_user_id IS DISTINCT FROM created_by_user_id)", name=op.f('ck_medical_batches_four_eyes')),
    sa.CheckConstraint('member_count > 0 AND total_fen > 0', name=op.f('ck_medical_batches_not_empty')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_medical_batches_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_medical_batches_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_batches_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_batches'))
    )
    with op.batch_alter_table('medical_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_batches_programme_id'), ['programme_id'], unique=False)

    op.create_table('medical_awards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('out_of_pocket_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('proposed','approved','paid')", name=op.f('ck_medical_awards_status_known')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_medical_awards_amount_positive')),
    sa.ForeignKeyConstraint(['batch_id'], ['medical_batches.id'], name=op.f('fk_medical_awards_batch_id_medical_batches')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_medical_awards_member_id_members')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_awards_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_awards')),
    sa.UniqueConstraint('programme_id', 'member_id', name='uq_medical_awards_programme_member')
    )
    with op.batch_alter_table('medical_awards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_awards_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_medical_awards_member_id'), ['member_id'], unique=False)

    op.create_table('medical_payout_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('payout_count', sa.Integer(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('approval','reissue')", name=op.f('ck_medical_payout_files_kind_known')),
    sa.ForeignKeyConstraint(['batch_id'], ['medical_batches.id'], name=op.f('fk_medical_payout_files_batch_id_medical_batches')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_medical_payout_files_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_payout_files_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_payout_files'))
    )
    with op.batch_alter_table('medical_payout_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_payout_files_programme_id'), ['programme_id'], unique=False)

    op.create_table('medical_return_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('paid', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_medical_return_files_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_return_files_programme_id_medical_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_return_files'))
    )
    with op.batch_alter_table('medical_return_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_return_files_programme_id'), ['programme_id'], unique=False)

    op.create_table('medical_payouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('award_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('card_number', sa.String(length=19), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('failure_reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_file_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('sent','paid','failed')", name=op.f('ck_medical_payouts_status_known')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_medical_payouts_amount_positive')),
    sa.CheckConstraint("status <> 'failed' OR failure_reason IS NOT NULL", name=op.f('ck_medical_payouts_failure_has_reason')),
    sa.ForeignKeyConstraint(['award_id'], ['medical_awards.id'], name=op.f('fk_medical_payouts_award_id_medical_awards')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_medical_payouts_card_id_cards')),
    sa.ForeignKeyConstraint(['file_id'], ['medical_payout_files.id'], name=op.f('fk_medical_payouts_file_id_medical_payout_files')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_medical_payouts_member_id_members')),
    sa.ForeignKeyConstraint(['programme_id'], ['medical_programmes.id'], name=op.f('fk_medical_payouts_programme_id_medical_programmes')),
    sa.ForeignKeyConstraint(['return_file_id'], ['medical_return_files.id'], name=op.f('fk_medical_payouts_return_file_id_medical_return_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_medical_payouts')),
    sa.UniqueConstraint('reference', name=op.f('uq_medical_payouts_reference'))
    )
    with op.batch_alter_table('medical_payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_payouts_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_medical_payouts_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_medical_payouts_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index('uq_medical_payouts_one_live_per_award', ['award_id'], unique=True,
                              postgresql_where=sa.text("status IN ('sent','paid')"))


def downgrade():
    op.drop_table('medical_payouts')
    op.drop_table('medical_return_files')
    op.drop_table('medical_payout_files')
    op.drop_table('medical_awards')
    op.drop_table('medical_batches')
    op.drop_table('medical_claims')
    op.drop_table('medical_imports')
    op.drop_table('medical_programmes')
