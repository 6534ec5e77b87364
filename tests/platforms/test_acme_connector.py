"""The fixture plug-in's connector (tests/fixtures/acme_platform) in this process, against Acme
Ads' API (acme_api.py) over real HTTP: what sync will get from it, page by page, through rate
limits and a revoked token."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import acme_api
import pytest
from connector_support import RecordedSleep

REAUTH_HINT = 'run: datadrip connect acme "Coyote Supplies"'


@pytest.fixture
def acme_plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fixture's plug-in object, imported from its source folder (no entry point involved)."""
    monkeypatch.syspath_prepend(str(acme_api.FIXTURE))
    import datadrip_acme

    return datadrip_acme.platform


@pytest.fixture
def acme_context(acme_plugin: Any) -> Iterator[tuple[acme_api.AcmeApi, Any, RecordedSleep]]:
    """Acme Ads' API running, and the ConnectorContext a sync would hand the plug-in: settings
    read with its [acme] section (DATADRIP_ACME_API_URL pointing at the API) and its token source."""
    import httpx

    from datadrip.core.config import load_settings
    from datadrip.platforms.base import ConnectorContext
    from datadrip.platforms.http import RetryPolicy

    sleeps = RecordedSleep()
    with acme_api.AcmeApi() as api, httpx.Client() as http:
        loaded = load_settings(env={**os.environ, "DATADRIP_ACME_API_URL": api.base_url},
                               sections={"acme": acme_plugin.settings_model})
        token = acme_plugin.token_source(loaded, _login(acme_api.TOKEN), reauth_hint=REAUTH_HINT,
                                         retry=RetryPolicy())
        yield api, ConnectorContext(http=http, settings=loaded.settings, get_token=token,
                                    secrets={}, retry=RetryPolicy(), sleep=sleeps), sleeps


def _login(token: str) -> Any:
    from datadrip.platforms.tokens import StoredLogin

    return StoredLogin("acme", token, "stdin")


def test_given_two_weeks_when_the_acme_connector_reads_each_level_then_its_pages_add_up_to_the_ads_rows(
        acme_plugin: Any, acme_context: tuple[acme_api.AcmeApi, Any, RecordedSleep]) -> None:
    from datadrip.platforms.base import DateWindow, EntityRecord, FetchNotes, MetricRow, SyncOptions

    api, context, _ = acme_context
    connector = acme_plugin.open_connector(context)
    [account, _other] = connector.list_accounts()
    window = DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 14))
    expected = acme_api.totals(window.since, window.until)
    for level, entities in (("campaign", 2), ("adset", 3), ("ad", 4)):
        notes = FetchNotes()
        records = list(connector.daily_metrics(account, window, level, SyncOptions(), notes))
        named: set[str] = set()
        for record in records:  # each entity before the first row naming it
            if isinstance(record, EntityRecord):
                named.add(record.external_id)
            else:
                assert record.entity_id in named, record
        rows = [r for r in records if isinstance(r, MetricRow)]
        assert len(rows) == entities * window.days
        assert notes.requests == -(-len(rows) // acme_api.PAGE_SIZE)
        assert (sum(r.spend_micros for r in rows), sum(r.clicks for r in rows),
                sum((r.conversions for r in rows), Decimal(0)),
                sum(r.conversion_value_micros for r in rows)) == \
            (expected["spend_micros"], expected["clicks"], expected["conversions"],
             expected["conversion_value_micros"])
    assert {auth for _, auth in api.requests} == {f"Bearer {acme_api.TOKEN}"}


def test_given_a_rate_limit_when_the_acme_connector_reads_then_it_waits_as_told_and_goes_on(
        acme_plugin: Any, acme_context: tuple[acme_api.AcmeApi, Any, RecordedSleep]) -> None:
    from datadrip.platforms.base import DateWindow, FetchNotes, MetricRow, SyncOptions

    api, context, sleeps = acme_context
    connector = acme_plugin.open_connector(context)
    [account, _other] = connector.list_accounts()
    api.faults[:] = [(429, 3), (503, None)]
    notes = FetchNotes()
    window = DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    rows = [r for r in connector.daily_metrics(account, window, "campaign", SyncOptions(), notes)
            if isinstance(r, MetricRow)]
    assert len(rows) == 4
    assert sleeps.waits[0] == 3.0 and len(sleeps.waits) == 2
    assert (notes.requests, notes.throttled_seconds) == (3, 3.0)


def test_given_a_revoked_token_when_the_acme_connector_reads_then_a_new_login_is_needed(
        acme_plugin: Any, acme_context: tuple[acme_api.AcmeApi, Any, RecordedSleep]) -> None:
    from dataclasses import replace

    from datadrip.core.config import load_settings
    from datadrip.core.errors import ReauthRequiredError
    from datadrip.platforms.http import RetryPolicy

    api, context, _ = acme_context
    revoked = acme_plugin.token_source(load_settings(), _login("revoked-token"),
                                       reauth_hint=REAUTH_HINT, retry=RetryPolicy())
    connector = acme_plugin.open_connector(replace(context, get_token=revoked))
    with pytest.raises(ReauthRequiredError) as refused:
        connector.list_accounts()
    assert refused.value.hint == REAUTH_HINT
    assert "revoked-token" not in refused.value.message
    assert api.requests == [("/v1/accounts", "Bearer revoked-token")]
