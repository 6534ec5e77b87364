"""Fixtures for connector scenarios: sandbox settings, a recording sleep, a Google token source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, RefreshingTokens

from datadrip.auth.google import GoogleOAuth


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
