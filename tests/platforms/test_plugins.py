"""Meta and Google Ads as platform plug-ins, asked through the registry as the services ask them:
account ids, logins (a token on stdin, a pasted browser login), login checks, token sources,
expiry warnings, the shared-grant rules of revocation, and labels. The sandbox answers over real
HTTP; logins go nowhere but the returned NewLogin."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from support import consent

from datadrip.core.errors import UsageError
from datadrip.insights.facts import EntityFacts
from datadrip.insights.heuristics.common import label
from datadrip.platforms.base import LoginRequest, LoginUi
from datadrip.platforms.http import RetryPolicy
from datadrip.platforms.registry import PlatformNotInstalledError, load_settings, platform
from datadrip.platforms.tokens import StoredLogin

HINT = 'run: datadrip connect meta "Masala Mornings"'


def stdin_request(token: str) -> LoginRequest:
    ui = LoginUi(open_url=lambda _url: pytest.fail("a token on stdin opened a browser"),
                 on_url=lambda _url, _opened: pytest.fail("a token on stdin showed a login address"))
    return LoginRequest(ui, stdin_token=token, reauth_hint=HINT)


def pasted_request() -> LoginRequest:
    shown: list[str] = []
    ui = LoginUi(open_url=lambda _url: pytest.fail("--no-browser opened a browser"),
                 on_url=lambda url, _opened: shown.append(url),
                 read_pasted=lambda: consent(shown[-1]))
    return LoginRequest(ui, reauth_hint=HINT)


def refresh_works(google: dict[str, Any], refresh_token: str) -> bool:
    answer = httpx.post(google["token_url"], data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": google["client_id"], "client_secret": google["client_secret"]}, timeout=10)
    return answer.status_code == 200


@pytest.mark.parametrize("name, typed, kept", [
    ("meta", "act_1010000001", "act_1010000001"),
    ("meta", " 1010000001 ", "act_1010000001"),
    ("google", "202-000-0001", "2020000001"),
    ("google", "2020000001", "2020000001"),
])
def test_plugin_account_id_keeps_the_workbook_form(name: str, typed: str, kept: str) -> None:
    assert platform(name).account_id(typed) == kept


@pytest.mark.parametrize("name, typed, expected", [
    ("meta", "act_12ab", "is not a Meta ad account id"),
    ("google", "12345", "is not a Google Ads customer id"),
    ("google", "act_1010000001", "is not a Google Ads customer id"),
])
def test_plugin_account_id_refuses_another_form_naming_the_expected_one(name: str, typed: str,
                                                                         expected: str) -> None:
    with pytest.raises(UsageError, match=expected) as caught:
        platform(name).account_id(typed)
    assert caught.value.exit_code == 2 and caught.value.hint


def test_registry_names_the_installed_platforms_when_one_is_unknown() -> None:
    with pytest.raises(PlatformNotInstalledError, match=r"'tiktok' is not installed \(installed: .*"
                                                        r"google, .*meta") as caught:
        platform("tiktok")
    assert caught.value.exit_code == 2


def test_plugin_labels_and_colours_say_how_people_read_each_platform() -> None:
    assert (platform("meta").label, platform("google").label) == ("Meta", "Google Ads")
    assert platform("meta").colour.startswith("#") and platform("google").colour.startswith("#")
    assert (platform("meta").token_kind, platform("google").token_kind) == ("token", "refresh token")


def test_insight_entity_label_names_the_platform_by_its_plugin_label() -> None:
    entity = EntityFacts(id="1", ref="campaign:1", level="campaign", external_id="1",
                         name="Diwali Sale", parent_id=None, account_id="a", account_name="A",
                         platform="google", currency="INR", status="ENABLED")
    assert label(entity) == "Diwali Sale (Google Ads)"


def test_meta_log_in_with_a_stdin_token_lists_its_accounts_and_keeps_whom_it_acts_for(
        connectable: dict[str, Any]) -> None:
    new = platform("meta").log_in(load_settings(), stdin_request(connectable["meta"]["access_token"]))

    assert (new.login.platform, new.login.origin) == ("meta", "stdin")
    assert new.login.token == connectable["meta"]["access_token"] and new.login.user_id
    assert "act_1010000001" in [a.external_id for a in new.accounts]
    assert {a.platform for a in new.accounts} == {"meta"}


def test_google_log_in_pasted_keeps_the_refresh_token_and_lists_accounts_through_managers(
        connectable: dict[str, Any]) -> None:
    new = platform("google").log_in(load_settings(), pasted_request())

    assert (new.login.platform, new.login.origin, new.login.expires_at) == ("google", "browser", None)
    assert refresh_works(connectable["google"], new.login.token)
    assert "2020000002" in [a.external_id for a in new.accounts]


def test_meta_log_in_with_a_dead_token_is_a_clear_error(connectable: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="Meta says that token is not valid") as caught:
        platform("meta").log_in(load_settings(), stdin_request("EAAB-not-a-token"))
    assert "EAAB-not-a-token" not in caught.value.message


def test_meta_check_login_reports_a_working_token_with_its_expiry_then_a_revoked_one(
        connectable: dict[str, Any]) -> None:
    loaded = load_settings()
    meta = platform("meta")
    login = meta.log_in(loaded, pasted_request()).login

    working = meta.check_login(loaded, login)
    assert working.problem is None and working.expires_at is not None

    assert meta.revoke(loaded, login, others=[]) is None  # alone: revoked at Meta
    refused = meta.check_login(loaded, login)
    assert refused.problem and login.token not in refused.problem


def test_google_check_login_refreshes_once_and_reports_a_revoked_grant(
        connectable: dict[str, Any]) -> None:
    loaded = load_settings()
    google = platform("google")
    login = google.log_in(loaded, pasted_request()).login

    assert google.check_login(loaded, login).problem is None

    assert google.revoke(loaded, login, others=[]) is None
    assert not refresh_works(connectable["google"], login.token)
    refused = google.check_login(loaded, login)
    assert refused.problem and login.token not in refused.problem


def test_meta_revoke_spares_a_login_another_connection_shares_as_the_same_user(
        connectable: dict[str, Any]) -> None:
    loaded = load_settings()
    meta = platform("meta")
    login = meta.log_in(loaded, pasted_request()).login
    same_user = StoredLogin("meta", "EAAB-other", "browser", None, login.user_id)
    someone_else = StoredLogin("meta", "EAAB-other", "browser", None, "another-user")

    why = meta.revoke(loaded, login, others=[someone_else, same_user])

    assert why is not None and "same Facebook user" in why
    assert meta.check_login(loaded, login).problem is None  # still working at Meta
    assert meta.revoke(loaded, login, others=[someone_else]) is None


def test_google_revoke_spares_a_grant_another_browser_login_may_share(
        connectable: dict[str, Any]) -> None:
    loaded = load_settings()
    google = platform("google")
    login = google.log_in(loaded, pasted_request()).login
    pasted_token = StoredLogin("google", "1//other", "stdin")
    browser = StoredLogin("google", "1//other", "browser")

    assert google.revoke(loaded, login, others=[pasted_token]) is None
    assert not refresh_works(connectable["google"], login.token)
    login = google.log_in(loaded, pasted_request()).login
    why = google.revoke(loaded, login, others=[browser])
    assert why is not None and "other Google connections" in why
    assert refresh_works(connectable["google"], login.token)


def test_meta_token_source_gives_the_stored_token_even_when_asked_to_renew(
        connectable: dict[str, Any]) -> None:
    login = StoredLogin("meta", connectable["meta"]["access_token"], "stdin")
    tokens = platform("meta").token_source(load_settings(), login, reauth_hint=HINT,
                                           retry=RetryPolicy())
    assert tokens(False) == tokens(True) == login.token


def test_google_token_source_renews_an_access_token_from_the_refresh_token(
        connectable: dict[str, Any]) -> None:
    login = StoredLogin("google", connectable["google"]["refresh_token"], "stdin")
    tokens = platform("google").token_source(load_settings(), login, reauth_hint=HINT,
                                             retry=RetryPolicy())
    first = tokens(False)
    assert first and first != login.token
    assert tokens(False) == first  # still good: kept
    assert tokens(True) != first  # after a 401: renewed


def test_google_token_source_of_a_revoked_grant_needs_a_login_naming_the_command(
        connectable: dict[str, Any]) -> None:
    from datadrip.core.errors import ReauthRequiredError

    google = platform("google")
    loaded = load_settings()
    login = google.log_in(loaded, pasted_request()).login
    google.revoke(loaded, login, others=[])
    tokens = google.token_source(loaded, login, reauth_hint=HINT, retry=RetryPolicy())

    with pytest.raises(ReauthRequiredError) as caught:
        tokens(False)
    assert caught.value.hint == HINT


def test_expiry_warnings_meta_a_week_ahead_google_never() -> None:
    now = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    assert platform("meta").expiry_warning(now + dt.timedelta(days=3, hours=1), now) == \
        "the Meta login expires in 3 days"
    assert platform("google").expiry_warning(now - dt.timedelta(days=1), now) is None


@pytest.mark.parametrize("today, expected", [
    (dt.date(2026, 8, 7), None),  # 61 days ahead: not yet
    (dt.date(2026, 8, 8), "stops answering on 2026-10-07 (in 60 days)"),
    (dt.date(2026, 10, 6), "stops answering on 2026-10-07 (tomorrow)"),
    (dt.date(2026, 10, 7), "stops answering on 2026-10-07 (today)"),
    (dt.date(2026, 10, 8), "stopped answering on 2026-10-07"),
])
def test_api_sunsets_warn_from_60_days_before_a_configured_versions_sunset(
        today: dt.date, expected: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    from datadrip.platforms.sunsets import api_sunsets

    monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v22")
    found = api_sunsets(load_settings().settings, ["google", "meta", "tiktok"], today)  # meta: v26.0

    assert [s.warning for s in found] == ([] if expected is None else [
        f"the Google Ads API v22 {expected}; set [google] api_version to a newer version"])
