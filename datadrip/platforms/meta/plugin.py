"""Meta (Facebook and Instagram ads) as a DataDrip platform plug-in: the object the
`datadrip.platforms` entry point `meta` names.

Every command that reads the settings imports the installed plug-ins (for their sections), so this
module stays light: the connector, the login and the HTTP client are imported by the methods that
use them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from datadrip.core.errors import LoginError, ReauthRequiredError, UsageError
from datadrip.platforms.base import LoginCheck, NewLogin, accounts_reached
from datadrip.platforms.meta import results
from datadrip.platforms.meta.settings import MetaSettings
from datadrip.platforms.tokens import StoredLogin

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.base import ConnectorContext, ConversionActionInfo, LoginRequest, ResultActions
    from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn
    from datadrip.platforms.meta.connector import MetaAds

# Marketing API versions and when they stop answering (reference: meta-marketing-api.md §0).
SUNSETS = {"v21.0": dt.date(2027, 1, 21), "v25.0": dt.date(2028, 7, 29)}
WARN_DAYS = 7  # a token with less left than this is flagged
LOGIN_HTTP_TIMEOUT = 30.0  # listing the accounts a new login reaches


class MetaPlatform:
    name = "meta"
    label = "Meta"
    colour = "#1877F2"
    token_kind = "token"
    settings_model = MetaSettings
    secrets = {"meta.app_secret": ("DATADRIP_META_APP_SECRET",)}

    def result_actions(self, result: str,
                       catalogue: Sequence[ConversionActionInfo]) -> ResultActions | None:
        """The account's actions that make `result` (platforms/meta/results.py)."""
        return results.result_actions(result, catalogue)

    def action_label(self, action: str, catalogue: Sequence[ConversionActionInfo]) -> str:
        return results.action_label(action, catalogue)

    def sunset(self, api_version: str) -> dt.date | None:
        return SUNSETS.get(api_version)

    def account_id(self, text: str) -> str:
        """Meta's "act_<digits>"; the digits alone are accepted too."""
        digits = text.strip().removeprefix("act_")
        if digits.isdigit():
            return f"act_{digits}"
        raise UsageError(f"{text!r} is not a Meta ad account id",
                         hint="Give the id as act_1234567890 or 1234567890.")

    def log_in(self, loaded: Loaded, request: LoginRequest) -> NewLogin:
        """A browser login (the token must grant ads_read), or a system-user token from stdin."""
        from datadrip.platforms.http import http_client
        from datadrip.platforms.meta.connector import MetaAds
        from datadrip.platforms.meta.login import MetaOAuth
        from datadrip.platforms.oauth.flow import login

        oauth = MetaOAuth.from_settings(loaded)
        if request.stdin_token is not None:
            info = oauth.adopt_token(request.stdin_token)
            stored = StoredLogin(self.name, request.stdin_token.strip(), "stdin", info.expires_at,
                                 info.user_id)
        else:
            ui = request.ui
            token = login(oauth, timeout=loaded.settings.auth.login_timeout_seconds,
                          open_url=ui.open_url, on_url=ui.on_url, no_browser_input=ui.read_pasted)
            info = oauth.debug_token(token.access_token)  # whom it acts for, and what was granted
            if "ads_read" not in info.scopes and "ads_management" not in info.scopes:
                raise LoginError("the Meta login did not grant ads_read, so no ads can be read; "
                                 "nothing was stored",
                                 hint="Log in again and leave the ads permission ticked.")
            stored = StoredLogin(self.name, token.access_token, "browser",
                                 token.expires_at or info.expires_at, info.user_id)
        meta = getattr(loaded.settings, self.name)
        with http_client(LOGIN_HTTP_TIMEOUT) as http:
            ads = MetaAds(http=http, graph_url=meta.graph_url, api_version=meta.api_version,
                          access_token=stored.token)
            return NewLogin(stored, accounts_reached(ads.list_accounts))

    def token_source(self, loaded: Loaded, login: StoredLogin, *, reauth_hint: str,
                     retry: RetryPolicy) -> _AccessToken:
        return _AccessToken(login.token)

    def check_login(self, loaded: Loaded, login: StoredLogin) -> LoginCheck:
        """Ask debug_token: Meta says whether the token still works and when it ends."""
        from datadrip.platforms.meta.login import MetaOAuth

        try:
            info = MetaOAuth.from_settings(loaded).debug_token(login.token)
        except ReauthRequiredError as exc:
            return LoginCheck(exc.message)
        if not info.is_valid:
            return LoginCheck(f"Meta no longer accepts the login ({info.problem or 'no reason given'})")
        return LoginCheck(None, info.expires_at)

    def expiry_warning(self, expires_at: dt.datetime | None, now: dt.datetime) -> str | None:
        """A sentence when the token ends within WARN_DAYS (or has ended); system-user tokens
        (no expiry) never warn."""
        if expires_at is None:
            return None
        left = expires_at - now
        if left <= dt.timedelta(0):
            return f"the {self.label} login has expired"
        if left < dt.timedelta(days=WARN_DAYS):
            days = left.days
            when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
            return f"the {self.label} login expires {when}"
        return None

    def revoke(self, loaded: Loaded, login: StoredLogin, others: Sequence[StoredLogin]) -> str | None:
        """Revoking removes the app's permissions for the whole Facebook user: not while another
        connection logs in as the same user."""
        from datadrip.platforms.meta.login import MetaOAuth

        if any(o.user_id and o.user_id == login.user_id for o in others):
            return ("not revoked at Meta: other connections log in as the same Facebook user "
                    "(revoking would end theirs too)")
        MetaOAuth.from_settings(loaded).revoke(login.token)
        return None

    def open_connector(self, context: ConnectorContext) -> MetaAds:
        from datadrip.platforms.meta.connector import MetaAds

        meta = getattr(context.settings, self.name)
        return MetaAds(http=context.http, graph_url=meta.graph_url, api_version=meta.api_version,
                       access_token=context.get_token(False), sleep=context.sleep,
                       retry=context.retry, on_wait=context.on_wait,
                       device_breakdown=meta.device_breakdown)


class _AccessToken:
    """A Meta token cannot be refreshed: a 401-style answer means a new login (ReauthRequiredError)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, force_refresh: bool = False, *, sleep: Sleep | None = None,
                 on_wait: WaitFn | None = None) -> str:
        return self._token


platform = MetaPlatform()
