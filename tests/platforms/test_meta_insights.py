"""Meta daily metrics against the sandbox's Graph API over real HTTP: totals to the micro, paging,
report runs, usage pacing, rate limits, faults, and reading rows."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from connector_support import RecordedSleep, record_totals, watch, world_totals

from datadrip.core.config import settings_model
from datadrip.core.errors import DataDripError, ExitCode, ReauthRequiredError, UsageError
from datadrip.platforms.base import (
    AccountRef,
    ActionCount,
    ConnectorContext,
    DateWindow,
    EntityRecord,
    FetchNotes,
    MetricRow,
    Record,
    SyncOptions,
)
from datadrip.platforms.http import RetriesExhaustedError, RetryLaterError, RetryPolicy, Wait
from datadrip.platforms.meta.connector import MetaAds, MetaApiError
from datadrip.platforms.meta.insights import SYNC_MAX_DAYS, insight_fields, parse_row
from datadrip.platforms.meta.login import REAUTH_HINT
from datadrip.platforms.meta.plugin import platform as meta_platform
from datadrip.platforms.meta.report_runs import RUN_TIMEOUT_SECONDS, next_pause
from datadrip.platforms.meta.settings import MetaSettings
from datadrip.platforms.registry import open_connector as open_registered
from datadrip.sandbox.faults import FaultRule

INR = AccountRef("meta", "act_1010000001", "Masala Mornings", "INR", "Asia/Kolkata")
USD = AccountRef("meta", "act_1010000002", "Peak Trail Outfitters", "USD", "America/New_York")
EUR = AccountRef("meta", "act_1010000003", "Bloom Botanics EU", "EUR", "Europe/Berlin")
LARGE = AccountRef("meta", "act_1010000099", "Mega Retail", "USD", "America/New_York")
LEVELS = ("campaign", "adset", "ad")
INSIGHTS = r"/act_\d+/insights$"


def meta(http: httpx.Client, settings: dict[str, Any], sleeps: RecordedSleep, **overrides: Any) -> MetaAds:
    options: dict[str, Any] = {"http": http, "graph_url": settings["graph_url"],
                               "api_version": settings["api_version"],
                               "access_token": settings["access_token"], "sleep": sleeps}
    return MetaAds(**{**options, **overrides})


def last_days(sandbox: Any, account: AccountRef, days: int) -> DateWindow:
    """The `days` account days up to the sandbox's today (today's partial day included)."""
    today = sandbox.app.state.clock.today_in(account.timezone)
    return DateWindow(today - dt.timedelta(days=days - 1), today)


def fetch(connector: MetaAds, account: AccountRef, window: DateWindow, level: str,
          options: SyncOptions | None = None, notes: FetchNotes | None = None
          ) -> tuple[list[Record], FetchNotes]:
    notes = notes if notes is not None else FetchNotes()
    return list(connector.daily_metrics(account, window, level, options or SyncOptions(), notes)), notes


def rows_by_key(records: list[Record]) -> dict[tuple[str, dt.date], MetricRow]:
    rows = [r for r in records if isinstance(r, MetricRow)]
    keyed = {(r.entity_id, r.date): r for r in rows}
    assert len(keyed) == len(rows), "an entity-day came twice"
    return keyed


def world_rows(sandbox: Any, account: AccountRef, level: str, window: DateWindow
               ) -> dict[tuple[str, dt.date], tuple[Any, ...]]:
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(account.timezone)
    return {(r.entity.id, r.date): (r.spend_micros, r.impressions, r.clicks, r.conversions,
                                    r.conversion_value_micros, r.reach)
            for r in world.rows(account.external_id, level, window.since, window.until, today)
            if r.impressions}  # days without delivery have no insights row


def posts(sent: list[httpx.Request]) -> list[dict[str, str]]:
    """The form bodies of the report runs started."""
    from urllib.parse import parse_qsl

    return [dict(parse_qsl(r.content.decode())) for r in sent if r.method == "POST"]


# --- totals, rows, entities ----------------------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("account", [INR, USD, EUR], ids=["INR", "USD", "EUR"])
def test_given_each_account_and_level_when_fetching_four_weeks_then_rows_equal_the_worlds_to_the_micro(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep,
        account: AccountRef, level: str) -> None:
    window = last_days(sandbox, account, 28)
    sent = watch(http)

    records, notes = fetch(meta(http, meta_settings, sleeps), account, window, level)

    assert record_totals(records) == world_totals(sandbox, account.external_id, window)
    got = {key: (r.spend_micros, r.impressions, r.clicks, r.conversions, r.conversion_value_micros,
                 r.reach) for key, r in rows_by_key(records).items()}
    assert got == world_rows(sandbox, account, level, window)
    assert all(isinstance(r.conversions, Decimal) for r in records if isinstance(r, MetricRow))
    assert notes == FetchNotes(attribution="7d_click_1d_view", requests=len(sent))
    assert sleeps.waits == [] and [r.method for r in sent] == ["GET"]
    params = dict(sent[0].url.params)
    assert sent[0].url.path == f"/meta/graph/v26.0/{account.external_id}/insights"
    assert params == {"level": level, "fields": insight_fields(level), "time_increment": "1",
                      "time_range": json.dumps({"since": str(window.since), "until": str(window.until)},
                                               separators=(",", ":")),
                      "limit": "500",
                      "access_token": meta_settings["access_token"]}


def test_given_ad_level_when_fetching_then_each_entity_comes_once_before_its_first_row_with_its_parent(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    window = last_days(sandbox, INR, 14)
    world = sandbox.app.world
    today = sandbox.app.state.clock.today_in(INR.timezone)
    expected = {(level, e.id): EntityRecord(level, e.id, e.name_on(today), e.parent_id)
                for level in LEVELS for e in world.entities(INR.external_id, level)}

    records, _ = fetch(meta(http, meta_settings, sleeps), INR, window, "ad")

    seen: set[tuple[str, str]] = set()
    for record in records:
        if isinstance(record, EntityRecord):
            key = (record.level, record.external_id)
            assert key not in seen and record == expected[key]
            parent_level = {"adset": "campaign", "ad": "adset"}.get(record.level)
            assert parent_level is None or (parent_level, record.parent_id) in seen
            seen.add(key)
        else:
            assert ("ad", record.entity_id) in seen and record.level == "ad"
    assert {level for level, _ in seen} == set(LEVELS)
    assert any(e.name.endswith("(renamed)") for e in records if isinstance(e, EntityRecord))


def test_given_a_small_page_size_when_fetching_then_every_page_is_followed_and_totals_hold(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    window = last_days(sandbox, USD, 14)
    sent = watch(http)

    records, notes = fetch(meta(http, meta_settings, sleeps, insights_page_limit=5), USD, window,
                           "campaign")

    rows = rows_by_key(records)
    assert len(sent) == notes.requests == -(-len(rows) // 5) > 4
    assert all(r.url.params["limit"] == "5" for r in sent)
    assert [r.url.params.get("after") is None for r in sent] == [True] + [False] * (len(sent) - 1)
    assert record_totals(records) == world_totals(sandbox, USD.external_id, window)


def test_given_notes_that_already_name_another_attribution_when_fetching_then_it_becomes_mixed(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    notes = FetchNotes(attribution="1d_click")

    fetch(meta(http, meta_settings, sleeps), EUR, last_days(sandbox, EUR, 3), "campaign", notes=notes)

    assert notes.attribution == "mixed"


@pytest.mark.parametrize(("actions", "expected"), [
    (("link_click",), "link_click"), (("link_click", "omni_purchase", "link_click"), "both")])
def test_given_configured_conversion_actions_when_fetching_then_they_are_counted_instead_of_purchases(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep,
        actions: tuple[str, ...], expected: str) -> None:
    window = last_days(sandbox, INR, 7)
    raw = http.get(f"{meta_settings['graph_url']}/v26.0/{INR.external_id}/insights", params={
        "access_token": meta_settings["access_token"], "level": "campaign", "time_increment": "1",
        "fields": "campaign_id,actions,action_values,date_start,date_stop", "limit": "500",
        "time_range": json.dumps({"since": str(window.since), "until": str(window.until)})}).json()

    def total(field: str, kind: str) -> Decimal:
        return sum((Decimal(a["value"]) for row in raw["data"] for a in row.get(field, [])
                    if a["action_type"] == kind), Decimal(0))

    records, _ = fetch(meta(http, meta_settings, sleeps), INR, window, "campaign",
                       SyncOptions(conversion_actions=actions))

    *_, conversions, value = record_totals(records)
    purchases = world_totals(sandbox, INR.external_id, window)
    assert total("actions", "link_click") > 0
    if expected == "link_click":
        assert (conversions, value) == (total("actions", "link_click"), 0)
    else:
        assert (conversions, value) == (total("actions", "link_click") + purchases[3], purchases[4])


# --- report runs ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "days"), [("ad", SYNC_MAX_DAYS["ad"] + 1),
                                              ("campaign", SYNC_MAX_DAYS["campaign"] + 1)])
def test_given_a_window_longer_than_the_sync_limit_when_fetching_then_a_report_run_brings_the_rows(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep,
        level: str, days: int) -> None:
    window = last_days(sandbox, EUR, days)
    sent = watch(http)

    told: list[Wait] = []
    records, notes = fetch(meta(http, meta_settings, sleeps, on_wait=told.append), EUR, window, level)

    assert record_totals(records) == world_totals(sandbox, EUR.external_id, window)
    # Only the poll over 2 s is told, with how far the run had got.
    assert told == [Wait("Meta", 3.0, f"report run for {window}, 50% done", "poll")]
    assert {k: v[:5] for k, v in world_rows(sandbox, EUR, level, window).items()} == {
        k: (r.spend_micros, r.impressions, r.clicks, r.conversions, r.conversion_value_micros)
        for k, r in rows_by_key(records).items()}
    [form] = posts(sent)
    assert form == {"level": level, "fields": insight_fields(level), "time_increment": "1",
                    "time_range": json.dumps({"since": str(window.since), "until": str(window.until)},
                                             separators=(",", ":")),
                    "access_token": meta_settings["access_token"]}
    assert sent[0].url.path == f"/meta/graph/v26.0/{EUR.external_id}/insights"
    assert "access_token" not in sent[0].url.params  # the token travels in the form body
    polls = [r for r in sent if r.method == "GET" and not r.url.path.endswith("/insights")]
    # Not started after 1 s: wait 2 s; half done after 3 s: wait the 3 s it should still need.
    assert len(polls) == 3 and sleeps.waits == [1.0, 2.0, 3.0]
    assert notes.requests == len(sent) and notes.attribution == "7d_click_1d_view"
    assert notes.throttled_seconds == 0 and notes.warnings == []


def test_given_a_large_account_when_meta_asks_to_reduce_the_data_then_a_report_run_is_used_at_once(
        large_sandbox: Any, http: httpx.Client, sleeps: RecordedSleep) -> None:
    settings = large_sandbox.app.describe(large_sandbox.base_url)["meta"]
    window = last_days(large_sandbox, LARGE, 30)  # 200 ad sets × 30 days: above the 5,000 rows
    sent = watch(http)

    records, notes = fetch(meta(http, settings, sleeps), LARGE, window, "adset")

    assert record_totals(records) == world_totals(large_sandbox, LARGE.external_id, window)
    assert len(rows_by_key(records)) > 5000
    gets = [r for r in sent if r.method == "GET" and r.url.path.endswith(f"{LARGE.external_id}/insights")]
    assert len(gets) == 1  # the answer to reduce the data is not retried
    assert len(posts(sent)) == 1 and sleeps.waits == [1.0, 2.0, 3.0]
    assert notes.requests == len(sent)


def test_given_reduce_data_on_a_later_page_when_fetching_then_the_report_run_does_not_repeat_rows(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("reduce_data", platform="meta", path=INSIGHTS, nth=3))
    window = last_days(sandbox, INR, 10)
    sent = watch(http)

    records, _ = fetch(meta(http, meta_settings, sleeps, insights_page_limit=10), INR, window, "adset")

    assert record_totals(records) == world_totals(sandbox, INR.external_id, window)
    assert len(rows_by_key(records)) == len(world_rows(sandbox, INR, "adset", window))
    assert [r.method for r in sent[:4]] == ["GET", "GET", "GET", "POST"]


def test_given_reduce_data_while_reading_a_report_run_when_fetching_then_the_page_size_halves(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("reduce_data", platform="meta", path=r"/\d{6,}/insights$", nth=1))
    window = last_days(sandbox, USD, 40)
    sent = watch(http)

    records, _ = fetch(meta(http, meta_settings, sleeps), USD, window, "ad")

    reads = [r.url.params["limit"] for r in sent if r.url.path.endswith("/insights") and r.method == "GET"]
    assert reads[:2] == ["500", "250"]
    assert record_totals(records) == world_totals(sandbox, USD.external_id, window)


def test_given_a_report_run_that_fails_when_fetching_then_the_window_is_split_and_totals_hold(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("job_failed", platform="meta", path=INSIGHTS, nth=1))
    window = last_days(sandbox, INR, 45)
    sent = watch(http)

    records, notes = fetch(meta(http, meta_settings, sleeps), INR, window, "ad")

    assert record_totals(records) == world_totals(sandbox, INR.external_id, window)
    assert len(rows_by_key(records)) == len(world_rows(sandbox, INR, "ad", window))
    ranges = [json.loads(form["time_range"]) for form in posts(sent)]
    middle = window.since + dt.timedelta(days=22)
    assert ranges == [{"since": str(window.since), "until": str(window.until)},
                      {"since": str(window.since), "until": str(middle)},
                      {"since": str(middle + dt.timedelta(days=1)), "until": str(window.until)}]
    assert len(notes.warnings) == 1 and "'Job Failed'" in notes.warnings[0]
    entities = [r for r in records if isinstance(r, EntityRecord)]
    assert len(entities) == len({(e.level, e.external_id) for e in entities})


def test_given_report_runs_that_always_fail_when_fetching_then_a_clear_error_after_single_days(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("job_failed", platform="meta", path=INSIGHTS, rate=1.0))
    window = last_days(sandbox, INR, 32)
    sent = watch(http)

    with pytest.raises(DataDripError, match=r"Meta's report run for act_1010000001 on \d{4}-\d\d-\d\d "
                                            r"ended with 'Job Failed', even for a single day"):
        fetch(meta(http, meta_settings, sleeps), INR, window, "ad")

    assert [json.loads(f["time_range"])["since"] == str(window.since) for f in posts(sent)] == [True] * 6


def test_given_a_report_run_that_never_finishes_when_polling_then_gives_up_after_the_timeout(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.config = replace(sandbox.app.config, async_polls=10_000)

    with pytest.raises(DataDripError, match=r"did not finish within 30 minutes") as caught:
        fetch(meta(http, meta_settings, sleeps), EUR, last_days(sandbox, EUR, 40), "ad")

    assert sum(sleeps.waits) <= RUN_TIMEOUT_SECONDS < sum(sleeps.waits) + 30
    assert sleeps.waits[:6] == [1, 2, 4, 8, 16, 30] and max(sleeps.waits) == 30
    assert caught.value.hint is not None and "--since" in caught.value.hint


@pytest.mark.parametrize(("pause", "waited", "percent", "expected"), [
    (16.0, 31.0, 0, 30.0),      # not started or no progress: the pause grows, up to 30 s
    (8.0, 15.0, None, 16.0),    # no percentage in the answer
    (8.0, 15.0, "42", 16.0),    # a percentage that is not a number is not believed
    (8.0, 15.0, True, 16.0),
    (16.0, 16.0, 80, 4.0),      # 80 % after 16 s: about 4 s to go
    (2.0, 3.0, 50, 3.0),
    (4.0, 7.0, 10, 8.0),        # 10 % after 7 s: 63 s to go, but pauses still only double
    (16.0, 31.0, 99.5, 1.0),    # almost done: never sooner than 1 s
    (8.0, 15.0, 100, 16.0),     # 100 % but not yet "Job Completed": keep growing
])
def test_the_pause_between_polls_follows_the_runs_progress_when_meta_reports_it(
        pause: float, waited: float, percent: Any, expected: float) -> None:
    assert next_pause(pause, waited, percent) == pytest.approx(expected)


# --- pacing, rate limits, retries ----------------------------------------------------------------

def test_given_usage_above_the_threshold_when_fetching_then_pauses_before_the_next_call(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("high_usage", platform="meta", path=INSIGHTS, nth=1, times=2))
    window = last_days(sandbox, USD, 14)

    told: list[Wait] = []
    records, notes = fetch(meta(http, meta_settings, sleeps, insights_page_limit=10,
                                on_wait=told.append), USD, window, "campaign")

    assert sleeps.waits == [80.0, 80.0]  # 90 %: 10 s at 75 %, doubling every 5 points
    assert told == [Wait("Meta", 80.0, "ad account usage 90%", "pace")] * 2
    assert notes.throttled_seconds == 160.0 and notes.requests == 3  # the pauses come between them
    assert record_totals(records) == world_totals(sandbox, USD.external_id, window)


def test_given_usage_pacing_longer_than_the_policys_cap_when_fetching_then_the_cap_is_waited(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("high_usage", platform="meta", path=INSIGHTS, nth=1))

    _, notes = fetch(meta(http, meta_settings, sleeps, insights_page_limit=10,
                          retry=RetryPolicy(max_wait=30)), USD, last_days(sandbox, USD, 7), "campaign")

    assert sleeps.waits == [30.0] and notes.throttled_seconds == 30.0


def test_given_a_rate_limit_the_policy_can_wait_out_when_fetching_then_waits_and_recovers(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=INSIGHTS, nth=1))
    window = last_days(sandbox, INR, 7)

    told: list[Wait] = []
    records, notes = fetch(meta(http, meta_settings, sleeps, retry=RetryPolicy(max_wait=600),
                                on_wait=told.append), INR, window, "adset")

    assert sleeps.waits == [300.0]  # estimated_time_to_regain_access: 5 minutes
    assert told == [Wait("Meta", 300.0, "HTTP 400, Meta error 80000: rate limited, ad account usage "
                                        "102%", "rate_limit")]
    assert notes.throttled_seconds == 300.0 and notes.requests == 2
    assert record_totals(records) == world_totals(sandbox, INR.external_id, window)


def test_given_a_rate_limit_longer_than_the_policy_allows_when_fetching_then_retry_later(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=INSIGHTS, nth=1))

    with pytest.raises(RetryLaterError, match=r"Meta asks to wait about 5 minutes before the next "
                                              r"call \(HTTP 400, Meta error 80000") as caught:
        fetch(meta(http, meta_settings, sleeps), INR, last_days(sandbox, INR, 7), "adset")

    assert caught.value.retry_after == 300.0 and sleeps.waits == []


def test_given_a_rate_limit_that_outlasts_the_total_budget_when_fetching_then_retry_later(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=INSIGHTS, nth=1, times=10))
    notes = FetchNotes()

    with pytest.raises(RetryLaterError, match=r"\(HTTP 400, Meta error 80000: rate limited, ad "
                                              r"account usage 102%\) after 3 attempts and about 10 "
                                              r"minutes of waiting$"):
        fetch(meta(http, meta_settings, sleeps, retry=RetryPolicy(max_wait=600, max_total=700)), INR,
              last_days(sandbox, INR, 7), "adset", notes=notes)

    assert sleeps.waits == [300.0, 300.0] and notes.throttled_seconds == 600.0 and notes.requests == 3


def test_given_a_burst_of_500s_when_fetching_then_backs_off_and_completes(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("server_error", platform="meta", path=INSIGHTS, nth=1, times=3))
    window = last_days(sandbox, EUR, 7)

    records, notes = fetch(meta(http, meta_settings, sleeps), EUR, window, "ad")

    assert len(sleeps.waits) == 3 and sleeps.waits == sorted(sleeps.waits)
    assert notes.requests == 4 and notes.throttled_seconds == 0
    assert record_totals(records) == world_totals(sandbox, EUR.external_id, window)


def test_given_500s_that_never_stop_when_fetching_then_retries_are_exhausted(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("unavailable", platform="meta", path=INSIGHTS, rate=1.0))

    with pytest.raises(RetriesExhaustedError, match=r"Meta kept failing \(HTTP 503, Meta error 2\) "
                                                    r"after 5 attempts$"):
        fetch(meta(http, meta_settings, sleeps), EUR, last_days(sandbox, EUR, 7), "ad")


def test_given_a_truncated_page_when_fetching_then_it_is_read_again(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("truncated", platform="meta", path=INSIGHTS, nth=2))
    window = last_days(sandbox, USD, 7)

    records, notes = fetch(meta(http, meta_settings, sleeps, insights_page_limit=10), USD, window, "ad")

    assert len(sleeps.waits) == 1
    assert record_totals(records) == world_totals(sandbox, USD.external_id, window)


def test_given_a_malformed_page_when_fetching_then_a_clear_error(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("malformed", platform="meta", path=INSIGHTS, nth=1))

    with pytest.raises(DataDripError, match=r"Meta answered act_1010000002/insights with something that "
                                            r"is not a JSON object \(HTTP 200\)"):
        fetch(meta(http, meta_settings, sleeps), USD, last_days(sandbox, USD, 7), "ad")


# --- logins and permissions ----------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "subcode"), [("expired_token", 463), ("revoked_token", 460)])
def test_given_a_token_meta_no_longer_accepts_when_fetching_then_reauth_is_required(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep,
        kind: str, subcode: int) -> None:
    sandbox.app.faults.add(FaultRule(kind, platform="meta", path=INSIGHTS, nth=1))

    with pytest.raises(ReauthRequiredError, match=rf"error 190/{subcode}") as caught:
        fetch(meta(http, meta_settings, sleeps), INR, last_days(sandbox, INR, 7), "campaign")

    assert caught.value.exit_code == ExitCode.LOGIN_NEEDED and caught.value.hint == REAUTH_HINT
    assert sleeps.waits == []


def test_given_a_login_without_access_to_the_account_when_fetching_then_a_permission_error(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="meta", path=INSIGHTS, nth=1))

    with pytest.raises(MetaApiError, match=r"lacks the ads_read permission") as caught:
        fetch(meta(http, meta_settings, sleeps), INR, last_days(sandbox, INR, 7), "campaign")

    assert (caught.value.code, caught.value.status) == (200, 403)
    assert caught.value.hint is not None and "ads_read" in caught.value.hint


def test_given_any_failure_when_fetching_then_no_message_holds_the_token_or_a_url(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    token = meta_settings["access_token"]
    failures: list[DataDripError] = []
    for kind, days in [("expired_token", 7), ("permission", 7), ("malformed", 7), ("server_error", 7),
                       ("rate_limit", 7), ("reduce_data", 7), ("job_failed", 40)]:
        sandbox.app.faults.clear()
        sandbox.app.faults.add(FaultRule(kind, platform="meta", rate=1.0))
        with pytest.raises(DataDripError) as caught:
            fetch(meta(http, meta_settings, sleeps), INR, last_days(sandbox, INR, days), "ad")
        failures.append(caught.value)

    for failure in failures:
        for text in (str(failure), repr(failure), str(failure.hint)):
            assert token not in text and "http://" not in text and sandbox.base_url not in text


# --- wiring and bad input ------------------------------------------------------------------------

def test_given_a_connector_context_when_opening_through_the_registry_then_it_fetches_with_its_parts(
        sandbox: Any, http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep) -> None:
    asked: list[bool] = []

    def token(force_refresh: bool) -> str:
        asked.append(force_refresh)
        return str(meta_settings["access_token"])

    settings = settings_model((("meta", MetaSettings),))(
        meta=MetaSettings(graph_url=meta_settings["graph_url"], api_version=meta_settings["api_version"]))
    context = ConnectorContext(http=http, settings=settings, get_token=token, secrets={},
                               retry=RetryPolicy(max_wait=600), sleep=sleeps)
    sandbox.app.faults.add(FaultRule("rate_limit", platform="meta", path=INSIGHTS, nth=1))
    window = last_days(sandbox, EUR, 5)

    connector = open_registered("meta", context)
    records = list(connector.daily_metrics(EUR, window, "adset", SyncOptions(), FetchNotes()))

    assert isinstance(connector, MetaAds) and isinstance(meta_platform.open_connector(context), MetaAds)
    assert asked[0] is False and sleeps.waits == [300.0]  # the context's policy and sleep
    assert record_totals(records) == world_totals(sandbox, EUR.external_id, window)


@pytest.mark.parametrize(("account", "level", "message"), [
    (INR, "account", r"unknown level 'account'"),
    (replace(INR, external_id="1010000001"), "ad", r"'1010000001' is not a Meta ad account id")])
def test_given_a_bad_level_or_account_id_when_fetching_then_a_usage_error(
        http: httpx.Client, meta_settings: dict[str, Any], sleeps: RecordedSleep, account: AccountRef,
        level: str, message: str) -> None:
    window = DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    with pytest.raises(UsageError, match=message):
        fetch(meta(http, meta_settings, sleeps), account, window, level)


# --- reading one row -----------------------------------------------------------------------------

def row(**fields: Any) -> dict[str, Any]:
    """A campaign row as Graph writes it, with `fields` changed (None removes one)."""
    base: dict[str, Any] = {
        "campaign_id": "1", "campaign_name": "Diwali Sale", "spend": "4210.55", "impressions": "51234",
        "clicks": "1290", "reach": "40211", "attribution_setting": "7d_click_1d_view",
        "actions": [{"action_type": "link_click", "value": "1180"},
                    {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "37"},
                    {"action_type": "omni_purchase", "value": "37"}],
        "action_values": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "52310.00"},
                          {"action_type": "omni_purchase", "value": "52310.00"}],
        "date_start": "2026-11-20", "date_stop": "2026-11-20"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_given_a_graph_row_when_parsing_then_every_number_is_exact() -> None:
    parsed = parse_row(row(), "campaign")

    purchase = ("offsite_conversion.fb_pixel_purchase", "omni_purchase")
    assert parsed.metrics == MetricRow(
        "campaign", "1", dt.date(2026, 11, 20), 4_210_550_000, 51234, 1290, Decimal(37),
        52_310_000_000, 40211, link_clicks=1180, attribution_setting="7d_click_1d_view",
        actions=(ActionCount("link_click", Decimal(1180), None),
                 *(ActionCount(kind, Decimal(37), 52_310_000_000) for kind in purchase)))
    assert parsed.entities == (EntityRecord("campaign", "1", "Diwali Sale"),)
    assert parsed.attribution == "7d_click_1d_view"


@pytest.mark.parametrize(("spend", "micros"), [
    ("5339.5", 5_339_500_000), ("100", 100_000_000), ("0.000001", 1), ("12.3400000", 12_340_000),
    (" 7.25 ", 7_250_000), (7, 7_000_000), ("0", 0), ("1e2", 100_000_000),
    ("9223372036854.775807", 2 ** 63 - 1),
    # either side of the plain-string fast path (12 integer digits, up to 6 decimals, no leading 0)
    ("999999999999.999999", 999_999_999_999_999_999), ("1000000000000.5", 1_000_000_000_000_500_000),
    ("007.5", 7_500_000), ("0.5", 500_000), ("10.000000", 10_000_000)])
def test_given_money_in_graphs_forms_when_parsing_then_micros_are_exact(spend: Any, micros: int) -> None:
    assert parse_row(row(spend=spend), "campaign").metrics.spend_micros == micros


@pytest.mark.parametrize(("impressions", "count"), [
    ("0", 0), ("51234", 51234), ("999999999999999999", 999_999_999_999_999_999),
    ("9223372036854775807", 2 ** 63 - 1), ("0051234", 51234), ("51234.0", 51234), (51234, 51234)])
def test_given_counts_in_graphs_forms_when_parsing_then_they_are_exact(impressions: Any, count: int) -> None:
    assert parse_row(row(impressions=impressions), "campaign").metrics.impressions == count


@pytest.mark.parametrize(("fields", "message"), [
    ({"spend": "12.3456789"}, r"spend = '12.3456789' for campaign 1 on 2026-11-20: more than 6 decimals"),
    ({"spend": "1e-999999"}, r"spend = '1e-999999' .*: more than 6 decimals"),
    ({"spend": "abc"}, r"spend = 'abc' for campaign 1 on 2026-11-20: not a number"),
    ({"spend": 12.5}, r"spend = 12.5 .*: not a number"),
    ({"spend": "NaN"}, r"spend = 'NaN' .*: not a number"),
    ({"spend": "1_000"}, r"spend = '1_000' .*: not a number"),
    ({"spend": ""}, r"spend = '' .*: not a number"),
    ({"spend": "-3.00"}, r"spend = '-3.00' .*: a negative number"),
    ({"spend": "9223372036854.775808"}, r"spend = .*: too large"),
    ({"impressions": "12.5"}, r"impressions = '12.5' .*: not a whole number"),
    ({"clicks": True}, r"clicks = True .*: not a number"),
    ({"reach": "1e400"}, r"reach = '1e400' .*: too large"),
    ({"action_values": [{"action_type": "omni_purchase", "value": "1.0000001"}]},
     r"action_values\[omni_purchase\] = '1.0000001' .*: more than 6 decimals"),
    ({"actions": [{"action_type": "omni_purchase", "value": "x"}]}, r"actions\[omni_purchase\] = 'x'"),
    ({"actions": {"omni_purchase": "1"}}, r"actions for campaign 1 on 2026-11-20 that is not a list"),
    ({"actions": [{"value": "1"}]}, r"an item of actions .* without action_type and value"),
    ({"date_stop": "2026-11-21"}, r"a row for campaign 1 covering '2026-11-20' to '2026-11-21', not one day"),
    ({"date_start": "20/11/2026"}, r"date_start = '20/11/2026' for campaign 1: not a date"),
    ({"campaign_id": None}, r"a campaign insights row without campaign_id")])
def test_given_a_bad_value_in_a_row_when_parsing_then_a_clear_error_naming_the_field(
        fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DataDripError, match=r"^Meta sent " + message) as caught:
        parse_row(row(**fields), "campaign")

    assert caught.value.hint is not None and "api_version" in caught.value.hint


@pytest.mark.parametrize(("present", "chosen"), [
    (("onsite_web_purchase", "offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase"),
     "omni_purchase"),
    (("onsite_web_purchase", "offsite_conversion.fb_pixel_purchase", "purchase"), "purchase"),
    (("onsite_web_purchase", "offsite_conversion.fb_pixel_purchase"),
     "offsite_conversion.fb_pixel_purchase"),
    (("onsite_web_purchase",), "onsite_web_purchase")])
def test_given_purchase_types_when_parsing_then_the_first_by_priority_counts_never_their_sum(
        present: tuple[str, ...], chosen: str) -> None:
    # Different numbers per type only to see which one was taken; Meta's are equal.
    counts = {kind: str(index + 1) for index, kind in enumerate(present)}
    parsed = parse_row(row(actions=[{"action_type": k, "value": v} for k, v in counts.items()],
                           action_values=[{"action_type": k, "value": f"{v}0.5"} for k, v in counts.items()]),
                       "campaign").metrics

    assert parsed.conversions == Decimal(counts[chosen])
    assert parsed.conversion_value_micros == int(Decimal(f"{counts[chosen]}0.5") * 1_000_000)


def test_given_a_row_without_actions_or_reach_when_parsing_then_zero_conversions_and_no_reach() -> None:
    parsed = parse_row(row(actions=None, action_values=None, reach=None, attribution_setting=None),
                       "campaign")

    assert (parsed.metrics.conversions, parsed.metrics.conversion_value_micros) == (Decimal(0), 0)
    assert parsed.metrics.reach is None and parsed.attribution is None


def test_given_an_ad_row_when_parsing_then_its_parents_come_first_with_their_ids() -> None:
    parsed = parse_row(row(adset_id="11", adset_name="Broad", ad_id="111", ad_name=None), "ad",
                       ("link_click", "lead"))

    assert parsed.entities == (EntityRecord("campaign", "1", "Diwali Sale"),
                               EntityRecord("adset", "11", "Broad", "1"),
                               EntityRecord("ad", "111", "111", "11"))  # no name: the id stands in
    assert (parsed.metrics.entity_id, parsed.metrics.conversions) == ("111", Decimal(1180))
    assert parsed.metrics.conversion_value_micros == 0
