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

The conversions the rules judge are the client's results as the client reports them: its first
key result (`client edit --results`), counted from metric_action_daily through the platform's
rules exactly as reports count it (analytics.results: overlapping Meta purchase variants once,
distinct actions added up), its value the result's own; without key results, what the platforms
call results (Meta's Results column per campaign, Google's Conversions column). Each entity
carries the words of its result (`ResultTerms`: "Leads", "Cost per lead"). Days an account
synced before actions were kept (metric_daily.actions_kept false) cannot count a key result, so
they are left out of both windows for every figure of that account; without key results such
an account is judged on the workbook's conversions on every day (Meta's Results column came
with the actions); a note says which. Google's Conversions column keeps every day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.results import catalogues, entity_result_sums, resolve_result, result_words
from datadrip.analytics.totals import Totals, breakdown, client_scope
from datadrip.core.enums import AccountStatus
from datadrip.core.errors import UsageError
from datadrip.core.periods import Period
from datadrip.db.models import AdAccount, Agency, Client, Entity, MetricDaily, SyncCursor
from datadrip.platforms.base import RESULT_NAMES, ResultActions
from datadrip.workbook.budgets import BUDGET_FIELDS, SettingChange, campaign_budget, setting_changes
from datadrip.workbook.fx import RateBook

