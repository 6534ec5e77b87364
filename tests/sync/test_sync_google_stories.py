"""The Google side of the sandbox's stories, end to end: a real sync over HTTP of Kettle & Crumb
Search (USD), whose "Retargeting" campaign was removed a few days ago after spending, into a real
SQLite workbook. No status is filtered, so the removed campaign keeps every micro it spent and the
account's total is the sum of its campaigns; its ads keep their creatives' titles and thumbnails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_support import add_client_with_google, sql

from datadrip.sandbox.data import ARCHIVED_CAMPAIGN
from datadrip.sandbox.google import creatives
from datadrip.sandbox.google.ads import STATUS_FILTERED

SHOP, CLIENT = "2020000005", "Kettle & Crumb"
DAYS = 14


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """The sandbox as `sandbox serve` runs it (the stories' accounts too), on the real clock: the
    sync plans from today."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7, story_accounts=True)) as server:
        yield server


def _spend(path: Path, level: str) -> dict[str, int]:
    return dict(sql(path, "SELECT e.external_id, SUM(m.spend_micros) FROM metric_daily m "
                          "JOIN entity e ON e.id = m.entity_id WHERE m.level = ? GROUP BY 1", level))


def test_sync_google_removed_campaign_keeps_its_spend_and_ads_keep_their_creatives(
        connectable: dict[str, Any], sandbox: Any, dd: Callable[..., Any],
        workbook_path: Path) -> None:
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(world.account(SHOP).timezone)
    since = today - dt.timedelta(days=DAYS - 1)
    removed = world.entities(SHOP, "campaign")[ARCHIVED_CAMPAIGN]
    assert removed.status == "removed" and since <= removed.end < today  # spent inside the window
    add_client_with_google(dd, CLIENT, SHOP)

    synced = dd("sync", "--client", CLIENT, "--since", since.isoformat())

    assert synced.exit_code == 0, synced.stderr
    assert sandbox.app.state.extra.get(STATUS_FILTERED, []) == []  # no query filtered a status
    truth: dict[str, int] = {}
    for row in world.rows(SHOP, "campaign", since, today, today):
        truth[row.entity.id] = truth.get(row.entity.id, 0) + row.spend_micros
    campaigns = _spend(workbook_path, "campaign")
    assert campaigns == truth  # each campaign, the removed one too, to the micro
    assert campaigns[removed.id] > 0
    assert sql(workbook_path, "SELECT status, effective_status FROM entity WHERE external_id = ?",
               removed.id) == [("removed", "REMOVED")]
    account_total = sum(row.spend_micros for row in world.rows(SHOP, "ad", since, today, today))
    for level in ("campaign", "adset", "ad"):
        assert sum(_spend(workbook_path, level).values()) == account_total, level
    # The ads' creatives, as the sandbox serves each ad type.
    stored = {external_id: (title, thumbnail) for external_id, title, thumbnail in sql(
        workbook_path, "SELECT external_id, creative_title, thumbnail_url FROM entity "
                       "WHERE level = 'ad'")}
    for ad in world.entities(SHOP, "ad"):
        if creatives.ad_type(ad) == creatives.IMAGE_AD:
            assert stored[ad.id] == (ad.name_on(today), creatives.image_url(ad))
        else:
            assert stored[ad.id] == (world.setup(ad, today).creative_title, None)


def test_sync_google_a_status_filter_would_drop_the_removed_campaigns_spend(sandbox: Any) -> None:
    """Why no query may filter a status: the sandbox answers one as Google does, without the
    removed campaign and its spend, and records it (the sync test above finds none)."""
    described = sandbox.app.describe(sandbox.base_url)["google"]
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(world.account(SHOP).timezone)
    removed = world.entities(SHOP, "campaign")[ARCHIVED_CAMPAIGN]
    window = f"segments.date BETWEEN '{removed.end - dt.timedelta(days=6)}' AND '{today}'"

    def campaigns(where: str) -> set[str]:
        answer = httpx.post(
            f"{described['api_url']}/{described['api_version']}/customers/{SHOP}/googleAds:search",
            json={"query": f"SELECT campaign.id, metrics.cost_micros FROM campaign WHERE {where}"},
            headers={"Authorization": f"Bearer {described['access_token']}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return {row["campaign"]["id"] for row in answer.json().get("results", [])}

    assert removed.id in campaigns(window)
    assert removed.id not in campaigns(f"{window} AND campaign.status != 'REMOVED'")
    assert sandbox.app.state.extra[STATUS_FILTERED] == [
        f"SELECT campaign.id, metrics.cost_micros FROM campaign WHERE {window} "
        "AND campaign.status != 'REMOVED'"]
