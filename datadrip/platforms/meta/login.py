"""Facebook Login (manual flow) for Meta ads: dialog URL, code and long-lived exchanges,
debug_token, revoke.

Plain httpx, not authlib: Meta's exchanges are GETs with the secret in the query, its errors
are Graph bodies ({"error": {"code": 190, …}}) that authlib would not read, and the long-lived
exchange and debug_token are no OAuth 2 grants. PKCE (S256) goes on the dialog and the verifier
to the code exchange, and the app secret is sent as well (Meta's PKCE page is "still in
testing"). The redirect is http://localhost:{[meta] redirect_port}/callback, listed in the app
exactly. Every call goes through the connectors' shared HTTP helper (platforms/http.py), so a
5xx, a "temporarily unavailable" or a rate limit is retried with the same backoff and wait rules
as a sync's calls; only error 190/102 means the login must be renewed. Token values never appear
in an exception raised here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from datadrip.core.errors import ConfigError, DataDripError, LoginError, ReauthRequiredError, UsageError
from datadrip.platforms.http import RetryPolicy, Sleep, http_client, send
from datadrip.platforms.meta.retry import meta_retryable
from datadrip.secrets.store import redact, resolve_secret

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.oauth.flow import Pkce

SCOPES = ("ads_read", "business_management")
REAUTH_HINT = "Log in to Meta again with 'datadrip connect meta CLIENT'."
HTTP_TIMEOUT = 30.0
SERVICE = "Meta's Graph API"
# A person may be waiting on a login: retries give up sooner than a sync's.
AUTH_RETRY = RetryPolicy(attempts=5, timeout=HTTP_TIMEOUT, max_wait=60.0, max_total=120.0)


@dataclass(frozen=True)
class MetaToken:
    """A user access token. `expires_at` (UTC) is None when Meta gave no lifetime."""

    access_token: str = field(repr=False)
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class TokenInfo:
    """What debug_token says about a token. `expires_at` None: it never expires."""

    type: str  # "USER", "SYSTEM_USER", …
    is_valid: bool
    expires_at: dt.datetime | None
    scopes: tuple[str, ...]
    app_id: str
    user_id: str | None
    problem: str | None = None  # why it is not valid, when it is not


class MetaOAuth:
    """Facebook Login for one Meta app. A `LoginPlatform` for `flow.login`."""

    name = "Meta"
    callback_path = "/callback"

    def __init__(self, *, app_id: str, app_secret: str | None, graph_url: str, dialog_url: str,
                 api_version: str, redirect_port: int, http_timeout: float = HTTP_TIMEOUT,
                 now: Callable[[], dt.datetime] | None = None, retry: RetryPolicy | None = None,
                 sleep: Sleep = time.sleep) -> None:
        if not app_id:
            raise ConfigError("no Meta app: [meta] app_id is not set",
                              hint="Set [meta] app_id (or DATADRIP_META_APP_ID) to your app's ID.")
        if not app_secret:
            raise ConfigError("the Meta app secret (meta.app_secret) is not set",
                              hint="Store it with 'datadrip secret set meta.app_secret' "
                                   "(or set DATADRIP_META_APP_SECRET).")
        self.app_id = app_id
        self._app_secret = app_secret
        self.graph_url = graph_url.rstrip("/")
        self.dialog_url = dialog_url.rstrip("/")
        self.api_version = api_version
        self.redirect_port = redirect_port
        self.busy_hint: str | None = (
            f"Stop what uses port {redirect_port}, or set [meta] redirect_port "
            "(DATADRIP_META_REDIRECT_PORT) to a free port and add "
            "http://localhost:PORT/callback to the app's Valid OAuth Redirect URIs.")
        self._http_timeout = http_timeout
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._retry = retry or AUTH_RETRY
        self._sleep = sleep

    @classmethod
    def from_settings(cls, loaded: Loaded, *, env: Mapping[str, str] | None = None) -> MetaOAuth:
        """The app from `[meta]` settings and the secret store (or environment)."""
        meta = loaded.settings.meta
        secret = resolve_secret(loaded, "meta.app_secret", env=env) if meta.app_id else None
        return cls(app_id=meta.app_id, app_secret=secret, graph_url=meta.graph_url,
                   dialog_url=meta.dialog_url, api_version=meta.api_version,
                   redirect_port=meta.redirect_port)

    # --- the login ------------------------------------------------------------------------------

    def redirect_uri(self, port: int) -> str:
        return f"http://localhost:{port}/callback"

    def authorization_url(self, *, redirect_uri: str, state: str, pkce: Pkce) -> str:
        query = {"client_id": self.app_id, "redirect_uri": redirect_uri, "state": state,
                 "response_type": "code", "scope": ",".join(SCOPES),
                 "code_challenge": pkce.challenge, "code_challenge_method": pkce.method}
        return f"{self.dialog_url}/{self.api_version}/dialog/oauth?{urlencode(query)}"

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> MetaToken:
        """The code for a short-lived token, then that for a long-lived (~60-day) one."""
        short = self.exchange_short(code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        return self.long_lived(short.access_token)

    def exchange_short(self, code: str, *, redirect_uri: str, code_verifier: str) -> MetaToken:
        answer = self._get("oauth/access_token", {
            "client_id": self.app_id, "redirect_uri": redirect_uri,
            "client_secret": self._app_secret, "code": code, "code_verifier": code_verifier},
            during="login", known=(code, code_verifier))
        return self._token(answer)

    def long_lived(self, short_token: str) -> MetaToken:
        """A short-lived user token for a long-lived one; its expiry comes from expires_in."""
        answer = self._get("oauth/access_token", {
            "grant_type": "fb_exchange_token", "client_id": self.app_id,
            "client_secret": self._app_secret, "fb_exchange_token": short_token},
            during="token", known=(short_token,))
        return self._token(answer)

    # --- existing tokens ------------------------------------------------------------------------

    def debug_token(self, token: str) -> TokenInfo:
        """Inspect a token with the app token `{app_id}|{app_secret}`."""
        answer = self._get("debug_token", {"input_token": token,
                                           "access_token": f"{self.app_id}|{self._app_secret}"},
                           during="inspect", known=(token,))
        data = answer.get("data")
        if not isinstance(data, dict):
            raise DataDripError("Meta's debug_token answered without data", hint="Try again later.")
        problem = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else None
        expires = int(data.get("expires_at") or 0)
        return TokenInfo(
            type=str(data.get("type", "")), is_valid=bool(data.get("is_valid")),
            expires_at=None if expires == 0 else dt.datetime.fromtimestamp(expires, dt.UTC),
            scopes=tuple(str(s) for s in data.get("scopes") or ()),
            app_id=str(data.get("app_id", "")), user_id=data.get("user_id"),
            problem=redact(str(problem), (token, self._app_secret)) if problem else None)

    def adopt_token(self, token: str) -> TokenInfo:
        """Check a token an agency already has (--token-stdin: a system-user token) with
        debug_token: valid, issued for this app, and allowed to read ads."""
        value = token.strip()
        if not value or any(ch.isspace() for ch in value):
            raise UsageError("the token read from stdin is empty or has spaces inside",
                             hint="Pipe exactly one token, e.g. 'datadrip connect meta CLIENT "
                                  "--token-stdin < token.txt'.")
        info = self.debug_token(value)
        if not info.is_valid:
            raise UsageError(f"Meta says that token is not valid ({info.problem or 'no reason given'})",
                             hint="Generate a new system-user token in Business Manager.")
        if info.app_id and info.app_id != self.app_id:
            raise UsageError(f"that token belongs to another app ({info.app_id}), not [meta] app_id "
                             f"{self.app_id}", hint="Generate the token for this app.")
        if "ads_read" not in info.scopes and "ads_management" not in info.scopes:
            raise UsageError("that token cannot read ads (it lacks the ads_read permission)",
                             hint="Give the system user ads_read when generating its token.")
        return info

    def revoke(self, token: str) -> bool:
        """Remove the app's permissions for the token's user (DELETE me/permissions). False: the
        token was already dead (a 190)."""
        try:
            answer = self._send("DELETE", "me/permissions", {"access_token": token}, during="token",
                                known=(token,))
        except ReauthRequiredError:
            return False
        return bool(answer.get("success"))

    # --- plumbing -------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str], *, during: str,
             known: Iterable[str]) -> dict[str, Any]:
        return self._send("GET", path, params, during=during, known=known)

    def _send(self, method: str, path: str, params: dict[str, str], *, during: str,
              known: Iterable[str]) -> dict[str, Any]:

        hidden = (*known, self._app_secret)
        url = f"{self.graph_url}/{self.api_version}/{path}"
        with http_client(self._http_timeout) as http:
            # `send` never puts the URL (which holds the secret or the code) in a message.
            response = send(http, method, url, service=SERVICE, classify=meta_retryable,
                            params=params, policy=self._retry, sleep=self._sleep)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DataDripError(f"Meta's Graph API answered HTTP {response.status_code} without a "
                                "JSON body", hint="Try again later.")
        error = body.get("error")
        if isinstance(error, dict):
            raise _graph_failure(error, during, hidden)
        if response.status_code >= 400:
            raise DataDripError(f"Meta's Graph API answered HTTP {response.status_code}",
                                hint="Try again later.")
        return body

    def _token(self, answer: Mapping[str, Any]) -> MetaToken:
        value = answer.get("access_token")
        if not value:
            raise DataDripError("Meta answered the exchange without an access token")
        seconds = answer.get("expires_in")
        expires_at = None
        if isinstance(seconds, int | str) and str(seconds).isdigit():
            expires_at = self._now() + dt.timedelta(seconds=int(seconds))
        return MetaToken(str(value), expires_at)


def _graph_failure(error: Mapping[str, Any], during: str, hidden: Iterable[str]) -> DataDripError:
    """A Graph error body as a DataDripError: 190 → log in again; app problems → config."""
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = redact(str(error.get("message") or "no message"), hidden)
    detail = f"{message} (code {code}" + (f", subcode {subcode})" if subcode else ")")
    # debug_token reports on the inspected token inside its data; a top-level 190 there is
    # about the app token {app_id}|{app_secret}.
    if code == 101 or (code == 1 and "client secret" in message.lower()) or (
            during == "inspect" and code == 190):
        return ConfigError(f"Meta rejected the app: {detail}",
                           hint="Check [meta] app_id and the secret meta.app_secret.")
    if during == "login":
        return LoginError(f"Meta refused the authorization code: {detail}; nothing was stored",
                          hint="Run the login again.")
    if code == 190 or code == 102:
        return ReauthRequiredError(f"Meta no longer accepts the login: {detail}", hint=REAUTH_HINT)
    return DataDripError(f"Meta's Graph API refused the request: {detail}", hint="Try again later.")
