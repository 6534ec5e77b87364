"""Insights speak the client's results: a lead-generation client and a shop from the sandbox, synced
over HTTP into a SQLite workbook with their key results set (Harbour Dental: lead; Kettle & Crumb:
purchase), and judged on the pinned day. The lead client's planted story (its first campaign's
leads halve for the last 7 days at the same spend) is a "Cost per lead" finding counted from its
lead rows; the shop's purchases are counted once, never once per purchase variant; days synced
before actions were kept are left out and said so. One sync serves the module."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import PINNED_TODAY, pinned_clock
from sync.sync_support import SYSTEM_TOKEN, results_sandbox

from datadrip.insights.facts import (
    BASELINE,
    CONVERSIONS,
    META_RESULTS,
    RECENT,
    ClientFacts,
    client_facts,
)
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.engine import heuristic_findings
from datadrip.insights.llm import build_messages
from datadrip.sandbox.meta.actions import PURCHASE_TYPES

SHOP, LEADS = "act_1010000005", "act_1010000006"  # results_accounts(): Kettle & Crumb, Harbour Dental
SHOP_CLIENT, LEAD_CLIENT = "Kettle & Crumb", "Harbour Dental"
BOUND = Decimal(30)
DAYS = 40  # the 35 days insights look at, and a few more


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Both clients connected, given their key results and synced once, every level, with the
    clock (and so the sandbox's first day, where its stories end) pinned."""
    home = tmp_path_factory.mktemp("insight-results") / "home"
    with pinned_clock(PINNED_TODAY), results_sandbox(home) as (sandbox, dd, _env):
        dd("agency", "add", "Spice Route Media", "--timezone", "UTC")
        for account, client, currency, result in ((SHOP, SHOP_CLIENT, "USD", "purchase"),
                                                  (LEADS, LEAD_CLIENT, "EUR", "lead")):
            dd("client", "add", client, "--currency", currency)
            dd("connect", "meta", client, "--token-stdin", "--account", account, input=SYSTEM_TOKEN)
            dd("client", "edit", client, "--results", result)
        dd("sync", "--since", (PINNED_TODAY - dt.timedelta(days=DAYS)).isoformat())
        yield SimpleNamespace(dd=dd, home=home, workbook=home / "workbook.db", world=sandbox.app.world)


def analyse(workbook: Path, client_name: str, *, key_results: list[str] | None | str = "as set",
            prepare: str | None = None) -> tuple[ClientFacts, list[Finding]]:
    """The client's facts and heuristic findings on the pinned day; `key_results` replaces the
    client's for this look only; `prepare` is SQL run first in the same, never committed,
    transaction."""
    from sqlmodel import Session, create_engine, select

    from datadrip.db.models import Agency, Client

    engine = create_engine(f"sqlite:///{workbook}")
    with Session(engine) as session:
        if prepare is not None:
            for statement in prepare.split(";"):
                session.connection().exec_driver_sql(statement)
        agency = session.exec(select(Agency)).one()
        client = session.exec(select(Client).where(Client.name == client_name)).one()
        if key_results != "as set":
            client = Client.model_validate({**client.model_dump(), "key_results": key_results})
        facts = client_facts(session, agency, client, PINNED_TODAY)
        found = heuristic_findings(facts, max_budget_change_pct=BOUND)
        session.expunge_all()
        session.rollback()
    engine.dispose()
    return facts, found


def action_sums(workbook: Path, facts: ClientFacts, account: str, actions: tuple[str, ...], *,
                per_day: str = "SUM") -> dict[tuple[str, str], tuple[int, int]]:
    """(entity ref, window) → (count millionths, value micros) of `actions` in the workbook's
    action rows, the actions of a day combined by `per_day` (MAX: one number under several names)."""
    marks = ", ".join("?" * len(actions))
    connection = sqlite3.connect(workbook)
    try:
        rows = connection.execute(
            f"SELECT e.level || ':' || e.external_id, CASE WHEN d.date >= ? THEN '{RECENT}' "
            f"ELSE '{BASELINE}' END, SUM(d.count), SUM(d.value) FROM (SELECT x.entity_id, x.date, "
            f"{per_day}(x.count_millionths) AS count, {per_day}(COALESCE(x.value_micros, 0)) AS value "
            f"FROM metric_action_daily x JOIN ad_account a ON a.id = x.account_id "
            f"WHERE a.external_id = ? AND x.action IN ({marks}) AND x.date BETWEEN ? AND ? "
            f"GROUP BY x.entity_id, x.date) d JOIN entity e ON e.id = d.entity_id GROUP BY 1, 2",
            (facts.recent.since.isoformat(), account, *actions, facts.baseline.since.isoformat(),
             facts.recent.until.isoformat())).fetchall()
    finally:
        connection.close()
    return {(ref, window): (int(count), int(value)) for ref, window, count, value in rows}


