"""`datadrip connect`, `disconnect` and `account list|check` against the sandbox over real HTTP,
with logins in the real encrypted secret file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import accounts_in, assert_bad_input, pinned_clock, stored_logins

SYSTEM_TOKEN = "EAAB-sandbox-system-user-token"
REFRESH_TOKEN = "1//sandbox-refresh-token"
CLIENT = "Masala Mornings"


def connect_meta_token(dd: Callable[..., Any], *accounts: str, client: str = CLIENT) -> Any:
    args = [item for account in accounts for item in ("--account", account)]
    return dd("connect", "meta", client, "--token-stdin", *args, "--json", input=SYSTEM_TOKEN + "\n")


def connect_google_token(dd: Callable[..., Any], *accounts: str, token: str = REFRESH_TOKEN) -> Any:
    args = [item for account in accounts for item in ("--account", account)]
    return dd("connect", "google", CLIENT, "--refresh-token-stdin", *args, "--json", input=token)


# --- connect -------------------------------------------------------------------------------------

def test_connect_meta_token_stdin_attaches_the_named_accounts(connectable: dict[str, Any],
                                                              dd: Callable[..., Any],
                                                              workbook_path: Path) -> None:
    run = connect_meta_token(dd, "act_1010000001", "1010000002")

    assert run.exit_code == 0, run.stderr
    outcome = run.json()
    assert (outcome["client"], outcome["platform"], outcome["login"]) == (CLIENT, "meta", "stdin")
    assert [(a["account_id"], a["currency"], a["timezone"], a["status"], a["relogin"])
            for a in outcome["accounts"]] == [
        ("act_1010000001", "INR", "Asia/Kolkata", "active", False),
        ("act_1010000002", "USD", "America/New_York", "active", False)]
    assert all(a["name"] for a in outcome["accounts"])
    assert outcome["accounts"][0]["token_expires_at"] is None  # system-user tokens never expire
    logins = stored_logins()
    assert len(logins) == 1
    [(ref, value)] = logins.items()
    assert SYSTEM_TOKEN in value
    assert [row[2] for row in accounts_in(workbook_path)] == [ref, ref]


def test_connect_google_refresh_token_stdin_reaches_clients_through_the_manager(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    run = connect_google_token(dd, "202-000-0001", "2020000002")

    assert run.exit_code == 0, run.stderr
    assert [(a["account_id"], a["login_customer_id"]) for a in run.json()["accounts"]] == [
        ("2020000001", "9000000001"), ("2020000002", None)]
    assert [row[:2] + row[3:] for row in accounts_in(workbook_path)] == [
        ("2020000001", "google", "9000000001", "active"),
        ("2020000002", "google", None, "active")]


def test_connect_off_a_terminal_without_account_lists_what_the_login_sees(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    run = connect_meta_token(dd)

    assert_bad_input(run, "--account", "act_1010000001", "act_1010000003", "nothing was stored")
    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


@pytest.mark.parametrize("account, needle", [("act_999", "cannot see act_999"),
                                             ("not-an-id", "not a Meta ad account id")])
def test_connect_with_an_account_the_login_cannot_see_stores_nothing(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path,
        account: str, needle: str) -> None:
    assert_bad_input(connect_meta_token(dd, account), needle)
    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


def test_connect_to_an_unknown_client_fails_before_any_login(connectable: dict[str, Any],
                                                             dd: Callable[..., Any]) -> None:
    run = connect_meta_token(dd, "act_1010000001", client="Nobody")
    assert_bad_input(run, "no client 'Nobody'")


@pytest.mark.parametrize("token, needle", [("", "empty"), ("EAAB-not-a-token", "not valid")])
def test_connect_meta_refuses_a_bad_token_on_stdin(connectable: dict[str, Any], dd: Callable[..., Any],
                                                   workbook_path: Path, token: str, needle: str) -> None:
    run = dd("connect", "meta", CLIENT, "--token-stdin", "--account", "act_1010000001", input=token)
    assert_bad_input(run, needle)
    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


def test_connect_google_refuses_a_refresh_token_google_does_not_know(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    assert_bad_input(connect_google_token(dd, "2020000002", token="1//unknown"), "does not accept")
    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


def test_connect_without_the_app_secret_says_how_to_store_it(connectable: dict[str, Any],
                                                            dd: Callable[..., Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATADRIP_META_APP_SECRET")
    assert_bad_input(connect_meta_token(dd, "act_1010000001"), "meta.app_secret")
    assert stored_logins() == {}


def test_connect_again_uses_the_new_login_and_forgets_the_old(connectable: dict[str, Any],
                                                             dd: Callable[..., Any],
                                                             workbook_path: Path) -> None:
    assert connect_meta_token(dd, "act_1010000001").exit_code == 0
    [old] = stored_logins()

    again = connect_meta_token(dd, "act_1010000001")

    assert again.exit_code == 0, again.stderr
    assert again.json()["accounts"][0]["relogin"] is True
    [new] = stored_logins()
    assert new != old
    assert [row[2] for row in accounts_in(workbook_path)] == [new]
    actions = [entry["action"] for entry in dd("audit", "--json").json()]
    assert actions.count("account.connect") == 1 and actions.count("account.relogin") == 1


def test_connect_refuses_an_account_already_connected_to_another_client(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    assert connect_meta_token(dd, "act_1010000001").exit_code == 0
    run = connect_meta_token(dd, "act_1010000001", client="Peak Trail Outfitters")
    assert_bad_input(run, "already connected to client 'Masala Mornings'")
    assert len(stored_logins()) == 1


def test_connect_rejects_a_token_on_stdin_with_no_browser(connectable: dict[str, Any],
                                                         dd: Callable[..., Any]) -> None:
    run = dd("connect", "meta", CLIENT, "--token-stdin", "--no-browser", input=SYSTEM_TOKEN)
    assert run.exit_code == 2
    assert "--no-browser" in run.stderr


def test_connect_one_stdin_flag_under_both_spellings_for_every_platform(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    meta = dd("connect", "meta", CLIENT, "--refresh-token-stdin", "--account", "act_1010000001",
              "--json", input=SYSTEM_TOKEN)
    google = dd("connect", "google", CLIENT, "--token-stdin", "--account", "2020000002", "--json",
                input=REFRESH_TOKEN)

    assert (meta.exit_code, google.exit_code) == (0, 0), meta.stderr + google.stderr
    assert [(r["platform"], r["login"]) for r in (meta.json(), google.json())] == [
        ("meta", "stdin"), ("google", "stdin")]
    assert sorted(row[:2] for row in accounts_in(workbook_path)) == [
        ("2020000002", "google"), ("act_1010000001", "meta")]


@pytest.mark.parametrize("args", [
    ["connect", "tiktok", CLIENT, "--token-stdin", "--account", "1"],
    ["connect", "Meta", CLIENT, "--token-stdin"],
    ["disconnect", "linkedin", CLIENT, "--yes"],
])
def test_connect_and_disconnect_an_uninstalled_platform_name_the_installed_ones(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path,
        args: list[str]) -> None:
    run = dd(*args, input=SYSTEM_TOKEN)

    error = assert_bad_input(run, f"platform {args[1]!r} is not installed", "google", "meta")
    assert SYSTEM_TOKEN not in run.stderr and "installed:" in error
    assert accounts_in(workbook_path) == [] and stored_logins() == {}


def test_connect_help_lists_examples_for_each_built_in_platform(dd: Callable[..., Any]) -> None:
    run = dd("connect", "--help")

    assert run.exit_code == 0
    for example in ('datadrip connect meta "Masala Mornings"', 'datadrip connect google "Masala Mornings"',
                    "--token-stdin", "--refresh-token-stdin"):
        assert example in run.stdout


# --- account list --------------------------------------------------------------------------------

def test_account_list_shows_every_connection(connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    connect_meta_token(dd, "act_1010000001")
    connect_google_token(dd, "2020000001")

    rows = dd("account", "list", "--json").json()

    assert [(r["client"], r["platform"], r["account_id"], r["currency"], r["status"]) for r in rows] == [
        (CLIENT, "google", "2020000001", "INR", "active"),
        (CLIENT, "meta", "act_1010000001", "INR", "active")]
    assert set(rows[0]) == {"id", "client", "agency", "platform", "account_id", "name", "currency",
                            "timezone", "login_customer_id", "token_expires_at", "status", "warning",
                            "lookback_days", "attribution_setting"}
    plain = dd("account", "list")
    assert plain.exit_code == 0 and "act_1010000001" in plain.stdout


def test_account_list_flags_a_meta_login_near_its_end(connectable: dict[str, Any], dd: Callable[..., Any],
                                                      workbook_path: Path) -> None:
    connect_meta_token(dd, "act_1010000001")
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3, hours=1)).replace(tzinfo=None)
    with sqlite3.connect(workbook_path) as connection:
        connection.execute("UPDATE ad_account SET token_expires_at = ?", (soon.isoformat(" "),))

    [row] = dd("account", "list", "--json").json()

    assert row["warning"] == 'the Meta login expires in 3 days; run: datadrip connect meta "Masala Mornings"'


def test_account_list_with_nothing_connected_says_how_to_start(connectable: dict[str, Any],
                                                              dd: Callable[..., Any]) -> None:
    assert dd("account", "list", "--json").json() == []
    assert "datadrip connect" in dd("account", "list").stderr


# --- the login lifecycle -------------------------------------------------------------------------

def test_account_check_marks_a_revoked_google_login_and_exits_4_naming_the_command(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    connect_google_token(dd, "2020000002")
    google = connectable["google"]
    httpx.post(google["revoke_url"], data={"token": REFRESH_TOKEN}, timeout=10).raise_for_status()

    run = dd("account", "check", "--json")

    assert run.exit_code == 4
    assert run.stderr.splitlines()[-2:] == [
        "error: 1 client login(s) need renewing",
        'Hint: run: datadrip connect google "Masala Mornings"']
    assert [r["status"] for r in run.json()] == ["needs_reauth"]
    [row] = dd("account", "list", "--json").json()
    assert row["status"] == "needs_reauth"
    assert row["warning"] == 'needs a new login; run: datadrip connect google "Masala Mornings"'
    assert "account.needs_reauth" in [e["action"] for e in dd("audit", "--json").json()]


def test_account_check_warns_when_a_connected_platforms_api_version_nears_its_sunset(
        connectable: dict[str, Any], dd: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with pinned_clock(dt.date(2026, 8, 20)):
        connect_google_token(dd, "2020000002")
        monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v22")  # sunset 2026-10-07
        monkeypatch.setenv("DATADRIP_META_API_VERSION", "v21.0")  # ends soon too, but unconnected
        run = dd("account", "check", "--json")

        assert run.exit_code == 0, run.stderr
        assert [r["status"] for r in run.json()] == ["active"]
        assert run.stderr.splitlines() == [
            "warning: the Google Ads API v22 stops answering on 2026-10-07 (in 48 days); "
            "set [google] api_version to a newer version"]
        monkeypatch.setenv("DATADRIP_GOOGLE_API_VERSION", "v23")  # 2027-02-01: far enough
        assert "warning" not in dd("account", "check").stderr


def test_account_check_passes_working_logins_and_records_the_meta_expiry(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    connect_meta_token(dd, "act_1010000001")
    connect_google_token(dd, "2020000002")

    run = dd("account", "check", "--json")

    assert run.exit_code == 0, run.stderr
    assert [(r["account_id"], r["status"], r["warning"]) for r in run.json()] == [
        ("2020000002", "active", None), ("act_1010000001", "active", None)]


def test_account_check_retries_busy_token_endpoints_and_keeps_the_logins_active(
        connectable: dict[str, Any], dd: Callable[..., Any], sandbox: Any) -> None:
    from datadrip.sandbox.faults import FaultRule

    connect_meta_token(dd, "act_1010000001")
    connect_google_token(dd, "2020000002")
    # What the daemon's refresh_tokens job meets on a bad morning: one 503 from each platform.
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path="/token$", nth=1))
    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", path="debug_token$", nth=1))

    run = dd("account", "check", "--json")

    assert run.exit_code == 0, run.stderr
    assert [(r["account_id"], r["status"]) for r in run.json()] == [
        ("2020000002", "active"), ("act_1010000001", "active")]
    assert "account.needs_reauth" not in [e["action"] for e in dd("audit", "--json").json()]


def test_account_check_with_a_login_missing_from_the_store_needs_reauth(
        connectable: dict[str, Any], dd: Callable[..., Any]) -> None:
    from datadrip.platforms.registry import load_settings
    from datadrip.secrets.file import FileStore

    connect_meta_token(dd, "act_1010000001")
    [ref] = stored_logins()
    FileStore(load_settings().paths.data_dir).delete(ref)

    run = dd("account", "check")

    assert run.exit_code == 4
    assert 'datadrip connect meta "Masala Mornings"' in run.stderr


# --- disconnect ----------------------------------------------------------------------------------

def test_disconnect_one_account_keeps_the_login_the_other_still_uses(
        connectable: dict[str, Any], dd: Callable[..., Any], workbook_path: Path) -> None:
    connect_meta_token(dd, "act_1010000001", "act_1010000002")

    run = dd("disconnect", "meta", CLIENT, "--account", "1010000001", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"client": CLIENT, "platform": "meta", "accounts": ["act_1010000001"],
                          "metric_rows_removed": 0, "logins_revoked": 0, "notes": []}
    assert [row[0] for row in accounts_in(workbook_path)] == ["act_1010000002"]
    assert len(stored_logins()) == 1


def test_disconnect_the_last_account_deletes_a_stdin_token_without_revoking_it(
        connectable: dict[str, Any], dd: Callable[..., Any], sandbox: Any) -> None:
    connect_meta_token(dd, "act_1010000001")

    run = dd("disconnect", "meta", CLIENT, "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["logins_revoked"] == 0
    assert "only deleted here, not revoked" in run.json()["notes"][0]
    assert stored_logins() == {}
    graph = connectable["meta"]["graph_url"]
    still = httpx.get(f"{graph}/v26.0/me/adaccounts", params={"access_token": SYSTEM_TOKEN}, timeout=10)
    assert still.status_code == 200  # the agency's own token still works elsewhere


def test_disconnect_with_metrics_off_a_terminal_needs_yes(connectable: dict[str, Any],
                                                         dd: Callable[..., Any],
                                                         workbook_path: Path) -> None:
    connect_meta_token(dd, "act_1010000001")
    with sqlite3.connect(workbook_path) as connection:
        [(account_id,)] = connection.execute("SELECT id FROM ad_account").fetchall()
        connection.execute("INSERT INTO entity (id, account_id, level, external_id, name, status, "
                           "updated_at) VALUES ('e1', ?, 'campaign', 'c1', 'Diwali', '', "
                           "'2026-11-01 00:00:00')", (account_id,))
        connection.execute("INSERT INTO metric_daily (account_id, level, entity_id, date, "
                           "spend_micros, impressions, clicks, conversions_millionths, "
                           "conversion_value_micros, "
                           "synced_at) VALUES (?, 'campaign', 'e1', '2026-11-01', 1000000, 10, 1, "
                           "0, 0, '2026-11-02 00:00:00')", (account_id,))

    refused = dd("disconnect", "meta", CLIENT)
    assert_bad_input(refused, "has 1 metric rows")
    assert "--yes" in refused.stderr
    assert len(accounts_in(workbook_path)) == 1 and len(stored_logins()) == 1

    done = dd("disconnect", "meta", CLIENT, "--yes", "--json")
    assert done.exit_code == 0, done.stderr
    assert done.json()["metric_rows_removed"] == 1
    assert accounts_in(workbook_path) == []


@pytest.mark.parametrize("args, needle", [
    (["disconnect", "tiktok", CLIENT], "tiktok"),
    (["disconnect", "google", CLIENT], "has no Google Ads account"),
    (["disconnect", "meta", CLIENT, "--account", "act_42"], "no meta account act_42"),
    (["disconnect", "meta", "Nobody"], "no client 'Nobody'"),
])
def test_disconnect_refuses_what_is_not_there(connectable: dict[str, Any], dd: Callable[..., Any],
                                              args: list[str], needle: str) -> None:
    connect_meta_token(dd, "act_1010000001")
    run = dd(*args)
    assert run.exit_code == 2, run.stderr
    assert needle in run.stderr
    assert len(stored_logins()) == 1


# --- secrets stay secret -------------------------------------------------------------------------

def test_no_token_reaches_the_workbook_output_or_audit(connectable: dict[str, Any],
                                                       dd: Callable[..., Any], workbook_path: Path,
                                                       home: Path) -> None:
    runs = [connect_meta_token(dd, "act_1010000001"), connect_google_token(dd, "2020000002"),
            dd("account", "list", "--json"), dd("account", "check", "--json"),
            dd("audit", "--json"), dd("config", "show", "--json"),
            dd("--debug", "connect", "meta", CLIENT, "--token-stdin", "--account", "act_999",
               input=SYSTEM_TOKEN),  # a failure with its traceback
            dd("disconnect", "google", CLIENT, "--json")]
    assert "Traceback" in runs[-2].stderr
    secrets = [SYSTEM_TOKEN, REFRESH_TOKEN, connectable["meta"]["app_secret"],
               connectable["google"]["client_secret"]]
    for run in runs:
        for secret in secrets:
            assert secret not in run.stdout + run.stderr
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in secrets), path


def test_removing_the_client_forgets_its_logins(connectable: dict[str, Any], dd: Callable[..., Any],
                                                workbook_path: Path) -> None:
    connect_meta_token(dd, "act_1010000001")
    assert len(stored_logins()) == 1

    assert dd("client", "remove", CLIENT, "--yes").exit_code == 0

    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


def test_the_connect_command_in_hints_survives_a_shell_for_any_client_name() -> None:
    import subprocess

    from datadrip.workbook.accounts import connect_command

    name = "Bob's \"Best\" $HOME `Bakery`"
    command = connect_command("google", name)
    echoed = subprocess.run(["sh", "-c", f"printf %s {command.removeprefix('datadrip connect google ')}"],
                            capture_output=True, text=True, check=True).stdout
    assert echoed == name
