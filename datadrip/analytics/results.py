"""Results as the client reports them: each key result's count, value and cost, every action of a
scope, and the numbers the platforms' own screens show beside clicks (all).

Every figure is a GROUP BY in SQL over metric_action_daily / metric_daily at campaign level, never a
Python loop over rows. A result made of overlapping actions (Meta's purchase variants) takes the
largest of them per entity-day (MAX in SQL), never their sum; distinct actions (Google's
conversion actions, custom conversions) are added up. Which is which is the plug-in's
(`ResultRules.result_actions`). Counts are integer millionths, money integer micros; amounts of an
account in another currency are summed per day and converted at each day's rate, as
analytics.totals does.

A client without key results gets what the platforms call results: Meta's Results column, one
figure per result indicator (different indicators are never added), and Google's Conversions
column (metrics.conversions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.totals import ONE_PER_MICRO, Scope, ScopeAccount, _rounded, scope_accounts
from datadrip.core.errors import UsageError
from datadrip.core.money import MILLIONTHS, conversions_from_millionths, minor_units, to_amount
from datadrip.core.periods import Period
from datadrip.db.models import (
    AdAccount,
    ConversionAction,
    Entity,
    MetricDaily,
    metric_action_daily,
)
from datadrip.platforms import registry
from datadrip.platforms.base import (
    RESULT_NAMES,
    RESULT_WORDS,
    ConversionActionInfo,
    ResultActions,
    ResultRules,
)
from datadrip.workbook.fx import RateBook

_m, _x, _a, _k = (MetricDaily.__table__, metric_action_daily,  # type: ignore[attr-defined]
                  AdAccount.__table__,  # type: ignore[attr-defined]
                  ConversionAction.__table__)  # type: ignore[attr-defined]
RESULTS_INDICATOR_PREFIX = "actions:"
GOOGLE_CONVERSIONS = "conversions"  # the key of Google's Conversions column among default results


@dataclass
class ResultFigure:
    """One result of a scope over a period: its name as the client reads it ("Purchases"), the
    cost's words ("Cost per purchase"), the count (millionths), value and spend (micros of the
    scope's currency) the cost is computed from."""

    key: str
    label: str
    cost_label: str
    count_millionths: int = 0
    value_micros: int = 0
    spend_micros: int = 0

    @property
    def cost(self) -> Decimal | None:
        """Spend per result in micros, exact; None with no result."""
        if not self.count_millionths:
            return None
        return Decimal(self.spend_micros * MILLIONTHS) / Decimal(self.count_millionths)

    def values(self, currency: str) -> dict[str, Any]:
        places = Decimal(1).scaleb(-minor_units(currency))
        return {"result": self.key, "label": self.label, "cost_label": self.cost_label,
                "count": conversions_from_millionths(self.count_millionths),
                "value": to_amount(self.value_micros, currency),
                "cost": _rounded(self.cost, ONE_PER_MICRO, places)}


@dataclass
class Parity:
    """What the platforms' screens show beside clicks (all): Meta's link clicks with link CTR
    (link clicks / impressions) and link CPC (spend / link clicks) over the rows that have link
    clicks; Google's interactions."""

    link_clicks: int = 0
    link_impressions: int = 0
    link_spend_micros: int = 0
    interactions: int = 0
    has_link_clicks: bool = False
    has_interactions: bool = False

    def values(self, currency: str) -> dict[str, Any]:
        places = Decimal(1).scaleb(-minor_units(currency))
        ctr = (Decimal(self.link_clicks) / Decimal(self.link_impressions)
               if self.link_impressions else None)
        cpc = (Decimal(self.link_spend_micros) / Decimal(self.link_clicks)
               if self.link_clicks else None)
        return {"link_clicks": self.link_clicks if self.has_link_clicks else None,
                "link_ctr": _rounded(ctr, Decimal(100), Decimal("0.01")),
                "link_cpc": _rounded(cpc, ONE_PER_MICRO, places),
                "interactions": self.interactions if self.has_interactions else None}


@dataclass(frozen=True)
class Unavailable:
    """An account whose days in the period were synced before DataDrip kept actions: results by
    action are unavailable up to `last_day`; `datadrip sync --since first_day` refills them."""

    account: str
    platform: str
    results: tuple[str, ...]  # the labels of the client's key results
    first_day: dt.date
    last_day: dt.date


