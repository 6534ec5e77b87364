"""What a client report says, as data: KPIs against the previous period, the channel split, the
top campaigns, the daily trend, budget pacing (against the client's monthly budget, or its
campaigns' own budgets when it has none), the campaigns' setting changes in the period and where
the numbers came from.

The record (`ReportContent.record()`) is what the templates read and what `report build
--format json` prints: money as exact decimals in the client's currency, dates as dates."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.analytics.breakdowns import DIMENSIONS as AUDIENCE_DIMENSIONS
from datadrip.analytics.breakdowns import audience
from datadrip.analytics.results import key_results
from datadrip.analytics.totals import Scope, Totals, breakdown, client_scope, compare
from datadrip.core.enums import AccountStatus, InsightStatus, ReportKind
from datadrip.core.money import to_amount
from datadrip.core.periods import Period, preset_period, resolve_period
from datadrip.db.models import AdAccount, Agency, Client, Insight, SyncCursor
from datadrip.platforms import registry
from datadrip.reports.content import ReportContent, ReportPlan
from datadrip.reports.summary import write_summary
from datadrip.sync.health import last_good_sync
from datadrip.workbook.budgets import SettingChange, campaign_budget, setting_changes
from datadrip.workbook.fx import MissingRateError, RateBook

KPIS = ("spend", "conversions", "cpa", "roas", "conversion_value", "clicks", "ctr", "cpc")
TOP_CAMPAIGNS = 5
TREND_DAYS = 14  # the trend shows at least this many days, so a daily report has a context
PACE_TOLERANCE = Decimal(10)  # within ±10 % of the expected spend is "on track"
INSIGHTS_SHOWN = 3
AUDIENCE_SHOWN = 5  # values per breakdown dimension in "Who saw the ads"
AUDIENCE_LABELS = {"age": "Age", "gender": "Gender", "country": "Country",
                   "placement": "Placement", "device": "Device"}
INSIGHT_FRESH_DAYS = 7
# How a report names a changed setting (entity_change.field), and the levels whose changes it shows.
SETTING_LABELS = {"daily_budget_micros": "Daily budget", "lifetime_budget_micros": "Lifetime budget",
                  "bid_strategy": "Bid strategy", "objective": "Objective",
                  "effective_status": "Status", "starts_on": "Start date", "ends_on": "End date",
                  "optimization_goal": "Optimisation goal",
                  "attribution_setting": "Attribution setting"}
CHANGE_LEVELS = ("campaign", "adset")
# The period each kind of report covers unless one is given, and the kind a period makes.
KIND_PERIODS = {ReportKind.DAILY: "yesterday", ReportKind.WEEKLY: "last-week",
                ReportKind.MONTHLY: "last-month"}
PERIOD_KINDS = {"yesterday": ReportKind.DAILY, "last-week": ReportKind.WEEKLY,
                "last-7-days": ReportKind.WEEKLY, "last-month": ReportKind.MONTHLY}


def plan_report(kind: ReportKind | None, period_name: str | None, since: str | None,
                until: str | None, today: dt.date) -> ReportPlan:
    """--kind and --period/--since/--until: each defaults from the other (daily ↔ yesterday,
    weekly ↔ last-week, monthly ↔ last-month); a range of its own is a custom report."""
    if period_name is None and since is None and until is None:
        period = preset_period(KIND_PERIODS.get(kind or ReportKind.DAILY, "yesterday"), today)
    else:
        period = resolve_period(period_name, since, until, today)
    if kind is None:
        kind = PERIOD_KINDS.get(period.name, ReportKind.CUSTOM)
    return ReportPlan(kind, period)


def build_content(session: Session, agency: Agency, client: Client, plan: ReportPlan, *,
                  rates: RateBook | None = None, now: dt.datetime | None = None) -> ReportContent:
    """Every number of one client's report, read from the workbook."""
    scope = client_scope(agency, client)
    rates = rates if rates is not None else RateBook.load(session)
    period, previous = plan.period, plan.period.previous()
    current = breakdown(session, scope, period, "total", rates)[0].totals
    before = breakdown(session, scope, previous, "total", rates)[0].totals
    currency = client.currency
    kpis = [{"metric": c.metric, "value": c.current, "previous": c.previous, "change": c.change,
             "change_pct": c.change_pct, "verdict": c.verdict}
            for c in compare(current, before, currency, KPIS)]
    channels = _channels(session, scope, period, rates, current)
    campaigns = [_campaign(line.labels, line.totals, currency)
                 for line in breakdown(session, scope, period, "campaign", rates)
                 if line.totals.spend_micros > 0][:TOP_CAMPAIGNS]
    content = ReportContent(
        agency, client, plan, previous, kpis, channels, campaigns,
        _trend(session, scope, period, rates), _pacing(session, scope, period, rates),
        _accounts(session, client), _insights(session, client, period),
        changes=_changes(session, client, period, agency.locale),
        has_data=bool(current.spend_micros or current.impressions or current.clicks),
        generated_at=now or dt.datetime.now(dt.UTC))
    content.warnings = _freshness(content.accounts, period, agency.locale)
    content.audience = _audience(session, scope, period, rates)
    results = key_results(session, scope, period)
    if client.key_results or any(figure.key.startswith("results:") for figure in results.figures):
        content.results = [figure.values(currency) for figure in results.figures]
    content.warnings.extend(results.notes())
    content.summary = write_summary(content)
    return content


