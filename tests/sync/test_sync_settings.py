"""Entity settings end to end: a real sync over HTTP stores how every campaign, ad set and ad of
both platforms is set up, keeps each change as an entity_change row, writes nothing when nothing
changed, and refuses an unreadable budget without writing the level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import pinned_clock
from sync_support import REFRESH_TOKEN, SYSTEM_TOKEN, sql

TODAY = dt.date(2026, 11, 26)  # the sandbox's first today (its epoch) in these scenarios
MASALA, PEAK, SAKURA = "Masala Mornings", "Peak Trail Outfitters", "Sakura Tea House"
META_INR, GOOGLE_INR, META_JPY, META_USD = "1010000001", "2020000001", "1010000007", "1010000002"
SETTINGS = ("objective", "effective_status", "daily_budget_micros", "lifetime_budget_micros",
            "bid_strategy", "starts_on", "ends_on", "optimization_goal", "attribution_setting",
            "creative_title", "thumbnail_url")


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """The sandbox pinned to TODAY, with the yen account."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7, today=TODAY, yen_account=True)) as server:
        yield server


@pytest.fixture
def clients(connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    """Masala Mornings on Meta (INR) and Google (INR, through the manager); Peak Trail
    Outfitters on Meta (USD); Sakura Tea House on Meta (JPY)."""
    assert dd("client", "add", SAKURA).exit_code == 0
    assert dd("client", "edit", PEAK, "--currency", "USD").exit_code == 0
    for run in (dd("connect", "meta", MASALA, "--token-stdin", "--account", f"act_{META_INR}",
                   input=SYSTEM_TOKEN),
                dd("connect", "google", MASALA, "--refresh-token-stdin", "--account", GOOGLE_INR,
                   input=REFRESH_TOKEN),
                dd("connect", "meta", PEAK, "--token-stdin", "--account", f"act_{META_USD}",
                   input=SYSTEM_TOKEN),
                dd("connect", "meta", SAKURA, "--token-stdin", "--account", f"act_{META_JPY}",
                   input=SYSTEM_TOKEN)):
        assert run.exit_code == 0, run.stderr


def sync_on(dd: Callable[..., Any], day: dt.date, *args: str, since: dt.date | None = None) -> Any:
    """`datadrip sync` with the process's clock on `day` (from the day before, or `since`)."""
    with pinned_clock(day):
        return dd("sync", "--json", "--since",
                  (since or day - dt.timedelta(days=1)).isoformat(), *args)


def stored(path: Path, external_id: str) -> dict[str, Any]:
    names = ", ".join(f"e.{name}" for name in SETTINGS)
    rows = sql(path, f"SELECT e.external_id, e.level, e.status, {names}, e.settings_synced_at "
                     "FROM entity e JOIN ad_account a ON a.id = e.account_id "
                     "WHERE a.external_id = ?", external_id)
    return {row[0]: dict(zip(("level", "status", *SETTINGS, "synced_at"), row[1:], strict=True))
            for row in rows}


def expected(world: Any, account_id: str, entity: Any, today: dt.date) -> dict[str, Any]:
    setup = world.setup(entity, today)
    return {"daily_budget_micros": setup.daily_budget_micros,
            "lifetime_budget_micros": setup.lifetime_budget_micros,
            "starts_on": setup.start.isoformat() if entity.level != "ad" else None,
            "ends_on": setup.end.isoformat() if setup.end and entity.level != "ad" else None}


def test_sync_settings_stored_as_the_sandbox_sets_them_at_every_level(
        clients: None, sandbox: Any, dd: Callable[..., Any], workbook_path: Path) -> None:
    world = sandbox.app.world

    first = sync_on(dd, TODAY, "--client", MASALA, "--client", SAKURA)
    assert first.exit_code == 0, first.stderr
    before = sql(workbook_path, "SELECT id, settings_synced_at FROM entity ORDER BY id")
    again = sync_on(dd, TODAY, "--client", MASALA, "--client", SAKURA)

    assert again.exit_code == 0, again.stderr
    for account_id, external_id in ((META_INR, f"act_{META_INR}"), (GOOGLE_INR, GOOGLE_INR),
                                    (META_JPY, f"act_{META_JPY}")):
        entities = stored(workbook_path, external_id)
        for level in ("campaign", "adset", "ad"):
            for entity in world.entities(account_id, level):
                row = entities[entity.id]
                assert row["synced_at"] is not None, (level, entity.id)
                if level == "campaign" or (level == "adset" and account_id != GOOGLE_INR):
                    assert {k: row[k] for k in expected(world, account_id, entity, TODAY)} == \
                        expected(world, account_id, entity, TODAY), entity.id
                assert row["effective_status"]
    yen = stored(workbook_path, f"act_{META_JPY}")
    assert yen[world.entities(META_JPY, "campaign")[0].id]["daily_budget_micros"] == 5_000_000_000
    meta_campaigns = stored(workbook_path, f"act_{META_INR}")
    assert {row["status"] for row in meta_campaigns.values()} >= {"archived", "paused", "active"}
    google = stored(workbook_path, GOOGLE_INR)
    assert {row["effective_status"] for row in google.values() if row["level"] == "campaign"} == \
        {"ELIGIBLE", "PAUSED", "REMOVED"}
    assert {row["objective"] for row in google.values() if row["level"] == "campaign"} == {"SEARCH"}
    # The first read is no change, and a re-read with nothing changed writes nothing.
    assert sql(workbook_path, "SELECT COUNT(*) FROM entity_change") == [(0,)]
    assert sql(workbook_path, "SELECT id, settings_synced_at FROM entity ORDER BY id") == before


def test_sync_settings_budget_raise_is_one_change_shown_in_the_report_and_insights(
        clients: None, sandbox: Any, dd: Callable[..., Any], workbook_path: Path) -> None:
    """Peak Trail's Diwali Sale has its daily budget raised by half (the sandbox's budget_raise story):
    the sync of the day after sees it once, the report of the period says so, pacing without a
    monthly budget uses the campaigns' budgets, and insights name the raise behind the spend."""
    world, clock = sandbox.app.world, sandbox.app.state.clock
    raised_on = world.budget_raised_on
    campaign = world.entities(META_USD, "campaign")[0]
    clock.advance(raised_on - TODAY - dt.timedelta(days=2))
    assert sync_on(dd, raised_on - dt.timedelta(days=2), "--client", PEAK, "--level", "campaign",
                   since=raised_on - dt.timedelta(days=40)).exit_code == 0  # the insights' history
    clock.advance(dt.timedelta(days=3))
    seen = sync_on(dd, raised_on + dt.timedelta(days=1), "--client", PEAK,
                   since=raised_on - dt.timedelta(days=1))
    assert seen.exit_code == 0, seen.stderr
    clock.advance(TODAY - raised_on - dt.timedelta(days=1))
    assert sync_on(dd, TODAY, "--client", PEAK, since=raised_on).exit_code == 0

    old = world.setup(campaign, raised_on - dt.timedelta(days=1)).daily_budget_micros
    new = world.setup(campaign, raised_on).daily_budget_micros
    assert (old, new) == (230_000_000, 345_000_000)
    assert sql(workbook_path, "SELECT e.external_id, c.field, c.old_value, c.new_value, "
                              "c.changed_on FROM entity_change c JOIN entity e ON e.id = "
                              "c.entity_id") == [
        (campaign.id, "daily_budget_micros", "230000000", "345000000", "2026-11-21")]
    assert stored(workbook_path, f"act_{META_USD}")[campaign.id]["daily_budget_micros"] == new

    with pinned_clock(TODAY):
        report = dd("report", "build", PEAK, "--since", "2026-11-19", "--until", "2026-11-25",
                    "--format", "txt")
        record = dd("report", "build", PEAK, "--since", "2026-11-19", "--until", "2026-11-25",
                    "--format", "json")
        generated = dd("insight", "generate", "--client", PEAK, "--json")
        found = dd("insight", "list", "--client", PEAK, "--json")

    assert report.exit_code == 0, report.stderr
    assert "SETTING CHANGES\n  Diwali Sale (Meta): Daily budget raised from $230.00 to $345.00 " \
        "on 21 Nov 2026.\n" in report.stdout
    pacing = record.json()["pacing"]
    # No monthly budget: November against the running campaigns' daily budgets (both platforms).
    running = [c for c in world.entities(META_USD, "campaign") if c.status == "active"]
    assert pacing["budget_source"] == "campaigns"
    assert Decimal(str(pacing["budget"])) == Decimal(sum(
        world.setup(c, TODAY).daily_budget_micros for c in running) * 30) / 1_000_000
    assert generated.exit_code == 0, generated.stderr
    claims = [item["claim"] for item in found.json() if item["rule"] == "budget.change"]
    assert len(claims) == 1, found.stdout
    assert claims[0].startswith("Diwali Sale (Meta)'s daily budget was raised from USD 230.00 "
                                "to USD 345.00 on 21 Nov, and its spend rose")


def test_sync_settings_unreadable_budget_fails_the_account_and_writes_nothing_of_the_level(
        clients: None, sandbox: Any, dd: Callable[..., Any], workbook_path: Path) -> None:
    world = sandbox.app.world
    campaign = world.entities(META_JPY, "campaign")[0]
    assert sync_on(dd, TODAY, "--client", SAKURA).exit_code == 0
    before = sql(workbook_path, "SELECT * FROM entity ORDER BY id")
    world.pinned_budget_texts[(META_JPY, campaign.id)] = "5,000"

    failed = sync_on(dd, TODAY, "--client", SAKURA)

    assert failed.exit_code == 1, failed.stderr  # every account of the run failed
    assert f"daily_budget = '5,000' for campaign {campaign.id}: not a whole number" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert sql(workbook_path, "SELECT * FROM entity ORDER BY id") == before
    assert sql(workbook_path, "SELECT COUNT(*) FROM entity_change") == [(0,)]