@dataclass
class ResultsSummary:
    figures: list[ResultFigure] = field(default_factory=list)
    parity: Parity = field(default_factory=Parity)
    unavailable: list[Unavailable] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What a report says about days without actions."""
        return [f"{_words(gap.results)} for {gap.account} ({gap.platform}) are unavailable before "
                f"{(gap.last_day + dt.timedelta(days=1)).isoformat()}; "
                f"datadrip sync --since {gap.first_day.isoformat()} refills them."
                for gap in self.unavailable]


def catalogues(session: Session, account_ids: Iterable[str]) -> dict[str, list[ConversionActionInfo]]:
    """Each account's catalogue of conversion actions, by action id."""
    found: dict[str, list[ConversionActionInfo]] = {account_id: [] for account_id in account_ids}
    query = (sa.select(_k.c.account_id, _k.c.action, _k.c.name, _k.c.kind, _k.c.category,
                       _k.c.primary, _k.c.included_in_conversions, _k.c.status)
             .where(_k.c.account_id.in_(list(found))).order_by(_k.c.account_id, _k.c.action))
    for row in session.execute(query):
        found[row[0]].append(ConversionActionInfo(*row[1:]))
    return found


def _rules(platform: str) -> ResultRules | None:
    """The plug-in's result rules; None when it has none, or is not installed here (its
    accounts' actions are then shown by their ids)."""
    if not registry.is_installed(platform):
        return None
    plugin = registry.platform(platform)
    return plugin if isinstance(plugin, ResultRules) else None


def resolve_result(platform: str, name: str,
                   catalogue: Sequence[ConversionActionInfo]) -> ResultActions | None:
    rules = _rules(platform)
    return None if rules is None else rules.result_actions(name, catalogue)


def result_words(name: str, actions: ResultActions | None, platform: str | None,
                 catalogue: Sequence[ConversionActionInfo]) -> tuple[str, str]:
    """A key result's column name and its cost's words ("Purchases", "Cost per purchase")."""
    if name in RESULT_NAMES:
        plural, singular = RESULT_WORDS[name]
        return plural, f"Cost per {singular}"
    label = name
    if actions is not None and platform is not None and len(actions.actions) == 1:
        rules = _rules(platform)
        if rules is not None:
            label = rules.action_label(actions.actions[0], catalogue)
    return label, f"Cost per {label}"


class _Converter:
    """Sums of micros per account (and per day where the account's currency differs), converted."""

    def __init__(self, session: Session, accounts: dict[str, ScopeAccount], currency: str) -> None:
        self.currency = currency
        self.accounts = accounts
        self.book = (RateBook.load(session)
                     if any(a.currency != currency for a in accounts.values()) else None)

    def daily(self, account_id: str) -> bool:
        return self.accounts[account_id].currency != self.currency

    def __call__(self, account_id: str, micros: int | None, day: dt.date | None) -> int:
        micros = int(micros or 0)
        account = self.accounts[account_id]
        if account.currency == self.currency:
            return micros
        assert self.book is not None  # loaded when any account's currency differs
        return self.book.convert(micros, account.currency, self.currency, day)


def _in_period(table: sa.Table, account_ids: Sequence[str], period: Period) -> list[Any]:
    return [table.c.account_id.in_(list(account_ids)), table.c.level == "campaign",
            table.c.date.between(period.since, period.until)]


def _spend(session: Session, convert: _Converter, account_ids: Sequence[str],
           period: Period, extra: Sequence[Any] = ()) -> dict[str, int]:
    """Each account's spend over the period (converted), at campaign level."""
    found: dict[str, int] = dict.fromkeys(account_ids, 0)
    if not account_ids:
        return found
    query = (sa.select(_m.c.account_id, _m.c.date, sa.func.sum(_m.c.spend_micros))
             .where(*_in_period(_m, account_ids, period), *extra)
             .group_by(_m.c.account_id, _m.c.date))
    for account_id, day, spend in session.execute(query):
        found[account_id] += convert(account_id, spend, day)
    return found


