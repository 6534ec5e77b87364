"""Insights: a fingerprint and evidence window per insight (no duplicates, dismissals remembered),
and the model answers' cache.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('insight') as batch:
        batch.add_column(sa.Column('fingerprint', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('window_since', sa.Date(), nullable=True))
        batch.add_column(sa.Column('window_until', sa.Date(), nullable=True))
        batch.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
    op.create_index('ix_insight_client_fingerprint', 'insight', ['client_id', 'fingerprint'], unique=False)
    op.create_table('llm_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('agency_id', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('content', sa.String(), nullable=False),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_llm_cache_agency_id'), 'llm_cache', ['agency_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_llm_cache_agency_id'), table_name='llm_cache')
    op.drop_table('llm_cache')
    op.drop_index('ix_insight_client_fingerprint', table_name='insight')
    with op.batch_alter_table('insight') as batch:
        batch.drop_column('updated_at')
        batch.drop_column('window_until')
        batch.drop_column('window_since')
        batch.drop_column('fingerprint')