def counted(facts: ClientFacts) -> dict[tuple[str, str], tuple[int, int]]:
    return {(entity.ref, name): (entity.window(name).conversions_millionths,
                                 entity.window(name).conversion_value_micros)
            for entity in facts.entities.values() for name in (RECENT, BASELINE)
            if entity.window(name).conversions_millionths or entity.window(name).conversion_value_micros}


def story_ref(synced: SimpleNamespace) -> str:
    [story] = [story for story in synced.world.stories if story.kind == "leads_halve"]
    return f"campaign:{story.entity_id}"


def test_insight_results_lead_client_counts_its_lead_rows(synced: SimpleNamespace) -> None:
    facts, _ = analyse(synced.workbook, LEAD_CLIENT)

    expected = action_sums(synced.workbook, facts, LEADS, ("lead",))
    assert counted(facts) == expected
    assert sum(count for count, _ in expected.values()) > 1000 * 1_000_000  # leads, and plenty
    assert facts.key_result == "lead"
    assert {(e.result.label, e.result.cost_label) for e in facts.entities.values()} == {
        ("Leads", "Cost per lead")}


def test_insight_results_lead_story_is_a_cost_per_lead_finding(synced: SimpleNamespace) -> None:
    facts, found = analyse(synced.workbook, LEAD_CLIENT)
    ref = story_ref(synced)
    campaign = facts.entities[ref]

    performance = [finding for finding in found if finding.type == "performance"]
    assert [(f.rule, f.entity_ref, f.direction) for f in performance] == [
        ("performance.cpa", ref, "worse")]
    [finding] = performance
    assert re.match(rf"{re.escape(campaign.name)} \(Meta\): Cost per lead rose \d+% to EUR ",
                    finding.claim), finding.claim
    assert "late leads" in finding.claim and "CPA" not in finding.claim
    assert "cost per lead" in finding.action and "conversion" not in finding.action
    assert finding.figures["result"] == {"key": "lead", "label": "Leads",
                                         "cost_label": "Cost per lead"}
    # the numbers quoted are the lead rows' own: spend over leads counted by the rules
    leads = action_sums(synced.workbook, facts, LEADS, ("lead",))
    recent = {item.metric: item.value for item in finding.evidence if item.window == RECENT}
    assert recent["conversions"] == Decimal(leads[(ref, RECENT)][0]) / 1_000_000
    assert recent["cpa"] == (Decimal(campaign.recent.spend_micros) / leads[(ref, RECENT)][0]
                             ).quantize(Decimal("0.01"))
    for other in [f for f in found if f.rule == "budget.reallocation"]:
        assert "cost per lead of EUR" in other.claim and "CPA" not in other.claim


def test_insight_results_without_key_results_meta_judges_its_results_column(
        synced: SimpleNamespace) -> None:
    facts, found = analyse(synced.workbook, LEAD_CLIENT, key_results=None)

    assert facts.key_result is None
    assert {entity.result for entity in facts.entities.values()} == {META_RESULTS}
    # a lead campaign's Results are its leads
    campaigns = {key: value for key, value in counted(facts).items() if key[0].startswith("campaign:")}
    leads = action_sums(synced.workbook, facts, LEADS, ("lead",))
    assert {key: count for key, (count, _) in campaigns.items()} == {
        key: count for key, (count, _) in leads.items() if key[0].startswith("campaign:")}
    [finding] = [f for f in found if f.type == "performance"]
    assert (finding.entity_ref, finding.direction) == (story_ref(synced), "worse")
    assert ": Cost per result rose" in finding.claim


def test_insight_results_shop_counts_each_purchase_once(synced: SimpleNamespace) -> None:
    facts, found = analyse(synced.workbook, SHOP_CLIENT)

    once = action_sums(synced.workbook, facts, SHOP, PURCHASE_TYPES, per_day="MAX")
    every_variant = action_sums(synced.workbook, facts, SHOP, PURCHASE_TYPES)
    assert counted(facts) == once
    assert once == action_sums(synced.workbook, facts, SHOP, ("omni_purchase",))
    for key, (count, value) in once.items():  # four names for one number: summing would count 4×
        assert every_variant[key] == (4 * count, 4 * value)
    assert {e.result.cost_label for e in facts.entities.values()} == {"Cost per purchase"}
    assert all(f.rule != "performance.cpa" or "Cost per purchase" in f.claim for f in found)
    assert all("CPA" not in f.claim for f in found)