def _channels(session: Session, scope: Scope, period: Period, rates: RateBook,
              total: Totals) -> list[dict[str, Any]]:
    """Each platform's line; with its reach and frequency over the period where the workbook has
    them (analytics.totals.period_reach: one account's reach, fetched for exactly this period;
    never a sum of days) and its search impression shares where it has search campaigns."""
    channels = []
    for line in breakdown(session, scope, period, "platform", rates, reach=True):
        if not (line.totals.spend_micros or line.totals.impressions):
            continue
        values = line.totals.values(scope.currency)
        shares = line.totals.shares.values()
        share = None if not total.spend_micros else (
            Decimal(line.totals.spend_micros * 100) / total.spend_micros).quantize(Decimal("0.1"))
        platform = line.labels["platform"]
        channels.append({"platform": platform, "label": registry.label(platform),
                         "spend": values["spend"], "share_pct": share,
                         "impressions": values["impressions"], "clicks": values["clicks"],
                         "conversions": values["conversions"], "cpa": values["cpa"],
                         "roas": values["roas"], "reach": values["reach"],
                         "frequency": values["frequency"],
                         "search_share": shares["search_impression_share"],
                         "search_budget_lost": shares["search_budget_lost_share"],
                         "search_rank_lost": shares["search_rank_lost_share"]})
    return channels


def _campaign(labels: dict[str, Any], totals: Totals, currency: str) -> dict[str, Any]:
    values = totals.values(currency)
    platform = labels["platform"]
    return {"campaign": labels["campaign"], "platform": platform,
            "platform_label": registry.label(platform), "spend": values["spend"],
            "clicks": values["clicks"], "conversions": values["conversions"], "cpa": values["cpa"],
            "roas": values["roas"]}


def _audience(session: Session, scope: Scope, period: Period,
              rates: RateBook) -> list[dict[str, Any]]:
    """Who saw the ads: each breakdown the client has synced numbers of in the period, with its
    top AUDIENCE_SHOWN values by spend (a number a platform does not give is None)."""
    found = []
    for dimension in AUDIENCE_DIMENSIONS:
        lines = [line.record(dimension, scope.currency)
                 for line in audience(session, scope, period, dimension, rates)]
        shown = [{"value": line[dimension], **{key: line[key] for key in (
            "spend", "impressions", "clicks", "conversions", "ctr", "cpa")}}
                 for line in lines if line["spend"] or line["impressions"]][:AUDIENCE_SHOWN]
        if shown:
            found.append({"dimension": dimension, "label": AUDIENCE_LABELS[dimension],
                          "values": shown, "more": max(0, len(lines) - len(shown))})
    return found


