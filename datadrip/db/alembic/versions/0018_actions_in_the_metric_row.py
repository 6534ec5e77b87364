"""An entity-day's conversion actions are kept in its metric_daily row; metric_action_daily becomes
a view of them (issue 20's performance bound).

A Meta ad-day reports a dozen action types or more. Kept as a table row each, they made a sync
write some fourteen B-tree rows per metric row and cost 3.7 times the sync CPU per row of a sync
without actions (benchmarks/sync_bench.py). Now `metric_daily.actions` holds them as one JSON
object per row, `{"<action>": [count_millionths, value_micros or null], …}` (NULL: none), written
with the row in the same statement, and the view `metric_action_daily` shows them as before: one
row per (account, level, date, entity, action) with count_millionths, value_micros and the row's
synced_at. Every query of the old table reads the view unchanged, and `action_daily` (0016) reads
it too.

Existing action rows move into their metric rows; downgrade moves them back.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "x.account_id = m.account_id AND x.level = m.level AND x.date = m.date " \
      "AND x.entity_id = m.entity_id"
VIEWS = {
    "sqlite": """
CREATE VIEW metric_action_daily AS
SELECT m.account_id AS account_id, m.level AS level, m.date AS date, m.entity_id AS entity_id,
       j.key AS action, json_extract(j.value, '$[0]') AS count_millionths,
       json_extract(j.value, '$[1]') AS value_micros, m.synced_at AS synced_at
FROM metric_daily m, json_each(m.actions) j
WHERE m.actions IS NOT NULL
""",
    "postgresql": """
CREATE VIEW metric_action_daily AS
SELECT m.account_id AS account_id, m.level AS level, m.date AS date, m.entity_id AS entity_id,
       j.key AS action, (j.value ->> 0)::bigint AS count_millionths,
       (j.value ->> 1)::bigint AS value_micros, m.synced_at AS synced_at
FROM metric_daily m CROSS JOIN LATERAL jsonb_each(m.actions::jsonb) AS j
WHERE m.actions IS NOT NULL
""",
}
PACKED = {
    "sqlite": "SELECT json_group_object(x.action, json_array(x.count_millionths, x.value_micros)) "
              f"FROM metric_action_daily_kept x WHERE {KEY}",
    "postgresql": "SELECT json_object_agg(x.action, json_build_array(x.count_millionths, "
                  f"x.value_micros))::text FROM metric_action_daily_kept x WHERE {KEY}",
}
LEVELS = "level IN ('campaign', 'adset', 'ad')"


def _dependent_views(bind: sa.Connection) -> list[tuple[str, str]]:
    """The views that read metric_action_daily (action_daily), as (name, CREATE statement)."""
    if bind.dialect.name == "sqlite":
        return [(name, sql) for name, sql in bind.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'view' AND name <> "
            "'metric_action_daily' AND sql LIKE '%metric_action_daily%' ORDER BY rowid")]
    return [(name, f"CREATE VIEW {name} AS {definition}") for name, definition in bind.exec_driver_sql(
        "SELECT DISTINCT v.relname, pg_get_viewdef(v.oid) FROM pg_depend d "
        "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
        "WHERE d.refobjid = 'metric_action_daily'::regclass AND v.relname <> 'metric_action_daily'")]


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    views = _dependent_views(bind)
    for name, _sql in views:
        op.execute(f"DROP VIEW {name}")
    op.add_column('metric_daily', sa.Column('actions', sa.Text(), nullable=True))
    op.execute("ALTER TABLE metric_action_daily RENAME TO metric_action_daily_kept")
    op.execute(f"UPDATE metric_daily AS m SET actions = ({PACKED[dialect]}) WHERE EXISTS "
               f"(SELECT 1 FROM metric_action_daily_kept x WHERE {KEY})")
    op.drop_table('metric_action_daily_kept')
    op.execute(VIEWS[dialect])
    for _name, sql in views:
        op.execute(sql)


def downgrade() -> None:
    bind = op.get_bind()
    views = _dependent_views(bind)
    for name, _sql in views:
        op.execute(f"DROP VIEW {name}")
    op.execute("CREATE TABLE metric_action_daily_kept AS SELECT * FROM metric_action_daily")
    op.execute("DROP VIEW metric_action_daily")
    op.create_table(
        'metric_action_daily',
        sa.Column('account_id', sa.String(32), sa.ForeignKey('ad_account.id', ondelete='CASCADE'),
                  primary_key=True),
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
    op.execute("INSERT INTO metric_action_daily SELECT * FROM metric_action_daily_kept")
    op.drop_table('metric_action_daily_kept')
    op.drop_column('metric_daily', 'actions')
    for _name, sql in views:
        op.execute(sql)
