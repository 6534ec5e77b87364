"""The one "last good sync" query: when each account's latest successful sync finished."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from datadrip.core.enums import SyncStatus
from datadrip.db.models import SyncRun

_runs = SyncRun.__table__  # type: ignore[attr-defined]


def last_good_sync(account_id: Any) -> Any:
    """When the latest successful sync of the account `account_id` names finished (None: never),
    as a scalar subquery to select beside an account (`account_id` is a column such as
    ad_account.id, or an id). The latest is the last started, found through sync_run's
    (account, started_at) index; one account's syncs never overlap (the workbook lock), so it is
    also the last finished. Dashboards, reports, `status` and the daemon all read this one."""
    return (sa.select(_runs.c.finished_at)
            .where(_runs.c.account_id == account_id, _runs.c.status == SyncStatus.SUCCEEDED.value)
            .order_by(_runs.c.started_at.desc()).limit(1).scalar_subquery())
