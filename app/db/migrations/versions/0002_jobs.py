"""jobs: ownership, status and checkpoint of background jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:49:42.460312
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='PENDING', nullable=False),
    sa.Column('progress', sa.Integer(), server_default='0', nullable=False),
    sa.Column('source_file', sa.String(length=255), nullable=True),
    sa.Column('source_format', sa.String(length=8), nullable=True),
    sa.Column('result_file', sa.String(length=255), nullable=True),
    sa.Column('total_rows', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', app.db.base.UTCDateTime(), nullable=True),
    sa.Column('finished_at', app.db.base.UTCDateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.base.UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
    sa.Column('updated_at', app.db.base.UTCDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jobs_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('task_id', name=op.f('uq_jobs_task_id'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_owner_id'))

    op.drop_table('jobs')
