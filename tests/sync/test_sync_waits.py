"""A sync's waits against the sandbox over real HTTP: a rate limit is one line on stderr with the
time it ends in the agency's timezone, kept for `status --json`; a wait longer than [sync]
max_wait_seconds fails that account at once with when it may resume, and the others go on; a busy
Google token endpoint is retried, never taken for a dead login. The sandbox's rate limits are a
few seconds long here, so the waits are real but short."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sync_support import sql

from datadrip.sandbox.faults import FaultRule

MASALA = "act_1010000001"
WAIT_LINE = re.compile(
    r"^Masala Mornings · meta act_1010000001: Meta asks us to wait 3 seconds \(HTTP 400, Meta error "
    r"80000: rate limited, ad account usage 102%\); resuming at (\d\d:\d\d) \(Asia/Kolkata\)$",
    re.MULTILINE)


def kolkata(moment: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    return f"{moment.astimezone(ZoneInfo('Asia/Kolkata')):%H:%M}"


def by_account(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["account_id"]: record for record in records}


def test_sync_meta_rate_limit_is_one_line_on_stderr_and_kept_for_status(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=MASALA, nth=1, regain=3))
    before = dt.datetime.now(dt.UTC)

    run = dd("sync", "--client", "Masala Mornings", "--platform", "meta", "--level", "campaign",
             "--json")

    after = dt.datetime.now(dt.UTC)
    assert run.exit_code == 0, run.stderr
    found = WAIT_LINE.search(run.stderr)
    assert found is not None, run.stderr
    assert found.group(1) in {kolkata(before + dt.timedelta(seconds=3)),
                              kolkata(after + dt.timedelta(seconds=3))}
    assert (after - before).total_seconds() >= 3  # the wait was taken, not skipped
    account = run.json()["accounts"][0]
    assert account["status"] == "succeeded"
    assert {k: account["wait"][k] for k in ("service", "kind", "seconds", "gave_up")} == {
        "service": "Meta", "kind": "rate_limit", "seconds": 3.0, "gave_up": False}

    status = dd("status", "--json")
    wait = by_account(status.json()["accounts"])[MASALA]["wait"]
    assert wait["text"] == found.group(0).split(": ", 1)[1]
    assert wait["waiting"] is False and wait["gave_up"] is False  # the run is over
    assert dt.datetime.fromisoformat(wait["until"]) - dt.datetime.fromisoformat(wait["since"]) == \
        dt.timedelta(seconds=3)


def test_sync_short_waits_are_not_told(connected: dict[str, Any], dd: Callable[..., Any],
                                       sandbox: Any) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", path=MASALA, nth=1))

    run = dd("sync", "--client", "Masala Mornings", "--platform", "meta", "--level", "campaign",
             "--json")

    assert run.exit_code == 0, run.stderr
    assert "Meta" not in run.stderr  # one retry after a second or so: the ordinary rhythm
    assert run.json()["accounts"][0]["wait"] is None


def test_sync_wait_beyond_max_wait_seconds_fails_that_account_with_its_resume_time(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any, workbook_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SYNC_MAX_WAIT_SECONDS", "60")
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=MASALA, nth=1))  # 5 min
    started = time.monotonic()
    before = dt.datetime.now(dt.UTC)

    run = dd("sync", "--platform", "meta", "--level", "campaign", "--json")

    assert time.monotonic() - started < 60  # nobody sat out the five minutes
    assert run.exit_code == 3, run.stderr
    accounts = by_account(run.json()["accounts"])
    assert {k: a["status"] for k, a in accounts.items()} == {
        MASALA: "failed", "act_1010000002": "succeeded", "act_1010000003": "succeeded"}
    failed = accounts[MASALA]
    resume = kolkata(dt.datetime.fromisoformat(failed["resume_at"]))
    assert abs(dt.datetime.fromisoformat(failed["resume_at"]) - before - dt.timedelta(minutes=5)) < \
        dt.timedelta(seconds=30)
    assert failed["error"] == (
        "Meta asks to wait about 5 minutes before the next call (HTTP 400, Meta error 80000: rate "
        "limited, ad account usage 102%); longer than [sync] max_wait_seconds (60 s) allows, so it "
        f"may resume at {resume} (Asia/Kolkata)")
    assert failed["hint"].startswith(f"Sync again after {resume} (Asia/Kolkata)")
    assert failed["wait"]["gave_up"] is True and failed["wait"]["seconds"] == 300
    assert f"error: Masala Mornings · meta {MASALA}: {failed['error']}" in run.stderr
    assert "Meta asks us to wait" not in run.stderr  # refused, not waited: said once, as the error

    recorded = sql(workbook_path, "SELECT r.error FROM sync_run r JOIN ad_account a "
                                  "ON a.id = r.account_id WHERE a.external_id = ?", MASALA)
    assert recorded == [(failed["error"],)]
    status = dd("status", "--json")
    assert status.exit_code == 1
    assert f"Masala Mornings · meta {MASALA} failed its last sync: {failed['error']}" in \
        status.json()["problems"]
    assert by_account(status.json()["accounts"])[MASALA]["wait"]["gave_up"] is True


def test_sync_waits_of_one_request_beyond_max_retry_seconds_fail_it_naming_that_setting(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SYNC_MAX_RETRY_SECONDS", "4")
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=MASALA, nth=1, times=2,
                                     regain=3))

    run = dd("sync", "--client", "Masala Mornings", "--platform", "meta", "--level", "campaign",
             "--json")

    assert run.exit_code == 1, run.stderr
    [account] = run.json()["accounts"]
    assert WAIT_LINE.search(run.stderr)  # the first 3 s were waited, and said
    assert account["error"].startswith(
        "Meta asks to wait 3 seconds before the next call (HTTP 400, Meta error 80000: rate "
        "limited, ad account usage 102%) after 2 attempts and 3 seconds of waiting; longer than "
        "[sync] max_retry_seconds (4 s) allows, so it may resume at ")
    assert account["hint"].endswith("(or raise [sync] max_retry_seconds to wait it out).")


def test_sync_google_token_endpoint_503_is_retried_not_a_new_login(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path="/token$", nth=1))

    run = dd("sync", "--platform", "google", "--level", "campaign", "--json")

    assert run.exit_code == 0, run.stderr
    assert {a["status"] for a in run.json()["accounts"]} == {"succeeded"}
    listed = dd("account", "list", "--json").json()
    assert {a["status"] for a in listed if a["platform"] == "google"} == {"active"}


def test_sync_google_token_endpoint_down_fails_with_exit_1_not_a_login(
        connected: dict[str, Any], dd: Callable[..., Any], sandbox: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SYNC_MAX_RETRY_SECONDS", "4")  # keep the backoff short
    sandbox.app.faults.add(FaultRule("unavailable", platform="google", path="/token$", rate=1.0))

    run = dd("sync", "--platform", "google", "--level", "campaign", "--json")

    assert run.exit_code == 1, run.stderr
    accounts = run.json()["accounts"]
    assert {(a["status"], a["needs_login"]) for a in accounts} == {("failed", False)}
    assert all(a["error"].startswith("Google's token endpoint kept failing (HTTP 503 "
                                     "temporarily_unavailable)") for a in accounts)
    listed = dd("account", "list", "--json").json()
    assert {a["status"] for a in listed if a["platform"] == "google"} == {"active"}


@pytest.mark.parametrize(("kind", "reason", "seconds", "expected"), [
    ("rate_limit", "ad account usage 100%", 300,
     "Meta asks us to wait about 5 minutes (ad account usage 100%); resuming at 07:15 (Asia/Kolkata)"),
    ("pace", "ad account usage 90%", 80,
     "Meta usage is high (ad account usage 90%); slowing down for 80 seconds, resuming at 07:11 "
     "(Asia/Kolkata)"),
    ("retry", "HTTP 503", 4,
     "Meta failed (HTTP 503); trying again in 4 seconds, at 07:10 (Asia/Kolkata)"),
    ("poll", "report run for 2026-11-01..2026-12-06, 40% done", 8,
     "Meta is still preparing the report run for 2026-11-01..2026-12-06, 40% done; checking again "
     "in 8 seconds, at 07:10 (Asia/Kolkata)"),
    ("rate_limit", "ad account usage 100%", 17 * 3600,
     "Meta asks us to wait about 17 hours (ad account usage 100%); resuming at 2026-12-08 00:10 "
     "(Asia/Kolkata)"),  # another day there: dated
])
def test_wait_sentence_says_each_kind_with_its_end_in_the_agencys_timezone(
        kind: str, reason: str, seconds: float, expected: str) -> None:
    from datadrip.platforms.http import Wait
    from datadrip.sync.run import wait_sentence

    now = dt.datetime(2026, 12, 7, 1, 40, tzinfo=dt.UTC)  # 07:10 in Kolkata

    assert wait_sentence(Wait("Meta", seconds, reason, kind), now + dt.timedelta(seconds=seconds),
                         "Asia/Kolkata", now) == expected