RECENT_DAYS = 7
BASELINE_DAYS = 28
RECENT, BASELINE = "recent", "baseline"
_m, _a, _e, _cursor = (MetricDaily.__table__, AdAccount.__table__,  # type: ignore[attr-defined]
                       Entity.__table__, SyncCursor.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ResultTerms:
    """The result an entity's conversions count, in the client's words: its column ("Leads") and
    its cost ("Cost per lead"). `key` is the key result's name (a RESULT_NAMES entry, or a
    platform's action or custom conversion), or RESULTS_COLUMN / CONVERSIONS_COLUMN."""

    key: str
    label: str
    cost_label: str

    @property
    def counted(self) -> str:
        """The plural in a sentence: "leads", "results"; a custom conversion keeps its name."""
        return self.label.lower() if self.key in _OWN_WORDS else self.label

    @property
    def cost(self) -> str:
        """The cost in a sentence: "cost per lead"."""
        return self.cost_label[0].lower() + self.cost_label[1:]

    def record(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "cost_label": self.cost_label}


RESULTS_COLUMN, CONVERSIONS_COLUMN = "results", "conversions"
_OWN_WORDS = {*RESULT_NAMES, RESULTS_COLUMN, CONVERSIONS_COLUMN}
META_RESULTS = ResultTerms(RESULTS_COLUMN, "Results", "Cost per result")  # Ads Manager's column
CONVERSIONS = ResultTerms(CONVERSIONS_COLUMN, "Conversions", "Cost per conversion")


@dataclass(frozen=True)
class _Counting:
    """How one account's result is counted: from its actions through `rule` (a key result; None:
    the account has no such action, so it counts none), or from a column of metric_daily."""

    terms: ResultTerms
    source: str  # "actions" | RESULTS_COLUMN | CONVERSIONS_COLUMN
    rule: ResultActions | None = None

    @property
    def needs_actions(self) -> bool:
        """Counted from what syncs since actions were kept (Meta's Results came with them)."""
        return self.source != CONVERSIONS_COLUMN


@dataclass(frozen=True)
class LeftOut:
    """An account's days in the windows synced before actions were kept: left out of the facts."""

    account_id: str
    first: dt.date
    last: dt.date
    days: int


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
    result: ResultTerms = CONVERSIONS  # what its conversions count, in the client's words
    days_left_out: int = 0  # its account's days without actions, left out of the windows

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
    # The key result the rules judge (the client's first); None: what the platforms call results.
    key_result: str | None = None
    left_out: list[LeftOut] = field(default_factory=list)

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
    counting = _countings(session, client, synced)
    facts.key_result = client.key_results[0] if client.key_results else None
    gaps = _left_out(session, facts, [key for key, how in counting.items() if how.needs_actions])
    for gap in gaps:
        row, how = synced[gap.account_id], counting[gap.account_id]
        days = (f"{row.platform} account {row.external_id}: {gap.days} "
                f"day{'' if gap.days == 1 else 's'} from {gap.first} to {gap.last} were synced "
                "before DataDrip kept actions")
        refill = f"datadrip sync --since {gap.first} refills them."
        if how.source == RESULTS_COLUMN:
            # Without key results the workbook's own conversions stand in, on every day alike.
            counting[gap.account_id] = _Counting(CONVERSIONS, CONVERSIONS_COLUMN)
            facts.notes.append(f"{days} and have no Results column, so insights judge this "
                               f"account's conversions as the workbook keeps them; {refill}")
            continue
        facts.left_out.append(gap)
        facts.notes.append(f"{days}, so {how.terms.counted} cannot be counted on them and insights "
                           f"leave them out of both windows; {refill}")
    _load_entities(session, facts, synced, counting)
    _load_sums(session, facts, list(synced), counting)
    facts.budget_changes = [change for change in setting_changes(
        session, client, baseline.since, recent.until, fields=BUDGET_FIELDS)
        if change.level == "campaign"]
    try:
        facts.month = _month_to_date(session, agency, client, as_of)
    except UsageError as exc:  # a missing exchange rate: pacing needs every account in one currency
        facts.notes.append(f"Budget pacing skipped: {exc}")
    return facts


def _countings(session: Session, client: Client, accounts: dict[str, Any]) -> dict[str, _Counting]:
    """Each account's way of counting the client's result: the first key result through the
    plug-in's rules, or what the platform calls results."""
    chosen = client.key_results[0] if client.key_results else None
    books = catalogues(session, accounts) if chosen else {}
    found: dict[str, _Counting] = {}
    for account_id, row in accounts.items():
        platform = str(row.platform)
        if chosen is None:
            found[account_id] = (_Counting(CONVERSIONS, CONVERSIONS_COLUMN)
                                 if platform == "google" else _Counting(META_RESULTS, RESULTS_COLUMN))
            continue
        rule = resolve_result(platform, chosen, books[account_id])
        label, cost_label = result_words(chosen, rule, platform, books[account_id])
        found[account_id] = _Counting(ResultTerms(chosen, label, cost_label), "actions", rule)
    return found


def _left_out(session: Session, facts: ClientFacts, account_ids: list[str]) -> list[LeftOut]:
    """The accounts' days in the windows whose rows were synced before actions were kept."""
    if not account_ids:
        return []
    query = (sa.select(_m.c.account_id, sa.func.min(_m.c.date), sa.func.max(_m.c.date),
                       sa.func.count(sa.distinct(_m.c.date)))
             .where(_m.c.account_id.in_(account_ids), _m.c.actions_kept == sa.false(),
                    _m.c.date.between(facts.baseline.since, facts.recent.until))
             .group_by(_m.c.account_id).order_by(_m.c.account_id))
    return [LeftOut(row[0], _day(row[1]), _day(row[2]), int(row[3]))
            for row in session.execute(query)]


def _day(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _load_entities(session: Session, facts: ClientFacts, accounts: dict[str, Any],
                   counting: dict[str, _Counting]) -> None:
    query = (sa.select(_e.c.id, _e.c.account_id, _e.c.level, _e.c.external_id, _e.c.name, _e.c.parent_id,
                       _e.c.status)
             .where(_e.c.account_id.in_(list(accounts))))
    for row in session.execute(query):
        account = accounts[row.account_id]
        facts.entities[row.id] = EntityFacts(
            row.id, f"{row.level}:{row.external_id}", row.level, row.external_id, row.name or row.external_id,
            row.parent_id, row.account_id, str(account.name or account.external_id), str(account.platform),
            str(account.currency), row.status or "", result=counting[row.account_id].terms)


def _load_sums(session: Session, facts: ClientFacts, account_ids: list[str],
               counting: dict[str, _Counting]) -> None:
    """One GROUP BY: every entity's sums per window, days without actions left out where the
    result needs them; then, per account counting a key result, its actions' sums. Entities are
    keyed by id while loading and by ref afterwards; an entity with no row in either window is
    dropped (nothing to say about it)."""
    window = sa.case((_m.c.date >= facts.recent.since, RECENT), else_=BASELINE)
    every_day = [key for key, how in counting.items() if not how.needs_actions]
    query = (sa.select(_m.c.entity_id, window.label("window"),
                       sa.func.sum(_m.c.spend_micros), sa.func.sum(_m.c.impressions),
                       sa.func.sum(_m.c.clicks), sa.func.sum(_m.c.conversions_millionths),
                       sa.func.sum(_m.c.conversion_value_micros), sa.func.sum(_m.c.reach),
                       sa.func.count(), sa.func.max(_m.c.date), sa.func.sum(_m.c.results_millionths))
             .where(_m.c.account_id.in_(account_ids),
                    _m.c.date.between(facts.baseline.since, facts.recent.until),
                    sa.or_(_m.c.actions_kept == sa.true(), _m.c.account_id.in_(every_day)))
             .group_by(_m.c.entity_id, window))
    by_id = facts.entities
    seen: set[str] = set()
    for row in session.execute(query):
        entity_id, name, spend, impressions, clicks, conversions, value, reach, days, last, results = row
        entity = by_id.get(entity_id)
        if entity is None:
            continue
        seen.add(entity_id)
        source = counting[entity.account_id].source
        sums = entity.window(name)
        sums.spend_micros, sums.impressions = int(spend or 0), int(impressions or 0)
        sums.clicks = int(clicks or 0)
        sums.conversions_millionths = {CONVERSIONS_COLUMN: int(conversions or 0),
                                       RESULTS_COLUMN: int(results or 0)}.get(source, 0)
        # Meta's Results column has no value: ROAS keeps the workbook's conversions value there.
        sums.conversion_value_micros = int(value or 0) if source != "actions" else 0
        sums.daily_reach_sum, sums.days = int(reach or 0), int(days)
        last = _day(last)
        if entity.last_day is None or last > entity.last_day:
            entity.last_day = last
    for account_id, how in counting.items():
        if how.rule is None:
            continue
        for entity_id, name, count, value in entity_result_sums(
                session, account_id, how.rule, facts.baseline.since, facts.recent.until,
                lambda day: sa.case((day >= facts.recent.since, RECENT), else_=BASELINE)):
            entity = by_id.get(entity_id)
            if entity is not None and entity_id in seen:
                sums = entity.window(name)
                sums.conversions_millionths, sums.conversion_value_micros = count, value
    left_out = {gap.account_id: gap.days for gap in facts.left_out}
    for entity in by_id.values():
        entity.days_left_out = left_out.get(entity.account_id, 0)
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
