"""metric_daily keyed (account, level, date, entity), on SQLite stored in that order, with no
secondary index and no foreign key to entity (see MetricDaily: both cost the sync's write rate or
a scan per deleted entity).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("account_id, level, date, entity_id, spend_micros, impressions, clicks, conversions, "
           "conversion_value_micros, reach, synced_at")


def _create(name: str, key: tuple[str, ...], *, rowid: bool) -> None:
    entity_key = [] if not rowid else [
        sa.ForeignKeyConstraint(['entity_id'], ['entity.id'], ondelete='CASCADE')]
    op.create_table(name,
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('entity_id', sa.String(length=32), nullable=False),
    sa.Column('spend_micros', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('conversions', sa.Float(), nullable=False),
    sa.Column('conversion_value_micros', sa.BigInteger(), nullable=False),
    sa.Column('reach', sa.BigInteger(), nullable=True),
    sa.Column('synced_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("level IN ('campaign', 'adset', 'ad')", name='level_allowed'),
    sa.ForeignKeyConstraint(['account_id'], ['ad_account.id'], ondelete='CASCADE'),
    *entity_key,
    sa.PrimaryKeyConstraint(*key),
    sqlite_with_rowid=rowid,
    )


def _rebuild(key: tuple[str, ...], *, rowid: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows copied, the old dropped."""
    op.execute("ALTER TABLE metric_daily RENAME TO metric_daily_before")
    _create('metric_daily', key, rowid=rowid)
    op.execute(f"INSERT INTO metric_daily ({COLUMNS}) SELECT {COLUMNS} FROM metric_daily_before "
               "ORDER BY " + ", ".join(key))
    op.drop_table('metric_daily_before')


def upgrade() -> None:
    op.drop_index('ix_metric_daily_entity_date', table_name='metric_daily')
    op.drop_index('ix_metric_daily_account_date', table_name='metric_daily')
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(('account_id', 'level', 'date', 'entity_id'), rowid=False)
    else:
        op.drop_constraint('metric_daily_entity_id_fkey', 'metric_daily', type_='foreignkey')
        op.drop_constraint('metric_daily_pkey', 'metric_daily', type_='primary')
        op.create_primary_key('metric_daily_pkey', 'metric_daily',
                              ['account_id', 'level', 'date', 'entity_id'])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(('account_id', 'level', 'entity_id', 'date'), rowid=True)
    else:
        op.drop_constraint('metric_daily_pkey', 'metric_daily', type_='primary')
        op.create_primary_key('metric_daily_pkey', 'metric_daily',
                              ['account_id', 'level', 'entity_id', 'date'])
        op.create_foreign_key('metric_daily_entity_id_fkey', 'metric_daily', 'entity',
                              ['entity_id'], ['id'], ondelete='CASCADE')
    op.create_index('ix_metric_daily_account_date', 'metric_daily', ['account_id', 'date'])
    op.create_index('ix_metric_daily_entity_date', 'metric_daily', ['entity_id', 'date'])
