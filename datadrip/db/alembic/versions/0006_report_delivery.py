"""Report delivery: the provider's id, when the report was built, a claim while it is being sent,
and every delivery attempt kept in report_delivery.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('report') as batch:
        batch.add_column(sa.Column('built_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('provider', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('provider_id', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('sending_since', sa.DateTime(), nullable=True))
    op.create_table('report_delivery',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.Column('provider_id', sa.String(length=300), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_report_delivery_report_at', 'report_delivery', ['report_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_report_delivery_report_at', table_name='report_delivery')
    op.drop_table('report_delivery')
    with op.batch_alter_table('report') as batch:
        batch.drop_column('sending_since')
        batch.drop_column('provider_id')
        batch.drop_column('provider')
        batch.drop_column('built_at')