def test_insight_results_days_before_actions_were_kept_are_left_out(synced: SimpleNamespace) -> None:
    """The baseline's first ten days as if synced before actions were kept: flagged, no actions."""
    whole, _ = analyse(synced.workbook, LEAD_CLIENT)
    first = whole.baseline.since
    last = first + dt.timedelta(days=9)
    facts, found = analyse(synced.workbook, LEAD_CLIENT,
                           prepare=_as_if_synced_before_actions(whole, LEADS, 10))

    ref = story_ref(synced)
    assert any(f"10 days from {first} to {last} were synced before DataDrip kept actions" in note
               and f"datadrip sync --since {first}" in note for note in facts.notes), facts.notes
    kept = action_sums(synced.workbook, facts, LEADS, ("lead",))
    late = {key: value for key, value in kept.items() if key[1] == RECENT}
    assert {key: value for key, value in counted(facts).items() if key[1] == RECENT} == late
    # the left-out days count neither leads nor spend: the baseline is the 18 days with leads
    baseline, full = facts.entities[ref].baseline, whole.entities[ref].baseline
    assert baseline.days == full.days - 10
    assert baseline.spend_micros < full.spend_micros
    assert Decimal(baseline.cpa_micros or 0) == pytest.approx(Decimal(full.cpa_micros or 0),
                                                              rel=Decimal("0.3"))
    [finding] = [f for f in found if f.type == "performance"]
    assert finding.figures["result"]["days_left_out"] == 10


def _as_if_synced_before_actions(facts: ClientFacts, account: str, days: int) -> str:
    """SQL making the baseline's first `days` days of `account` look synced before actions were
    kept: flagged, and without action rows."""
    first = facts.baseline.since
    last = first + dt.timedelta(days=days - 1)
    where = (f"account_id = (SELECT id FROM ad_account WHERE external_id = '{account}') "
             f"AND date BETWEEN '{first}' AND '{last}'")
    return f"UPDATE metric_daily SET actions_kept = 0, actions = NULL WHERE {where}"


def test_insight_results_without_key_results_old_days_fall_back_to_the_workbooks_conversions(
        synced: SimpleNamespace) -> None:
    whole, _ = analyse(synced.workbook, SHOP_CLIENT, key_results=None)
    facts, _ = analyse(synced.workbook, SHOP_CLIENT, key_results=None,
                       prepare=_as_if_synced_before_actions(whole, SHOP, 10))

    assert any("have no Results column, so insights judge this account's conversions as the "
               "workbook keeps them" in note for note in facts.notes), facts.notes
    assert facts.left_out == []
    assert {entity.result for entity in facts.entities.values()} == {CONVERSIONS}
    connection = sqlite3.connect(synced.workbook)
    try:
        stored = dict(connection.execute(
            "SELECT e.level || ':' || e.external_id, SUM(m.conversions_millionths) FROM metric_daily m "
            "JOIN entity e ON e.id = m.entity_id WHERE m.date BETWEEN ? AND ? GROUP BY 1",
            (facts.baseline.since.isoformat(), facts.baseline.until.isoformat())).fetchall())
    finally:
        connection.close()
    assert {ref: entity.baseline.conversions_millionths for ref, entity in facts.entities.items()
            } == {ref: stored.get(ref, 0) for ref in facts.entities}
    assert all(entity.baseline.days == whole.entities[ref].baseline.days  # every day is kept
               for ref, entity in facts.entities.items())


def test_insight_results_prompt_names_the_result_for_the_model(synced: SimpleNamespace) -> None:
    facts, found = analyse(synced.workbook, LEAD_CLIENT)

    [system, user] = build_messages(facts, found, [], max_suggestions=5, max_budget_change_pct=BOUND)
    assert '"result": "Leads"' in user["content"] and '"result_cost": "Cost per lead"' in user["content"]
    assert "never \"conversions\" or \"CPA\"" in system["content"]


def test_insight_results_list_and_show_speak_the_clients_words(synced: SimpleNamespace) -> None:
    with pinned_clock(PINNED_TODAY):
        synced.dd("insight", "generate", "--client", LEAD_CLIENT, "--engine", "heuristic")
        listed = synced.dd("insight", "list", "--client", LEAD_CLIENT, "--json").stdout
        table = synced.dd("insight", "list", "--client", LEAD_CLIENT).stdout
        import json

        records = json.loads(listed)
        [cpa] = [record for record in records if record["rule"] == "performance.cpa"]
        shown = synced.dd("insight", "show", cpa["id"]).stdout

    assert "Cost per lead rose" in cpa["claim"] and cpa["result"]["label"] == "Leads"
    assert "Cost per lead" in table
    assert f"{cpa['entity']} Cost per lead (recent):" in shown
    assert f"{cpa['entity']} Leads (baseline):" in shown
    assert " cpa (" not in shown and " conversions (" not in shown
