"""Meta results by action, end to end: a real sync of a shop and a lead-generation client from the
sandbox over HTTP into a SQLite workbook keeps every action type Meta sent, at every level, equal
to the sandbox's ground truth to the millionth; link clicks, Results and attribution settings per
row; a campaign whose ad sets are attributed differently gets its ad sets' actions; an archived
campaign that spent is kept; the custom conversion catalogue is stored. One sync serves the module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sync_support import SYSTEM_TOKEN, results_sandbox, sql
from typer.testing import CliRunner

from datadrip.cli import app
from datadrip.sandbox.data import ARCHIVED_CAMPAIGN
from datadrip.sandbox.meta.actions import (
    OTHER_SETTING,
    PURCHASE_TYPES,
    custom_action,
    custom_conversions,
    world_actions,
)

SHOP, LEADS = "1010000005", "1010000006"  # results_accounts(): Kettle & Crumb Shop, Harbour Dental
CLIENTS = {SHOP: "Kettle & Crumb", LEADS: "Harbour Dental"}
LEVELS = ("campaign", "adset", "ad")
DAYS = 21


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Both clients connected with a system-user token and synced once, every level, the last
    DAYS days (the sandbox on the real clock, as sync plans from today)."""
    home = tmp_path_factory.mktemp("results") / "home"
    with results_sandbox(home) as (sandbox, dd, env):
        dd("agency", "add", "Spice Route Media")
        for account_id, client in CLIENTS.items():
            dd("client", "add", client)
            dd("connect", "meta", client, "--token-stdin", "--account", f"act_{account_id}",
               input=SYSTEM_TOKEN)
        today = {account_id: sandbox.app.state.clock.today_in(sandbox.app.world.account(
            account_id).timezone) for account_id in CLIENTS}
        since = min(today.values()) - dt.timedelta(days=DAYS)
        dd("sync", "--since", since.isoformat())
        yield SimpleNamespace(sandbox=sandbox, dd=dd, env=env, workbook=home / "workbook.db",
                              since=since, today=today)


def _stored_actions(workbook: Path, account_id: str, level: str
                    ) -> dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]]:
    found: dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]] = {}
    for entity, day, action, count, value in sql(
            workbook, "SELECT e.external_id, x.date, x.action, x.count_millionths, x.value_micros "
            "FROM metric_action_daily x JOIN ad_account a ON a.id = x.account_id "
            "JOIN entity e ON e.id = x.entity_id WHERE a.external_id = ? AND x.level = ?",
            f"act_{account_id}", level):
        assert count % 1_000_000 == 0  # Meta counts whole actions
        found.setdefault((entity, dt.date.fromisoformat(day)), {})[action] = (
            count // 1_000_000, value)
    return found


def _truth(synced: SimpleNamespace, account_id: str, level: str
           ) -> dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]]:
    return world_actions(synced.sandbox.app.world, account_id, level, synced.since,
                         synced.today[account_id], synced.today[account_id])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("account_id", [SHOP, LEADS])
def test_sync_meta_actions_equal_the_sandboxs_per_type_at_every_level(
        synced: SimpleNamespace, account_id: str, level: str) -> None:
    stored = _stored_actions(synced.workbook, account_id, level)

    assert stored == _truth(synced, account_id, level)
    kinds = {kind for kinds in stored.values() for kind in kinds}
    if account_id == SHOP:
        assert {"add_to_cart", "initiate_checkout", custom_action(
            synced.sandbox.app.world.account(SHOP)), *PURCHASE_TYPES} <= kinds
    else:
        assert {"lead", "onsite_conversion.lead_grouped", "offsite_conversion.fb_pixel_lead",
                "onsite_conversion.messaging_conversation_started_7d"} <= kinds
        assert not kinds & set(PURCHASE_TYPES)


def test_sync_meta_purchase_variants_are_stored_as_sent_never_summed(synced: SimpleNamespace) -> None:
    stored = _stored_actions(synced.workbook, SHOP, "ad")
    with_purchases = [kinds for kinds in stored.values() if "omni_purchase" in kinds]

    assert with_purchases
    for kinds in with_purchases:
        assert len({kinds[kind] for kind in PURCHASE_TYPES}) == 1  # one number, four names
        assert kinds["page_engagement"][0] >= kinds["post_engagement"][0] == (
            kinds["link_click"][0] + kinds.get("post_reaction", (0,))[0]
            + kinds.get("comment", (0,))[0])
    # conversions stay the purchase count (one variant), not the variants' sum
    rows = sql(synced.workbook, "SELECT SUM(m.conversions_millionths) FROM metric_daily m JOIN "
               "ad_account a ON a.id = m.account_id WHERE a.external_id = ? AND m.level = 'ad'",
               f"act_{SHOP}")
    assert rows == [(sum(kinds["omni_purchase"][0] for kinds in with_purchases) * 1_000_000,)]


