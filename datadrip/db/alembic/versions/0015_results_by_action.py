"""Results by conversion action, parity numbers, breakdowns and campaign settings (issue 20).

- metric_daily gains the numbers the platforms' screens show beside clicks and conversions (link
  clicks, interactions, all conversions, Meta's Results column, the attribution setting applied)
  and `actions_kept`: rows already in the workbook keep their single conversions number and are
  marked as having no actions until a sync re-reads their day;
- metric_action_daily: every conversion action per entity-day (count in millionths, value in
  micros), keyed like metric_daily with the action last;
- conversion_action: each account's catalogue of actions and their names;
- metric_breakdown_daily: campaign days by age, gender, country, placement or device, where a
  withheld number is NULL;
- entity gains its settings (objective, budgets, bid strategy, run dates, optimisation goal,
  attribution setting, creative title and thumbnail), and entity_change keeps their history;
- client gains its key results and its breakdowns.

Every new column is nullable or has a server default, so SQLite adds them in place (no table
rebuild: nothing that refers to the tables is touched).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = "level IN ('campaign', 'adset', 'ad')"

METRIC_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ('link_clicks', sa.BigInteger()), ('interactions', sa.BigInteger()),
    ('all_conversions_millionths', sa.BigInteger()), ('all_conversion_value_micros', sa.BigInteger()),
    ('result_indicator', sa.String(200)), ('results_millionths', sa.BigInteger()),
    ('attribution_setting', sa.String(64)),
)
ENTITY_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ('objective', sa.String(64)), ('effective_status', sa.String(64)),
    ('daily_budget_micros', sa.BigInteger()), ('lifetime_budget_micros', sa.BigInteger()),
    ('bid_strategy', sa.String(64)), ('starts_on', sa.Date()), ('ends_on', sa.Date()),
    ('optimization_goal', sa.String(64)), ('attribution_setting', sa.String(64)),
    ('creative_title', sa.String(500)), ('thumbnail_url', sa.String(2000)),
    ('settings_synced_at', sa.DateTime()),
)


def _account() -> sa.Column[str]:
    return sa.Column('account_id', sa.String(32), sa.ForeignKey('ad_account.id', ondelete='CASCADE'),
                     primary_key=True)


def upgrade() -> None:
    for name, kind in METRIC_COLUMNS:
        op.add_column('metric_daily', sa.Column(name, kind, nullable=True))
    op.add_column('metric_daily', sa.Column('actions_kept', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    for name, kind in ENTITY_COLUMNS:
        op.add_column('entity', sa.Column(name, kind, nullable=True))
    op.add_column('client', sa.Column('key_results', sa.JSON(), nullable=True))
    op.add_column('client', sa.Column('breakdowns', sa.JSON(), nullable=True))
    op.create_table(
        'metric_action_daily',
        _account(),
        sa.Column('level', sa.String(16), primary_key=True),
        sa.Column('date', sa.Date(), primary_key=True),
        sa.Column('entity_id', sa.String(32), primary_key=True),
        sa.Column('action', sa.String(200), primary_key=True),
        sa.Column('count_millionths', sa.BigInteger(), nullable=False),
        sa.Column('value_micros', sa.BigInteger(), nullable=True),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(LEVELS, name='level_allowed'),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'conversion_action',
        _account(),
        sa.Column('action', sa.String(200), primary_key=True),
        sa.Column('name', sa.String(500), nullable=False),
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('category', sa.String(64), nullable=True),
        sa.Column('primary', sa.Boolean(), nullable=True),
        sa.Column('included_in_conversions', sa.Boolean(), nullable=True),
        sa.Column('status', sa.String(32), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'metric_breakdown_daily',
        _account(),
        sa.Column('dimension', sa.String(16), primary_key=True),
        sa.Column('date', sa.Date(), primary_key=True),
        sa.Column('entity_id', sa.String(32), primary_key=True),
        sa.Column('value', sa.String(200), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=True)
          for name in ('spend_micros', 'impressions', 'clicks', 'conversions_millionths',
                       'conversion_value_micros', 'reach')),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        'entity_change',
        sa.Column('id', sa.String(32), primary_key=True),
        sa.Column('account_id', sa.String(32), sa.ForeignKey('ad_account.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('entity_id', sa.String(32), sa.ForeignKey('entity.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('changed_on', sa.Date(), nullable=False),
        sa.Column('field', sa.String(64), nullable=False),
        sa.Column('old_value', sa.String(2000), nullable=True),
        sa.Column('new_value', sa.String(2000), nullable=True),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
    )
    op.create_index('ix_entity_change_account_id', 'entity_change', ['account_id'])
    op.create_index('ix_entity_change_entity_day', 'entity_change', ['entity_id', 'changed_on'])


def downgrade() -> None:
    op.drop_table('entity_change')
    op.drop_table('metric_breakdown_daily')
    op.drop_table('conversion_action')
    op.drop_table('metric_action_daily')
    # SQLite drops a column in place (3.35+): a rebuild would have to keep aside what refers to
    # entity and client, as 0014 does.
    for name in ('breakdowns', 'key_results'):
        op.drop_column('client', name)
    for name, _kind in reversed(ENTITY_COLUMNS):
        op.drop_column('entity', name)
    op.drop_column('metric_daily', 'actions_kept')
    for name, _kind in reversed(METRIC_COLUMNS):
        op.drop_column('metric_daily', name)