def result_rows(rule: ResultActions, where: Sequence[Any]) -> tuple[Any, Any, Any, Any, Any]:
    """A result's rows per entity-day, for any query over metric_action_daily filtered by
    `where` (the actions of `rule` are added here): the FROM clause and its date, entity, count
    (millionths) and value (micros) columns. Overlapping actions (Meta's purchase variants report
    one number under several names) give the largest of them per entity-day, never their sum;
    distinct actions are the table's own rows, to be added up."""
    where = [*where, _x.c.action.in_(rule.actions)]
    if not rule.overlapping:
        rows = sa.select(_x).where(*where).subquery()
        return rows, rows.c.date, rows.c.entity_id, rows.c.count_millionths, rows.c.value_micros
    rows = (sa.select(_x.c.date.label("date"), _x.c.entity_id.label("entity_id"),
                      sa.func.max(_x.c.count_millionths).label("count"),
                      sa.func.max(_x.c.value_micros).label("value"))
            .where(*where).group_by(_x.c.date, _x.c.entity_id).subquery())
    return rows, rows.c.date, rows.c.entity_id, rows.c.count, rows.c.value


def _action_sums(session: Session, account_id: str, rule: ResultActions,
                 period: Period) -> list[tuple[dt.date, int, int]]:
    """(day, count millionths, value micros) of `rule`'s actions for one account."""
    rows, day, _, count, value = result_rows(rule, _in_period(_x, [account_id], period))
    query = (sa.select(day, sa.func.sum(count), sa.func.sum(value)).select_from(rows)
             .group_by(day))
    return [(row[0], int(row[1] or 0), int(row[2] or 0)) for row in session.execute(query)]


def entity_result_sums(session: Session, account_id: str, rule: ResultActions, since: dt.date,
                       until: dt.date, group: Any) -> list[tuple[str, Any, int, int]]:
    """(entity id, group, count millionths, value micros) of `rule`'s result for one account's
    entities at every level from `since` to `until`; `group` makes a SQL expression of the day
    column (a window's name, say) the sums are also grouped by."""
    where = [_x.c.account_id == account_id, _x.c.date.between(since, until)]
    rows, day, entity, count, value = result_rows(rule, where)
    key = group(day)
    query = (sa.select(entity, key, sa.func.sum(count), sa.func.sum(value)).select_from(rows)
             .group_by(entity, key))
    return [(row[0], row[1], int(row[2] or 0), int(row[3] or 0)) for row in session.execute(query)]


def key_results(session: Session, scope: Scope, period: Period) -> ResultsSummary:
    """The scope's results over the period: the clients' key results (each with its own cost),
    or what the platforms call results for clients without key results; link-click and
    interaction parity; and the accounts whose days in the period have no actions kept."""
    accounts = scope_accounts(session, scope)
    summary = ResultsSummary()
    if not accounts:
        return summary
    convert = _Converter(session, accounts, scope.currency)
    ids = list(accounts)
    spend = _spend(session, convert, ids, period)
    books = catalogues(session, ids)
    figures: dict[str, ResultFigure] = {}
    by_client: dict[str, list[str]] = {}
    for client in scope.clients:
        by_client[client.name] = list(client.key_results or [])
    for account_id, account in accounts.items():
        chosen = by_client.get(account.client, [])
        if not chosen:
            _default_results(session, account, period, convert, figures)
            continue
        for name in chosen:
            rule = resolve_result(account.platform, name, books[account_id])
            if name not in figures:
                label, cost_label = result_words(name, rule, account.platform, books[account_id])
                figures[name] = ResultFigure(name, label, cost_label)
            figure = figures[name]
            figure.spend_micros += spend[account_id]
            if rule is None:
                continue
            for day, count, value in _action_sums(session, account_id, rule, period):
                figure.count_millionths += count
                figure.value_micros += convert(account_id, value, day)
    summary.figures = list(figures.values())
    summary.parity = _parity(session, convert, ids, period)
    with_results = {account_id: tuple(figures[name].label for name in by_client[account.client])
                    for account_id, account in accounts.items() if by_client.get(account.client)}
    summary.unavailable = _unavailable(session, accounts, with_results, period)
    return summary