def _trend(session: Session, scope: Scope, period: Period, rates: RateBook) -> list[dict[str, Any]]:
    """Spend and conversions per day: the period, widened to TREND_DAYS ending on its last day."""
    since = min(period.since, period.until - dt.timedelta(days=TREND_DAYS - 1))
    window = Period(since, period.until, "trend")
    by_day = {line.labels["day"]: line.totals
              for line in breakdown(session, scope, window, "day", rates)}
    trend = []
    for day in window.dates():
        values = by_day.get(day, Totals()).values(scope.currency)
        trend.append({"day": day, "spend": values["spend"], "conversions": values["conversions"],
                      "in_period": day >= period.since})
    return trend


def _pacing(session: Session, scope: Scope, period: Period, rates: RateBook) -> dict[str, Any] | None:
    """Spend of the month the period ends in, up to its last day, against the monthly budget; a
    client without one is held against what its running campaigns are set to spend that month
    (their daily and lifetime budgets as last synced)."""
    client = scope.clients[0]
    end = period.until
    first = end.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    budget, source = client.monthly_budget_micros, "client"
    if not budget:
        try:
            budget = campaign_budget(session, client, first, following - dt.timedelta(days=1),
                                     rates)
        except MissingRateError:  # a budget in a currency without a rate: no pacing
            budget = None
        source = "campaigns"
    if not budget:
        return None
    days_in_month = (following - first).days
    elapsed = (end - first).days + 1
    spent = breakdown(session, scope, Period(first, end, "month-to-date"), "total", rates)[0] \
        .totals.spend_micros
    expected = budget * elapsed // days_in_month
    projected = spent * days_in_month // elapsed
    pace = (Decimal(spent) * 100 / Decimal(expected)).quantize(Decimal("0.1"), ROUND_HALF_UP) \
        if expected else None
    status = "on_track"
    if pace is not None and pace > 100 + PACE_TOLERANCE:
        status = "over"
    elif pace is not None and pace < 100 - PACE_TOLERANCE:
        status = "under"
    currency = scope.currency
    return {"month": first, "through": end, "days_elapsed": elapsed, "days_in_month": days_in_month,
            "budget": to_amount(budget, currency), "spent": to_amount(spent, currency),
            "expected": to_amount(expected, currency), "projected": to_amount(projected, currency),
            "remaining": to_amount(max(budget - spent, 0), currency),
            "spent_pct": (Decimal(spent) * 100 / Decimal(budget)).quantize(Decimal("0.1"), ROUND_HALF_UP),
            "pace_pct": pace, "status": status, "budget_source": source}


def _changes(session: Session, client: Client, period: Period, locale: str) -> list[dict[str, Any]]:
    """The campaigns' and ad sets' setting changes seen in the period, each as a sentence."""
    return [{"entity": change.name, "level": change.level, "platform": change.platform,
             "platform_label": registry.label(change.platform), "field": change.field,
             "changed_on": change.changed_on, "sentence": change_sentence(change, locale)}
            for change in setting_changes(session, client, period.since, period.until,
                                          fields=tuple(SETTING_LABELS))
            if change.level in CHANGE_LEVELS]


