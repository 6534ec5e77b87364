"""Stored logins and their lifecycle: one secret per login, Google access tokens renewed on
expiry or a 401, Meta tokens flagged before they run out.

A login is kept in the secret store under its `token_ref` ("login.meta.3f9c…") as a small JSON
document: the token (Meta: the access token; Google: the refresh token), where it came from
(a browser login, or pasted on stdin), whom it acts for, and when it expires. The workbook keeps
only the ref. Sync and the daemon call `google_token_source` and `meta_token` through
`workbook/accounts.py`, which marks accounts `needs_reauth` when a login stops working.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datadrip.core.errors import ReauthRequiredError, SecretStoreError

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.google.login import GoogleOAuth
    from datadrip.platforms.http import Sleep, WaitFn
    from datadrip.secrets.store import SecretStore

PREFIX = "login."
REFRESH_MARGIN = dt.timedelta(minutes=5)  # renew a Google access token this long before it ends
META_WARN_DAYS = 7  # a Meta token with less left than this is flagged


@dataclass(frozen=True)
class StoredLogin:
    """What one login leaves in the secret store."""

    platform: str  # "meta" | "google"
    token: str = field(repr=False)  # Meta access token / Google refresh token
    origin: str  # "browser": DataDrip's own login; "stdin": a token the agency already had
    expires_at: dt.datetime | None = None  # UTC; None: no scheduled end
    user_id: str | None = None  # Meta: the user or system user the token acts for

    def dumps(self) -> str:
        return json.dumps({"platform": self.platform, "token": self.token, "origin": self.origin,
                           "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                           "user_id": self.user_id})

    @classmethod
    def loads(cls, text: str, ref: str) -> StoredLogin:
        try:
            data: Any = json.loads(text)
            expires = data.get("expires_at")
            return cls(platform=str(data["platform"]), token=str(data["token"]),
                       origin=str(data.get("origin", "browser")),
                       expires_at=dt.datetime.fromisoformat(expires) if expires else None,
                       user_id=data.get("user_id"))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SecretStoreError(f"the stored login {ref} is damaged",
                                   hint="Log in again with 'datadrip connect'.") from None


def new_token_ref(platform: str) -> str:
    return f"{PREFIX}{platform}.{uuid.uuid4().hex[:16]}"


def load_login(store: SecretStore, ref: str | None, *, reauth_hint: str) -> StoredLogin:
    """The login behind an account's token_ref; gone from the store → a new login is needed."""
    text = store.get(ref) if ref else None
    if text is None:
        raise ReauthRequiredError(f"the login is no longer in {store.location}",
                                  hint=reauth_hint)
    return StoredLogin.loads(text, ref or "")


def meta_expiry_warning(expires_at: dt.datetime | None, now: dt.datetime | None = None) -> str | None:
    """A sentence when a Meta token ends within META_WARN_DAYS (or has ended), else None."""
    if expires_at is None:
        return None
    left = expires_at - (now or dt.datetime.now(dt.UTC))
    if left <= dt.timedelta(0):
        return "the Meta login has expired"
    if left < dt.timedelta(days=META_WARN_DAYS):
        days = left.days
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        return f"the Meta login expires {when}"
    return None


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


def login_problem(loaded: Loaded, login: StoredLogin, *,
                  hint: str) -> tuple[str | None, dt.datetime | None]:
    """Try a stored login once: why the platform refuses it (None when it works), and its
    current expiry where the platform says (Meta). Config and network failures are raised."""
    if login.platform == "google":
        from datadrip.platforms.google.login import GoogleOAuth

        try:
            GoogleOAuth.from_settings(loaded).refresh(login.token)
        except ReauthRequiredError as exc:
            return exc.message, None
        return None, None
    from datadrip.platforms.meta.login import MetaOAuth

    try:
        info = MetaOAuth.from_settings(loaded).debug_token(login.token)
    except ReauthRequiredError as exc:
        return exc.message, None
    if not info.is_valid:
        return f"Meta no longer accepts the login ({info.problem or 'no reason given'})", None
    return None, info.expires_at
