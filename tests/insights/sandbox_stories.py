"""The sandbox's planted stories and what the heuristics find in them, for one seed and one first day.

Each world's stories end on its first day (the epoch), so the days analysed are counted from it
as well as from the agency's own today: the CPA story (7 days) covers the recent window only when
that window ends on the epoch; the fatigue story (14 days) covers it while the window ends within a
week of the epoch; the overspend (30 days) on every day analysed. Each check returns what it
missed or wrongly found, a line a day, so one test can assert none and a sweep can list them all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select
from support import pinned_clock

from datadrip.analytics.totals import agency_today
from datadrip.db.models import AdAccount, Agency, Client
from datadrip.insights.facts import ClientFacts, client_facts
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.engine import heuristic_findings
from datadrip.sandbox.data import World
from insights.heuristics_support import (
    agency_and_clients,
    sandbox_workbook,
    workbook_session,
)

BOUND = Decimal(30)
STORY_ACCOUNT = "act_1010000001"  # Masala Mornings' Meta account: cpa_doubles and ctr_fatigue
STORY_CLIENT = "Masala Mornings"
OVERSPEND_CLIENT = "Peak Trail Outfitters"  # its Google account 2020000002 spends 1.6× for 30 days
CPA_STORY = "campaign:120210001001"
# Harbour Dental Leads' first campaign (the "leads_halve" story, in the demo since the stories
# are served): half the leads for the same clicks over the last week.
LEADS_STORY = "campaign:120210006001"
PRE_SURGE_BUDGET = 22_000  # USD: the month's budget as the client's spend before the surge


@dataclass
class Analysed:
    seed: int
    epoch: dt.date
    fatigued_ad: str
    # (today, client name) → the facts and the findings
    runs: dict[tuple[dt.date, str], tuple[ClientFacts, list[Finding]]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # account id → external id

    def days(self) -> list[dt.date]:
        return sorted({today for today, _ in self.runs})


def build(home: Path, seed: int, today: dt.date, *, demo: bool = True) -> Path:
    """The demo (seed 7, unless `demo` is false) or the demo's steps against a sandbox of `seed`,
    with the test process's clock, and so the sandbox's first day, pinned to `today`."""
    with pinned_clock(today):
        if seed == 7 and demo:
            from datadrip.demo import run_demo

            run_demo(home)
            return home
        return sandbox_workbook(home, seed).home


def analyse(home: Path, seed: int, epoch: dt.date) -> Analysed:
    """Each client's findings on days around the sandbox's first day (the agency's today)."""
    with pinned_clock(epoch):
        return _analyse(home, seed, epoch)


def _analyse(home: Path, seed: int, epoch: dt.date) -> Analysed:
    world = World(seed=seed, epoch=epoch)
    [fatigue] = [story for story in world.stories if story.kind == "ctr_fatigue"]
    result = Analysed(seed, epoch, f"ad:{fatigue.entity_id}")
    with workbook_session(home) as session:
        agency, clients = agency_and_clients(session)
        result.accounts = {row.id: row.external_id for row in session.exec(select(AdAccount))}
        today = agency_today(agency)
        # The agency's today and days counted back from it, as the demo's run meets them; and the
        # same from the epoch's next day and the epoch itself, which are the agency's today before
        # and after 18:30 UTC (Kolkata's midnight), so every run checks both times of day.
        days = {start - dt.timedelta(days=back) for start in (today, epoch + dt.timedelta(days=1), epoch)
                for back in (0, 3, 10)}
        if seed != 7:  # the demo's budgets suit seed 7's spend; other worlds spend other amounts
            for name, client in clients.items():
                client.monthly_budget_micros = None if name != OVERSPEND_CLIENT else 1
        for day in sorted(days):
            for name, client in clients.items():
                if name == OVERSPEND_CLIENT:
                    client.monthly_budget_micros = _pre_surge_budget(session, agency, client, day, seed)
                facts = client_facts(session, agency, client, day)
                result.runs[(day, name)] = facts, heuristic_findings(facts, max_budget_change_pct=BOUND)
    return result


def _pre_surge_budget(session: Session, agency: Agency, client: Client, day: dt.date, seed: int) -> int:
    """22,000 dollars on the demo's world; elsewhere the run rate before the 1.6× surge, for a month."""
    if seed == 7:
        return PRE_SURGE_BUDGET * 1_000_000
    facts = client_facts(session, agency, client, day)
    assert facts.month is not None
    return int(facts.month.last_7_days_micros / 7 / 1.6 * facts.month.days_in_month)


def show(found: list[Finding]) -> str:
    return "\n".join(f"  {finding.rule} {finding.entity_ref} {finding.direction} {finding.impact_score}: "
                     f"{finding.claim}" for finding in found) or "  (none)"


def missed_cpa_story(analysed: Analysed) -> list[str]:
    """The CPA story as a worse performance finding, the day after the epoch."""
    day = analysed.epoch + dt.timedelta(days=1)
    facts, found = analysed.runs[(day, STORY_CLIENT)]
    assert facts.recent.until == analysed.epoch  # the whole story is the recent window
    performance = [(f.entity_ref, f.direction) for f in found if f.type == "performance"]
    return [] if (CPA_STORY, "worse") in performance else [f"{day}: CPA story missed\n{show(found)}"]


def fatigue_days(analysed: Analysed) -> list[dt.date]:
    """The days analysed whose recent window the fatigue story covers whole."""
    return [day for day in analysed.days()
            if (analysed.epoch - analysed.runs[(day, STORY_CLIENT)][0].recent.until).days <= 7]


def missed_fatigue_story(analysed: Analysed) -> list[str]:
    """The fatigued ad as the one creative finding, on every day the story covers the window."""
    missed = []
    for day in fatigue_days(analysed):
        _, found = analysed.runs[(day, STORY_CLIENT)]
        fatigue = [(f.entity_ref, f.direction) for f in found if f.rule == "creative.fatigue"]
        if fatigue != [(analysed.fatigued_ad, "worse")]:
            missed.append(f"{day}: fatigue story missed or doubled\n{show(found)}")
    return missed


def missed_overspend_story(analysed: Analysed) -> list[str]:
    """The overspender as one pacing-over finding, its budget cut within the bound, every day."""
    missed = []
    for day in analysed.days():
        _, found = analysed.runs[(day, OVERSPEND_CLIENT)]
        pacing = [f for f in found if f.rule == "budget.pacing"]
        right = [(f.entity_ref, f.direction) for f in pacing] == [(None, "over")] \
            and pacing[0].budget_change_pct is not None and -BOUND <= pacing[0].budget_change_pct < 0
        if not right:
            missed.append(f"{day}: overspend story missed\n{show(found)}")
    return missed


def false_findings(analysed: Analysed) -> list[str]:
    """Findings on the stable accounts (every account but the story account); pacing is a story
    only for the overspender, and a worse cost per lead only for the leads story's campaign."""
    wrong = []
    for (day, name), (facts, found) in sorted(analysed.runs.items()):
        for finding in found:
            if finding.entity_ref is None:
                stable = name != OVERSPEND_CLIENT
            else:
                account = facts.entities[finding.entity_ref].account_id
                stable = analysed.accounts[account] != STORY_ACCOUNT
            if (finding.entity_ref, finding.type, finding.direction) == (LEADS_STORY, "performance",
                                                                         "worse"):
                stable = False
            if stable:
                wrong.append(f"{day}: false finding for {name}\n{show([finding])}")
    return wrong
