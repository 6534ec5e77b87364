"""Google Ads as a DataDrip platform plug-in: the object the `datadrip.platforms` entry point
`google` names.

Every command that reads the settings imports the installed plug-ins (for their sections), so this
module stays light: the connector, the login and the HTTP client are imported by the methods that
use them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from datadrip.core.errors import ReauthRequiredError, UsageError
from datadrip.platforms.base import LoginCheck, NewLogin, accounts_reached
from datadrip.platforms.google import results
from datadrip.platforms.google.settings import GoogleSettings
from datadrip.platforms.tokens import StoredLogin

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.base import ConnectorContext, ConversionActionInfo, LoginRequest, ResultActions
    from datadrip.platforms.google.connector import GoogleAds
    from datadrip.platforms.google.tokens import GoogleAccessTokens
    from datadrip.platforms.http import RetryPolicy

# Google Ads API majors and their sunsets (reference: google-ads-api.md, version timetable); the
# projected ones are the month's first day until Google names the day.
SUNSETS = {"v19": dt.date(2026, 2, 11), "v20": dt.date(2026, 6, 10), "v21": dt.date(2026, 8, 5),
           "v22": dt.date(2026, 10, 7), "v23": dt.date(2027, 2, 1), "v24": dt.date(2027, 5, 1),
           "v25": dt.date(2027, 8, 1), "v26": dt.date(2027, 11, 1)}
LOGIN_HTTP_TIMEOUT = 30.0  # listing the accounts a new login reaches
DEVELOPER_TOKEN = "google.developer_token"


class GooglePlatform:
    name = "google"
    label = "Google Ads"
    colour = "#34A853"
    token_kind = "refresh token"
    settings_model = GoogleSettings
    secrets = {"google.client_secret": ("DATADRIP_GOOGLE_CLIENT_SECRET",),
               DEVELOPER_TOKEN: ("DATADRIP_GOOGLE_DEVELOPER_TOKEN",)}

    def result_actions(self, result: str,
                       catalogue: Sequence[ConversionActionInfo]) -> ResultActions | None:
        """The account's actions that make `result` (platforms/google/results.py)."""
        return results.result_actions(result, catalogue)

    def action_label(self, action: str, catalogue: Sequence[ConversionActionInfo]) -> str:
        return results.action_label(action, catalogue)

    def sunset(self, api_version: str) -> dt.date | None:
        return SUNSETS.get(api_version.split("_")[0])

    def account_id(self, text: str) -> str:
        """Google's customer id as ten digits; 123-456-7890 is accepted too."""
        digits = text.strip().replace("-", "")
        if re.fullmatch(r"\d{10}", digits):
            return digits
        raise UsageError(f"{text!r} is not a Google Ads customer id",
                         hint="Give the ten-digit id, e.g. 123-456-7890 or 1234567890.")

    def log_in(self, loaded: Loaded, request: LoginRequest) -> NewLogin:
        """A browser login, or a refresh token from stdin; the login keeps the refresh token."""
        from datadrip.platforms.google.connector import GoogleAds
        from datadrip.platforms.google.login import GoogleOAuth
        from datadrip.platforms.google.tokens import GoogleAccessTokens
        from datadrip.platforms.http import http_client
        from datadrip.platforms.oauth.flow import login
        from datadrip.secrets.store import resolve_secret

        oauth = GoogleOAuth.from_settings(loaded)
        if request.stdin_token is not None:
            tokens = oauth.adopt_refresh_token(request.stdin_token)
            origin = "stdin"
        else:
            ui = request.ui
            tokens = login(oauth, timeout=loaded.settings.auth.login_timeout_seconds,
                           open_url=ui.open_url, on_url=ui.on_url, no_browser_input=ui.read_pasted)
            origin = "browser"
        access = GoogleAccessTokens(oauth, tokens.refresh_token, reauth_hint=request.reauth_hint)
        access.seed(tokens.access_token, tokens.expires_at)
        google = getattr(loaded.settings, self.name)
        with http_client(LOGIN_HTTP_TIMEOUT) as http:
            ads = GoogleAds(http=http, api_url=google.api_url, api_version=google.api_version,
                            get_token=access, developer_token=resolve_secret(loaded, DEVELOPER_TOKEN))
            return NewLogin(StoredLogin(self.name, tokens.refresh_token, origin),
                            accounts_reached(ads.list_accounts))

    def token_source(self, loaded: Loaded, login: StoredLogin, *, reauth_hint: str,
                     retry: RetryPolicy) -> GoogleAccessTokens:
        from datadrip.platforms.google.login import GoogleOAuth
        from datadrip.platforms.google.tokens import GoogleAccessTokens

        # The token endpoint is retried as the platform's API is, within the same bounds.
        oauth = GoogleOAuth.from_settings(loaded, retry=retry)
        return GoogleAccessTokens(oauth, login.token, reauth_hint=reauth_hint)

    def check_login(self, loaded: Loaded, login: StoredLogin) -> LoginCheck:
        """One refresh: Google refuses a revoked or expired grant (invalid_grant)."""
        from datadrip.platforms.google.login import GoogleOAuth

        try:
            GoogleOAuth.from_settings(loaded).refresh(login.token)
        except ReauthRequiredError as exc:
            return LoginCheck(exc.message, login.expires_at)
        return LoginCheck(None, login.expires_at)

    def expiry_warning(self, expires_at: dt.datetime | None, now: dt.datetime) -> str | None:
        return None  # a refresh token has no set end; a refused one is found by check_login

    def revoke(self, loaded: Loaded, login: StoredLogin, others: Sequence[StoredLogin]) -> str | None:
        """Revoking a refresh token ends the whole grant of that Google login, which another
        browser login here may share (Google does not say whose a refresh token is)."""
        from datadrip.platforms.google.login import GoogleOAuth

        if any(o.origin == "browser" for o in others):
            return ("not revoked at Google: other Google connections may use the same Google "
                    "login (revoking would end theirs too)")
        GoogleOAuth.from_settings(loaded).revoke(login.token)
        return None

    def open_connector(self, context: ConnectorContext) -> GoogleAds:
        from datadrip.platforms.google.connector import GoogleAds

        google = getattr(context.settings, self.name)
        return GoogleAds(http=context.http, api_url=google.api_url, api_version=google.api_version,
                         get_token=context.get_token,
                         developer_token=context.secrets.get(DEVELOPER_TOKEN) or None,
                         sleep=context.sleep, retry=context.retry, on_wait=context.on_wait,
                         action_counts=google.action_counts)


platform = GooglePlatform()
