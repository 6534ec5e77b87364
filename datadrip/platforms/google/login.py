"""Google OAuth 2.0 for a desktop client: consent URL (authlib, with PKCE), code exchange, refresh,
revoke.

The client id is `[google] client_id`; the client secret is the secret `google.client_secret`
(Desktop clients still send it). The redirect is http://127.0.0.1:PORT/ on any free port, which
Desktop-type clients accept without registration. Revocation uses `[google] revoke_url` (a
setting of its own, like every endpoint, rather than a guess from token_url's host).
The token and revocation endpoints are HTTP calls like any other: sent through the connectors'
shared helper (platforms/http.py), so a 429 or a 5xx is retried with the same backoff and
Retry-After rules, and only a real refusal (invalid_grant) means the login must be renewed.
Token values never appear in an exception raised here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datadrip.core.errors import ConfigError, DataDripError, LoginError, ReauthRequiredError, UsageError
from datadrip.platforms.http import RetryPolicy, Sleep, WaitFn, http_client, oauth_retryable, send
from datadrip.secrets.store import redact, resolve_secret

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.oauth.flow import Pkce

SCOPE = "https://www.googleapis.com/auth/adwords"
REAUTH_HINT = "Log in to Google again with 'datadrip connect google CLIENT'."
ACCESS_SECONDS = 3600  # Google's documented access-token lifetime, if an answer omits expires_in
HTTP_TIMEOUT = 30.0
TOKEN_SERVICE = "Google's token endpoint"
REVOKE_SERVICE = "Google's revocation endpoint"
# A person may be waiting on a login: retries give up sooner than a sync's (which passes its own).
AUTH_RETRY = RetryPolicy(attempts=5, timeout=HTTP_TIMEOUT, max_wait=60.0, max_total=120.0)


@dataclass(frozen=True)
class GoogleTokens:
    """What a login (or an adopted refresh token) yields. Keep the refresh token; the access
    token is a bonus good until `expires_at` (UTC)."""

    refresh_token: str = field(repr=False)
    access_token: str = field(repr=False)
    expires_at: dt.datetime
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class GoogleAccess:
    """An access token from a refresh, good until `expires_at` (UTC)."""

    access_token: str = field(repr=False)
    expires_at: dt.datetime
    scopes: tuple[str, ...]


class GoogleOAuth:
    """Google's OAuth endpoints for one OAuth client. A `LoginPlatform` for `flow.login`."""

    name = "Google"
    callback_path = "/"
    redirect_port = 0  # any free port: Desktop clients accept any loopback port
    busy_hint: str | None = None

    def __init__(self, *, client_id: str, client_secret: str | None, auth_url: str,
                 token_url: str, revoke_url: str, http_timeout: float = HTTP_TIMEOUT,
                 now: Callable[[], dt.datetime] | None = None, retry: RetryPolicy | None = None,
                 sleep: Sleep = time.sleep) -> None:
        if not client_id:
            raise ConfigError("no Google OAuth client: [google] client_id is not set",
                              hint="Create a Desktop-app OAuth client in the Google Cloud console "
                                   "and set [google] client_id (or DATADRIP_GOOGLE_CLIENT_ID).")
        if not client_secret:
            raise ConfigError("the Google OAuth client secret (google.client_secret) is not set",
                              hint="Store it with 'datadrip secret set google.client_secret' "
                                   "(or set DATADRIP_GOOGLE_CLIENT_SECRET).")
        self.client_id = client_id
        self._client_secret = client_secret
        self.auth_url = auth_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self._http_timeout = http_timeout
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._retry = retry or AUTH_RETRY
        self._sleep = sleep

    @classmethod
    def from_settings(cls, loaded: Loaded, *, env: Mapping[str, str] | None = None,
                      retry: RetryPolicy | None = None) -> GoogleOAuth:
        """The OAuth client from `[google]` settings and the secret store (or environment)."""
        google = loaded.settings.google
        secret = resolve_secret(loaded, "google.client_secret", env=env) if google.client_id else None
        return cls(client_id=google.client_id, client_secret=secret, auth_url=google.auth_url,
                   token_url=google.token_url, revoke_url=google.revoke_url, retry=retry)

    # --- the login ------------------------------------------------------------------------------

    def redirect_uri(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/"

    def authorization_url(self, *, redirect_uri: str, state: str, pkce: Pkce) -> str:
        """The consent page: adwords scope, S256 PKCE, offline access and a fresh consent (so a
        refresh token comes back even when the user granted access before)."""
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(self.auth_url, state=state,
                                                     code_verifier=pkce.verifier, scope=SCOPE,
                                                     access_type="offline", prompt="consent")
        return str(url)

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> GoogleTokens:
        """The authorization code (and PKCE verifier) for a refresh and an access token."""
        answer = self._token_call({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": redirect_uri, "code_verifier": code_verifier},
                                  during="login", known=(code, code_verifier))
        refresh_token = answer.get("refresh_token")
        if not refresh_token:
            raise LoginError("Google answered the login without a refresh token, so DataDrip could "
                             "not work unattended; nothing was stored",
                             hint="Remove DataDrip at https://myaccount.google.com/permissions and "
                                  "log in again.")
        access = self._access(answer)
        if SCOPE not in access.scopes:
            raise LoginError("the Google login did not grant access to Google Ads; nothing was "
                             "stored", hint="Log in again and leave the Google Ads permission ticked.")
        return GoogleTokens(str(refresh_token), access.access_token, access.expires_at, access.scopes)

    # --- stored refresh tokens ------------------------------------------------------------------

    def refresh(self, refresh_token: str, *, sleep: Sleep | None = None,
                on_wait: WaitFn | None = None) -> GoogleAccess:
        """A new access token. A revoked or expired refresh token (invalid_grant) →
        ReauthRequiredError (exit 4); set its `hint` to the client's own `datadrip connect google`
        command. A busy or failing endpoint is retried (`sleep` waits, `on_wait` hears of it) and,
        when it keeps failing, is a plain DataDripError: the login itself may well be fine."""
        answer = self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token},
                                  during="refresh", known=(refresh_token,), sleep=sleep,
                                  on_wait=on_wait)
        return self._access(answer)

    def adopt_refresh_token(self, refresh_token: str) -> GoogleTokens:
        """Check a refresh token the user already has (--refresh-token-stdin) by one refresh."""
        value = refresh_token.strip()
        if not value or any(ch.isspace() for ch in value):
            raise UsageError("the refresh token read from stdin is empty or has spaces inside",
                             hint="Pipe exactly one refresh token, e.g. 'datadrip connect google "
                                  "CLIENT --refresh-token-stdin < token.txt'.")
        try:
            access = self.refresh(value)
        except ReauthRequiredError as exc:
            raise UsageError(f"Google does not accept that refresh token: {exc.message}",
                             hint="Check that it belongs to [google] client_id, or log in with "
                                  "the browser instead.") from None
        if SCOPE not in access.scopes:
            raise UsageError("that refresh token does not grant access to Google Ads (scope "
                             f"{SCOPE} is missing)", hint="Create one with the adwords scope.")
        return GoogleTokens(value, access.access_token, access.expires_at, access.scopes)

    def revoke(self, token: str) -> bool:
        """Revoke a refresh (or access) token and its grant. False: it was already invalid."""

        with http_client(self._http_timeout) as http:
            response = send(http, "POST", self.revoke_url, service=REVOKE_SERVICE,
                            classify=oauth_retryable, data={"token": token}, policy=self._retry,
                            sleep=self._sleep)
        if response.status_code == 200:
            return True
        error = _oauth_error_name(response)
        if response.status_code == 400 and error in ("invalid_token", "invalid_request"):
            return False
        raise DataDripError(f"Google's revocation endpoint answered HTTP {response.status_code}"
                            + (f" ({error})" if error else ""),
                            hint="Try again later, or remove DataDrip at "
                                 "https://myaccount.google.com/permissions.")

    # --- plumbing -------------------------------------------------------------------------------

    def _client(self, redirect_uri: str | None = None) -> Any:
        return _oauth2_client_class()(client_id=self.client_id, client_secret=self._client_secret,
                            token_endpoint_auth_method="client_secret_post",
                            redirect_uri=redirect_uri, code_challenge_method="S256",
                            timeout=self._http_timeout)

    def _token_call(self, form: Mapping[str, str], *, during: str, known: Iterable[str],
                    sleep: Sleep | None = None, on_wait: WaitFn | None = None) -> dict[str, Any]:
        """POST one grant to the token endpoint (client_secret_post), retried as any HTTP call;
        turn every failure into a DataDripError without secrets."""

        hidden = (*known, self._client_secret)
        body = {**form, "client_id": self.client_id, "client_secret": str(self._client_secret)}
        with http_client(self._http_timeout) as http:
            response = send(http, "POST", self.token_url, service=TOKEN_SERVICE,
                            classify=oauth_retryable, data=body,
                            headers={"Accept": "application/json"}, policy=self._retry,
                            sleep=sleep or self._sleep, on_wait=on_wait)
        try:
            answer = response.json()
        except ValueError:  # not JSON, or not UTF-8
            answer = None
        if isinstance(answer, dict) and answer.get("error"):
            raise self._refused(str(answer["error"]), str(answer.get("error_description") or ""),
                                during, hidden)
        if response.status_code >= 400:
            raise DataDripError(f"{TOKEN_SERVICE} answered HTTP {response.status_code}",
                                hint="Try again later.")
        if not isinstance(answer, dict):
            raise DataDripError(f"{TOKEN_SERVICE} answered something that is not a JSON object",
                                hint="Check [google] token_url.")
        return answer

    def _refused(self, error: str, description: str, during: str,
                 hidden: Iterable[str]) -> DataDripError:
        detail = redact(f"{error}" + (f": {description}" if description else ""), hidden)
        if error in ("invalid_client", "unauthorized_client"):
            return ConfigError(f"Google rejected the OAuth client ({detail})",
                               hint="Check [google] client_id and the secret google.client_secret "
                                    "(both from the same Desktop-app client).")
        if during == "refresh" and error == "invalid_grant":
            return ReauthRequiredError(f"Google no longer accepts the stored login ({detail})",
                                       hint=REAUTH_HINT)
        if during == "login":
            return LoginError(f"Google refused the authorization code ({detail}); nothing was stored",
                              hint="Run the login again.")
        return DataDripError(f"Google's token endpoint refused the request ({detail})",
                             hint="Try again later.")

    def _access(self, answer: Mapping[str, Any]) -> GoogleAccess:
        token = answer.get("access_token")
        if not token:
            raise DataDripError("Google's token endpoint answered without an access token")
        try:
            seconds = int(answer.get("expires_in", ACCESS_SECONDS))
        except (TypeError, ValueError):
            seconds = ACCESS_SECONDS
        scope = answer.get("scope")
        scopes = tuple(str(scope).split()) if scope else (SCOPE,)
        return GoogleAccess(str(token), self._now() + dt.timedelta(seconds=seconds), scopes)


def _oauth2_client_class() -> Any:
    """authlib's httpx OAuth2Client, imported without the notice authlib 1.9 prints on import
    (its own move to httpx2): nothing a DataDrip user could act on, and stderr is theirs."""
    import warnings

    from authlib.deprecate import AuthlibDeprecationWarning  # sets its "always" filter first

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client
    return OAuth2Client


def _oauth_error_name(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
