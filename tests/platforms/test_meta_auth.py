"""Meta (Facebook Login) against the sandbox over real HTTP, in a real Chromium where a person
would press a button. The redirect port is the fixed one the sandbox's app lists (8765)."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import consent, query_of
from test_loopback import Chromium, sandbox_tokens

from datadrip.core.errors import (
    ConfigError,
    DataDripError,
    ExitCode,
    LoginCancelledError,
    LoginError,
    ReauthRequiredError,
    UsageError,
)
from datadrip.platforms.http import RetryPolicy
from datadrip.platforms.meta.login import MetaOAuth, MetaToken
from datadrip.platforms.oauth.flow import login, new_pkce
from datadrip.platforms.oauth.loopback import DONE_TEXT
from datadrip.platforms.registry import load_settings


@pytest.fixture
def described(sandbox: Any) -> dict[str, Any]:
    return dict(sandbox.app.describe(sandbox.base_url)["meta"])


@pytest.fixture
def meta(described: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
         meta_redirect_port: int) -> MetaOAuth:
    """The app as `datadrip connect meta` will build it: settings from DATADRIP_* variables (the
    redirect port left at its default, which its login binds: hence `meta_redirect_port`), the
    app secret from the environment."""
    for key in ("graph_url", "dialog_url", "app_id"):
        monkeypatch.setenv(f"DATADRIP_META_{key.upper()}", described[key])
    monkeypatch.setenv("DATADRIP_META_APP_SECRET", described["app_secret"])
    app = MetaOAuth.from_settings(load_settings())
    assert app.redirect_port == meta_redirect_port
    assert app.redirect_uri(app.redirect_port) in described["redirect_uris"]
    return app


def pasted_login(meta: MetaOAuth, *, bare_code: bool = False) -> MetaToken:
    shown: list[str] = []

    def paste() -> str:
        landed = consent(shown[0])
        return query_of(landed)["code"] if bare_code else landed

    return login(meta, timeout=5, no_browser_input=paste, on_url=lambda url, ok: shown.append(url))


def about_60_days(expires_at: dt.datetime | None) -> bool:
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    return expires_at is not None and abs(expires_at - expected) < dt.timedelta(minutes=5)


# --- the browser login --------------------------------------------------------------------------

def test_meta_login_in_chromium_allow_returns_a_long_lived_token_on_its_own(meta: MetaOAuth) -> None:
    chromium = Chromium("Allow")

    token = login(meta, open_url=chromium, timeout=60)

    chromium.join()
    assert DONE_TEXT in chromium.final_text
    assert urlsplit(chromium.final_url).port == 8765
    sent = query_of(chromium.opened[0])
    assert {k: sent[k] for k in ("client_id", "redirect_uri", "response_type", "scope",
                                 "code_challenge_method")} == {
        "client_id": meta.app_id, "redirect_uri": "http://localhost:8765/callback",
        "response_type": "code", "scope": "ads_read,business_management",
        "code_challenge_method": "S256"}
    assert about_60_days(token.expires_at)
    info = meta.debug_token(token.access_token)
    assert (info.type, info.is_valid) == ("USER", True)
    assert set(info.scopes) == {"ads_read", "business_management"}
    assert token.access_token not in repr(token)


def test_meta_login_cancel_in_chromium_is_a_clear_error_and_nothing_is_issued(
        meta: MetaOAuth, sandbox: Any) -> None:
    chromium = Chromium("Cancel")

    with pytest.raises(LoginCancelledError, match="Meta login was cancelled") as caught:
        login(meta, open_url=chromium, timeout=60)

    chromium.join()
    assert caught.value.exit_code == ExitCode.FAILED
    assert sandbox_tokens(sandbox, "meta") == []


def test_meta_busy_redirect_port_fails_before_any_browser_opens(described: dict[str, Any]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        meta = MetaOAuth(app_id=described["app_id"], app_secret=described["app_secret"],
                         graph_url=described["graph_url"], dialog_url=described["dialog_url"],
                         api_version="v26.0", redirect_port=port)
        opened: list[str] = []

        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            login(meta, open_url=opened.append, timeout=5)

    assert opened == []
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert "[meta] redirect_port" in (caught.value.hint or "")


def test_meta_pkce_verifier_mismatch_is_rejected_by_the_sandbox(meta: MetaOAuth) -> None:
    pkce, wrong = new_pkce(), new_pkce()
    redirect_uri = meta.redirect_uri(meta.redirect_port)
    code = query_of(consent(meta.authorization_url(redirect_uri=redirect_uri, state="s", pkce=pkce)))[
        "code"]

    with pytest.raises(LoginError, match="Invalid code verifier") as caught:
        meta.exchange_code(code, redirect_uri=redirect_uri, code_verifier=wrong.verifier)

    text = f"{caught.value} {caught.value.hint}"
    assert code not in text and wrong.verifier not in text
    assert about_60_days(meta.exchange_code(code, redirect_uri=redirect_uri,
                                            code_verifier=pkce.verifier).expires_at)


# --- --no-browser -------------------------------------------------------------------------------

def test_meta_no_browser_with_the_pasted_redirected_url(meta: MetaOAuth) -> None:
    token = pasted_login(meta)

    assert about_60_days(token.expires_at)
    assert meta.debug_token(token.access_token).is_valid


def test_meta_no_browser_with_a_pasted_bare_code(meta: MetaOAuth) -> None:
    assert meta.debug_token(pasted_login(meta, bare_code=True).access_token).type == "USER"


# --- tokens -------------------------------------------------------------------------------------

def test_meta_short_lived_token_is_exchanged_for_about_60_days(meta: MetaOAuth) -> None:
    pkce = new_pkce()
    redirect_uri = meta.redirect_uri(meta.redirect_port)
    code = query_of(consent(meta.authorization_url(redirect_uri=redirect_uri, state="s", pkce=pkce)))[
        "code"]

    short = meta.exchange_short(code, redirect_uri=redirect_uri, code_verifier=pkce.verifier)
    long_lived = meta.long_lived(short.access_token)

    assert short.expires_at is not None
    assert short.expires_at < dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert long_lived.access_token != short.access_token
    assert about_60_days(long_lived.expires_at)


def test_meta_debug_token_says_the_system_user_token_never_expires(meta: MetaOAuth,
                                                                   described: dict[str, Any]) -> None:
    info = meta.debug_token(described["access_token"])

    assert (info.type, info.is_valid, info.expires_at) == ("SYSTEM_USER", True, None)
    assert "ads_read" in info.scopes and info.app_id == meta.app_id
    assert meta.adopt_token(described["access_token"] + "\n") == info


@pytest.mark.parametrize("pasted", ["", "EAAB-not-a-token-we-know", "two words"])
def test_meta_adopt_token_refuses_bad_tokens(meta: MetaOAuth, pasted: str) -> None:
    with pytest.raises(UsageError) as caught:
        meta.adopt_token(pasted)

    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert not pasted.strip() or pasted.strip() not in f"{caught.value} {caught.value.hint}"


def test_meta_revoked_token_needs_reauth_with_exit_4_and_no_token_in_the_error(meta: MetaOAuth) -> None:
    token = pasted_login(meta)

    assert meta.revoke(token.access_token) is True
    info = meta.debug_token(token.access_token)
    with pytest.raises(ReauthRequiredError, match="code 190") as caught:
        meta.long_lived(token.access_token)

    assert info.is_valid is False and info.problem
    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED == 4
    assert "datadrip connect meta" in (caught.value.hint or "")
    assert token.access_token not in f"{caught.value} {caught.value.hint} {caught.value!r}"
    assert token.access_token not in info.problem
    assert meta.revoke(token.access_token) is False


def test_meta_wrong_app_secret_is_a_config_error_without_the_secret(described: dict[str, Any]) -> None:
    meta = MetaOAuth(app_id=described["app_id"], app_secret="wrong-app-secret-value",
                     graph_url=described["graph_url"], dialog_url=described["dialog_url"],
                     api_version="v26.0", redirect_port=8765)

    with pytest.raises(ConfigError, match="client secret") as caught:
        meta.long_lived(described["access_token"])
    with pytest.raises(ConfigError, match="Meta rejected the app") as inspecting:
        meta.debug_token(described["access_token"])

    text = f"{caught.value} {caught.value.hint} {inspecting.value} {inspecting.value.hint}"
    assert "wrong-app-secret-value" not in text and described["access_token"] not in text


def test_meta_without_app_id_or_secret_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"\[meta\] app_id is not set"):
        MetaOAuth.from_settings(load_settings())

    monkeypatch.setenv("DATADRIP_META_APP_ID", "1234")
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")
    with pytest.raises(ConfigError, match="meta.app_secret"):
        MetaOAuth.from_settings(load_settings())


def test_meta_redirect_port_setting_changes_the_redirect_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_META_APP_ID", "1234")
    monkeypatch.setenv("DATADRIP_META_APP_SECRET", "s")
    monkeypatch.setenv("DATADRIP_META_REDIRECT_PORT", "9876")

    meta = MetaOAuth.from_settings(load_settings())

    assert meta.redirect_uri(meta.redirect_port) == "http://localhost:9876/callback"


def test_meta_unreachable_graph_is_retried_then_a_clear_error_without_secrets(
        described: dict[str, Any]) -> None:
    from test_loopback import free_port

    waits: list[float] = []
    meta = MetaOAuth(app_id=described["app_id"], app_secret=described["app_secret"],
                     graph_url=f"http://127.0.0.1:{free_port()}", dialog_url=described["dialog_url"],
                     api_version="v26.0", redirect_port=8765, sleep=waits.append)

    with pytest.raises(DataDripError, match="Meta's Graph API failed") as caught:
        meta.debug_token("EAAB-secret-token-value")

    assert type(caught.value) is DataDripError
    assert len(waits) == 4
    text = str(caught.value)
    assert "EAAB-secret-token-value" not in text and described["app_secret"] not in text


# --- a busy Graph API is not a dead login ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["unavailable", "server_error", "rate_limit"])
def test_meta_long_lived_exchange_is_retried_like_any_call(described: dict[str, Any], sandbox: Any,
                                                           kind: str) -> None:
    from datadrip.sandbox.faults import FaultRule

    waits: list[float] = []
    meta = MetaOAuth(app_id=described["app_id"], app_secret=described["app_secret"],
                     graph_url=described["graph_url"], dialog_url=described["dialog_url"],
                     api_version="v26.0", redirect_port=8765, sleep=waits.append,
                     retry=RetryPolicy(max_wait=600))
    pkce = new_pkce()
    redirect_uri = meta.redirect_uri(meta.redirect_port)
    code = query_of(consent(meta.authorization_url(redirect_uri=redirect_uri, state="s", pkce=pkce)))[
        "code"]
    short = meta.exchange_short(code, redirect_uri=redirect_uri, code_verifier=pkce.verifier)
    sandbox.app.faults.add(FaultRule(kind, platform="meta", path="oauth/access_token$", nth=1))

    long_lived = meta.long_lived(short.access_token)

    assert about_60_days(long_lived.expires_at)
    assert len(waits) == 1
    # A rate limit waits as long as Meta's usage headers say (5 minutes in the sandbox).
    assert waits[0] == 300 if kind == "rate_limit" else 1 <= waits[0] <= 2


def test_meta_debug_token_unavailable_is_retried_not_a_new_login(meta: MetaOAuth, sandbox: Any,
                                                                 described: dict[str, Any]) -> None:
    from datadrip.platforms.http import RetriesExhaustedError
    from datadrip.sandbox.faults import FaultRule

    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", path="debug_token$", nth=1))
    quick = MetaOAuth(app_id=described["app_id"], app_secret=described["app_secret"],
                      graph_url=described["graph_url"], dialog_url=described["dialog_url"],
                      api_version="v26.0", redirect_port=8765, sleep=lambda _seconds: None)
    assert quick.debug_token(described["access_token"]).is_valid

    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", path="debug_token$", rate=1.0))
    with pytest.raises(RetriesExhaustedError, match="kept failing") as caught:
        quick.debug_token(described["access_token"])
    assert caught.value.exit_code == ExitCode.FAILED
