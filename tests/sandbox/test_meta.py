"""The Meta Graph API sandbox over real HTTP: ad accounts, insights, paging, report runs, faults."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from datadrip.sandbox.app import Sandbox, SandboxConfig
from datadrip.sandbox.faults import FaultRule
from datadrip.sandbox.meta.insights import REDUCE_DATA_ROWS
from sandbox.meta_support import EUR, GRAPH, INR, TOKEN, USD, all_rows, insights, run_report

ACCOUNT_FIELDS = "id,account_id,name,currency,timezone_name,timezone_offset_hours_utc,account_status," \
    "amount_spent"
METRICS = "campaign_id,campaign_name,spend,impressions,clicks,reach,frequency,cpc,ctr,cpm,actions," \
    "action_values,purchase_roas,account_currency"
PURCHASES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")


def _wsgi_client(seed: int = 7, today: dt.date = dt.date(2026, 11, 26)) -> httpx.Client:
    app = Sandbox(SandboxConfig(seed=seed, today=today))
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sandbox.test")


def _actions(row: dict[str, Any], key: str = "actions") -> dict[str, dict[str, str]]:
    return {item["action_type"]: item for item in row.get(key, [])}


def test_adaccounts_lists_accounts_in_three_currencies_with_graph_types(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/me/adaccounts",
                                params={"access_token": TOKEN, "fields": ACCOUNT_FIELDS})
    assert response.status_code == 200
    accounts = {a["id"]: a for a in response.json()["data"]}
    assert set(accounts) == {INR, USD, EUR}
    inr = accounts[INR]
    assert inr["account_id"] == "1010000001" and inr["currency"] == "INR"
    assert inr["timezone_name"] == "Asia/Kolkata" and inr["timezone_offset_hours_utc"] == 5.5
    assert accounts[USD]["timezone_offset_hours_utc"] == -5  # New York in November
    assert accounts[EUR]["currency"] == "EUR" and accounts[EUR]["timezone_name"] == "Europe/Berlin"
    assert inr["account_status"] == 1
    assert isinstance(inr["amount_spent"], str) and int(inr["amount_spent"]) > 0  # minor units


def test_adaccounts_returns_only_asked_fields_plus_id(sandbox_http: httpx.Client) -> None:
    body = sandbox_http.get(f"{GRAPH}/me/adaccounts",
                            params={"access_token": TOKEN, "fields": "name,currency"}).json()
    assert all(set(a) == {"id", "name", "currency"} for a in body["data"])


def test_adaccounts_pages_with_cursors_until_next_is_absent(sandbox_http: httpx.Client) -> None:
    first = sandbox_http.get(f"{GRAPH}/me/adaccounts", params={"access_token": TOKEN, "limit": 2})
    assert first.json()["paging"]["next"].startswith(str(sandbox_http.base_url))
    rows, pages = all_rows(sandbox_http, first)
    assert [r["id"] for r in rows] == [INR, USD, EUR] and pages == 2


def test_adaccounts_unknown_field_fails_with_code_100(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/me/adaccounts", params={"access_token": TOKEN, "fields": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100 and response.json()["error"]["type"] == "OAuthException"


@pytest.mark.parametrize("version", ["v20.0", "v19.0", "v2.4"])
def test_graph_deprecated_version_fails_with_2635(sandbox_http: httpx.Client, version: str) -> None:
    response = sandbox_http.get(f"/meta/graph/{version}/me/adaccounts", params={"access_token": TOKEN})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2635 and error["type"] == "OAuthException"
    assert error["message"] == ("(#2635) You are calling a deprecated version of the Ads API. Please "
                                "update to the latest version: v26.0.")
    assert error["fbtrace_id"]


@pytest.mark.parametrize("version", ["v21.0", "v23.0", "v26.0"])
def test_graph_live_versions_answer(sandbox_http: httpx.Client, version: str) -> None:
    response = sandbox_http.get(f"/meta/graph/{version}/me/adaccounts", params={"access_token": TOKEN})
    assert response.status_code == 200


def test_graph_unknown_account_fails_as_unsupported_get_request(sandbox_http: httpx.Client) -> None:
    response = insights(sandbox_http, "act_999")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert "Object with ID 'act_999' does not exist" in error["message"]


def test_insights_every_number_is_a_string(sandbox_http: httpx.Client) -> None:
    body = insights(sandbox_http, level="campaign", time_increment=1, date_preset="last_7d",
                    fields=METRICS, limit=100).json()
    assert body["data"]
    for row in body["data"]:
        for key in ("spend", "impressions", "clicks", "reach", "frequency", "ctr", "cpm"):
            assert isinstance(row[key], str), key
            Decimal(row[key])
        assert row["account_currency"] == "INR"
        for item in row["actions"] + row["action_values"] + row["purchase_roas"]:
            assert isinstance(item["value"], str)
        assert len(row["spend"].partition(".")[2]) <= 2  # never finer than paise
        assert row["date_start"] == row["date_stop"]


def test_insights_paging_to_the_end_equals_one_large_async_read(sandbox_http: httpx.Client) -> None:
    query: dict[str, Any] = {"level": "adset", "time_increment": 1, "date_preset": "last_90d",
                             "fields": "adset_id,spend,impressions,clicks,actions"}
    rows, pages = all_rows(sandbox_http, insights(sandbox_http, limit=17, **query))
    assert pages > 10
    run_id = run_report(sandbox_http, **query)
    big = sandbox_http.get(f"{GRAPH}/{run_id}/insights", params={"access_token": TOKEN, "limit": 5000})
    assert big.status_code == 200 and "next" not in big.json()["paging"]
    assert rows == big.json()["data"]
    assert sum(Decimal(r["spend"]) for r in rows) == sum(Decimal(r["spend"]) for r in big.json()["data"])


def test_insights_next_is_an_absolute_sandbox_url_and_absent_on_the_last_page(
        sandbox_http: httpx.Client, sandbox: Any) -> None:
    first = insights(sandbox_http, level="campaign", time_increment=1, date_preset="last_7d", limit=5)
    paging = first.json()["paging"]
    assert paging["next"].startswith(f"{sandbox.base_url}{GRAPH}/{INR}/insights?")
    assert f"access_token={TOKEN}" in paging["next"] and "level=campaign" in paging["next"]
    assert set(paging["cursors"]) == {"before", "after"}
    last = httpx.get(paging["next"])
    while "next" in last.json()["paging"]:
        last = httpx.get(last.json()["paging"]["next"])
    assert last.json()["data"] and "next" not in last.json()["paging"]


def test_insights_campaign_spend_is_the_sum_of_its_ads(sandbox_http: httpx.Client) -> None:
    day = {"since": "2026-11-20", "until": "2026-11-20"}
    campaigns = insights(sandbox_http, level="campaign", time_range=day, time_increment=1,
                         fields="campaign_id,spend,impressions,clicks,actions", limit=100).json()["data"]
    ads = insights(sandbox_http, level="ad", time_range=day, time_increment=1,
                   fields="campaign_id,ad_id,spend,impressions,clicks,actions", limit=100).json()["data"]
    assert campaigns and ads
    for campaign in campaigns:
        mine = [a for a in ads if a["campaign_id"] == campaign["campaign_id"]]
        assert sum(Decimal(a["spend"]) for a in mine) == Decimal(campaign["spend"])
        assert sum(int(a["impressions"]) for a in mine) == int(campaign["impressions"])
        link = sum(int(_actions(a)["link_click"]["value"]) for a in mine if "link_click" in _actions(a))
        assert link == int(_actions(campaign)["link_click"]["value"])


def test_insights_campaign_rows_match_the_world(sandbox_http: httpx.Client, sandbox: Any) -> None:
    day = dt.date(2026, 11, 20)
    world = list(sandbox.app.world.rows("1010000001", "campaign", day, day, dt.date(2026, 11, 26)))
    rows = insights(sandbox_http, level="campaign", time_range={"since": "2026-11-20", "until": "2026-11-20"},
                    time_increment=1, fields="campaign_id,spend,reach").json()["data"]
    assert [(r["campaign_id"], Decimal(r["spend"]), int(r["reach"])) for r in rows] == [
        (w.entity.id, Decimal(w.spend_micros) / 1_000_000, w.reach) for w in world]


def test_insights_purchase_action_types_overlap_with_equal_counts(sandbox_http: httpx.Client) -> None:
    rows = insights(sandbox_http, level="campaign", time_increment=1, date_preset="last_30d",
                    fields="actions,action_values,spend", limit=200).json()["data"]
    with_purchases = [r for r in rows if "omni_purchase" in _actions(r)]
    assert with_purchases
    for row in with_purchases:
        actions, values = _actions(row), _actions(row, "action_values")
        assert len({actions[t]["value"] for t in PURCHASES}) == 1
        assert len({values[t]["value"] for t in PURCHASES}) == 1
        assert "link_click" in actions and "link_click" not in values
        assert int(actions["link_click"]["value"]) <= int(row.get("clicks", 10**9))


def test_insights_attribution_windows_split_the_default_value(sandbox_http: httpx.Client) -> None:
    rows = insights(sandbox_http, level="campaign", time_increment=1, date_preset="last_30d",
                    fields="actions,action_values",
                    action_attribution_windows=["7d_click", "1d_view", "7d_view", "28d_view"],
                    limit=200).json()["data"]
    viewed = 0
    for row in rows:
        for key in ("actions", "action_values"):
            for item in row.get(key, []):
                assert "7d_view" not in item and "28d_view" not in item
                if item["action_type"] == "link_click":
                    continue
                parts = Decimal(item.get("7d_click", "0")) + Decimal(item.get("1d_view", "0"))
                assert parts == Decimal(item["value"])
                viewed += "1d_view" in item
    assert viewed > 0  # some purchases are view-through


def test_insights_same_seed_and_today_give_identical_bodies() -> None:
    params = {"access_token": TOKEN, "level": "ad", "time_increment": "1", "date_preset": "last_7d",
              "fields": "ad_id,ad_name,spend,actions", "limit": "50"}
    with _wsgi_client(7) as one, _wsgi_client(7) as two, _wsgi_client(8) as other:
        first = one.get(f"{GRAPH}/{USD}/insights", params=params)
        assert first.status_code == 200
        assert first.content == two.get(f"{GRAPH}/{USD}/insights", params=params).content
        assert first.content != other.get(f"{GRAPH}/{USD}/insights", params=params).content


def test_insights_recent_conversions_are_restated_but_old_days_stay(sandbox_http: httpx.Client,
                                                                     sandbox: Any) -> None:
    def purchases(since: str) -> int:
        rows = insights(sandbox_http, level="account", time_range={"since": since, "until": since},
                        fields="actions,spend").json()["data"]
        return int(_actions(rows[0])["omni_purchase"]["value"])

    recent, old = purchases("2026-11-24"), purchases("2026-09-01")
    sandbox.app.state.clock.advance(dt.timedelta(days=5))
    assert purchases("2026-11-24") > recent
    assert purchases("2026-09-01") == old


def test_insights_campaign_name_changes_once_the_clock_passes_the_rename_day(
        sandbox_http: httpx.Client, sandbox: Any) -> None:
    renamed = next(e for e in sandbox.app.world.entities(INR, "campaign") if e.renamed_to)
    day, new_name = renamed.renamed_to
    query: dict[str, Any] = {"level": "campaign", "fields": "campaign_id,campaign_name",
                             "time_range": {"since": "2026-10-01", "until": "2026-10-01"}}
    clock = sandbox.app.state.clock
    clock.advance(dt.timedelta(days=(day - dt.date(2026, 11, 26)).days - 1))  # the day before
    before = {r["campaign_id"]: r["campaign_name"] for r in insights(sandbox_http, **query).json()["data"]}
    clock.advance(dt.timedelta(days=1))
    after = {r["campaign_id"]: r["campaign_name"] for r in insights(sandbox_http, **query).json()["data"]}
    assert before[renamed.id] == renamed.name and after[renamed.id] == new_name


@pytest.mark.parametrize(("preset", "since", "until"), [
    ("today", "2026-11-26", "2026-11-26"), ("yesterday", "2026-11-25", "2026-11-25"),
    ("last_7d", "2026-11-19", "2026-11-25"), ("last_30d", "2026-10-27", "2026-11-25"),
    ("this_month", "2026-11-01", "2026-11-26"), ("last_month", "2026-10-01", "2026-10-31"),
    ("maximum", "2023-10-26", "2026-11-26")])
def test_insights_date_presets_cover_the_account_days(sandbox_http: httpx.Client, preset: str,
                                                      since: str, until: str) -> None:
    body = insights(sandbox_http, level="account", date_preset=preset).json()
    assert body["data"][0]["date_start"] == since and body["data"][0]["date_stop"] == until
    daily = insights(sandbox_http, level="account", date_preset=preset, time_increment=1,
                     limit=2000).json()["data"]
    assert daily[0]["date_start"] >= since and daily[-1]["date_stop"] <= until


def test_insights_days_are_the_account_time_zone_days(sandbox_http: httpx.Client, sandbox: Any) -> None:
    sandbox.app.state.clock.advance(dt.timedelta(hours=11))  # 23:00 UTC: already tomorrow in India
    india = insights(sandbox_http, INR, level="account", date_preset="today").json()["data"]
    new_york = insights(sandbox_http, USD, level="account", date_preset="today").json()["data"]
    assert india[0]["date_start"] == "2026-11-27" and new_york[0]["date_start"] == "2026-11-26"


def test_insights_future_days_have_no_rows(sandbox_http: httpx.Client) -> None:
    body = insights(sandbox_http, level="campaign", time_increment=1,
                    time_range={"since": "2026-11-27", "until": "2026-12-31"}).json()
    assert body == {"data": []}
    partly = insights(sandbox_http, level="account", time_increment=1,
                      time_range={"since": "2026-11-25", "until": "2026-12-31"}).json()["data"]
    assert [r["date_start"] for r in partly] == ["2026-11-25", "2026-11-26"]


def test_insights_since_beyond_37_months_fails_with_3018(sandbox_http: httpx.Client) -> None:
    response = insights(sandbox_http, time_range={"since": "2023-10-25", "until": "2023-11-30"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (3018, "OAuthException")
    assert error["message"] == ("(#3018) The start date of the time range cannot be beyond 37 months "
                                "from the current date")
    inside = insights(sandbox_http, time_range={"since": "2023-10-26", "until": "2023-11-30"})
    assert inside.status_code == 200


def test_insights_unknown_field_fails_with_code_100(sandbox_http: httpx.Client) -> None:
    response = insights(sandbox_http, fields="spend,unique_impressions")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert error["message"].startswith("(#100) unique_impressions is not valid for fields param.")


def test_insights_without_delivery_produce_no_rows(sandbox_http: httpx.Client, sandbox: Any) -> None:
    removed = next(e for e in sandbox.app.world.entities(INR, "campaign") if e.status == "removed")
    assert removed.end is not None
    after_end = (removed.end + dt.timedelta(days=1)).isoformat()
    rows = insights(sandbox_http, level="campaign", time_increment=1, fields="campaign_id",
                    time_range={"since": after_end, "until": after_end}).json()["data"]
    assert removed.id not in {r["campaign_id"] for r in rows}


def test_insights_big_sync_request_asks_to_reduce_data_but_runs_async(sandbox_http: httpx.Client) -> None:
    query: dict[str, Any] = {"level": "ad", "time_increment": 1, "fields": "ad_id,spend",
                             "time_range": {"since": "2025-06-01", "until": "2026-11-25"}}
    assert REDUCE_DATA_ROWS < 16 * 543
    response = insights(sandbox_http, **query)
    assert response.status_code == 500
    assert response.json()["error"]["message"] == ("Please reduce the amount of data you're asking for, "
                                                   "then retry your request")
    assert response.json()["error"]["code"] == 1
    assert set(response.json()["error"]) == {"message", "code", "fbtrace_id"}
    run_id = run_report(sandbox_http, **query)
    rows, pages = all_rows(sandbox_http, sandbox_http.get(
        f"{GRAPH}/{run_id}/insights", params={"access_token": TOKEN, "limit": 1000}))
    assert len(rows) > REDUCE_DATA_ROWS and pages > 1


def test_report_run_status_progresses_to_completed(sandbox_http: httpx.Client) -> None:
    created = sandbox_http.post(f"{GRAPH}/{USD}/insights", params={"access_token": TOKEN},
                                data={"level": "campaign", "date_preset": "last_7d", "time_increment": "1"})
    run_id = created.json()["report_run_id"]
    assert isinstance(run_id, str) and run_id.isdigit()
    seen = [sandbox_http.get(f"{GRAPH}/{run_id}", params={"access_token": TOKEN}).json() for _ in range(3)]
    assert [s["async_status"] for s in seen] == ["Job Not Started", "Job Running", "Job Completed"]
    assert [s["async_percent_completion"] for s in seen] == [0, 50, 100]
    done = seen[-1]
    assert done["id"] == run_id and done["account_id"] == "1010000002"
    assert isinstance(done["time_ref"], int) and isinstance(done["time_completed"], int)
    assert (done["date_start"], done["date_stop"]) == ("2026-11-19", "2026-11-25")
    assert "time_completed" not in seen[1] and seen[1]["is_running"] is True


def test_report_run_read_before_completion_fails_with_2601(sandbox_http: httpx.Client) -> None:
    created = sandbox_http.post(f"{GRAPH}/{INR}/insights",
                                data={"access_token": TOKEN, "date_preset": "yesterday"})
    response = sandbox_http.get(f"{GRAPH}/{created.json()['report_run_id']}/insights",
                                params={"access_token": TOKEN})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (2601, 1815107, True)


def test_usage_headers_are_json_and_grow_with_use(sandbox_http: httpx.Client) -> None:
    def usage() -> dict[str, Any]:
        response = insights(sandbox_http, EUR, level="campaign", date_preset="yesterday")
        assert response.status_code == 200
        for name in ("x-ad-account-usage", "x-app-usage", "x-fb-ads-insights-throttle"):
            assert isinstance(json.loads(response.headers[name]), dict)
        buc = json.loads(response.headers["x-business-use-case-usage"])
        assert list(buc) == ["1010000003"]
        return dict(buc["1010000003"][0])

    first = usage()
    assert first["type"] == "ads_insights" and first["ads_api_access_tier"] == "standard_access"
    assert first["estimated_time_to_regain_access"] == 0
    for _ in range(40):
        last = usage()
    assert last["call_count"] > first["call_count"] and last["total_time"] > first["total_time"]
    assert last["call_count"] < 100


def _expect_fault(response: httpx.Response, kind: str) -> None:
    error = response.json()["error"]
    assert error["fbtrace_id"]
    expected = {
        "rate_limit": (400, 80000, 2446079), "server_error": (500, 1, 99), "unavailable": (503, 2, None),
        "reduce_data": (500, 1, None), "expired_token": (400, 190, 463), "revoked_token": (400, 190, 460),
        "permission": (403, 200, None)}[kind]
    assert (response.status_code, error["code"], error.get("error_subcode")) == expected
    if kind == "rate_limit":
        assert error["is_transient"] is True and error["message"].startswith("(#80000) There have been")
        usage = json.loads(response.headers["x-business-use-case-usage"])["1010000001"][0]
        assert usage["call_count"] > 100 and usage["estimated_time_to_regain_access"] >= 1
    if kind == "unavailable":
        assert error["message"] == "(#2) Service temporarily unavailable" and error["is_transient"] is True
    if kind == "server_error":
        assert error["message"] == "An unknown error occurred"
    if kind == "permission":
        assert error["message"] == "(#200) Requires business_management permission to manage the object"


FAULTS = ["rate_limit", "server_error", "unavailable", "reduce_data", "expired_token", "permission"]


@pytest.mark.parametrize("kind", FAULTS)
def test_fault_header_gives_metas_error(sandbox_http: httpx.Client, kind: str) -> None:
    response = sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": TOKEN},
                                headers={"X-Sandbox-Fault": kind})
    _expect_fault(response, kind)
    assert insights(sandbox_http).status_code == 200  # only the one request


@pytest.mark.parametrize("kind", FAULTS)
def test_fault_rule_fails_the_second_request_only(sandbox_http: httpx.Client, sandbox: Any,
                                                  kind: str) -> None:
    sandbox.app.faults.add(FaultRule(kind=kind, platform="meta", nth=2))
    assert insights(sandbox_http).status_code == 200
    _expect_fault(insights(sandbox_http), kind)
    assert insights(sandbox_http).status_code == 200


def test_fault_revoked_token_revokes_it_for_good(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": TOKEN},
                                headers={"X-Sandbox-Fault": "revoked_token"})
    _expect_fault(response, "revoked_token")
    again = insights(sandbox_http)
    assert (again.status_code, again.json()["error"]["error_subcode"]) == (400, 460)


def test_fault_truncated_body_breaks_the_read(sandbox_http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": TOKEN},
                         headers={"X-Sandbox-Fault": "truncated"})


def test_fault_malformed_body_is_not_json(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/{INR}/insights", params={"access_token": TOKEN},
                                headers={"X-Sandbox-Fault": "malformed"})
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_wsgi_transport_serves_accounts_and_insights() -> None:
    with _wsgi_client() as http:
        accounts = http.get(f"{GRAPH}/me/adaccounts", params={"access_token": TOKEN, "fields": "currency"})
        assert [a["currency"] for a in accounts.json()["data"]] == ["INR", "USD", "EUR"]
        first = insights(http, level="campaign", date_preset="last_7d", time_increment=1, limit=3)
        assert first.json()["paging"]["next"].startswith("http://sandbox.test/meta/graph/v26.0/")


def test_insights_account_level_over_a_range_is_one_row(sandbox_http: httpx.Client) -> None:
    whole = insights(sandbox_http, level="account", date_preset="last_7d",
                     fields="account_id,account_name,spend,impressions").json()["data"]
    days = insights(sandbox_http, level="account", date_preset="last_7d", time_increment=1,
                    fields="spend,impressions").json()["data"]
    assert len(whole) == 1 and whole[0]["account_name"] == "Masala Mornings"
    assert Decimal(whole[0]["spend"]) == sum(Decimal(d["spend"]) for d in days)
    assert int(whole[0]["impressions"]) == sum(int(d["impressions"]) for d in days)


def test_insights_attribution_setting_is_the_accounts_default(sandbox_http: httpx.Client) -> None:
    rows = insights(sandbox_http, USD, level="adset", time_increment=1, date_preset="last_3d",
                    fields="adset_id,attribution_setting,spend").json()["data"]
    assert rows and all(row["attribution_setting"] == "7d_click_1d_view" for row in rows)
    assert "attribution_setting" not in insights(sandbox_http, USD, level="adset",
                                                 fields="adset_id,spend").json()["data"][0]


def _poll(http: httpx.Client, run_id: str) -> dict[str, Any]:
    return dict(http.get(f"{GRAPH}/{run_id}", params={"access_token": TOKEN}).json())


@pytest.mark.parametrize("path", [r"/insights$", r"/[0-9]{6,}$"])
def test_fault_job_failed_fails_the_run_started_or_polled(sandbox_http: httpx.Client, sandbox: Any,
                                                          path: str) -> None:
    sandbox.app.faults.add(FaultRule("job_failed", platform="meta", path=path, nth=1))
    form = {"access_token": TOKEN, "level": "campaign", "date_preset": "last_7d", "time_increment": "1"}
    created = sandbox_http.post(f"{GRAPH}/{INR}/insights", data=form)
    assert created.status_code == 200
    run_id = created.json()["report_run_id"]
    seen = [_poll(sandbox_http, run_id) for _ in range(4)]
    assert [s["async_status"] for s in seen] == ["Job Failed"] * 4
    assert seen[0]["async_percent_completion"] == 0 and seen[0]["is_running"] is False
    read = sandbox_http.get(f"{GRAPH}/{run_id}/insights", params={"access_token": TOKEN})
    assert (read.status_code, read.json()["error"]["code"]) == (400, 2601)
    # The next run is not touched.
    assert _poll(sandbox_http, run_report(sandbox_http, **{k: v for k, v in form.items()
                                                           if k != "access_token"})
                 )["async_status"] == "Job Completed"


def test_fault_job_failed_leaves_other_requests_alone(sandbox_http: httpx.Client, sandbox: Any) -> None:
    sandbox.app.faults.add(FaultRule("job_failed", platform="meta", nth=1, times=3))
    assert insights(sandbox_http, level="campaign").status_code == 200
    accounts = sandbox_http.get(f"{GRAPH}/me/adaccounts", params={"access_token": TOKEN})
    assert accounts.status_code == 200 and len(accounts.json()["data"]) == 3
    assert insights(sandbox_http, access_token="wrong").json()["error"]["code"] == 190


def test_fault_high_usage_answers_as_usual_with_usage_near_the_limit(sandbox_http: httpx.Client,
                                                                     sandbox: Any) -> None:
    sandbox.app.faults.add(FaultRule("high_usage", platform="meta", nth=1))
    busy = insights(sandbox_http, USD, level="campaign", date_preset="last_7d")
    calm = insights(sandbox_http, USD, level="campaign", date_preset="last_7d")
    assert busy.status_code == 200 and busy.json() == calm.json()
    names = [name.lower() for name, _ in busy.headers.multi_items()]
    assert names.count("x-business-use-case-usage") == 1 and names.count("x-app-usage") == 1
    business = json.loads(busy.headers["x-business-use-case-usage"])["1010000002"][0]
    assert (business["call_count"], business["estimated_time_to_regain_access"]) == (90, 0)
    assert json.loads(busy.headers["x-ad-account-usage"])["acc_id_util_pct"] == 90.0
    assert json.loads(busy.headers["x-fb-ads-insights-throttle"])["acc_id_util_pct"] == 90.0
    assert json.loads(calm.headers["x-business-use-case-usage"])["1010000002"][0]["call_count"] < 10
