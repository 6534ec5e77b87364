"""The sandbox's server, controls and fault rules, and `datadrip sandbox serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from datadrip.platforms.registry import platform
from datadrip.sandbox.app import Sandbox, SandboxConfig
from datadrip.sandbox.faults import FaultPlan, FaultRule
from datadrip.sandbox.server import SandboxServer
from sandbox.meta_support import GRAPH, INR, TOKEN, insights

# --- fault rules ------------------------------------------------------------------------------


def test_faults_nth_rule_fires_on_that_request_and_the_times_after() -> None:
    plan = FaultPlan([FaultRule("server_error", nth=2, times=2)])

    fired = [plan.pick("meta", "/meta/graph/v26.0/me", None) is not None for _ in range(5)]

    assert fired == [False, True, True, False, False]


def test_faults_rule_matches_only_its_platform_and_path() -> None:
    plan = FaultPlan([FaultRule("rate_limit", platform="google", path=r"searchStream$", nth=1)])

    assert plan.pick("meta", "/meta/graph/v26.0/act_1/insights", None) is None
    assert plan.pick("google", "/google/ads/v26/customers:listAccessibleCustomers", None) is None
    rule = plan.pick("google", "/google/ads/v26/customers/1/googleAds:searchStream", None)
    assert rule is not None and rule.kind == "rate_limit"


def test_faults_rate_is_deterministic_for_a_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan([FaultRule("unavailable", rate=0.3)], seed=seed)
        return [plan.pick("meta", "/meta/x", None) is not None for _ in range(200)]

    assert pattern(7) == pattern(7)
    assert 30 < sum(pattern(7)) < 90


def test_faults_header_fails_just_that_request() -> None:
    plan = FaultPlan()

    rule = plan.pick("meta", "/meta/graph/v26.0/me", "slow; delay=0.5")
    assert rule is not None and rule.kind == "slow" and rule.delay == 0.5
    assert plan.pick("meta", "/meta/graph/v26.0/me", None) is None


@pytest.mark.parametrize("bad", [{"kind": "flood", "nth": 1}, {"kind": "slow"},
                                 {"kind": "slow", "nth": 1, "when": "now"}])
def test_faults_bad_rules_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        FaultRule.from_dict(bad)


# --- the application's own controls -----------------------------------------------------------


def test_server_describes_its_urls_and_credentials(sandbox: SandboxServer,
                                                   sandbox_http: httpx.Client) -> None:
    description = sandbox_http.get("/_sandbox").json()

    base = sandbox.base_url
    assert description["meta"]["graph_url"] == f"{base}/meta/graph"
    assert description["meta"]["dialog_url"] == f"{base}/meta/www"
    assert description["meta"]["api_version"] == "v26.0"
    assert all(i.startswith("act_") for i in description["meta"]["ad_account_ids"])
    assert description["google"]["api_url"] == f"{base}/google/ads"
    assert description["google"]["token_url"] == f"{base}/google/oauth/token"
    assert description["google"]["api_version"] == "v26"
    assert set(description["google"]) >= {"auth_url", "client_id", "client_secret",
                                          "access_token", "refresh_token", "customer_ids"}
    assert description["email"] == {
        "resend_url": f"{base}/email/resend", "sendgrid_url": f"{base}/email/sendgrid",
        "resend_api_key": "re_sandbox_resend_api_key", "sendgrid_api_key": "SG.sandbox-sendgrid.api-key"}
    assert description["openai"] == {"base_url": f"{base}/openai/v1", "api_key": "sk-sandbox-openai-key-0001",
                                     "model": "gpt-4o-mini"}
    assert {story["kind"] for story in description["stories"]} == {
        "cpa_doubles", "ctr_fatigue", "overspend", "pmax", "budget_raise"}


def test_server_mounts_every_installed_emulation_and_says_how_to_connect_to_it(
        sandbox_http: httpx.Client) -> None:
    description = sandbox_http.get("/_sandbox").json()

    assert description["platforms"] == ["google", "meta"]  # the datadrip.sandbox entry points
    for name in description["platforms"]:
        offered, plugin = description[name]["connect"], platform(name)
        # Every setting it names is a key of the platform plug-in's own [name] section, and every
        # secret one of the plug-in's secrets: the demo writes them without knowing the platform.
        assert set(offered["settings"]) <= set(plugin.settings_model.model_fields)
        assert set(offered["secrets"]) <= set(plugin.secrets)
        assert offered["token"] and offered["account_ids"]
        assert [plugin.account_id(i) for i in offered["account_ids"]] == offered["account_ids"]
    # Only accounts with metrics of their own: no Google manager, no cancelled account.
    assert description["google"]["connect"]["account_ids"] == ["2020000001", "2020000002",
                                                                 "2020000003"]
    assert "9000000001" in description["google"]["customer_ids"]


def test_server_clock_advances_on_request(sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    before = sandbox.app.state.clock.now()

    answer = sandbox_http.post("/_sandbox/clock", json={"days": 2, "seconds": 30})

    assert answer.status_code == 200
    assert (sandbox.app.state.clock.now() - before).total_seconds() == 2 * 86400 + 30


def test_server_fault_rules_are_added_and_cleared_over_http(
        sandbox: SandboxServer, sandbox_http: httpx.Client) -> None:
    added = sandbox_http.post("/_sandbox/faults", json={"kind": "unavailable", "nth": 3})
    refused = sandbox_http.post("/_sandbox/faults", json={"kind": "volcano", "nth": 1})

    assert added.status_code == 200
    assert refused.status_code == 400 and "volcano" in refused.json()["error"]
    assert [rule.kind for rule in sandbox.app.faults.rules()] == ["unavailable"]
    assert sandbox_http.delete("/_sandbox/faults").status_code == 200
    assert sandbox.app.faults.rules() == []


def test_server_unknown_path_is_a_json_404(sandbox_http: httpx.Client) -> None:
    answer = sandbox_http.get("/nowhere")

    assert answer.status_code == 404
    assert "no such path" in answer.json()["error"]["message"]


def test_server_truncated_body_breaks_the_client_read(sandbox_http: httpx.Client) -> None:
    with pytest.raises(httpx.HTTPError):
        sandbox_http.get("/meta/not-a-route", headers={"X-Sandbox-Fault": "truncated"})


def test_server_malformed_body_is_not_json(sandbox_http: httpx.Client) -> None:
    answer = sandbox_http.get("/google/not-a-route", headers={"X-Sandbox-Fault": "malformed"})

    with pytest.raises(ValueError):
        answer.json()


def test_server_slow_fault_delays_the_answer(sandbox_http: httpx.Client) -> None:
    start = time.monotonic()
    sandbox_http.get("/meta/not-a-route", headers={"X-Sandbox-Fault": "slow; delay=0.6"})

    assert time.monotonic() - start >= 0.6


def test_server_works_as_a_wsgi_transport() -> None:
    app = Sandbox(SandboxConfig(seed=7))
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sandbox.test") as c:
        description = c.get("/_sandbox").json()

    assert description["meta"]["graph_url"] == "http://sandbox.test/meta/graph"


def test_server_serves_requests_in_parallel(sandbox: SandboxServer) -> None:
    import concurrent.futures

    def slow_call() -> int:
        return httpx.get(f"{sandbox.base_url}/meta/x", headers={"X-Sandbox-Fault": "slow; delay=0.5"},
                         timeout=10).status_code

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: slow_call(), range(4)))

    assert codes == [404] * 4
    assert time.monotonic() - start < 1.5


def test_server_stops_and_frees_its_port() -> None:
    server = SandboxServer(SandboxConfig()).start()
    url = server.base_url
    server.stop()

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sandbox", timeout=2)


# --- datadrip sandbox serve -------------------------------------------------------------------


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "datadrip", "sandbox", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})


def test_serve_json_first_line_then_stops_cleanly_on_sigterm() -> None:
    process = _serve("--json", "--today", "2026-11-26", "--seed", "9")
    try:
        assert process.stdout is not None
        description = json.loads(process.stdout.readline())
        answer = httpx.get(f"{description['base_url']}/_sandbox", timeout=5).json()
        assert answer["meta"]["ad_account_ids"] == description["meta"]["ad_account_ids"]
        assert description["google"]["customer_ids"] and description["meta"]["app_secret"]
        # Every planted story is served by default, with the accounts it lives in.
        assert {story["kind"] for story in description["stories"]} == {
            "cpa_doubles", "ctr_fatigue", "budget_raise", "overspend", "pmax",
            "mixed_attribution", "archived_spend", "leads_halve"}
        assert {"act_1010000005", "act_1010000006", "act_1010000007"} <= set(
            description["meta"]["ad_account_ids"])
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)

    assert process.returncode == 0
    assert out == ""  # nothing after the first line
    assert "Sandbox stopped." in err


def test_serve_prints_each_platform_s_settings_token_and_accounts_for_a_person() -> None:
    process = _serve("--today", "2026-11-26", "--no-stories")
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while "Meta       accounts" not in lines[-1]:  # Meta is listed last (by name)
            lines.append(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    text = "".join(lines)
    assert lines[0].startswith("DataDrip sandbox at http://127.0.0.1:")
    assert "Meta       token        EAAB-sandbox-system-user-token  (datadrip connect meta" in text
    assert "Google Ads accounts     2020000001, 2020000002, 2020000003\n" in text  # --no-stories
    assert "Meta       accounts     act_1010000001, act_1010000002, act_1010000003\n" in text
    assert "Google Ads secret google.client_secret = sandbox-google-client-secret\n" in text


def test_serve_stops_on_sigint_too() -> None:
    process = _serve("--json")
    assert process.stdout is not None
    json.loads(process.stdout.readline())
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)

    assert process.returncode == 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_print_config_prints_and_exits_then_serve_on_that_port_answers_it(
        tmp_path: Any, dd_process: Any) -> None:
    import tomllib

    from datadrip.platforms.registry import load_settings

    port = _free_port()
    printed = dd_process("sandbox", "serve", "--port", str(port), "--print-config")  # no hang

    assert printed.exit_code == 0, printed.stderr
    assert printed.stderr == ""
    assert f"datadrip sandbox serve --port {port}" in printed.stdout.splitlines()[1]
    (tmp_path / "datadrip.toml").write_text(printed.stdout)
    loaded = load_settings(tmp_path / "datadrip.toml", env={"DATADRIP_HOME": str(tmp_path)})
    assert loaded.settings.meta.graph_url == tomllib.loads(printed.stdout)["meta"]["graph_url"] \
        == f"http://127.0.0.1:{port}/meta/graph"
    assert loaded.settings.google.token_url == f"http://127.0.0.1:{port}/google/oauth/token"

    # The second step: serve there; the printed config then reaches it.
    process = _serve("--port", str(port), "--json")
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["base_url"] == f"http://127.0.0.1:{port}"
        answer = httpx.get(f"{loaded.settings.meta.graph_url}/{GRAPH.rsplit('/', 1)[-1]}/{INR}/insights",
                           params={"access_token": TOKEN}, timeout=5)
        assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


def test_serve_busy_port_is_bad_input(sandbox: SandboxServer, dd_process: Any) -> None:
    run = dd_process("sandbox", "serve", "--port", str(sandbox.port))

    assert run.exit_code == 2
    assert run.stderr.startswith("error: cannot listen on 127.0.0.1:")


@pytest.mark.parametrize("args", [("--today", "26/11/2026"), ("--json", "--print-config"),
                                  ("--port", "70000"), ("--print-config",)])
def test_serve_bad_options_are_bad_input(dd_process: Any, args: tuple[str, ...]) -> None:
    run = dd_process("sandbox", "serve", *args)

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("error: ")


# --- revoked grants and their restoration -----------------------------------------------------


def test_revoked_token_fault_revokes_only_the_token_it_targets_and_restore_brings_it_back(
        sandbox: Any, sandbox_http: httpx.Client) -> None:
    other = sandbox.app.state.issue("meta", "USER", lifetime=None, prefix="EAAB").value
    faulted = sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": other},
                               headers={"X-Sandbox-Fault": "revoked_token"})
    assert faulted.json()["error"]["error_subcode"] == 460
    assert insights(sandbox_http, access_token=other).json()["error"]["error_subcode"] == 460
    assert insights(sandbox_http).status_code == 200  # the shared system-user token still works

    sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": TOKEN},  # now the shared one
                     headers={"X-Sandbox-Fault": "revoked_token"})
    assert insights(sandbox_http).status_code == 400
    restored = sandbox_http.post("/_sandbox/grants/restore", json={"token": TOKEN})

    assert restored.json() == {"restored": 1}
    assert insights(sandbox_http).status_code == 200
    assert insights(sandbox_http, access_token=other).status_code == 400  # only the one named
    assert sandbox_http.post("/_sandbox/grants/restore", json={}).json() == {"restored": 1}
    assert insights(sandbox_http, access_token=other).status_code == 200


def test_restore_brings_back_a_whole_google_grant(sandbox_http: httpx.Client) -> None:
    from sandbox.test_google_ads import DAILY, search

    google_token = {"Authorization": "Bearer ya29.sandbox-access-token"}
    refresh = {"grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token",
               "client_id": "sandbox-client.apps.googleusercontent.com",
               "client_secret": "sandbox-google-client-secret"}
    fresh = sandbox_http.post("/google/oauth/token", data=refresh).json()["access_token"]
    assert search(sandbox_http, "2020000002", DAILY, {**google_token, "X-Sandbox-Fault": "revoked_token"}
                  ).status_code == 401
    assert sandbox_http.post("/google/oauth/token", data=refresh).json()["error"] == "invalid_grant"

    # Named by any token of the grant: the refresh token and every access token from it return.
    restored = sandbox_http.post("/_sandbox/grants/restore", json={"token": "ya29.sandbox-access-token"})

    assert restored.json() == {"restored": 3}
    assert search(sandbox_http, "2020000002", DAILY, google_token).status_code == 200
    assert search(sandbox_http, "2020000002", DAILY, {"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert sandbox_http.post("/google/oauth/token", data=refresh).status_code == 200


@pytest.mark.parametrize("body, status", [({"token": "nobody"}, 404), ({"token": 7}, 400)])
def test_restore_refuses_an_unknown_token_or_a_bad_body(sandbox_http: httpx.Client, body: Any,
                                                        status: int) -> None:
    assert sandbox_http.post("/_sandbox/grants/restore", json=body).status_code == status
