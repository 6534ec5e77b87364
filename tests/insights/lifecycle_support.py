"""Findings saved straight into the test's workbook, as `insight generate` would save them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from datadrip.db.models import Client
from datadrip.insights.findings import Evidence, Finding
from datadrip.insights.identity import known_figures
from datadrip.insights.store import Saved, save_findings
from datadrip.platforms.registry import load_settings
from datadrip.workbook.session import open_session

WEEK = (dt.date(2026, 11, 19), dt.date(2026, 11, 25))


def cpa_finding(*, since: dt.date = WEEK[0], until: dt.date = WEEK[1], cpa: str = "674.62",
                entity: str = "campaign:120210001001", impact: int = 72,
                action: str = "Check the landing page and the audience of Diwali Sale.") -> Finding:
    return Finding(
        type="performance", rule="performance.cpa", entity_ref=entity, entity_name="Diwali Sale",
        direction="worse", claim=f"Diwali Sale (Meta): CPA rose to INR {cpa}.",
        action=action, impact_score=impact,
        since=since, until=until,
        evidence=[Evidence(entity, "cpa", "recent", Decimal(cpa)),
                  Evidence(entity, "cpa", "baseline", Decimal("364.44"))],
        figures={"p_value": "0.00001"})


def raise_finding(*, entity: str = "campaign:120210001001", pct: str = "10", impact: int = 30) -> Finding:
    """The model's budget raise for a campaign, as guardrails pass it."""
    return Finding(
        type="budget", rule="llm", entity_ref=entity, entity_name="Diwali Sale", direction="increase",
        claim="Diwali Sale is the account's biggest campaign.",
        action=f"Raise the daily budget of Diwali Sale by {pct}%.", impact_score=impact,
        since=WEEK[0], until=WEEK[1], evidence=[Evidence(entity, "spend", "recent", Decimal("26231.00"))],
        budget_change_pct=Decimal(pct), source="llm")


def save(client_name: str, *findings: Finding) -> Saved:
    loaded = load_settings()
    with open_session(loaded, write=True) as wb:
        client = wb.session.execute(sa.select(Client).where(Client.name == client_name)).scalars().one()
        return save_findings(wb, client, list(findings), known_figures(None, list(findings)))
