"""Helpers for the heuristics tests: crafted facts built in memory, and sandbox workbooks per seed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from datadrip.analytics.totals import Totals
from datadrip.core.money import conversions_to_millionths
from datadrip.db.models import Agency, Client
from datadrip.insights.facts import (
    CONVERSIONS,
    META_RESULTS,
    ClientFacts,
    EntityFacts,
    MonthToDate,
    ResultTerms,
    windows,
)

MICROS = 1_000_000
AS_OF = dt.date(2026, 11, 18)  # mid-month: pacing has more than its minimum of days


def sums(*, spend: int = 0, impressions: int = 0, clicks: int = 0, conversions: str | int = 0,
         value: int = 0, reach: int = 0, days: int = 7) -> Totals:
    """A window's sums; money in currency units (whole), converted to micros here."""
    return Totals(spend * MICROS, impressions, clicks, conversions_to_millionths(Decimal(conversions)),
                value * MICROS, reach, days)


def entity(ref: str, *, recent: Totals, baseline: Totals, account: str = "acc-meta", platform: str = "meta",
           parent: str | None = None, status: str = "ACTIVE", name: str | None = None,
           last_day: dt.date | None = AS_OF, currency: str = "INR",
           result: ResultTerms | None = None) -> EntityFacts:
    """An entity whose conversions count `result`, by default what its platform calls results."""
    level, external_id = ref.split(":")
    parent_id = None if parent is None else f"id-{parent.split(':')[1]}"
    return EntityFacts(id=f"id-{external_id}", ref=ref, level=level, external_id=external_id,
                       name=name or f"Campaign {external_id}", parent_id=parent_id,
                       account_id=account, account_name=account, platform=platform, currency=currency,
                       status=status, recent=recent, baseline=baseline, last_day=last_day,
                       result=result or (META_RESULTS if platform == "meta" else CONVERSIONS))


def steady(ref: str, *, daily_spend: int = 10_000, cpa: int = 400, ctr_per_mille: int = 15,
           cpc: int = 10, recent_factor: Decimal = Decimal(1), lag: Decimal = Decimal(1),
           **options: object) -> EntityFacts:
    """A campaign whose recent week looks like its baseline, except for conversions per spend
    (`recent_factor`, e.g. 0.5: half as many conversions for the money) and late conversions (`lag`)."""
    def window(days: int, factor: Decimal) -> Totals:
        spend = daily_spend * days
        clicks = spend // cpc
        return sums(spend=spend, impressions=clicks * 1000 // ctr_per_mille, clicks=clicks,
                    conversions=int(Decimal(spend) / cpa * factor), value=int(Decimal(spend) * 3 * factor),
                    days=days)
    return entity(ref, recent=window(7, recent_factor * lag), baseline=window(28, Decimal(1)),
                  **options)  # type: ignore[arg-type]


def client_facts(*entities: EntityFacts, budget: int | None = None, month: MonthToDate | None = None,
                 as_of: dt.date = AS_OF, currency: str = "INR") -> ClientFacts:
    agency = Agency(id="agency-1", name="Spice Route Media", timezone="Asia/Kolkata", currency="INR",
                    locale="en_IN")
    client = Client(id="client-1", name="Masala Mornings", agency_id=agency.id, currency=currency,
                    monthly_budget_micros=None if budget is None else budget * MICROS)
    recent, baseline = windows(as_of)
    facts = ClientFacts(agency, client, as_of, recent, baseline, month=month)
    facts.entities = {item.ref: item for item in entities}
    return facts


def month_to_date(*, spent: int, last_7_days: int, budget: int, through: dt.date = AS_OF) -> MonthToDate:
    first = through.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return MonthToDate(first, through, (following - first).days, spent * MICROS, last_7_days * MICROS,
                       budget * MICROS)


@dataclass
class Sandboxed:
    """A workbook filled from the sandbox like the demo's, and the sandbox's first day."""

    home: Path
    epoch: dt.date  # the sandbox's first day (UTC): its stories end here


def sandbox_workbook(home: Path, seed: int) -> Sandboxed:
    """The demo's agency, clients and accounts, synced from a sandbox of `seed` (no reports).

    The demo's own steps, so other seeds than the demo's 7 cost a sync and nothing else."""
    from datadrip import demo
    from datadrip.core.config import CONFIG_FILENAME, example_text
    from datadrip.platforms.registry import load_settings
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    demo._reset(home)
    with SandboxServer(SandboxConfig(seed=seed)) as server:
        epoch = server.app.world.epoch
        description = server.app.describe(server.base_url)
        config = demo._sandbox_config(example_text(), description)
        (home / CONFIG_FILENAME).write_text(config, encoding="utf-8")
        demo._fill(home)
        loaded = load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})
        demo._connect(loaded, description)
        demo._sync(loaded, None)
    return Sandboxed(home, epoch)


@contextmanager
def workbook_session(home: Path) -> Iterator[Session]:
    from datadrip.core.config import CONFIG_FILENAME
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    loaded = load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})
    with open_session(loaded) as wb:
        yield wb.session


def agency_and_clients(session: Session) -> tuple[Agency, dict[str, Client]]:
    agency = session.exec(select(Agency)).one()
    return agency, {client.name: client for client in session.exec(select(Client))}
