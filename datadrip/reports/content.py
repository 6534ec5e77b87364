"""What a report holds, as data: which report (kind and period), its numbers, and the record the
templates read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from datadrip.core.enums import ReportKind
from datadrip.core.periods import Period
from datadrip.db.models import Agency, Client


@dataclass(frozen=True)
class ReportPlan:
    """Which report: its kind and the days it covers."""

    kind: ReportKind
    period: Period


@dataclass
class ReportContent:
    agency: Agency
    client: Client
    plan: ReportPlan
    previous: Period
    kpis: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    pacing: dict[str, Any] | None
    accounts: list[dict[str, Any]]
    insights: list[dict[str, Any]]
    has_data: bool
    generated_at: dt.datetime
    summary: str = ""  # Markdown, written from the numbers (datadrip.reports.summary)
    warnings: list[str] = field(default_factory=list)
    # Setting changes of campaigns and ad sets seen in the period ("Daily budget raised …").
    changes: list[dict[str, Any]] = field(default_factory=list)
    # "Who saw the ads": per synced breakdown dimension, its top values by spend.
    audience: list[dict[str, Any]] = field(default_factory=list)
    # The client's results, each with its own cost (analytics.results.ResultFigure.values):
    # its key results, or the platforms' results where a platform names them.
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.client.currency

    def record(self) -> dict[str, Any]:
        branding = self.agency.settings or {}
        return {
            "client": {"id": self.client.id, "name": self.client.name, "currency": self.currency},
            "agency": {"name": self.agency.name, "locale": self.agency.locale,
                       "timezone": self.agency.timezone, "colour": branding.get("colour"),
                       "logo": branding.get("logo")},
            "kind": self.plan.kind.value, "currency": self.currency,
            "period": _period(self.plan.period), "previous_period": _period(self.previous),
            "has_data": self.has_data, "summary": self.summary, "kpis": self.kpis,
            "channels": self.channels, "top_campaigns": self.campaigns, "trend": self.trend,
            "pacing": self.pacing, "accounts": self.accounts, "insights": self.insights,
            "warnings": self.warnings, "generated_at": self.generated_at,
            "setting_changes": self.changes,
            "audience": self.audience, "results": self.results,
        }


def _period(period: Period) -> dict[str, Any]:
    return {"name": period.name, "since": period.since, "until": period.until, "days": period.days}
