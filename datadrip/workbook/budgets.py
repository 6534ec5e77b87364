"""Campaign settings as the syncs kept them: what a client's campaigns are set to spend in a month
(budget pacing when the client has no monthly budget of its own) and the setting changes seen in a
period (reports show them beside the numbers; insights explain a spend shift with them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.core.enums import AccountStatus
from datadrip.db.models import AdAccount, Client, Entity, EntityChange
from datadrip.workbook.fx import RateBook

_a, _e, _c = (AdAccount.__table__, Entity.__table__,  # type: ignore[attr-defined]
              EntityChange.__table__)  # type: ignore[attr-defined]
# Statuses (as the platforms name them, lower-cased) of a campaign that spends nothing.
STOPPED = frozenset({"paused", "archived", "deleted", "removed"})
BUDGET_FIELDS = ("daily_budget_micros", "lifetime_budget_micros")


@dataclass(frozen=True)
class SettingChange:
    """One setting of one entity that changed, as entity_change keeps it (values as text)."""

    entity_id: str
    level: str
    external_id: str
    name: str
    platform: str
    currency: str  # the account's: budgets are micros of it
    field: str
    old_value: str | None
    new_value: str | None
    changed_on: dt.date

    @property
    def ref(self) -> str:
        return f"{self.level}:{self.external_id}"


def campaign_budget(session: Session, client: Client, since: dt.date, until: dt.date,
                    rates: RateBook) -> int | None:
    """What the client's running campaigns are set to spend over `since` … `until`, in micros
    of the client's currency; None when none of them has a budget.

    A daily budget counts for each day the campaign is scheduled within the days; a lifetime
    budget for its share of the campaign's schedule (one without an end date cannot be spread and
    is left out). Paused, archived and removed campaigns count nothing. Budgets in another
    currency are converted at the rate of `until` (MissingRateError when there is none)."""
    query = (sa.select(_e.c.status, _e.c.daily_budget_micros, _e.c.lifetime_budget_micros,
                       _e.c.starts_on, _e.c.ends_on, _a.c.currency)
             .join(_a, _a.c.id == _e.c.account_id)
             .where(_a.c.client_id == client.id, _a.c.status != AccountStatus.DISABLED.value,
                    _e.c.level == "campaign", _e.c.settings_synced_at.is_not(None),
                    sa.or_(_e.c.daily_budget_micros.is_not(None),
                           _e.c.lifetime_budget_micros.is_not(None))))
    total: int | None = None
    for row in session.execute(query):
        if (row.status or "").lower() in STOPPED:
            continue
        first = max(since, row.starts_on or since)
        last = min(until, row.ends_on or until)
        if last < first:
            continue
        days = (last - first).days + 1
        if row.daily_budget_micros is not None:
            amount = row.daily_budget_micros * days
        elif row.starts_on is not None and row.ends_on is not None:
            amount = row.lifetime_budget_micros * days // ((row.ends_on - row.starts_on).days + 1)
        else:
            continue
        total = (total or 0) + rates.convert(amount, row.currency, client.currency, until)
    return total


def setting_changes(session: Session, client: Client, since: dt.date, until: dt.date, *,
                    fields: tuple[str, ...] | None = None) -> list[SettingChange]:
    """The changes of the client's entities seen on `since` … `until`, oldest first."""
    query = (sa.select(_c.c.entity_id, _e.c.level, _e.c.external_id, _e.c.name, _a.c.platform,
                       _a.c.currency, _c.c.field, _c.c.old_value, _c.c.new_value, _c.c.changed_on)
             .join(_e, _e.c.id == _c.c.entity_id).join(_a, _a.c.id == _c.c.account_id)
             .where(_a.c.client_id == client.id, _c.c.changed_on.between(since, until))
             .order_by(_c.c.changed_on, _e.c.name, _c.c.field))
    if fields is not None:
        query = query.where(_c.c.field.in_(fields))
    return [SettingChange(row.entity_id, row.level, row.external_id, row.name or row.external_id,
                          row.platform, row.currency, row.field, row.old_value, row.new_value,
                          row.changed_on)
            for row in session.execute(query)]
