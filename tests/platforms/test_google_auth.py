"""Google login against the sandbox's OAuth server over real HTTP, in a real Chromium where a
person would press a button."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support import consent, query_of
from test_loopback import Chromium, sandbox_tokens

from datadrip.core.errors import (
    ConfigError,
    DataDripError,
    ExitCode,
    LoginCancelledError,
    LoginError,
    LoginTimeoutError,
    ReauthRequiredError,
    UsageError,
)
from datadrip.platforms.google.login import SCOPE, GoogleOAuth, GoogleTokens
from datadrip.platforms.oauth.flow import login
from datadrip.platforms.oauth.loopback import DONE_TEXT
from datadrip.platforms.registry import load_settings


@pytest.fixture
def described(sandbox: Any) -> dict[str, Any]:
    return dict(sandbox.app.describe(sandbox.base_url)["google"])


@pytest.fixture
def google(described: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> GoogleOAuth:
    """The OAuth client as `datadrip connect google` will build it: settings from DATADRIP_*
    variables, the client secret from the environment."""
    for key in ("auth_url", "token_url", "revoke_url", "client_id"):
        monkeypatch.setenv(f"DATADRIP_GOOGLE_{key.upper()}", described[key])
    monkeypatch.setenv("DATADRIP_GOOGLE_CLIENT_SECRET", described["client_secret"])
    return GoogleOAuth.from_settings(load_settings())


def ads_status(sandbox: Any, access_token: str) -> int:
    answer = httpx.get(f"{sandbox.base_url}/google/ads/v26/customers:listAccessibleCustomers",
                       headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    return answer.status_code


def pasted_login(google: GoogleOAuth, *, bare_code: bool = False) -> GoogleTokens:
    shown: list[str] = []

    def paste() -> str:
        landed = consent(shown[0])
        return query_of(landed)["code"] if bare_code else landed

    return login(google, timeout=5, no_browser_input=paste,
                 on_url=lambda url, opened: shown.append(url))


# --- the browser login --------------------------------------------------------------------------

def test_google_login_in_chromium_allow_returns_tokens_on_its_own(google: GoogleOAuth,
                                                                  sandbox: Any) -> None:
    chromium = Chromium("Allow")
    announced: list[tuple[str, bool]] = []

    tokens = login(google, open_url=chromium, timeout=60, on_url=lambda url, ok: announced.append(
        (url, ok)))

    chromium.join()
    assert DONE_TEXT in chromium.final_text
    sent = query_of(chromium.opened[0])
    assert announced == [(chromium.opened[0], True)]
    assert sent["redirect_uri"].startswith("http://127.0.0.1:") and sent["redirect_uri"].endswith("/")
    assert {k: sent[k] for k in ("response_type", "scope", "code_challenge_method", "access_type",
                                 "prompt", "client_id")} == {
        "response_type": "code", "scope": SCOPE, "code_challenge_method": "S256",
        "access_type": "offline", "prompt": "consent", "client_id": google.client_id}
    assert len(sent["state"]) >= 32 and len(sent["code_challenge"]) == 43
    assert tokens.refresh_token.startswith("1//") and tokens.scopes == (SCOPE,)
    now = dt.datetime.now(dt.UTC)
    assert now + dt.timedelta(seconds=3500) < tokens.expires_at < now + dt.timedelta(seconds=3600)
    assert ads_status(sandbox, tokens.access_token) == 200
    assert tokens.refresh_token not in repr(tokens) and tokens.access_token not in repr(tokens)


def test_google_login_cancel_in_chromium_is_a_clear_error_and_nothing_is_issued(
        google: GoogleOAuth, sandbox: Any) -> None:
    chromium = Chromium("Cancel")

    with pytest.raises(LoginCancelledError, match="Google login was cancelled") as caught:
        login(google, open_url=chromium, timeout=60)

    chromium.join()
    assert "did not finish" in chromium.final_text
    assert caught.value.exit_code == ExitCode.FAILED
    assert sandbox_tokens(sandbox, "google") == []


def test_google_login_rejects_a_redirect_with_the_wrong_state(google: GoogleOAuth,
                                                              sandbox: Any) -> None:
    def forge(url: str) -> bool:  # someone else's code arrives first, with another state
        redirect_uri = query_of(url)["redirect_uri"]
        httpx.get(redirect_uri, params={"code": "4/0Aforged", "state": "not-ours"}, timeout=5)
        return True

    with pytest.raises(LoginError, match="wrong state"):
        login(google, open_url=forge, timeout=10)
    assert sandbox_tokens(sandbox, "google") == []


def test_google_login_times_out_cleanly_and_frees_the_port(google: GoogleOAuth) -> None:
    opened: list[str] = []

    with pytest.raises(LoginTimeoutError, match="no answer from the Google consent page"):
        login(google, open_url=lambda url: opened.append(url) or True, timeout=0.3)

    port = urlsplit(query_of(opened[0])["redirect_uri"]).port
    assert port is not None
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_google_login_tells_the_caller_when_no_browser_opened(google: GoogleOAuth) -> None:
    announced: list[tuple[str, bool]] = []

    with pytest.raises(LoginTimeoutError):
        login(google, open_url=lambda url: False, timeout=0.2,
              on_url=lambda url, ok: announced.append((url, ok)))

    assert len(announced) == 1 and announced[0][1] is False
    assert announced[0][0].startswith(google.auth_url + "?")


def test_google_pkce_verifier_mismatch_is_rejected_by_the_sandbox(google: GoogleOAuth) -> None:
    from datadrip.platforms.oauth.flow import new_pkce

    pkce, wrong = new_pkce(), new_pkce()
    redirect_uri = google.redirect_uri(50123)
    landed = consent(google.authorization_url(redirect_uri=redirect_uri, state="s", pkce=pkce))
    code = query_of(landed)["code"]

    with pytest.raises(LoginError, match="Invalid code verifier") as caught:
        google.exchange_code(code, redirect_uri=redirect_uri, code_verifier=wrong.verifier)

    text = f"{caught.value} {caught.value.hint}"
    assert code not in text and wrong.verifier not in text and pkce.verifier not in text
    tokens = google.exchange_code(code, redirect_uri=redirect_uri, code_verifier=pkce.verifier)
    assert tokens.refresh_token


# --- --no-browser -------------------------------------------------------------------------------

def test_google_no_browser_with_the_pasted_redirected_url(google: GoogleOAuth, sandbox: Any) -> None:
    tokens = pasted_login(google)

    assert ads_status(sandbox, tokens.access_token) == 200


def test_google_no_browser_with_a_pasted_bare_code(google: GoogleOAuth, sandbox: Any) -> None:
    tokens = pasted_login(google, bare_code=True)

    assert tokens.refresh_token.startswith("1//")


def test_google_no_browser_pasted_cancel_is_a_clear_error(google: GoogleOAuth, sandbox: Any) -> None:
    shown: list[str] = []

    with pytest.raises(LoginCancelledError):
        login(google, timeout=5, no_browser_input=lambda: consent(shown[0], "deny"),
              on_url=lambda url, opened: shown.append(url))
    assert sandbox_tokens(sandbox, "google") == []


# --- refresh and revoke -------------------------------------------------------------------------

def test_google_refresh_gives_a_new_token_after_the_old_one_expires(google: GoogleOAuth,
                                                                    sandbox: Any) -> None:
    tokens = pasted_login(google)

    sandbox.app.state.clock.advance(dt.timedelta(seconds=3600))
    assert ads_status(sandbox, tokens.access_token) == 401
    fresh = google.refresh(tokens.refresh_token)

    assert fresh.access_token != tokens.access_token
    assert ads_status(sandbox, fresh.access_token) == 200
    assert fresh.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3500)


def test_google_revoked_refresh_token_needs_reauth_with_exit_4(google: GoogleOAuth,
                                                               sandbox: Any) -> None:
    tokens = pasted_login(google)

    assert google.revoke(tokens.refresh_token) is True
    with pytest.raises(ReauthRequiredError, match="invalid_grant") as caught:
        google.refresh(tokens.refresh_token)

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED == 4
    assert "datadrip connect google" in (caught.value.hint or "")
    caught.value.hint = 'Run: datadrip connect google "Acme Foods"'  # the caller names the client
    text = f"{caught.value} {caught.value.hint} {caught.value!r}"
    assert tokens.refresh_token not in text and tokens.access_token not in text
    assert ads_status(sandbox, tokens.access_token) == 401
    assert google.revoke(tokens.refresh_token) is False


def test_google_adopt_refresh_token_checks_it_with_one_refresh(google: GoogleOAuth,
                                                                described: dict[str, Any]) -> None:
    tokens = google.adopt_refresh_token(described["refresh_token"] + "\n")

    assert tokens.refresh_token == described["refresh_token"]
    assert tokens.access_token and tokens.scopes == (SCOPE,)


@pytest.mark.parametrize("pasted", ["", "1//bogus-refresh-token", "two words"])
def test_google_adopt_refresh_token_refuses_bad_ones(google: GoogleOAuth, pasted: str) -> None:
    with pytest.raises(UsageError) as caught:
        google.adopt_refresh_token(pasted)

    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert not pasted.strip() or pasted.strip() not in f"{caught.value} {caught.value.hint}"


# --- the OAuth client's configuration -----------------------------------------------------------

def test_google_wrong_client_secret_is_a_config_error(described: dict[str, Any]) -> None:
    google = GoogleOAuth(client_id=described["client_id"], client_secret="wrong-secret-value",
                         auth_url=described["auth_url"], token_url=described["token_url"],
                         revoke_url=described["revoke_url"])

    with pytest.raises(ConfigError, match="invalid_client") as caught:
        google.refresh(described["refresh_token"])
    assert "wrong-secret-value" not in f"{caught.value} {caught.value.hint}"
    assert described["refresh_token"] not in f"{caught.value} {caught.value.hint}"


def test_google_without_client_id_or_secret_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"\[google\] client_id is not set"):
        GoogleOAuth.from_settings(load_settings())

    monkeypatch.setenv("DATADRIP_GOOGLE_CLIENT_ID", "x.apps.googleusercontent.com")
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")
    with pytest.raises(ConfigError, match="google.client_secret") as caught:
        GoogleOAuth.from_settings(load_settings())
    assert "datadrip secret set google.client_secret" in (caught.value.hint or "")


def test_google_client_secret_comes_from_the_secret_store(described: dict[str, Any], sandbox: Any,
                                                          memory_keyring: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from datadrip.secrets.store import SERVICE

    monkeypatch.setenv("DATADRIP_GOOGLE_CLIENT_ID", described["client_id"])
    monkeypatch.setenv("DATADRIP_GOOGLE_TOKEN_URL", described["token_url"])
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "keyring")
    memory_keyring.set_password(SERVICE, "google.client_secret", described["client_secret"])

    google = GoogleOAuth.from_settings(load_settings())

    assert google.refresh(described["refresh_token"]).access_token


def test_google_unreachable_token_endpoint_is_retried_then_a_clear_error(
        described: dict[str, Any]) -> None:
    from test_loopback import free_port

    waits: list[float] = []
    google = GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                         auth_url=described["auth_url"], token_url=f"http://127.0.0.1:{free_port()}/t",
                         revoke_url=described["revoke_url"], sleep=waits.append)

    with pytest.raises(DataDripError) as caught:
        google.refresh("1//some-refresh-token")
    assert type(caught.value) is DataDripError
    assert caught.value.exit_code == ExitCode.FAILED
    assert "Google's token endpoint failed (ConnectError) after 5 attempts" in str(caught.value)
    assert "1//some-refresh-token" not in str(caught.value)
    assert len(waits) == 4


# --- a busy token endpoint is not a dead login ----------------------------------------------------

def token_faults(sandbox: Any, kind: str, **when: Any) -> None:
    from datadrip.sandbox.faults import FaultRule

    sandbox.app.faults.add(FaultRule(kind, platform="google", path="/token$", **when))


def test_google_refresh_retries_a_503_from_the_token_endpoint(described: dict[str, Any],
                                                              sandbox: Any) -> None:
    token_faults(sandbox, "unavailable", nth=1, times=2)
    waits: list[float] = []
    google = GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                         auth_url=described["auth_url"], token_url=described["token_url"],
                         revoke_url=described["revoke_url"], sleep=waits.append)

    fresh = google.refresh(described["refresh_token"])

    assert ads_status(sandbox, fresh.access_token) == 200
    assert len(waits) == 2 and 1 <= waits[0] <= 2 and 2 <= waits[1] <= 3  # the shared backoff


def test_google_refresh_rate_limited_is_retried_and_told(described: dict[str, Any],
                                                         sandbox: Any) -> None:
    from datadrip.platforms.http import Wait

    token_faults(sandbox, "rate_limit", nth=1, times=3)
    waits: list[float] = []
    told: list[Wait] = []
    google = GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                         auth_url=described["auth_url"], token_url=described["token_url"],
                         revoke_url=described["revoke_url"])

    assert google.refresh(described["refresh_token"], sleep=waits.append, on_wait=told.append)

    assert len(waits) == 3
    assert [w.seconds for w in told] == [s for s in waits if s > 2] == waits[1:]  # 2+ s and 4+ s
    assert {(w.service, w.reason, w.kind) for w in told} == {
        ("Google's token endpoint", "HTTP 429 rate_limit_exceeded", "retry")}


def test_google_token_endpoint_failing_for_good_is_exit_1_not_a_new_login(
        described: dict[str, Any], sandbox: Any) -> None:
    from datadrip.platforms.http import RetriesExhaustedError

    token_faults(sandbox, "unavailable", rate=1.0)
    google = GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                         auth_url=described["auth_url"], token_url=described["token_url"],
                         revoke_url=described["revoke_url"], sleep=lambda _seconds: None)

    with pytest.raises(RetriesExhaustedError) as caught:
        google.refresh(described["refresh_token"])

    assert caught.value.exit_code == ExitCode.FAILED
    assert str(caught.value) == ("Google's token endpoint kept failing (HTTP 503 "
                                 "temporarily_unavailable) after 5 attempts")
    assert not isinstance(caught.value, ReauthRequiredError)


def test_google_invalid_grant_is_asked_once_and_needs_a_new_login(described: dict[str, Any],
                                                                  sandbox: Any) -> None:
    token_faults(sandbox, "expired_token", nth=1)
    waits: list[float] = []
    google = GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                         auth_url=described["auth_url"], token_url=described["token_url"],
                         revoke_url=described["revoke_url"], sleep=waits.append)

    with pytest.raises(ReauthRequiredError, match="invalid_grant"):
        google.refresh(described["refresh_token"])
    assert waits == []
    assert google.refresh(described["refresh_token"]).access_token  # the fault was one answer


def test_google_code_exchange_retries_a_503(google: GoogleOAuth, sandbox: Any) -> None:
    token_faults(sandbox, "unavailable", nth=1)

    tokens = pasted_login(google)

    assert ads_status(sandbox, tokens.access_token) == 200
