"""Google access tokens: renewed from the stored refresh token when they are about to end, or
after a 401."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from datadrip.core.errors import ReauthRequiredError

if TYPE_CHECKING:
    from datadrip.platforms.google.login import GoogleOAuth
    from datadrip.platforms.http import Sleep, WaitFn

REFRESH_MARGIN = dt.timedelta(minutes=5)  # renew an access token this long before it ends


class GoogleAccessTokens:
    """A `TokenSource` for one stored refresh token: the access token is renewed when it is
    about to end, or once when the API answered 401 (`get(force_refresh=True)`). A refresh
    Google refuses (invalid_grant) raises ReauthRequiredError with `reauth_hint`; a busy token
    endpoint is retried like any call, waiting through `sleep` and telling `on_wait`."""

    def __init__(self, oauth: GoogleOAuth, refresh_token: str, *, reauth_hint: str,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self._oauth = oauth
        self._refresh_token = refresh_token
        self._hint = reauth_hint
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._access: str | None = None
        self._expires_at = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.Lock()
        self.refreshes = 0

    def seed(self, access_token: str, expires_at: dt.datetime) -> None:
        """Start from an access token a login just returned (saves one refresh)."""
        self._access, self._expires_at = access_token, expires_at

    def __call__(self, force_refresh: bool = False, *, sleep: Sleep | None = None,
                 on_wait: WaitFn | None = None) -> str:
        with self._lock:
            if force_refresh or self._access is None or \
                    self._now() + REFRESH_MARGIN >= self._expires_at:
                try:
                    access = self._oauth.refresh(self._refresh_token, sleep=sleep, on_wait=on_wait)
                except ReauthRequiredError as exc:
                    raise ReauthRequiredError(exc.message, hint=self._hint) from None
                self._access, self._expires_at = access.access_token, access.expires_at
                self.refreshes += 1
            return self._access