def change_sentence(change: SettingChange, locale: str) -> str:
    """"Daily budget raised from ₹2,000.00 to ₹3,000.00 on 3 Dec 2026", in the account's currency."""
    from datadrip.reports.formatting import day, money

    def shown(value: str | None) -> str | None:
        if value is None:
            return None
        if change.field in ("daily_budget_micros", "lifetime_budget_micros"):
            return money(to_amount(int(value), change.currency), change.currency, locale)
        if change.field in ("starts_on", "ends_on"):
            return day(dt.date.fromisoformat(value), locale)
        return value

    what, old, new = SETTING_LABELS[change.field], shown(change.old_value), shown(change.new_value)
    on = f"on {day(change.changed_on, locale)}"
    if old is None:
        return f"{what} set to {new} {on}"
    if new is None:
        return f"{what} removed (was {old}) {on}"
    verb = "changed"
    if change.field in ("daily_budget_micros", "lifetime_budget_micros"):
        verb = "raised" if int(change.new_value or 0) > int(change.old_value or 0) else "lowered"
    return f"{what} {verb} from {old} to {new} {on}"


def _accounts(session: Session, client: Client) -> list[dict[str, Any]]:
    """The client's accounts with their last successful sync and the last day they hold."""
    accounts, cursors = AdAccount.__table__, SyncCursor.__table__  # type: ignore[attr-defined]
    last_good = last_good_sync(accounts.c.id)
    through = (sa.select(cursors.c.synced_through)
               .where(cursors.c.account_id == accounts.c.id, cursors.c.level == "campaign")
               .scalar_subquery())
    query = (sa.select(accounts.c.platform, accounts.c.external_id, accounts.c.name,
                       accounts.c.status, last_good.label("synced_at"), through.label("through"))
             .where(accounts.c.client_id == client.id,
                    accounts.c.status != AccountStatus.DISABLED.value)
             .order_by(accounts.c.platform, accounts.c.external_id))
    found = []
    for row in session.execute(query):
        synced_at = row.synced_at
        if synced_at is not None and synced_at.tzinfo is None:
            synced_at = synced_at.replace(tzinfo=dt.UTC)
        found.append({"platform": row.platform,
                      "platform_label": registry.label(row.platform),
                      "account": row.external_id, "name": row.name, "status": row.status,
                      "last_synced": synced_at, "data_through": row.through})
    return found


def _freshness(accounts: list[dict[str, Any]], period: Period, locale: str) -> list[str]:
    """What the reader should know about numbers that may be incomplete."""
    from datadrip.reports.formatting import day

    if not accounts:
        return ["No ad account is connected for this client."]
    warnings = []
    for account in accounts:
        name = f"{account['platform_label']} {account['account']}"
        if account["status"] == AccountStatus.NEEDS_REAUTH.value:
            warnings.append(f"{name} needs a new login; its numbers may be out of date.")
        elif account["data_through"] is None:
            warnings.append(f"{name} has not been synced yet.")
        elif account["data_through"] < period.until:
            warnings.append(f"{name} holds data up to {day(account['data_through'], locale)} only.")
    return warnings


def _insights(session: Session, client: Client, period: Period) -> list[dict[str, Any]]:
    """Open suggestions for the client, the most impactful first. One whose evidence ends more
    than INSIGHT_FRESH_DAYS before the report's last day was not found again since (a finding seen
    again is refreshed): the numbers no longer show it, so the client is not told of it (it stays
    in `insight list` until someone closes it)."""
    fresh_from = period.until - dt.timedelta(days=INSIGHT_FRESH_DAYS)
    query = (sa.select(Insight)
             .where(Insight.client_id == client.id,  # type: ignore[arg-type]
                    Insight.status.in_([InsightStatus.PENDING.value,  # type: ignore[attr-defined]
                                        InsightStatus.IN_PROGRESS.value]),
                    sa.or_(col(Insight.window_until).is_(None), col(Insight.window_until) >= fresh_from))
             .order_by(Insight.impact_score.desc(), Insight.created_at.desc())  # type: ignore[attr-defined]
             .limit(INSIGHTS_SHOWN))
    shown = []
    for insight in session.execute(query).scalars():
        payload = insight.payload or {}
        claim = str(payload.get("claim") or "").strip()
        if claim:
            shown.append({"type": insight.type, "claim": claim,
                          "action": str(payload.get("suggested_action") or payload.get("action") or ""),
                          "impact_score": insight.impact_score})
    return shown
