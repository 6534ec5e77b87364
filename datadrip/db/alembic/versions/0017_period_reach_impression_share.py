"""A period's reach as the platform counts it, Google's search impression shares, and breakdowns
chosen per agency (issue 20).

- metric_period_reach: the reach of one entity over one range of days, fetched for that range
  (daily reach is not additive: the people reached on Monday and on Tuesday overlap). Reports
  and dashboards show a period's reach from here, or n/a; never a sum of days.
- metric_daily gains Google's search impression share and the shares lost to budget and to rank,
  as integer millionths of 1 (0.0999 = 99,900). They are ratios: a period's share is weighted by
  eligible impressions (impressions ÷ share), never summed or averaged plainly.
- agency gains `breakdowns`: the breakdowns synced for its clients that choose none themselves
  (None: `[sync] breakdowns`).

Every new column is nullable, so SQLite adds them in place.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARE_COLUMNS = ('search_impression_share_millionths', 'search_budget_lost_share_millionths',
                 'search_rank_lost_share_millionths')


def upgrade() -> None:
    for name in SHARE_COLUMNS:
        op.add_column('metric_daily', sa.Column(name, sa.BigInteger(), nullable=True))
    op.add_column('agency', sa.Column('breakdowns', sa.JSON(), nullable=True))
    op.create_table(
        'metric_period_reach',
        sa.Column('account_id', sa.String(32), sa.ForeignKey('ad_account.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('level', sa.String(16), primary_key=True),
        sa.Column('entity_id', sa.String(32), primary_key=True),
        sa.Column('date_from', sa.Date(), primary_key=True),
        sa.Column('date_to', sa.Date(), primary_key=True),
        sa.Column('reach', sa.BigInteger(), nullable=True),
        sa.Column('synced_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("level IN ('account', 'campaign', 'adset', 'ad')",
                           name='level_allowed'),
        sa.CheckConstraint('date_from <= date_to', name='range_ordered'),
    )


def downgrade() -> None:
    op.drop_table('metric_period_reach')
    op.drop_column('agency', 'breakdowns')
    for name in reversed(SHARE_COLUMNS):
        op.drop_column('metric_daily', name)
