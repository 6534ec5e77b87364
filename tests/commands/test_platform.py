"""`datadrip platform list`, and accounts whose platform's plug-in is not installed: listed as such,
skipped by sync, shown by status, dashboards and reports, and nothing crashes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.analytics_support import D1, MASALA, fill_workbook

PERIOD = ("--since", "2026-11-01", "--until", "2026-11-03")


# --- platform list -----------------------------------------------------------------------------

def test_platform_list_json_names_the_built_in_plug_ins_with_package_and_version(dd) -> None:
    run = dd("platform", "list", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    assert run.json() == [
        {"name": "google", "label": "Google Ads", "package": "datadrip", "version": version("datadrip"),
         "entry_point": "datadrip.platforms.google.plugin:platform"},
        {"name": "meta", "label": "Meta", "package": "datadrip", "version": version("datadrip"),
         "entry_point": "datadrip.platforms.meta.plugin:platform"},
    ]


def test_platform_list_piped_prints_one_tab_separated_line_per_platform(dd) -> None:
    run = dd("platform", "list")

    assert run.exit_code == 0, run.stderr
    assert [line.split("\t") for line in run.stdout.splitlines()] == [
        ["google", "Google Ads", "datadrip", version("datadrip")],
        ["meta", "Meta", "datadrip", version("datadrip")]]


def test_platform_help_teaches_what_a_platform_is(dd) -> None:
    run = dd("platform", "--help")

    assert run.exit_code == 0
    text = " ".join(run.stdout.split())  # as read, whatever the terminal's width
    assert "`datadrip.platforms` entry point group" in text
    assert "`sync --platform`" in text
    assert "`account list` says so and `sync` skips them" in text
    assert "datadrip platform list --json" in text


def test_platform_list_takes_no_argument(dd) -> None:
    run = dd("platform", "list", "tiktok")

    assert run.exit_code == 2
    assert run.stdout == ""


# --- an account of a platform that is not installed --------------------------------------------

def add_tiktok_account(workbook: Path, client: str = MASALA) -> None:
    """A TikTok account with a campaign and a day of numbers, as a TikTok plug-in (since
    uninstalled) would have left them."""
    with sqlite3.connect(workbook) as db:
        db.execute("PRAGMA foreign_keys = ON")
        (client_id,) = db.execute("SELECT id FROM client WHERE name = ?", (client,)).fetchone()
        db.execute("INSERT INTO ad_account (id, client_id, platform, external_id, name, currency, "
                   "timezone, status, created_at) VALUES ('tt1', ?, 'tiktok', '7000001', 'Reels', "
                   "'INR', 'Asia/Kolkata', 'active', '2026-10-01 00:00:00.000000')", (client_id,))
        db.execute("INSERT INTO entity (id, account_id, level, external_id, name, status, updated_at) "
                   "VALUES ('ttc1', 'tt1', 'campaign', '1800001', 'Reels launch', 'ENABLE', "
                   "'2026-11-02 00:00:00.000000')")
        db.execute("INSERT INTO metric_daily (account_id, level, entity_id, date, spend_micros, "
                   "impressions, clicks, conversions_millionths, conversion_value_micros, synced_at) "
                   "VALUES ('tt1', 'campaign', 'ttc1', ?, 300000000, 3000, 30, 3000000, 900000000, "
                   "'2026-11-02 00:00:00.000000')", (D1.isoformat(),))


@pytest.fixture
def with_tiktok(dd: Callable[..., Any], workbook_path: Path) -> Path:
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    add_tiktok_account(workbook_path)
    return workbook_path


def test_account_list_json_says_the_platform_is_not_installed_keeping_every_field(dd, with_tiktok) -> None:
    run = dd("account", "list", "--json")

    assert run.exit_code == 0, run.stderr
    rows = run.json()
    tiktok = next(row for row in rows if row["platform"] == "tiktok")
    assert all(list(row) == list(tiktok) for row in rows)
    assert (tiktok["account_id"], tiktok["status"]) == ("7000001", "active")
    assert tiktok["warning"] == "platform not installed; see 'datadrip platform list'"
    assert all(row["warning"] is None for row in rows if row["platform"] != "tiktok")


def test_account_list_table_shows_platform_not_installed(dd, with_tiktok) -> None:
    run = dd("account", "list")

    assert run.exit_code == 0, run.stderr
    line = next(line for line in run.stdout.splitlines() if "tiktok" in line)
    assert "platform not installed" in line


def test_sync_skips_an_account_of_a_platform_not_installed_with_one_warning(dd, with_tiktok) -> None:
    run = dd("sync", "--client", MASALA, "--dry-run", "--json")

    assert run.exit_code == 0, run.stderr
    accounts = {a["platform"]: a for a in run.json()["accounts"]}
    assert accounts["tiktok"]["status"] == "skipped"
    assert accounts["tiktok"]["error"] == "platform 'tiktok' is not installed"
    assert accounts["tiktok"]["levels"] == []
    assert accounts["meta"]["status"] == "planned"
    warnings = [line for line in run.stderr.splitlines() if "not installed" in line]
    assert warnings == ["warning: skipped 1 account(s) whose platform is not installed (see "
                        "'datadrip platform list'): Masala Mornings · tiktok 7000001"]


def test_sync_of_only_accounts_not_installed_exits_0_having_fetched_nothing(dd, agency, workbook_path):
    assert dd("client", "add", MASALA, "--currency", "INR").exit_code == 0
    add_tiktok_account(workbook_path)

    run = dd("sync", "--json")

    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert (document["rows"], document["succeeded"], document["failed"]) == (0, 0, 0)
    assert [a["status"] for a in document["accounts"]] == ["skipped"]
    assert len(run.stderr.splitlines()) == 1
    assert "Masala Mornings · tiktok 7000001" in run.stderr
    with sqlite3.connect(workbook_path) as db:
        assert db.execute("SELECT count(*) FROM sync_run").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM metric_daily").fetchone() == (1,)


def test_status_shows_an_account_of_a_platform_not_installed_as_such_not_as_a_problem(
        dd, agency, workbook_path) -> None:
    assert dd("client", "add", MASALA, "--currency", "INR").exit_code == 0
    add_tiktok_account(workbook_path)  # connected long ago, never synced: sync skips it

    run = dd("status", "--json")

    assert run.exit_code == 0, run.stderr
    accounts = run.json()["accounts"]
    assert [(a["client"], a["platform"], a["account_id"], a["state"], a["problem"])
            for a in accounts] == [(MASALA, "tiktok", "7000001", "platform_not_installed", None)]
    table = dd("status")
    assert "tiktok 7000001\tplatform_not_installed" in table.stdout


def test_dashboard_and_report_build_show_the_stored_rows_under_the_bare_name(dd, with_tiktok) -> None:
    board = dd("dashboard", "--client", MASALA, *PERIOD, "--json")

    assert board.exit_code == 0, board.stderr
    channels = {c["platform"]: c for c in board.json()["channels"]}
    assert channels["tiktok"]["spend"] == 300
    report = dd("report", "build", MASALA, *PERIOD, "--format", "json")
    assert report.exit_code == 0, report.stderr
    built = report.json()
    labels = {c["platform"]: c["label"] for c in built["channels"]}
    assert labels == {"meta": "Meta", "google": "Google Ads", "tiktok": "tiktok"}
