"""Reports: a send whose hand-over to the provider was cut short is recorded as "uncertain".

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _allow(statuses: str) -> None:
    """report.status_allowed as `statuses`. SQLite rebuilds the table to change a CHECK, and its
    DROP of the old one deletes every delivery by cascade when foreign keys are on (as DataDrip
    opens a workbook; they cannot be turned off inside this transaction): the deliveries are kept
    aside meanwhile, as 0009 does (copied: a migration never changes)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE report_delivery_kept AS SELECT * FROM report_delivery")
    with op.batch_alter_table('report') as batch:
        batch.drop_constraint('status_allowed', type_='check')
        batch.create_check_constraint('status_allowed', f"status IN ({statuses})")
    if sqlite:
        op.execute("INSERT INTO report_delivery SELECT * FROM report_delivery_kept")
        op.execute("DROP TABLE report_delivery_kept")


def upgrade() -> None:
    _allow("'built', 'sent', 'failed', 'skipped', 'uncertain'")


def downgrade() -> None:
    # An uncertain send becomes a failed one: the status older workbooks know that keeps it
    # from being sent again without a person's say.
    op.execute("UPDATE report SET status = 'failed' WHERE status = 'uncertain'")
    _allow("'built', 'sent', 'failed', 'skipped'")
