"""ad_account.platform takes any platform's name: the CHECK (platform IN ('meta', 'google')) goes,
since platforms are plug-ins (an installed package adds one) and the workbook keeps accounts of a
platform whose plug-in is not installed (they are listed as such and skipped by sync).

PostgreSQL drops the constraint in place. SQLite changes a CHECK only by rebuilding the table
(batch mode), which meets two things here:
- DROP TABLE of the old ad_account deletes every row that refers to it by cascade when foreign
  keys are on (as DataDrip opens a workbook; they cannot be turned off inside this transaction):
  the entities, metric rows, sync runs and cursors are kept aside meanwhile and put back, as
  0009/0010 do for the report deliveries;
- the `datadrip sql` views name ad_account, and SQLite refuses to rename the rebuilt table into
  place while they do: they are dropped first and created again exactly as they were (their SQL
  is read from the workbook).

Down, the CHECK comes back; a workbook that holds accounts of another platform is refused (they
would be lost or break the constraint), naming them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose rows a DROP of ad_account would delete by cascade, parents before children.
KEPT = ("entity", "metric_daily", "sync_run", "sync_cursor")
CHECK = "platform IN ('meta', 'google')"


def _rebuild(change: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        if change == "drop":
            op.drop_constraint('platform_allowed', 'ad_account', type_='check')
        else:
            op.create_check_constraint('platform_allowed', 'ad_account', CHECK)
        return
    views = bind.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view' "
                                 "ORDER BY rowid").all()
    for name, _sql in reversed(views):  # created after what they read: dropped before it
        op.execute(f'DROP VIEW "{name}"')
    for table in KEPT:
        op.execute(f"CREATE TEMP TABLE {table}_kept AS SELECT * FROM {table}")
    with op.batch_alter_table('ad_account', recreate='always') as batch:
        if change == "drop":
            batch.drop_constraint('platform_allowed', type_='check')
        else:
            batch.create_check_constraint('platform_allowed', CHECK)
    for table in KEPT:
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_kept")
        op.execute(f"DROP TABLE {table}_kept")
    for _name, sql in views:
        op.execute(sql)


def upgrade() -> None:
    _rebuild("drop")


def downgrade() -> None:
    others = op.get_bind().exec_driver_sql(
        f"SELECT DISTINCT platform FROM ad_account WHERE NOT ({CHECK}) ORDER BY platform").scalars().all()
    if others:
        raise RuntimeError(f"cannot go below schema 0014: the workbook holds accounts of "
                           f"{', '.join(others)}, which older schemas refuse; remove them first")
    _rebuild("add")
