"""Helpers for sync scenarios: connecting the sandbox's accounts, and totals from both sides."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import POSTGRES_ENV, Run, sandbox_settings

from datadrip.core.money import conversions_from_millionths

SYSTEM_TOKEN = "EAAB-sandbox-system-user-token"
REFRESH_TOKEN = "1//sandbox-refresh-token"
ACCOUNTS = {  # workbook external id → (sandbox id, client)
    "act_1010000001": ("1010000001", "Masala Mornings"),
    "act_1010000002": ("1010000002", "Peak Trail Outfitters"),
    "act_1010000003": ("1010000003", "Peak Trail Outfitters"),
    "2020000001": ("2020000001", "Masala Mornings"),
    "2020000002": ("2020000002", "Peak Trail Outfitters"),
}
LEVELS = ("campaign", "adset", "ad")


def connect_everything(dd: Callable[..., Any]) -> None:
    runs = [
        dd("connect", "meta", "Masala Mornings", "--token-stdin", "--account", "act_1010000001",
           input=SYSTEM_TOKEN),
        dd("connect", "meta", "Peak Trail Outfitters", "--token-stdin", "--account", "act_1010000002",
           "--account", "act_1010000003", input=SYSTEM_TOKEN),
        dd("connect", "google", "Masala Mornings", "--refresh-token-stdin", "--account", "2020000001",
           input=REFRESH_TOKEN),
        dd("connect", "google", "Peak Trail Outfitters", "--refresh-token-stdin", "--account",
           "2020000002", input=REFRESH_TOKEN),
    ]
    for run in runs:
        assert run.exit_code == 0, run.stderr


def add_client_with_google(dd: Callable[..., Any], client: str, customer_id: str) -> None:
    """`client add CLIENT`, then its Google Ads account connected with the sandbox's refresh token."""
    assert dd("client", "add", client).exit_code == 0
    connected = dd("connect", "google", client, "--refresh-token-stdin", "--account", customer_id,
                   input=REFRESH_TOKEN)
    assert connected.exit_code == 0, connected.stderr


Totals = tuple[int, int, int, Decimal, int]  # spend micros, impressions, clicks, conversions, value


def workbook_totals(path: Path, external_id: str, level: str, since: dt.date,
                    until: dt.date) -> Totals:
    """What the workbook holds for one account level over a window (read with plain sqlite3)."""
    connection = sqlite3.connect(path)
    try:
        row = connection.execute(
            "SELECT COALESCE(SUM(m.spend_micros), 0), COALESCE(SUM(m.impressions), 0), "
            "COALESCE(SUM(m.clicks), 0), COALESCE(SUM(m.conversions_millionths), 0), "
            "COALESCE(SUM(m.conversion_value_micros), 0) FROM metric_daily m "
            "JOIN ad_account a ON a.id = m.account_id WHERE a.external_id = ? AND m.level = ? "
            "AND m.date BETWEEN ? AND ?",
            (external_id, level, since.isoformat(), until.isoformat())).fetchone()
    finally:
        connection.close()
    return int(row[0]), int(row[1]), int(row[2]), conversions_from_millionths(row[3]), int(row[4])


def world_totals(sandbox: Any, external_id: str, since: dt.date, until: dt.date) -> Totals:
    """The sandbox's own numbers for the account over the window, as reported today."""
    world = sandbox.app.world
    account = world.account(ACCOUNTS[external_id][0])
    today = sandbox.app.state.clock.today_in(account.timezone)
    spend = impressions = clicks = value = 0
    conversions = Decimal(0)
    for row in world.rows(account.id, "ad", since, until, today):
        spend += row.spend_micros
        impressions += row.impressions
        clicks += row.clicks
        conversions += row.conversions
        value += row.conversion_value_micros
    return spend, impressions, clicks, conversions, value


def metric_snapshot(path: Path) -> list[tuple[Any, ...]]:
    """Every metric row without its synced_at stamp: what a re-sync must leave equal."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            "SELECT a.external_id, m.level, e.external_id, m.date, m.spend_micros, m.impressions, "
            "m.clicks, m.conversions_millionths, m.conversion_value_micros, m.reach FROM metric_daily m "
            "JOIN ad_account a ON a.id = m.account_id JOIN entity e ON e.id = m.entity_id "
            "ORDER BY 1, 2, 3, 4").fetchall()
    finally:
        connection.close()


def sql(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()


@contextmanager
def own_home(folder: Path) -> Iterator[Callable[..., Run]]:
    """A DATADRIP_HOME for a module's sync (conftest's `home` makes one per test), with the
    sandbox's settings; the `dd` it yields runs the CLI there."""
    from typer.testing import CliRunner

    from datadrip.cli import app

    with pytest.MonkeyPatch.context() as patch:
        for var in list(os.environ):
            if var.startswith("DATADRIP_") and var != POSTGRES_ENV:
                patch.delenv(var)
        patch.setenv("DATADRIP_HOME", str(folder / "home"))
        patch.setenv("DATADRIP_USER_EMAIL", "tester@agency.example")
        patch.setenv("DATADRIP_SECRETS_BACKEND", "file")
        (folder / "work").mkdir(parents=True, exist_ok=True)
        patch.chdir(folder / "work")
        runner = CliRunner()

        def dd(*args: str, input: str | None = None) -> Run:
            result = runner.invoke(app, list(args), input=input)
            return Run(result.exit_code, result.stdout, result.stderr)

        yield dd


@contextmanager
def results_sandbox(home: Path) -> Iterator[tuple[Any, Callable[..., Any], dict[str, str]]]:
    """A sandbox (seed 7) whose world also holds the results accounts (the shop and the
    lead-generation client), and `dd` running the CLI in-process against it with `home` as
    DATADRIP_HOME, failing the test on any exit but 0: (the sandbox, dd, its environment)."""
    from typer.testing import CliRunner

    from datadrip.cli import app
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.data import World, results_accounts
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7)) as sandbox:
        world = sandbox.app.world
        sandbox.app.world = World(world.seed, (*world.accounts, *results_accounts()),
                                  epoch=world.epoch)
        env = {"DATADRIP_HOME": str(home), "DATADRIP_USER_EMAIL": "tester@agency.example",
               "DATADRIP_SECRETS_BACKEND": "file",
               **sandbox_settings(sandbox.app.describe(sandbox.base_url))}
        runner = CliRunner()

        def dd(*args: str, input: str | None = None) -> Any:
            result = runner.invoke(app, list(args), input=input, env=env)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
            return result

        yield sandbox, dd, env
