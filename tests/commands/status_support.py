"""Sync runs as the sync leaves them, for the tests of `datadrip status` and of cron behaviour."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from datadrip.platforms.registry import load_settings
from datadrip.workbook.session import open_session

ACCOUNTS = ("act_1", "1234567890", "act_2")  # the active clients' accounts (act_3 is Dormant's)


def execute(sql: str, **params: Any) -> None:
    with open_session(load_settings(), write=True) as wb:
        wb.session.execute(sa.text(sql), params)


def sync_run(external_id: str, status: str, hours_ago: float, error: str | None = None) -> None:
    """A run of one account as the sync leaves it (start_run, then finish_run), `hours_ago`."""
    from datadrip.db.engine import open_workbook
    from datadrip.sync.store import finish_run, start_run

    engine = open_workbook(load_settings().workbook_target)
    try:
        with engine.connect() as conn:
            account_id = conn.execute(sa.text("SELECT id FROM ad_account WHERE external_id = :e"),
                                      {"e": external_id}).scalar_one()
        run_id = start_run(engine, account_id, None, ["campaign", "adset", "ad"])
        finish_run(engine, run_id, status=status, rows=12, requests=3, warnings=[], error=error)
    finally:
        engine.dispose()
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours_ago)
    execute("UPDATE sync_run SET started_at = :start, finished_at = :at WHERE id = :id",
            start=at - dt.timedelta(minutes=2), at=at, id=run_id)


def all_synced(hours_ago: float = 2) -> None:
    for account in ACCOUNTS:
        sync_run(account, "succeeded", hours_ago)


def synced_through(day: dt.date) -> None:
    """Every account's campaign level synced up to `day` (its sync cursor, as a chunk leaves it)."""
    execute("INSERT INTO sync_cursor (account_id, level, synced_through, updated_at) "
            "SELECT id, 'campaign', :day, :now FROM ad_account",
            day=day, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
