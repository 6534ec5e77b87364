"""Sync state: per-level cursors, per-account lookback and attribution, per-client conversion actions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_cursor',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('synced_through', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("level IN ('campaign', 'adset', 'ad')", name='level_allowed'),
    sa.ForeignKeyConstraint(['account_id'], ['ad_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'level')
    )
    with op.batch_alter_table('ad_account') as batch:
        batch.add_column(sa.Column('lookback_days', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('attribution_setting', sa.String(length=64), nullable=True))
    # JSON columns get '[]' for the rows already there, then lose the default (the models set it).
    with op.batch_alter_table('client') as batch:
        batch.add_column(sa.Column('conversion_actions', sa.JSON(), nullable=False,
                                   server_default='[]'))
    with op.batch_alter_table('client') as batch:
        batch.alter_column('conversion_actions', server_default=None)
    with op.batch_alter_table('sync_run') as batch:
        batch.add_column(sa.Column('levels', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('requests', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('warnings', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('sync_run') as batch:
        batch.alter_column('warnings', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('sync_run') as batch:
        batch.drop_column('warnings')
        batch.drop_column('requests')
        batch.drop_column('levels')
    with op.batch_alter_table('client') as batch:
        batch.drop_column('conversion_actions')
    with op.batch_alter_table('ad_account') as batch:
        batch.drop_column('attribution_setting')
        batch.drop_column('lookback_days')
    op.drop_table('sync_cursor')
