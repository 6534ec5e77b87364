"""The daemon's job runs: which job ran for which agency and scheduled time, and how it ended.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'partial', 'failed', 'abandoned')",
                       name='status_allowed'),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_job_run_agency_job_scheduled', 'job_run',
                    ['agency_id', 'job', 'scheduled_for'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_run_agency_job_scheduled', table_name='job_run')
    op.drop_table('job_run')
