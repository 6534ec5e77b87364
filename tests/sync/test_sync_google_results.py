"""Google Ads results by conversion action, end to end: a real sync over HTTP from the sandbox into
a real SQLite workbook, at every level, held against the sandbox's own world.

Bloom Botanics Search (EUR, through the manager) has the four conversion actions (a purchase and a
lead form and calls counted in Conversions, add-to-carts not) and a Performance Max campaign with
two asset groups and no ads."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sync_support import add_client_with_google, sql

from datadrip.core.money import conversions_to_millionths

BLOOM, CLIENT = "2020000003", "Bloom Botanics"
DAYS = 20
LEVELS = ("campaign", "adset", "ad")


def _connect_and_sync(dd: Callable[..., Any], since: dt.date) -> None:
    add_client_with_google(dd, CLIENT, BLOOM)
    synced = dd("sync", "--client", CLIENT, "--since", since.isoformat())
    assert synced.exit_code == 0, synced.stderr


def _world_actions(sandbox: Any, level: str, since: dt.date,
                   today: dt.date) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The sandbox's truth: (entity, day, action) → (count millionths, value micros)."""
    found = {}
    for row in sandbox.app.world.rows(BLOOM, level, since, today, today):
        if level == "adset" and row.entity.channel == "PERFORMANCE_MAX":
            continue  # asset groups: their actions are not read (the campaign has them)
        for action, count, value in row.actions:
            found[(row.entity.id, row.date.isoformat(), action)] = (
                conversions_to_millionths(count), value)
    return found


def _workbook_actions(path: Path, level: str) -> dict[tuple[str, str, str], tuple[int, int]]:
    rows = sql(path, "SELECT e.external_id, m.date, m.action, m.count_millionths, m.value_micros "
                     "FROM metric_action_daily m JOIN entity e ON e.id = m.entity_id "
                     "WHERE m.level = ?", level)
    return {(entity, day, action): (count, value) for entity, day, action, count, value in rows}


def _snapshot(path: Path) -> list[Any]:
    metrics = sql(path, "SELECT level, entity_id, date, spend_micros, conversions_millionths, "
                        "interactions, all_conversions_millionths, all_conversion_value_micros, "
                        "actions_kept FROM metric_daily ORDER BY 1, 2, 3")
    actions = sql(path, "SELECT level, entity_id, date, action, count_millionths, value_micros "
                        "FROM metric_action_daily ORDER BY 1, 2, 3, 4")
    return [metrics, actions]


def test_sync_google_results_by_action_equal_the_sandbox_at_every_level_and_resync_changes_nothing(
        connectable: dict[str, Any], sandbox: Any, dd: Callable[..., Any],
        workbook_path: Path) -> None:
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(world.account(BLOOM).timezone)
    since = today - dt.timedelta(days=DAYS - 1)

    _connect_and_sync(dd, since)

    catalogue = sql(workbook_path, "SELECT action, name, kind, category, \"primary\", "
                                   "included_in_conversions, status FROM conversion_action "
                                   "ORDER BY action")
    assert catalogue == [(a.id, a.name, "conversion_action", a.category, a.primary_for_goal,
                          a.include_in_conversions_metric, "ENABLED")
                         for a in world.conversion_actions(BLOOM)]
    included = {a.id for a in world.conversion_actions(BLOOM) if a.include_in_conversions_metric}
    for level in LEVELS:
        truth = _world_actions(sandbox, level, since, today)
        # Per action, entity and day: the workbook holds the sandbox's truth to the millionth.
        assert truth and _workbook_actions(workbook_path, level) == truth
        by_row: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for (entity, day, action), (count, _) in truth.items():
            by_row[(entity, day)][1] += count
            if action in included:
                by_row[(entity, day)][0] += count
        rows = sql(workbook_path, "SELECT e.external_id, m.date, m.conversions_millionths, "
                                  "m.all_conversions_millionths, m.actions_kept, m.interactions, "
                                  "m.clicks FROM metric_daily m JOIN entity e ON e.id = m.entity_id "
                                  "WHERE m.level = ?", level)
        assert rows
        for entity, day, conversions, all_conversions, kept, interactions, clicks in rows:
            if level == "adset" and entity.startswith("3004"):
                # Performance Max asset groups: no interactions, all conversions or actions read.
                assert (all_conversions, kept, interactions) == (None, 0, None)
                continue
            # Included actions add up to Conversions; every action to All conversions.
            assert by_row[(entity, day)] == [conversions, all_conversions]
            assert kept == 1 and interactions >= clicks

    pmax = world.entities(BLOOM, "campaign")[-1]
    assert pmax.channel == "PERFORMANCE_MAX"
    truth_spend = sum(r.spend_micros for r in world.rows(BLOOM, "campaign", since, today, today)
                      if r.entity.id == pmax.id)
    truth_conversions = sum((r.conversions for r in world.rows(BLOOM, "campaign", since, today, today)
                             if r.entity.id == pmax.id), Decimal(0))
    at_campaign = sql(workbook_path, "SELECT SUM(m.spend_micros), SUM(m.conversions_millionths) "
                                     "FROM metric_daily m JOIN entity e ON e.id = m.entity_id "
                                     "WHERE m.level = 'campaign' AND e.external_id = ?", pmax.id)
    assert at_campaign == [(truth_spend, conversions_to_millionths(truth_conversions))]
    assert truth_spend > 0
    groups = sql(workbook_path, "SELECT e.external_id, e.name, p.external_id, SUM(m.spend_micros) "
                                "FROM metric_daily m JOIN entity e ON e.id = m.entity_id "
                                "JOIN entity p ON p.id = e.parent_id WHERE m.level = 'adset' "
                                "AND p.external_id = ? GROUP BY 1, 2, 3 ORDER BY 1", pmax.id)
    assert [(g[0], g[2]) for g in groups] == [
        (e.id, pmax.id) for e in world.entities(BLOOM, "adset") if e.campaign_id == pmax.id]
    assert sum(g[3] for g in groups) == truth_spend
    assert sql(workbook_path, "SELECT COUNT(*) FROM metric_daily m JOIN entity e ON "
                              "e.id = m.entity_id WHERE m.level = 'ad' AND e.external_id LIKE ?",
               f"{pmax.id}%") == [(0,)]
    # The account's other campaigns, removed and paused ones too, add up with PMax to the total.
    total = sum(r.spend_micros for r in world.rows(BLOOM, "campaign", since, today, today))
    assert sql(workbook_path, "SELECT SUM(spend_micros) FROM metric_daily WHERE level = 'campaign'"
               ) == [(total,)]

    before = _snapshot(workbook_path)
    again = dd("sync", "--client", CLIENT, "--since", since.isoformat())
    assert again.exit_code == 0, again.stderr
    assert _snapshot(workbook_path) == before
