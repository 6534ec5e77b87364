"""The login lifecycle: Google access tokens renewed before they end and once on a 401, a
refused refresh token as exit 4 naming the command, Meta tokens flagged before they end, and
stored logins that survive (or clearly fail) a round trip through the secret store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from datadrip.core.errors import ExitCode, ReauthRequiredError, SecretStoreError
from datadrip.platforms.google.connector import GoogleAds
from datadrip.platforms.google.login import GoogleOAuth
from datadrip.platforms.google.tokens import GoogleAccessTokens
from datadrip.platforms.registry import platform
from datadrip.platforms.tokens import StoredLogin, load_login
from datadrip.secrets.file import FileStore

HINT = 'run: datadrip connect google "Masala Mornings"'


@pytest.fixture
def google(sandbox: Any) -> GoogleOAuth:
    described = sandbox.app.describe(sandbox.base_url)["google"]
    return GoogleOAuth(client_id=described["client_id"], client_secret=described["client_secret"],
                       auth_url=described["auth_url"], token_url=described["token_url"],
                       revoke_url=described["revoke_url"])


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def ads(sandbox: Any, http: httpx.Client, tokens: GoogleAccessTokens) -> GoogleAds:
    described = sandbox.app.describe(sandbox.base_url)["google"]
    return GoogleAds(http=http, api_url=described["api_url"], api_version="v26", get_token=tokens,
                     sleep=lambda _seconds: None)


def test_google_access_token_is_renewed_once_when_the_api_answers_401(
        google: GoogleOAuth, sandbox: Any, http: httpx.Client) -> None:
    first = google.refresh("1//sandbox-refresh-token")
    # DataDrip believes the token good for an hour more; the API has already ended it.
    tokens = GoogleAccessTokens(google, "1//sandbox-refresh-token", reauth_hint=HINT)
    tokens.seed(first.access_token, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    sandbox.app.state.clock.advance(dt.timedelta(hours=2))

    accounts = ads(sandbox, http, tokens).list_accounts()

    assert tokens.refreshes == 1
    assert "2020000002" in [a.external_id for a in accounts]


def test_google_access_token_is_renewed_before_it_ends(google: GoogleOAuth) -> None:
    first = google.refresh("1//sandbox-refresh-token")
    clock = [first.expires_at - dt.timedelta(minutes=2)]  # inside the five-minute margin
    tokens = GoogleAccessTokens(google, "1//sandbox-refresh-token", reauth_hint=HINT,
                                now=lambda: clock[0])
    tokens.seed(first.access_token, first.expires_at)

    renewed = tokens(False)

    assert tokens.refreshes == 1 and renewed != first.access_token
    clock[0] = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    assert tokens(False) == renewed  # the new one is good for half an hour more: kept
    assert tokens.refreshes == 1


def test_google_refused_refresh_token_needs_reauth_naming_the_client_command(
        google: GoogleOAuth, sandbox: Any, http: httpx.Client) -> None:
    google.revoke("1//sandbox-refresh-token")
    tokens = GoogleAccessTokens(google, "1//sandbox-refresh-token", reauth_hint=HINT)

    with pytest.raises(ReauthRequiredError) as caught:
        ads(sandbox, http, tokens).list_accounts()

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED
    assert caught.value.hint == HINT
    assert "1//sandbox-refresh-token" not in caught.value.message


@pytest.mark.parametrize("left, expected", [
    (dt.timedelta(days=30), None),
    (dt.timedelta(days=6, hours=1), "the Meta login expires in 6 days"),
    (dt.timedelta(days=1, hours=1), "the Meta login expires tomorrow"),
    (dt.timedelta(hours=3), "the Meta login expires today"),
    (dt.timedelta(hours=-1), "the Meta login has expired"),
])
def test_meta_expiry_warning_starts_a_week_ahead(left: dt.timedelta, expected: str | None) -> None:
    now = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    assert platform("meta").expiry_warning(now + left, now) == expected
    assert platform("meta").expiry_warning(None, now) is None  # system-user tokens never expire


def test_google_expiry_warning_is_none_since_a_refresh_token_has_no_set_end() -> None:
    now = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    assert platform("google").expiry_warning(now + dt.timedelta(hours=3), now) is None


def test_stored_login_round_trips_through_the_secret_file(tmp_path: Any) -> None:
    store = FileStore(tmp_path)
    login = StoredLogin("meta", "EAAB-token", "browser",
                        dt.datetime(2027, 1, 25, 8, 30, tzinfo=dt.UTC), "10001")
    store.set("login.meta.abc", login.dumps())

    assert load_login(store, "login.meta.abc", reauth_hint=HINT) == login
    assert "EAAB-token" not in repr(login)


def test_a_missing_stored_login_needs_reauth_and_a_damaged_one_says_so(tmp_path: Any) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(ReauthRequiredError) as missing:
        load_login(store, "login.google.gone", reauth_hint=HINT)
    assert missing.value.hint == HINT

    store.set("login.google.bad", "{not json")
    with pytest.raises(SecretStoreError, match="damaged"):
        load_login(store, "login.google.bad", reauth_hint=HINT)
