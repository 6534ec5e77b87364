"""What the insight engines look at: one client's entities summed over a recent and a baseline window.

The recent window is the last 7 complete days, the baseline the 28 days before it: both whole
weeks, so weekday seasonality cancels out. "Complete" means up to yesterday in the agency's time
zone, and never past the day every connected account has been synced through: an account whose
sync lags would otherwise look as if its delivery had stopped. Totals come from one GROUP BY over
metric_daily; each entity's figures stay in its account's currency (CPA in euros for a euro
account), and the month-to-date spend for budget pacing is blended into the client's currency.
Pacing holds it against the client's monthly budget, or, when it has none, against what its
running campaigns are set to spend that month (their daily and lifetime budgets as last synced).
The campaigns' budget changes seen in the two windows come along, to explain a shift in spend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.totals import Totals, breakdown, client_scope
from datadrip.core.enums import AccountStatus
from datadrip.core.errors import UsageError
from datadrip.core.periods import Period
from datadrip.db.models import AdAccount, Agency, Client, Entity, MetricDaily, SyncCursor
from datadrip.workbook.budgets import BUDGET_FIELDS, SettingChange, campaign_budget, setting_changes
from datadrip.workbook.fx import RateBook

RECENT_DAYS = 7
BASELINE_DAYS = 28
RECENT, BASELINE = "recent", "baseline"
_m, _a, _e, _cursor = (MetricDaily.__table__, AdAccount.__table__,  # type: ignore[attr-defined]
                       Entity.__table__, SyncCursor.__table__)  # type: ignore[attr-defined]


def shown_figures(sums: Totals, currency: str) -> dict[str, Decimal | int | None]:
    """A window's figures people read, rounded as the dashboards and reports round them
    (analytics.Totals.values), plus the average daily frequency.

    These exact values are what the model is shown and what guardrails check its quotes against."""
    shown = sums.values(currency)
    frequency = sums.daily_frequency
    return {
        "spend": shown["spend"], "impressions": sums.impressions, "clicks": sums.clicks,
        "conversions": shown["conversions"],
        "cpa": shown["cpa"], "roas": shown["roas"], "ctr": shown["ctr"], "cvr": shown["conversion_rate"],
        "frequency": None if frequency is None else frequency.quantize(Decimal("0.01"), ROUND_HALF_UP),
    }


@dataclass
class EntityFacts:
    """A campaign, ad set or ad with its recent and baseline sums."""

    id: str
    ref: str  # "campaign:<platform id>": how prompts, findings and people name it
    level: str
    external_id: str
    name: str
    parent_id: str | None
    account_id: str
    account_name: str
    platform: str
    currency: str
    status: str  # as the platform names it (ACTIVE, PAUSED, ENABLED, REMOVED …)
    recent: Totals = field(default_factory=Totals)  # in the account's currency, with reach and days
    baseline: Totals = field(default_factory=Totals)
    last_day: dt.date | None = None  # the last day it delivered, within the windows

    @property
    def stopped(self) -> bool:
        """Paused or removed on the platform: a fall in its numbers is someone's decision."""
        return self.status.upper() in {"PAUSED", "REMOVED", "DELETED", "ARCHIVED", "CAMPAIGN_PAUSED",
                                       "ADSET_PAUSED", "DISABLED"}

    def window(self, name: str) -> Totals:
        return self.recent if name == RECENT else self.baseline


@dataclass(frozen=True)
class MonthToDate:
    """The client's spend this month, blended into its currency, for budget pacing."""

    first: dt.date
    through: dt.date
    days_in_month: int
    spent_micros: int
    last_7_days_micros: int
    budget_micros: int
    budget_source: str = "client"  # "client": its monthly budget; "campaigns": their own budgets

    @property
    def days_elapsed(self) -> int:
        return (self.through - self.first).days + 1


@dataclass
class ClientFacts:
    agency: Agency
    client: Client
    as_of: dt.date | None  # None: no account holds data yet
    recent: Period
    baseline: Period
    entities: dict[str, EntityFacts] = field(default_factory=dict)  # by ref
    month: MonthToDate | None = None
    notes: list[str] = field(default_factory=list)
    # Campaign budget changes seen from the baseline's first day to the recent window's last.
    budget_changes: list[SettingChange] = field(default_factory=list)

    def at_level(self, level: str) -> list[EntityFacts]:
        return [entity for entity in self.entities.values() if entity.level == level]

    def children(self, entity: EntityFacts) -> list[EntityFacts]:
        return [child for child in self.entities.values() if child.parent_id == entity.id]


def windows(as_of: dt.date) -> tuple[Period, Period]:
    recent = Period(as_of - dt.timedelta(days=RECENT_DAYS - 1), as_of, RECENT)
    until = recent.since - dt.timedelta(days=1)
    return recent, Period(until - dt.timedelta(days=BASELINE_DAYS - 1), until, BASELINE)


