"""The connect service with DataDrip's own logins (the consent page answered over HTTP, as a
person would on another machine with --no-browser), and what disconnecting revokes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support import consent, stored_token

from datadrip.platforms.base import AccountRef
from datadrip.platforms.registry import load_settings
from datadrip.workbook.connect import ConnectOutcome, ConnectRequest, ConnectUi, connect_accounts

CLIENT = "Masala Mornings"
OTHER = "Peak Trail Outfitters"


def pasted_login(platform: str, client: str, *accounts: str) -> ConnectOutcome:
    shown: list[str] = []

    def refuse_to_pick(_platform: str, _visible: list[AccountRef]) -> list[AccountRef]:
        raise AssertionError("the accounts were named")

    ui = ConnectUi(on_url=lambda url, _opened: shown.append(url),
                   read_pasted=lambda: consent(shown[-1]), choose=refuse_to_pick,
                   open_url=lambda _url: pytest.fail("--no-browser opened a browser"))
    request = ConnectRequest(platform, client, accounts=accounts, no_browser=True)
    return connect_accounts(load_settings(), request, ui)


def refresh_works(google: dict[str, Any], refresh_token: str) -> bool:
    answer = httpx.post(google["token_url"], data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": google["client_id"], "client_secret": google["client_secret"]}, timeout=10)
    return answer.status_code == 200


def test_google_login_pasted_then_disconnected_is_revoked_at_google(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    outcome = pasted_login("google", CLIENT, "2020000002")
    assert (outcome.login, [a["account_id"] for a in outcome.accounts]) == ("browser", ["2020000002"])
    token = stored_token()
    assert refresh_works(connectable["google"], token)

    run = dd("disconnect", "google", CLIENT, "--json")

    assert run.exit_code == 0, run.stderr
    assert (run.json()["logins_revoked"], run.json()["notes"]) == (1, [])
    assert not refresh_works(connectable["google"], token)


def test_google_login_kept_at_google_when_another_connection_may_share_it(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    pasted_login("google", CLIENT, "2020000001")
    pasted_login("google", OTHER, "2020000002")

    run = dd("disconnect", "google", CLIENT, "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["logins_revoked"] == 0
    assert "other Google connections may use the same Google login" in run.json()["notes"][0]
    assert dd("account", "check", "--json").exit_code == 0  # the other client still works


def test_meta_login_of_the_same_user_elsewhere_is_not_revoked_but_keep_grant_is_honoured(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    first = pasted_login("meta", CLIENT, "act_1010000001")
    pasted_login("meta", OTHER, "act_1010000002")
    assert first.accounts[0]["token_expires_at"] is not None  # a long-lived user token

    shared = dd("disconnect", "meta", CLIENT, "--json")
    assert shared.json()["logins_revoked"] == 0
    assert "same Facebook user" in shared.json()["notes"][0]

    kept = dd("disconnect", "meta", OTHER, "--keep-grant", "--json")
    assert (kept.json()["logins_revoked"], kept.json()["notes"]) == (0, [])


def test_meta_login_alone_is_revoked_on_disconnect(connectable: dict[str, Any],
                                                   dd: Callable[..., Any]) -> None:
    pasted_login("meta", CLIENT, "act_1010000001")
    token = stored_token()

    run = dd("disconnect", "meta", CLIENT, "--json")

    assert run.json()["logins_revoked"] == 1
    graph = connectable["meta"]["graph_url"]
    dead = httpx.get(f"{graph}/v26.0/me/adaccounts", params={"access_token": token}, timeout=10)
    assert dead.status_code in (400, 401) and dead.json()["error"]["code"] == 190