def test_sync_meta_link_clicks_are_the_link_click_action(synced: SimpleNamespace) -> None:
    for account_id in CLIENTS:
        for level in LEVELS:
            stored = _stored_actions(synced.workbook, account_id, level)
            rows = sql(synced.workbook, "SELECT e.external_id, m.date, m.link_clicks, m.actions_kept "
                       "FROM metric_daily m JOIN ad_account a ON a.id = m.account_id JOIN entity e "
                       "ON e.id = m.entity_id WHERE a.external_id = ? AND m.level = ?",
                       f"act_{account_id}", level)
            assert rows
            for entity, day, link_clicks, kept in rows:
                kinds = stored.get((entity, dt.date.fromisoformat(day)), {})
                assert (link_clicks, kept) == (kinds.get("link_click", (0,))[0], 1)


def test_sync_meta_results_follow_each_campaigns_objective(synced: SimpleNamespace) -> None:
    expected = {SHOP: ("actions:offsite_conversion.fb_pixel_purchase", "omni_purchase"),
                LEADS: ("actions:lead", "lead")}
    for account_id, (indicator, action) in expected.items():
        stored = _stored_actions(synced.workbook, account_id, "adset")
        rows = sql(synced.workbook, "SELECT e.external_id, m.date, m.result_indicator, "
                   "m.results_millionths FROM metric_daily m JOIN ad_account a ON a.id = "
                   "m.account_id JOIN entity e ON e.id = m.entity_id WHERE a.external_id = ? AND "
                   "m.level = 'adset'", f"act_{account_id}")
        assert rows and {row[2] for row in rows} == {indicator}
        for entity, day, _, results in rows:
            count = stored.get((entity, dt.date.fromisoformat(day)), {}).get(action, (0,))[0]
            assert results == count * 1_000_000  # no result that day: 0, not missing


def test_sync_meta_attribution_is_recorded_per_ad_set_and_mixed_campaign(
        synced: SimpleNamespace) -> None:
    world = synced.sandbox.app.world
    [story] = [s for s in world.stories if s.kind == "mixed_attribution"]
    adsets = world.entities(SHOP, "adset")
    odd = next(a for a in adsets if a.id == story.entity_id)

    settings = dict(sql(synced.workbook, "SELECT e.external_id || ' ' || m.level, GROUP_CONCAT("
                        "DISTINCT m.attribution_setting) FROM metric_daily m JOIN ad_account a ON "
                        "a.id = m.account_id JOIN entity e ON e.id = m.entity_id WHERE "
                        "a.external_id = ? AND m.level IN ('adset', 'campaign') GROUP BY 1",
                        f"act_{SHOP}"))

    assert settings.pop(f"{odd.id} adset") == OTHER_SETTING
    assert settings.pop(f"{odd.campaign_id} campaign") == "mixed"
    assert set(settings.values()) == {"7d_click_1d_view"}


def test_sync_meta_mixed_campaign_has_the_sum_of_its_ad_sets_actions(synced: SimpleNamespace) -> None:
    world = synced.sandbox.app.world
    [story] = [s for s in world.stories if s.kind == "mixed_attribution"]
    campaign_id = next(a.campaign_id for a in world.entities(SHOP, "adset")
                       if a.id == story.entity_id)
    mine = {a.id for a in world.entities(SHOP, "adset") if a.campaign_id == campaign_id}
    summed: dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]] = {}
    for (adset, day), kinds in _stored_actions(synced.workbook, SHOP, "adset").items():
        if adset in mine:
            into = summed.setdefault((campaign_id, day), {})
            for kind, (count, value) in kinds.items():
                had, had_value = into.get(kind, (0, None))
                into[kind] = (had + count, value if had_value is None else had_value + (value or 0))

    campaign = {key: kinds for key, kinds in _stored_actions(synced.workbook, SHOP, "campaign").items()
                if key[0] == campaign_id}

    assert summed and campaign == summed
    # Meta itself sends that campaign's rows without action metrics
    import httpx

    sent = httpx.get(f"{synced.sandbox.base_url}/meta/graph/v26.0/act_{SHOP}/insights", params={
        "access_token": SYSTEM_TOKEN, "level": "campaign", "time_increment": "1", "limit": "500",
        "fields": "campaign_id,actions,action_values,results,attribution_setting"}).json()["data"]
    theirs = [row for row in sent if row["campaign_id"] == campaign_id]
    assert theirs and all(set(row) == {"campaign_id", "attribution_setting", "date_start",
                                       "date_stop"} and row["attribution_setting"] == "mixed"
                          for row in theirs)


