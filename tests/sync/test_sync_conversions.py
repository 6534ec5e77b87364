"""Fractional conversions exact end to end: what the sandbox's Google Ads API answers ("1537.5",
"0.333333") is what `dashboard`, `metrics`, a report and `datadrip sql` show, and so are their sums."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sync_support import sql

from datadrip.insights.facts import shown_figures

MASALA = "Masala Mornings"
META, GOOGLE = "1010000001", "2020000001"  # Masala Mornings' sandbox accounts, both in INR
FIRST, SECOND = Decimal("1537.5"), Decimal("0.333333")


def _exact(run: Any) -> Any:
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout, parse_float=Decimal)


@pytest.fixture
def pinned(connected: dict[str, Any], sandbox: Any) -> tuple[dt.date, dt.date, str]:
    """Masala Mornings' only conversions in its last 40 days: one Google ad's 1537.5 on one day
    and 0.333333 on the next (every other ad-day of both its accounts has none). Returns the days
    and the ad's id."""
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(world.account(GOOGLE).timezone)
    for account_id in (META, GOOGLE):
        for ad in world.entities(account_id, "ad"):
            for back in range(40):
                world.pinned_conversions[(account_id, ad.id, today - dt.timedelta(days=back))] = Decimal(0)
    first, second = today - dt.timedelta(days=10), today - dt.timedelta(days=9)
    delivered = {day: {row.entity.id for row in world.rows(GOOGLE, "ad", day, day, today) if row.spend_micros}
                 for day in (first, second)}
    ad_id = min(delivered[first] & delivered[second])
    world.pinned_conversions[(GOOGLE, ad_id, first)] = FIRST
    world.pinned_conversions[(GOOGLE, ad_id, second)] = SECOND
    return first, second, ad_id


def test_sync_fractional_conversions_are_shown_exactly_everywhere(
        pinned: tuple[dt.date, dt.date, str], dd: Callable[..., Any], workbook_path: Path) -> None:
    first, second, ad_id = pinned
    window = ("--since", first.isoformat(), "--until", second.isoformat())

    synced = dd("sync", "--json", "--client", MASALA)

    assert synced.exit_code == 0, synced.stderr
    assert sql(workbook_path, "SELECT SUM(conversions_millionths) FROM metric_daily WHERE level = "
               "'ad' AND date BETWEEN ? AND ?", first.isoformat(), second.isoformat()) == [
        (1_537_833_333,)]
    total = FIRST + SECOND
    board = _exact(dd("dashboard", "--client", MASALA, *window, "--json"))
    kpis = {kpi["metric"]: kpi["value"] for kpi in board["kpis"]}
    assert str(kpis["conversions"]) == "1537.833333"
    spend = kpis["spend"]
    assert kpis["cpa"] == (spend / total).quantize(Decimal("0.01"))  # from the integers, not a rounded count
    assert [(day["day"], str(day["conversions"])) for day in board["daily"]] == [
        (first.isoformat(), "1537.5"), (second.isoformat(), "0.333333")]
    assert {channel["platform"]: str(channel["conversions"]) for channel in board["channels"]} == {
        "google": "1537.833333", "meta": "0"}

    by_day = _exact(dd("metrics", "--client", MASALA, "--by", "day", *window, "--json"))
    assert [str(line["conversions"]) for line in by_day] == ["1537.5", "0.333333"]
    by_platform = _exact(dd("metrics", "--client", MASALA, "--by", "platform", *window, "--json"))
    assert {str(line["conversions"]) for line in by_platform} == {"1537.833333", "0"}

    report = _exact(dd("report", "build", MASALA, *window, "--format", "json"))
    assert {kpi["metric"]: str(kpi["value"]) for kpi in report["kpis"]}["conversions"] == "1537.833333"
    assert {channel["platform"]: str(channel["conversions"]) for channel in report["channels"]} == {
        "google": "1537.833333", "meta": "0"}
    trend = [(day["day"], str(day["conversions"])) for day in report["trend"]]
    assert trend[-2:] == [(first.isoformat(), "1537.5"), (second.isoformat(), "0.333333")]
    assert "**1,537.83 conversions**" in report["summary"]  # people read two decimals

    rows = _exact(dd("sql", "--json", "SELECT date, conversions, conversions_millionths FROM "
                     f"account_daily WHERE account_external_id = '{GOOGLE}' AND date BETWEEN "
                     f"'{first}' AND '{second}' ORDER BY date"))
    assert [(row["date"], str(row["conversions"]), row["conversions_millionths"]) for row in rows] == [
        (first.isoformat(), "1537.5", 1_537_500_000), (second.isoformat(), "0.333333", 333_333)]
    summed = _exact(dd("sql", "--json", "SELECT SUM(conversions_millionths) / 1e6 AS conversions "
                       f"FROM campaign_daily WHERE client = '{MASALA}' AND date BETWEEN '{first}' "
                       f"AND '{second}'"))
    assert str(summed[0]["conversions"]) == "1537.833333"

    facts = _facts(second + dt.timedelta(days=1))  # both days in the recent window (7 days to yesterday)
    ad = next(entity for entity in facts.entities.values() if entity.external_id == ad_id)
    assert str(ad.recent.conversions) == "1537.833333"
    assert str(shown_figures(ad.recent, "INR")["conversions"]) == "1537.833333"  # what the model is shown


def _facts(today: dt.date) -> Any:
    """The insights' facts for Masala Mornings, read from the workbook as `insight generate` does."""
    import sqlalchemy as sa

    from datadrip.db.models import Agency, Client
    from datadrip.insights.facts import client_facts
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    with open_session(load_settings()) as wb:
        client = wb.session.execute(sa.select(Client).where(Client.name == MASALA)).scalars().one()
        agency = wb.session.get(Agency, client.agency_id)
        assert agency is not None
        return client_facts(wb.session, agency, client, today)
