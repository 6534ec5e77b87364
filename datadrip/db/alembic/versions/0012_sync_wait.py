"""Sync runs: the platform's current or last wait (a rate limit, a retry) of each run, for status.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sync_run') as batch:
        batch.add_column(sa.Column('wait', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sync_run') as batch:
        batch.drop_column('wait')
