"""Reports: a report may be recorded as skipped (not sent, with the reason in its error), as a
client with no accounts or no data for the period is.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _allow(statuses: str) -> None:
    """report.status_allowed as `statuses`. SQLite rebuilds the table to change a CHECK, and its
    DROP of the old one deletes every delivery by cascade when foreign keys are on (as DataDrip
    opens a workbook; they cannot be turned off inside this transaction): the deliveries are kept
    aside meanwhile."""
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
    _allow("'built', 'sent', 'failed', 'skipped'")


def downgrade() -> None:
    # A skipped report was never sent: it goes back to what it was before skipping existed.
    op.execute("UPDATE report SET status = 'built' WHERE status = 'skipped'")
    _allow("'built', 'sent', 'failed'")
