"""Helpers for connector scenarios: a recording sleep and a Google token source that refreshes."""

from __future__ import annotations

from datadrip.auth.google import GoogleOAuth


class RecordedSleep:
    """A `sleep` that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RefreshingTokens:
    """A TokenSource as a sync will build one: a real refresh at the sandbox's token endpoint,
    the access token kept until the API refuses it. `calls` records each force_refresh flag."""

    def __init__(self, oauth: GoogleOAuth, refresh_token: str) -> None:
        self._oauth = oauth
        self._refresh_token = refresh_token
        self._access: str | None = None
        self.calls: list[bool] = []
        self.issued: list[str] = []

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh or self._access is None:
            self._access = self._oauth.refresh(self._refresh_token).access_token
            self.issued.append(self._access)
        return self._access
