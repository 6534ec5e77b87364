"""Helpers the report tests share: the hand-worked workbook of tests/analytics (with a USD→INR
rate), a home of its own for a module's shared fixture, and extra rows, sync cursors and accounts
written as a sync would leave them.

With `fill_workbook` and 1 USD = 83 INR, "Masala Mornings" (INR) holds, at campaign level:
  2026-11-01  Meta Diwali ₹1,000 (10,000 impressions, 100 clicks, 4 conversions, ₹5,000 value)
              Meta Brand ₹200 (no impressions, clicks or conversions)
              Google Search $10 = ₹830 (1,000 impressions, 10 clicks, 1.5 conversions, $30 = ₹2,490)
  2026-11-02  Meta Diwali ₹500.50 (5,000 impressions, nothing else)
so 1 Nov: ₹2,030.00 spent, 5.5 conversions, ₹7,490.00 value; 1–3 Nov: ₹2,530.50 spent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from support import POSTGRES_ENV, Run
from typer.testing import CliRunner

from datadrip.cli import app
from datadrip.core.money import conversions_to_millionths
from tests.analytics.analytics_support import fill_workbook, micros

DAY1 = ("--since", "2026-11-01", "--until", "2026-11-01")
NOV_1_3 = ("--since", "2026-11-01", "--until", "2026-11-03")


def fill_masala(dd: Callable[..., Run]) -> Callable[..., Run]:
    """fill_workbook, and the rate that brings the Google account's dollars into rupees."""
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83").exit_code == 0
    return dd


def build_json(dd: Callable[..., Run], client: str, *args: str) -> dict[str, Any]:
    """`report build CLIENT ARGS… --format json`, its decimals read as Decimal."""
    run = dd("report", "build", client, *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return dict(json.loads(run.stdout, parse_float=Decimal))


def build(dd: Callable[..., Run], client: str, *args: str) -> str:
    """`report build CLIENT ARGS…` (html unless --format says otherwise): its stdout."""
    run = dd("report", "build", client, *args)
    assert run.exit_code == 0, run.stderr
    return run.stdout


@contextlib.contextmanager
def own_home(folder: Path) -> Iterator[Callable[..., Run]]:
    """A DATADRIP_HOME for a module-scoped fixture, as conftest's `home` makes one per test; the
    `dd` it yields runs the CLI in that home even from inside a test."""
    env = {"DATADRIP_HOME": str(folder / "home"), "DATADRIP_USER_EMAIL": "tester@agency.example"}
    with pytest.MonkeyPatch.context() as patch:
        for var in list(os.environ):
            if (var.startswith("DATADRIP_") and var != POSTGRES_ENV) or var == "OPENAI_API_KEY":
                patch.delenv(var)
        for var, value in env.items():
            patch.setenv(var, value)
        (folder / "work").mkdir(parents=True, exist_ok=True)
        patch.chdir(folder / "work")
        runner = CliRunner()

        def dd(*args: str) -> Run:
            result = runner.invoke(app, list(args), env=env)
            return Run(result.exit_code, result.stdout, result.stderr)

        yield dd


class Shared:
    """A workbook filled once for a test module (inside `own_home`): each report is built once;
    a test that changes the workbook works on a copy (`copy_to(home)`)."""

    def __init__(self, folder: Path, dd: Callable[..., Run]) -> None:
        self.home = folder / "home"
        self.dd = dd
        self._built: dict[tuple[str, ...], Any] = {}
        self._pristine = folder / "pristine"  # as filled: no report built yet
        shutil.copytree(self.home, self._pristine)

    def json(self, client: str, *args: str) -> dict[str, Any]:
        key = ("json", client, *args)
        if key not in self._built:
            self._built[key] = build_json(self.dd, client, *args)
        return dict(self._built[key])

    def text(self, client: str, *args: str) -> str:
        """The report's stdout: html, or --format txt / md among the args."""
        key = ("text", client, *args)
        if key not in self._built:
            self._built[key] = build(self.dd, client, *args)
        return str(self._built[key])

    def copy_to(self, home: Path) -> None:
        """The workbook as it was filled, before any report was built, as `home`."""
        shutil.copytree(self._pristine, home)


def _session() -> Any:
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    return open_session(load_settings(), write=True)


def add_campaign_day(client: str, account: str, campaign: str, day: dt.date, spend: str, *,
                     platform: str = "meta", currency: str = "INR", impressions: int = 1000,
                     clicks: int = 10, conversions: str | int = 0, value: str = "0") -> None:
    """One campaign's numbers for one day; the account and the campaign are made when missing."""
    from datadrip.db.models import AdAccount, Client, Entity, MetricDaily

    with _session() as wb:
        session = wb.session
        owner = session.exec(select(Client).where(Client.name == client)).one()
        found = session.exec(select(AdAccount).where(AdAccount.external_id == account)).first()
        if found is None:
            found = AdAccount(client_id=owner.id, platform=platform, external_id=account,
                              name=f"{client} {platform}", currency=currency, timezone="Asia/Kolkata")
            session.add(found)
            session.flush()
        entity = session.exec(select(Entity).where(Entity.account_id == found.id,
                                                   Entity.name == campaign)).first()
        if entity is None:
            external_id = "c-" + hashlib.sha1(campaign.encode()).hexdigest()[:12]
            entity = Entity(account_id=found.id, level="campaign", external_id=external_id,
                            name=campaign)
            session.add(entity)
            session.flush()
        session.add(MetricDaily(account_id=found.id, level="campaign", entity_id=entity.id, date=day,
                                spend_micros=micros(spend), impressions=impressions, clicks=clicks,
                                conversions_millionths=conversions_to_millionths(Decimal(str(conversions))),
                                conversion_value_micros=micros(value)))


def set_synced(account: str, through: dt.date, *, at: dt.datetime | None = None,
               status: str | None = None) -> None:
    """As a successful sync leaves an account: its campaigns held up to `through`, a run `at`."""
    from datadrip.db.models import AdAccount, SyncCursor, SyncRun

    with _session() as wb:
        found = wb.session.exec(select(AdAccount).where(AdAccount.external_id == account)).one()
        wb.session.add(SyncCursor(account_id=found.id, level="campaign", synced_through=through))
        if at is not None:
            wb.session.add(SyncRun(account_id=found.id, status="succeeded", started_at=at,
                                   finished_at=at))
        if status is not None:
            found.status = status
            wb.session.add(found)


def rename_client(old: str, new: str) -> str:
    """Give a client a name the CLI would have tidied (as a shared workbook may hold); its id."""
    from datadrip.db.models import Client

    with _session() as wb:
        found = wb.session.exec(select(Client).where(Client.name == old)).one()
        found.name = new
        wb.session.add(found)
        return str(found.id)
