"""What `datadrip dashboard` shows, as data: for a client, KPIs against the previous period, the
channel split, the best and worst campaigns and the daily series; for an agency, one line per
client with a flag when its numbers cannot be trusted (stale or failing syncs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.results import key_results
from datadrip.analytics.totals import Change, Line, Scope, Totals, breakdown, client_totals, compare
from datadrip.core.enums import AccountStatus, SyncStatus
from datadrip.core.periods import Period
from datadrip.db.models import AdAccount, SyncRun
from datadrip.sync.health import last_good_sync
from datadrip.workbook.fx import RateBook

KPIS = ("spend", "conversions", "cpa", "roas", "conversion_value", "clicks", "ctr", "cpc")
RANKED = 5  # campaigns in each of the best and worst lists
STALE_AFTER = dt.timedelta(hours=36)  # a daily sync that has not succeeded for this long is late


@dataclass(frozen=True)
class ClientDashboard:
    scope: Scope
    period: Period
    previous: Period
    kpis: list[Change]
    channels: list[dict[str, Any]]
    best: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    ranked_by: str  # "roas" when the client reports conversion value, else "cpa"
    daily: list[dict[str, Any]]
    # The client's key results (or the platforms' results), each with its own cost; link-click
    # and interaction parity; what is unavailable for days synced before actions were kept.
    results: list[dict[str, Any]] = field(default_factory=list)
    parity: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"client": self.scope.label, "currency": self.scope.currency,
                "period": _period(self.period), "previous_period": _period(self.previous),
                "kpis": [_change(change) for change in self.kpis],
                "results": self.results, **self.parity, "results_notes": self.notes,
                "channels": self.channels, "ranked_by": self.ranked_by,
                "top_campaigns": self.best, "bottom_campaigns": self.worst, "daily": self.daily}


def _period(period: Period) -> dict[str, Any]:
    return {"name": period.name, "since": period.since, "until": period.until, "days": period.days}


def _change(change: Change) -> dict[str, Any]:
    return {"metric": change.metric, "value": change.current, "previous": change.previous,
            "change": change.change, "change_pct": change.change_pct, "verdict": change.verdict}


def client_dashboard(session: Session, scope: Scope, period: Period) -> ClientDashboard:
    rates = RateBook.load(session)
    previous = period.previous()
    now = breakdown(session, scope, period, "total", rates)[0].totals
    before = breakdown(session, scope, previous, "total", rates)[0].totals
    currency = scope.currency
    channels = []
    for line in breakdown(session, scope, period, "platform", rates):
        values = line.totals.values(currency)
        share = None if not now.spend_micros else \
            (Decimal(line.totals.spend_micros * 100) / now.spend_micros).quantize(Decimal("0.1"))
        channels.append({"platform": line.labels["platform"], "spend": values["spend"],
                         "share_pct": share, "conversions": values["conversions"],
                         "cpa": values["cpa"], "roas": values["roas"]})
    campaigns = [line for line in breakdown(session, scope, period, "campaign", rates)
                 if line.totals.spend_micros > 0]
    ranked_by = "roas" if now.conversion_value_micros else "cpa"
    ordered = sorted(campaigns, key=lambda line: _rank(line, ranked_by, currency))
    best = [_campaign(line, currency) for line in ordered[:RANKED]]
    worst = [_campaign(line, currency) for line in reversed(ordered[RANKED:][-RANKED:])] \
        if len(ordered) > RANKED else []
    by_day = {line.labels["day"]: line.totals for line in breakdown(session, scope, period, "day", rates)}
    daily = []
    for day in period.dates():
        values = by_day.get(day, Totals()).values(currency)
        daily.append({"day": day, "spend": values["spend"], "conversions": values["conversions"]})
    summary = key_results(session, scope, period)
    return ClientDashboard(scope, period, previous, compare(now, before, currency, KPIS), channels,
                           best, worst, ranked_by, daily,
                           [figure.values(currency) for figure in summary.figures],
                           summary.parity.values(currency), summary.notes())


def _rank(line: Line, by: str, currency: str) -> tuple[Any, ...]:
    """Best first: highest ROAS, or lowest CPA (a campaign with spend and no conversion is last)."""
    values = line.totals.values(currency)
    if by == "roas":
        return (-(values["roas"] or Decimal(0)), -line.totals.spend_micros)
    cpa = values["cpa"]
    return (cpa is None, cpa or Decimal(0), -line.totals.spend_micros)


def _campaign(line: Line, currency: str) -> dict[str, Any]:
    values = line.totals.values(currency)
    return {"campaign": line.labels["campaign"], "platform": line.labels["platform"],
            "spend": values["spend"], "conversions": values["conversions"], "cpa": values["cpa"],
            "roas": values["roas"]}


# --- the agency ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AgencyDashboard:
    scope: Scope
    period: Period
    previous: Period
    total: list[Change]
    clients: list[dict[str, Any]]

    def record(self) -> dict[str, Any]:
        return {"agency": self.scope.label, "currency": self.scope.currency,
                "period": _period(self.period), "previous_period": _period(self.previous),
                "kpis": [_change(change) for change in self.total], "clients": self.clients}


def agency_dashboard(session: Session, scope: Scope, period: Period,
                     now: dt.datetime | None = None) -> AgencyDashboard:
    """One line per active client, in the client's own currency, with the agency's blended total."""
    rates = RateBook.load(session)
    previous = period.previous()
    health = _sync_health(session, scope, now or dt.datetime.now(dt.UTC))
    now_totals, total_now = client_totals(session, scope, period, rates)
    before_totals, total_before = client_totals(session, scope, previous, rates)
    lines = []
    for client in scope.clients:
        changes = {change.metric: change for change in compare(
            now_totals[client.id], before_totals[client.id], client.currency, ("spend", "cpa", "roas"))}
        lines.append({"client": client.name, "currency": client.currency,
                      "spend": changes["spend"].current, "spend_change_pct": changes["spend"].change_pct,
                      "cpa": changes["cpa"].current, "roas": changes["roas"].current,
                      "cpa_verdict": changes["cpa"].verdict, "roas_verdict": changes["roas"].verdict,
                      **health[client.id]})
    lines.sort(key=lambda line: (not line["flags"], line["client"].lower()))
    return AgencyDashboard(scope, period, previous,
                           compare(total_now, total_before, scope.currency, KPIS), lines)


def _sync_health(session: Session, scope: Scope, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per client: when its accounts last synced fully, and what is wrong (flags). Two lookups
    per account on sync_run's (account, started_at) index: its latest run, its latest success
    (sync.health.last_good_sync)."""
    runs = SyncRun.__table__  # type: ignore[attr-defined]
    accounts = AdAccount.__table__  # type: ignore[attr-defined]

    def latest(column: Any, *where: Any) -> Any:
        return (sa.select(column).where(runs.c.account_id == accounts.c.id, *where)
                .order_by(runs.c.started_at.desc()).limit(1).scalar_subquery())

    query = sa.select(accounts.c.id, accounts.c.client_id, accounts.c.platform, accounts.c.external_id,
                      accounts.c.status, latest(runs.c.status).label("last_status"),
                      last_good_sync(accounts.c.id).label("succeeded_at")).where(accounts.c.client_id.in_(scope.client_ids))
    health: dict[str, dict[str, Any]] = {client_id: {"last_synced": None, "flags": []}
                                         for client_id in scope.client_ids}
    for account in session.execute(query):
        if account.status == AccountStatus.DISABLED.value:
            continue
        entry = health[account.client_id]
        flags: list[str] = entry["flags"]
        name = f"{account.platform} {account.external_id}"
        synced = account.succeeded_at
        if synced is not None and (entry["last_synced"] is None or synced < entry["last_synced"]):
            entry["last_synced"] = synced  # the oldest of the accounts' latest good syncs
        if account.status == AccountStatus.NEEDS_REAUTH.value:
            flags.append(f"{name} needs a login")
        elif account.last_status == SyncStatus.FAILED.value:
            flags.append(f"{name} failed its last sync")
        elif synced is None:
            flags.append(f"{name} never synced")
        elif now - _aware(synced) > STALE_AFTER:
            flags.append(f"{name} last synced {_aware(synced):%Y-%m-%d %H:%M} UTC")
    return health


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