def client_facts(session: Session, agency: Agency, client: Client, today: dt.date) -> ClientFacts:
    """The client's facts for insights computed on `today` (the agency's calendar day)."""
    accounts = {row.id: row for row in session.execute(
        sa.select(_a.c.id, _a.c.platform, _a.c.external_id, _a.c.name, _a.c.currency, _a.c.status,
                  sa.select(sa.func.max(_cursor.c.synced_through))
                  .where(_cursor.c.account_id == _a.c.id).scalar_subquery().label("through"))
        .where(_a.c.client_id == client.id, _a.c.status != AccountStatus.DISABLED.value)
        .order_by(_a.c.platform, _a.c.external_id))}
    synced = {key: row for key, row in accounts.items() if row.through is not None}
    yesterday = today - dt.timedelta(days=1)
    as_of = min([yesterday, *(row.through for row in synced.values())]) if synced else None
    recent, baseline = windows(as_of or yesterday)
    facts = ClientFacts(agency, client, as_of, recent, baseline)
    if as_of is None:
        facts.notes.append("No ad account of this client holds synced data yet.")
        return facts
    for row in synced.values():
        if row.through < yesterday:
            facts.notes.append(f"{row.platform} account {row.external_id} is synced through "
                               f"{row.through} only, so insights look at days up to {as_of}.")
    _load_entities(session, facts, synced)
    _load_sums(session, facts, list(synced))
    facts.budget_changes = [change for change in setting_changes(
        session, client, baseline.since, recent.until, fields=BUDGET_FIELDS)
        if change.level == "campaign"]
    try:
        facts.month = _month_to_date(session, agency, client, as_of)
    except UsageError as exc:  # a missing exchange rate: pacing needs every account in one currency
        facts.notes.append(f"Budget pacing skipped: {exc}")
    return facts


def _load_entities(session: Session, facts: ClientFacts, accounts: dict[str, Any]) -> None:
    query = (sa.select(_e.c.id, _e.c.account_id, _e.c.level, _e.c.external_id, _e.c.name, _e.c.parent_id,
                       _e.c.status)
             .where(_e.c.account_id.in_(list(accounts))))
    for row in session.execute(query):
        account = accounts[row.account_id]
        facts.entities[row.id] = EntityFacts(
            row.id, f"{row.level}:{row.external_id}", row.level, row.external_id, row.name or row.external_id,
            row.parent_id, row.account_id, str(account.name or account.external_id), str(account.platform),
            str(account.currency), row.status or "")


def _load_sums(session: Session, facts: ClientFacts, account_ids: list[str]) -> None:
    """One GROUP BY: every entity's sums per window. Entities are keyed by id while loading and by
    ref afterwards; an entity with no row in either window is dropped (nothing to say about it)."""
    window = sa.case((_m.c.date >= facts.recent.since, RECENT), else_=BASELINE)
    query = (sa.select(_m.c.entity_id, window.label("window"),
                       sa.func.sum(_m.c.spend_micros), sa.func.sum(_m.c.impressions),
                       sa.func.sum(_m.c.clicks), sa.func.sum(_m.c.conversions_millionths),
                       sa.func.sum(_m.c.conversion_value_micros), sa.func.sum(_m.c.reach),
                       sa.func.count(), sa.func.max(_m.c.date))
             .where(_m.c.account_id.in_(account_ids),
                    _m.c.date.between(facts.baseline.since, facts.recent.until))
             .group_by(_m.c.entity_id, window))
    by_id = facts.entities
    seen: set[str] = set()
    for row in session.execute(query):
        entity_id, name, spend, impressions, clicks, conversions, value, reach, days, last = row
        entity = by_id.get(entity_id)
        if entity is None:
            continue
        seen.add(entity_id)
        sums = entity.window(name)
        sums.spend_micros, sums.impressions = int(spend or 0), int(impressions or 0)
        sums.clicks = int(clicks or 0)
        sums.conversions_millionths = int(conversions or 0)
        sums.conversion_value_micros, sums.daily_reach_sum = int(value or 0), int(reach or 0)
        sums.days = int(days)
        if isinstance(last, str):
            last = dt.date.fromisoformat(last)
        if entity.last_day is None or last > entity.last_day:
            entity.last_day = last
    facts.entities = {entity.ref: entity for entity in by_id.values() if entity.id in seen}


def _month_to_date(session: Session, agency: Agency, client: Client, as_of: dt.date) -> MonthToDate | None:
    first = as_of.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    scope, rates = client_scope(agency, client), RateBook.load(session)
    budget, source = client.monthly_budget_micros, "client"
    if not budget:
        budget = campaign_budget(session, client, first, following - dt.timedelta(days=1), rates)
        source = "campaigns"
    if not budget:
        return None

    def spent(since: dt.date) -> int:
        lines = breakdown(session, scope, Period(since, as_of, "custom"), "total", rates)
        return lines[0].totals.spend_micros

    return MonthToDate(first, as_of, (following - first).days, spent(first),
                       spent(as_of - dt.timedelta(days=RECENT_DAYS - 1)), budget, source)