def _default_results(session: Session, account: ScopeAccount, period: Period, convert: _Converter,
                     figures: dict[str, ResultFigure]) -> None:
    """What the platform calls results: Meta's Results column per indicator (the spend of the
    rows with that indicator is its cost's), Google's Conversions column."""
    where = _in_period(_m, [account.id], period)
    if account.platform == "google":
        query = (sa.select(_m.c.date, sa.func.sum(_m.c.conversions_millionths),
                           sa.func.sum(_m.c.conversion_value_micros), sa.func.sum(_m.c.spend_micros))
                 .where(*where).group_by(_m.c.date))
        figure = figures.setdefault(GOOGLE_CONVERSIONS, ResultFigure(
            GOOGLE_CONVERSIONS, "Conversions", "Cost per conversion"))
        for day, count, value, spend in session.execute(query):
            figure.count_millionths += int(count or 0)
            figure.value_micros += convert(account.id, value, day)
            figure.spend_micros += convert(account.id, spend, day)
        return
    query = (sa.select(_m.c.result_indicator, _m.c.date, sa.func.sum(_m.c.results_millionths),
                       sa.func.sum(_m.c.spend_micros))
             .where(*where, _m.c.result_indicator.is_not(None))
             .group_by(_m.c.result_indicator, _m.c.date))
    for indicator, day, count, spend in session.execute(query):
        action = indicator.removeprefix(RESULTS_INDICATOR_PREFIX)
        key = f"results:{indicator}"
        if key not in figures:
            rules = _rules(account.platform)
            label = rules.action_label(action, []) if rules is not None else action
            figures[key] = ResultFigure(key, f"Results ({label})", f"Cost per result ({label})")
        figure = figures[key]
        figure.count_millionths += int(count or 0)
        figure.spend_micros += convert(account.id, spend, day)


def _parity(session: Session, convert: _Converter, ids: Sequence[str], period: Period) -> Parity:
    parity = Parity()
    where = _in_period(_m, ids, period)
    links = (sa.select(_m.c.account_id, _m.c.date, sa.func.sum(_m.c.link_clicks),
                       sa.func.sum(_m.c.impressions), sa.func.sum(_m.c.spend_micros))
             .where(*where, _m.c.link_clicks.is_not(None)).group_by(_m.c.account_id, _m.c.date))
    for account_id, day, clicks, impressions, spend in session.execute(links):
        parity.has_link_clicks = True
        parity.link_clicks += int(clicks or 0)
        parity.link_impressions += int(impressions or 0)
        parity.link_spend_micros += convert(account_id, spend, day)
    interactions = (sa.select(sa.func.count(), sa.func.sum(_m.c.interactions))
                    .where(*where, _m.c.interactions.is_not(None)))
    rows, total = session.execute(interactions).one()
    parity.has_interactions = bool(rows)
    parity.interactions = int(total or 0)
    return parity


