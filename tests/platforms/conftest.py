"""Fixtures for connector scenarios: sandbox settings, a recording sleep, a Google token source,
and a sandbox with the large Meta account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, RefreshingTokens

from datadrip.platforms.google.login import GoogleOAuth


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The client a connector is handed; each test may add event hooks to watch requests."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def meta_settings(sandbox: Any) -> dict[str, Any]:
    return dict(sandbox.app.describe(sandbox.base_url)["meta"])


@pytest.fixture
def google_settings(sandbox: Any) -> dict[str, Any]:
    return dict(sandbox.app.describe(sandbox.base_url)["google"])


@pytest.fixture
def google_tokens(google_settings: dict[str, Any]) -> RefreshingTokens:
    oauth = GoogleOAuth(client_id=google_settings["client_id"],
                        client_secret=google_settings["client_secret"],
                        auth_url=google_settings["auth_url"], token_url=google_settings["token_url"],
                        revoke_url=google_settings["revoke_url"])
    return RefreshingTokens(oauth, google_settings["refresh_token"])


@pytest.fixture
def large_sandbox() -> Iterator[Any]:
    """The sandbox with the large Meta account too (act_1010000099: 40 campaigns, 200 ad sets, 800
    ads), on the same pinned day as `sandbox` (tests/conftest.py)."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7, today=dt.date(2026, 11, 26), large_account=True)) as server:
        yield server
