"""sync.health.last_good_sync: the one "last good sync per account" query, which the dashboard,
the report, `status` and the daemon all read, on a real workbook file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from datadrip.core.config import load_settings
from datadrip.core.enums import AccountStatus, SyncStatus
from datadrip.db.engine import open_workbook
from datadrip.db.models import AdAccount, SyncRun
from datadrip.scheduling.runs import synced_today
from datadrip.sync.health import last_good_sync
from datadrip.workbook.session import open_session

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def accounts(dd: Callable[..., Any]) -> dict[str, str]:
    """Masala Mornings with three Meta accounts: synced, only failed, and never synced."""
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    assert dd("client", "add", "Masala Mornings").exit_code == 0
    with open_session(load_settings(), write=True) as wb:
        client_id = wb.session.execute(sa.text("SELECT id FROM client")).scalar_one()
        ids = {}
        for name in ("synced", "failing", "new"):
            account = AdAccount(client_id=client_id, platform="meta", external_id=f"act_{name}",
                                name=name, currency="INR", timezone="Asia/Kolkata")
            wb.session.add(account)
            wb.session.flush()
            ids[name] = account.id
        runs = [("synced", 5, SyncStatus.SUCCEEDED), ("synced", 3, SyncStatus.SUCCEEDED),
                ("synced", 1, SyncStatus.FAILED), ("failing", 2, SyncStatus.FAILED)]
        for name, hours_ago, status in runs:
            started = NOON - dt.timedelta(hours=hours_ago)
            wb.session.add(SyncRun(account_id=ids[name], started_at=started, status=status.value,
                                   finished_at=started + dt.timedelta(minutes=10)))
        ids["client"] = client_id
    return ids


def good_syncs() -> dict[str, dt.datetime | None]:
    table = AdAccount.__table__  # type: ignore[attr-defined]
    with open_session(load_settings()) as wb:
        rows = wb.session.execute(sa.select(table.c.name, last_good_sync(table.c.id)))
        return {name: None if at is None else at.replace(tzinfo=dt.UTC) for name, at in rows}


def test_last_good_sync_is_when_the_latest_success_finished_whatever_failed_since(accounts):
    assert good_syncs() == {"synced": NOON - dt.timedelta(hours=3) + dt.timedelta(minutes=10),
                            "failing": None, "new": None}


def test_synced_today_reads_the_same_last_good_sync(accounts, workbook_path):
    engine = open_workbook(str(workbook_path))
    since = NOON - dt.timedelta(hours=4)
    assert not synced_today(engine, accounts["client"], since)  # two accounts never succeeded
    with open_session(load_settings(), write=True) as wb:
        wb.session.execute(sa.update(AdAccount).where(AdAccount.id.in_(  # type: ignore[attr-defined]
            [accounts["failing"], accounts["new"]])).values(status=AccountStatus.DISABLED.value))
    assert synced_today(engine, accounts["client"], since)  # disabled accounts are not waited for
    assert not synced_today(engine, accounts["client"], NOON - dt.timedelta(hours=2))