def _words(labels: Sequence[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _unavailable(session: Session, accounts: dict[str, ScopeAccount],
                 with_results: dict[str, tuple[str, ...]], period: Period) -> list[Unavailable]:
    """The accounts of clients with key results whose days in the period were synced before
    actions were kept (the default results do not need actions)."""
    if not with_results:
        return []
    query = (sa.select(_m.c.account_id, sa.func.min(_m.c.date), sa.func.max(_m.c.date))
             .where(*_in_period(_m, list(with_results), period), _m.c.actions_kept == sa.false())
             .group_by(_m.c.account_id))
    gaps = [Unavailable(accounts[row[0]].name, accounts[row[0]].platform, with_results[row[0]],
                        row[1], row[2])
            for row in session.execute(query)]
    return sorted(gaps, key=lambda gap: (gap.account, gap.first_day))


# --- every action of a scope ---------------------------------------------------------------------

ACTION_COLUMNS = ("client", "platform", "account", "action", "action_name", "count", "value",
                  "cost_per_action", "currency")


def action_lines(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Every action of the scope over the period, one line per account and action as the platform
    reported it (never a line adding overlapping or nested types): its label, count, value and
    cost per action (the account's spend / the count), money in the scope's currency."""
    accounts = scope_accounts(session, scope)
    if not accounts:
        return []
    convert = _Converter(session, accounts, scope.currency)
    ids = list(accounts)
    spend = _spend(session, convert, ids, period)
    books = catalogues(session, ids)
    query = (sa.select(_x.c.account_id, _x.c.action, _x.c.date, sa.func.sum(_x.c.count_millionths),
                       sa.func.sum(_x.c.value_micros), sa.func.count(_x.c.value_micros))
             .where(*_in_period(_x, ids, period))
             .group_by(_x.c.account_id, _x.c.action, _x.c.date))
    sums: dict[tuple[str, str], list[int]] = {}
    for account_id, action, day, count, value, valued in session.execute(query):
        line = sums.setdefault((account_id, action), [0, 0, 0])
        line[0] += int(count or 0)
        line[1] += convert(account_id, value, day)
        line[2] += int(valued)
    places = Decimal(1).scaleb(-minor_units(scope.currency))
    records = []
    for (account_id, action), (count, value, valued) in sums.items():
        account = accounts[account_id]
        rules = _rules(account.platform)
        label = rules.action_label(action, books[account_id]) if rules is not None else action
        cost = Decimal(spend[account_id] * MILLIONTHS) / Decimal(count) if count else None
        records.append({"client": account.client, "platform": account.platform,
                        "account": account.external_id, "action": action, "action_name": label,
                        "count": conversions_from_millionths(count),
                        "value": to_amount(value, scope.currency) if valued else None,
                        "cost_per_action": _rounded(cost, ONE_PER_MICRO, places),
                        "currency": scope.currency})
    return sorted(records, key=lambda r: (r["client"], r["platform"], r["account"],
                                          -cast(Decimal, r["count"]), r["action"]))


PERFORMANCE_MAX = "PERFORMANCE_MAX"
PERFORMANCE_MAX_NOTE = ("Performance Max campaigns have no ads: their spend and results are at "
                        "campaign level (datadrip metrics --by campaign).")


def has_performance_max(session: Session, scope: Scope) -> bool:
    """Whether the scope has a Performance Max campaign (Google's advertising channel type, kept
    as the campaign's objective): ad-level views then say that its spend is not among the ads."""
    _e = Entity.__table__  # type: ignore[attr-defined]
    query = (sa.select(sa.literal(1))
             .select_from(_e.join(_a, _a.c.id == _e.c.account_id))
             .where(_a.c.client_id.in_(scope.client_ids), _e.c.level == "campaign",
                    _e.c.objective == PERFORMANCE_MAX).limit(1))
    return session.execute(query).first() is not None


# --- key results as columns of `metrics` lines ---------------------------------------------------

RESULT_BY = ("total", "day", "platform", "account", "client", "campaign")


def key_result_names(scope: Scope) -> list[str]:
    """The key results of the scope's clients, in the order they were chosen."""
    names: dict[str, None] = {}
    for client in scope.clients:
        names.update(dict.fromkeys(client.key_results or []))
    return list(names)


def line_results(session: Session, scope: Scope, period: Period, by: str,
                 names: Sequence[str]) -> dict[tuple[Any, ...], dict[str, int]]:
    """Each key result's count (millionths) per line of `metrics --by by` (keyed as
    analytics.totals.breakdown keys its lines), at campaign level: MAX over overlapping actions
    per entity-day, then summed, in SQL. A client counts only its own key results."""
    if by not in RESULT_BY:
        raise UsageError(f"key results are not kept by {by}",
                         hint=f"Use --by {', '.join(RESULT_BY)}.")
    accounts = scope_accounts(session, scope)
    chosen = {client.id: set(client.key_results or []) for client in scope.clients}
    books = catalogues(session, accounts)
    found: dict[tuple[Any, ...], dict[str, int]] = {}
    for account_id, account in accounts.items():
        for name in names:
            if name not in chosen.get(account.client_id, ()):
                continue
            rule = resolve_result(account.platform, name, books[account_id])
            if rule is None:
                continue
            for key, count in _grouped_counts(session, account_id, rule, period, by):
                line = {"total": (), "platform": (account.platform,), "account": (account_id,),
                        "client": (account.client_id,)}.get(by, (key,))
                counts = found.setdefault(line, {})
                counts[name] = counts.get(name, 0) + count
    return found


def _grouped_counts(session: Session, account_id: str, rule: ResultActions, period: Period,
                    by: str) -> list[tuple[Any, int]]:
    """(day or campaign or None, count millionths) of one account's result."""
    rows, day, entity, count, _ = result_rows(rule, _in_period(_x, [account_id], period))
    key = {"day": day, "campaign": entity}.get(by)
    columns = [key] if key is not None else []
    query = sa.select(*columns, sa.func.sum(count)).select_from(rows)
    if columns:
        query = query.group_by(*columns)
    return [(row[0] if columns else None, int(row[-1] or 0)) for row in session.execute(query)]


def result_columns(names: Sequence[str], counts: dict[str, int], spend_micros: int,
                   currency: str) -> dict[str, Any]:
    """A `metrics` line's key-result columns: each result's count and its own cost (the line's
    spend / the count; None with no result)."""
    places = Decimal(1).scaleb(-minor_units(currency))
    columns: dict[str, Any] = {}
    for name in names:
        count = counts.get(name, 0)
        cost = Decimal(spend_micros * MILLIONTHS) / Decimal(count) if count else None
        columns[name] = conversions_from_millionths(count)
        columns[f"cost_per_{name}"] = _rounded(cost, ONE_PER_MICRO, places)
    return columns