def test_sync_meta_archived_campaign_with_spend_is_kept_and_equals_its_ad_sets(
        synced: SimpleNamespace) -> None:
    world = synced.sandbox.app.world
    archived = world.entities(SHOP, "campaign")[ARCHIVED_CAMPAIGN]
    assert archived.status == "archived"

    spend = dict(sql(synced.workbook, "SELECT m.level, SUM(m.spend_micros) FROM metric_daily m "
                     "JOIN ad_account a ON a.id = m.account_id JOIN entity e ON e.id = m.entity_id "
                     "LEFT JOIN entity p ON p.id = e.parent_id WHERE a.external_id = ? AND "
                     "((m.level = 'campaign' AND e.external_id = ?) OR "
                     "(m.level = 'adset' AND p.external_id = ?)) GROUP BY m.level",
                     f"act_{SHOP}", archived.id, archived.id))

    truth = sum(row.spend_micros for row in world.rows(SHOP, "campaign", synced.since,
                                                         synced.today[SHOP], synced.today[SHOP])
                if row.entity.id == archived.id)
    assert truth > 0 and spend == {"campaign": truth, "adset": truth}


def test_sync_meta_custom_conversions_are_the_catalogue(synced: SimpleNamespace) -> None:
    rows = sql(synced.workbook, "SELECT a.external_id, c.action, c.name, c.kind, c.category, c.status "
               "FROM conversion_action c JOIN ad_account a ON a.id = c.account_id ORDER BY 1, 2")

    shop = synced.sandbox.app.world.account(SHOP)
    assert rows == [(f"act_{SHOP}", f"offsite_conversion.custom.{item['id']}", item["name"],
                     "custom", item["custom_event_type"],
                     "archived" if item["is_archived"] else "active")
                    for item in custom_conversions(shop)]


def test_sync_meta_again_changes_no_action(synced: SimpleNamespace) -> None:
    query = ("SELECT a.external_id, x.level, e.external_id, x.date, x.action, x.count_millionths, "
             "x.value_micros FROM metric_action_daily x JOIN ad_account a ON a.id = x.account_id "
             "JOIN entity e ON e.id = x.entity_id ORDER BY 1, 2, 3, 4, 5")
    metrics = ("SELECT m.account_id, m.level, m.entity_id, m.date, m.spend_micros, m.link_clicks, "
               "m.result_indicator, m.results_millionths, m.attribution_setting, m.actions_kept, "
               "m.conversions_millionths FROM metric_daily m ORDER BY 1, 2, 3, 4")
    before = sql(synced.workbook, query), sql(synced.workbook, metrics)

    synced.dd("sync", "--since", synced.since.isoformat(), "--full")

    assert (sql(synced.workbook, query), sql(synced.workbook, metrics)) == before


@pytest.mark.parametrize(("kind", "message"), [
    ("bad_actions", "without action_type and value"),
    ("bad_results", "results for .* that is not a list")])
def test_sync_meta_malformed_actions_or_results_fail_clearly_and_write_nothing(
        synced: SimpleNamespace, kind: str, message: str) -> None:
    import re

    from datadrip.sandbox.faults import FaultRule

    query = "SELECT COUNT(*), MAX(synced_at) FROM metric_action_daily"
    before = sql(synced.workbook, query), sql(synced.workbook, "SELECT MAX(synced_at) FROM metric_daily")
    synced.sandbox.app.faults.add(FaultRule(kind, platform="meta", path="/insights", nth=1,
                                            times=10_000))
    try:
        result = CliRunner().invoke(app, ["sync", "--client", CLIENTS[LEADS], "--full", "--since",
                                          synced.since.isoformat()],
                                    env=synced.env)
    finally:
        synced.sandbox.app.faults.clear()

    assert result.exit_code == 1, result.stderr  # every account of the run failed
    assert re.search(rf"^error: Harbour Dental · meta act_{LEADS}: Meta sent .*{message}",
                     result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert (sql(synced.workbook, query),
            sql(synced.workbook, "SELECT MAX(synced_at) FROM metric_daily")) == before
