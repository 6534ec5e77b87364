"""The sandbox's Google Ads REST API over real HTTP: shapes, types, paging, access rules, faults."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest

from datadrip.sandbox.app import Sandbox, SandboxConfig
from datadrip.sandbox.faults import FaultRule
from datadrip.sandbox.google import ads as google

TOKEN = {"Authorization": "Bearer ya29.sandbox-access-token"}
VIA_MANAGER = {**TOKEN, "login-customer-id": "9000000001"}
V = "/google/ads/v26"
DAILY = ("SELECT campaign.id, campaign.name, campaign.status, segments.date, metrics.impressions, "
         "metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value "
         "FROM campaign WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-23'")
ADS = ("SELECT campaign.id, ad_group.id, ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.status, "
       "segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros FROM ad_group_ad "
       "WHERE segments.date DURING LAST_30_DAYS")


def search(http: httpx.Client, cid: str, query: str, headers: dict[str, str] | None = None,
           stream: bool = False, **body: Any) -> httpx.Response:
    method = "searchStream" if stream else "search"
    return http.post(f"{V}/customers/{cid}/googleAds:{method}", headers=headers or TOKEN,
                     json={"query": query, **body})


def failure(response: httpx.Response, status: int, *, stream: bool = False) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    if stream:
        assert isinstance(body, list) and len(body) == 1
        body = body[0]
    error: dict[str, Any] = body["error"]
    assert error["code"] == status
    return error


def error_code(error: dict[str, Any]) -> dict[str, str]:
    code: dict[str, str] = error["details"][0]["errors"][0]["errorCode"]
    return code


def all_rows(http: httpx.Client, cid: str, query: str, headers: dict[str, str] | None = None
             ) -> list[dict[str, Any]]:
    response = search(http, cid, query, headers)
    assert response.status_code == 200, response.text
    return list(response.json().get("results", []))


def test_list_accessible_customers_returns_only_direct_accounts(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{V}/customers:listAccessibleCustomers", headers=TOKEN)
    assert response.status_code == 200
    assert response.json() == {"resourceNames": ["customers/9000000001", "customers/2020000002"]}
    assert len(response.headers["request-id"]) == 22


def test_search_rows_are_camel_case_with_int64_strings_and_double_numbers(
        sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", DAILY)
    body = response.json()
    assert set(body) == {"results", "fieldMask", "requestId", "queryResourceConsumption"}
    assert body["fieldMask"] == ("campaign.id,campaign.name,campaign.status,segments.date,"
                                 "metrics.impressions,metrics.clicks,metrics.costMicros,"
                                 "metrics.conversions,metrics.conversionsValue")
    assert body["requestId"] == response.headers["request-id"]
    assert isinstance(body["queryResourceConsumption"], str)
    row = body["results"][0]
    assert set(row) == {"campaign", "segments", "metrics"}
    campaign, metrics = row["campaign"], row["metrics"]
    assert campaign["resourceName"] == f"customers/2020000002/campaigns/{campaign['id']}"
    assert isinstance(campaign["id"], str) and campaign["id"].isdigit()
    assert campaign["status"] in ("ENABLED", "PAUSED", "REMOVED")
    assert set(metrics) == {"impressions", "clicks", "costMicros", "conversions", "conversionsValue"}
    for key in ("impressions", "clicks", "costMicros"):
        assert isinstance(metrics[key], str) and metrics[key].isdigit()
    assert int(metrics["costMicros"]) % 10_000 == 0  # USD cents, in micros
    assert all(isinstance(metrics[key], (int, float)) for key in ("conversions", "conversionsValue"))
    assert any(isinstance(r["metrics"]["conversions"], float) for r in body["results"])
    dates = [r["segments"]["date"] for r in body["results"]]
    assert dates == sorted(dates) and dates[0] == "2026-11-01" and dates[-1] == "2026-11-23"


def test_search_ad_group_ad_rows_name_their_parents(sandbox_http: httpx.Client) -> None:
    row = all_rows(sandbox_http, "2020000002", ADS)[0]
    ad_group, ad = row["adGroup"], row["adGroupAd"]
    assert ad["resourceName"] == f"customers/2020000002/adGroupAds/{ad_group['id']}~{ad['ad']['id']}"
    assert ad_group["resourceName"] == f"customers/2020000002/adGroups/{ad_group['id']}"
    assert ad["ad"]["id"].startswith(ad_group["id"]) and ad_group["id"].startswith(row["campaign"]["id"])
    assert ad["status"] == "ENABLED" and ad["ad"]["name"]


def test_search_derived_metrics_ctr_and_average_cpc_are_doubles(sandbox_http: httpx.Client) -> None:
    rows = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, metrics.clicks, metrics.impressions, "
                    "metrics.cost_micros, metrics.ctr, metrics.average_cpc FROM campaign "
                    "WHERE segments.date = '2026-11-20' AND metrics.clicks > 0")
    assert rows
    for row in rows:
        m = row["metrics"]
        assert m["ctr"] == pytest.approx(int(m["clicks"]) / int(m["impressions"]))
        assert m["averageCpc"] == pytest.approx(int(m["costMicros"]) / int(m["clicks"]))


def test_search_pages_to_the_end_and_matches_one_stream(sandbox_http: httpx.Client,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(google, "PAGE_SIZE", 50)
    pages: list[dict[str, Any]] = []
    body: dict[str, Any] = {"returnTotalResultsCount": True}
    while True:
        page = search(sandbox_http, "2020000002", ADS, **body).json()
        pages.append(page)
        if "nextPageToken" not in page:
            break
        body = {"pageToken": page["nextPageToken"]}
    assert len(pages) > 2 and all(len(p["results"]) == 50 for p in pages[:-1])
    assert 0 < len(pages[-1]["results"]) <= 50
    assert pages[0]["totalResultsCount"] == str(sum(len(p["results"]) for p in pages))
    stream = search(sandbox_http, "2020000002", ADS, stream=True).json()
    assert [r for p in pages for r in p["results"]] == [r for b in stream for r in b["results"]]


def test_search_page_token_of_another_query_is_invalid(sandbox_http: httpx.Client,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(google, "PAGE_SIZE", 10)
    token = search(sandbox_http, "2020000002", ADS).json()["nextPageToken"]
    response = search(sandbox_http, "2020000002", DAILY, pageToken=token)
    assert error_code(failure(response, 400)) == {"requestError": "INVALID_PAGE_TOKEN"}


def test_search_rejects_page_size(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", DAILY, pageSize=100)
    assert error_code(failure(response, 400)) == {"requestError": "PAGE_SIZE_NOT_SUPPORTED"}


def test_search_stream_sends_batches_with_consumption_in_the_last(
        sandbox_http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(google, "STREAM_BATCH", 40)
    response = search(sandbox_http, "2020000002", ADS, stream=True)
    batches = response.json()
    assert len(batches) > 1
    assert all(len(b["results"]) == 40 for b in batches[:-1])
    assert {b["requestId"] for b in batches} == {response.headers["request-id"]}
    assert all(b["fieldMask"].startswith("campaign.id,adGroup.id,adGroupAd.ad.id") for b in batches)
    assert [("queryResourceConsumption" in b) for b in batches] == [False] * (len(batches) - 1) + [True]


def test_search_stream_with_no_rows_is_one_batch_without_results(sandbox_http: httpx.Client) -> None:
    query = DAILY.replace("'2026-11-01' AND '2026-11-23'", "'2026-12-01' AND '2026-12-05'")
    batches = search(sandbox_http, "2020000002", query, stream=True).json()
    assert len(batches) == 1 and set(batches[0]) == {"fieldMask", "requestId", "queryResourceConsumption"}
    assert "results" not in search(sandbox_http, "2020000002", query).json()


def test_search_drops_all_zero_rows_only_when_segmented(sandbox_http: httpx.Client) -> None:
    window = "segments.date DURING LAST_14_DAYS"
    segmented = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, campaign.status, segments.date, "
                         f"metrics.clicks, metrics.impressions FROM campaign WHERE {window}")
    assert all(int(r["metrics"]["clicks"]) or int(r["metrics"]["impressions"]) for r in segmented)
    assert "PAUSED" not in {r["campaign"]["status"] for r in segmented}
    flat = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, campaign.status, metrics.clicks, "
                    f"metrics.impressions FROM campaign WHERE {window}")
    paused = [r for r in flat if r["campaign"]["status"] == "PAUSED"]
    assert paused and paused[0]["metrics"] == {"clicks": "0", "impressions": "0"}
    assert len(flat) == 4  # one row per campaign, removed ones included


def test_search_unsegmented_sums_equal_the_daily_rows(sandbox_http: httpx.Client) -> None:
    where = "WHERE segments.date BETWEEN '2026-11-10' AND '2026-11-16'"
    daily = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, segments.date, metrics.cost_micros, "
                     f"metrics.clicks FROM campaign {where}")
    flat = all_rows(sandbox_http, "2020000002", f"SELECT campaign.id, metrics.cost_micros, metrics.clicks "
                    f"FROM campaign {where}")
    for row in flat:
        mine = [d for d in daily if d["campaign"]["id"] == row["campaign"]["id"]]
        assert int(row["metrics"]["costMicros"]) == sum(int(d["metrics"]["costMicros"]) for d in mine)


def test_search_levels_are_consistent_for_a_day(sandbox_http: httpx.Client) -> None:
    day = "WHERE segments.date = '2026-11-20'"
    campaigns = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, segments.date, "
                         f"metrics.cost_micros FROM campaign {day}")
    groups = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, ad_group.id, segments.date, "
                      f"metrics.cost_micros FROM ad_group {day}")
    ads = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, ad_group_ad.ad.id, segments.date, "
                   f"metrics.cost_micros FROM ad_group_ad {day}")
    assert campaigns
    for campaign in campaigns:
        cid = campaign["campaign"]["id"]
        total = int(campaign["metrics"]["costMicros"])
        assert total == sum(int(a["metrics"]["costMicros"]) for a in ads if a["campaign"]["id"] == cid)
        assert total == sum(int(g["metrics"]["costMicros"]) for g in groups if g["campaign"]["id"] == cid)


def test_search_filters_orders_and_limits(sandbox_http: httpx.Client) -> None:
    rows = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, campaign.name FROM campaign "
                    "WHERE campaign.status IN ('ENABLED', 'PAUSED') AND campaign.name LIKE '%a%' "
                    "ORDER BY campaign.id DESC LIMIT 2")
    ids = [int(r["campaign"]["id"]) for r in rows]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    assert all("a" in r["campaign"]["name"] for r in rows)
    paused = all_rows(sandbox_http, "2020000002", "SELECT campaign.status FROM campaign "
                      "WHERE campaign.status = PAUSED")
    assert [r["campaign"]["status"] for r in paused] == ["PAUSED"]


def test_search_summary_row_and_validate_only(sandbox_http: httpx.Client) -> None:
    query = "SELECT campaign.id, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS"
    body = search(sandbox_http, "2020000002", query, summaryRowSetting="SUMMARY_ROW_WITH_RESULTS").json()
    assert body["summaryRow"] == {"metrics": {"clicks": str(sum(int(r["metrics"]["clicks"])
                                                               for r in body["results"]))}}
    stream = search(sandbox_http, "2020000002", query, stream=True,
                    summaryRowSetting="SUMMARY_ROW_ONLY").json()
    assert "results" not in stream[-1] and stream[-1]["summaryRow"] == body["summaryRow"]
    checked = search(sandbox_http, "2020000002", query, validateOnly=True).json()
    assert set(checked) == {"fieldMask", "requestId"}


def test_search_customer_fields(sandbox_http: httpx.Client) -> None:
    rows = all_rows(sandbox_http, "2020000002", "SELECT customer.id, customer.descriptive_name, "
                    "customer.currency_code, customer.time_zone, customer.manager, "
                    "customer.test_account, customer.status FROM customer")
    assert rows == [{"customer": {"resourceName": "customers/2020000002", "id": "2020000002",
                                  "descriptiveName": "Peak Trail Outfitters Search",
                                  "currencyCode": "USD", "timeZone": "America/New_York",
                                  "manager": False, "testAccount": False, "status": "ENABLED"}}]


def test_search_client_needs_the_manager_login_customer_id(sandbox_http: httpx.Client) -> None:
    query = "SELECT campaign.id FROM campaign"
    error = failure(search(sandbox_http, "2020000001", query), 403)
    assert error["status"] == "PERMISSION_DENIED"
    assert error["details"][0]["errors"][0] == {
        "errorCode": {"authorizationError": "USER_PERMISSION_DENIED"},
        "message": "User doesn't have permission to access customer. Note: If you're accessing a "
                   "client customer, the manager's customer id must be set in the "
                   "'login-customer-id' header."}
    wrong = {**TOKEN, "login-customer-id": "2020000002"}
    assert search(sandbox_http, "2020000001", query, wrong).status_code == 403
    assert search(sandbox_http, "2020000001", query, VIA_MANAGER).status_code == 200
    assert search(sandbox_http, "2020000002", query, {**TOKEN, "login-customer-id": "2020000002"}
                  ).status_code == 200


def test_search_client_of_a_sub_manager_accepts_any_manager_above_as_login() -> None:
    from datadrip.sandbox.data import Account, World
    from datadrip.sandbox.web import Request

    app = Sandbox(SandboxConfig(seed=7, today=dt.date(2026, 11, 26)))
    app.world = World(7, (*app.world.accounts,
                          Account("google", "9000000002", "North Desk", "INR", "Asia/Kolkata",
                                  manager=True, manager_id="9000000001", campaigns=0),
                          Account("google", "2020000006", "Chai Corner", "INR", "Asia/Kolkata",
                                  manager_id="9000000002")), epoch=app.world.epoch)

    def status(login: str) -> int:
        body = b'{"query": "SELECT campaign.id FROM campaign"}'
        request = Request("POST", f"{V}/customers/2020000006/googleAds:search", {},
                          {"authorization": TOKEN["Authorization"], "login-customer-id": login,
                           "content-type": "application/json"}, body, "http://sandbox")
        return app.handle(request).status

    assert status("9000000002") == 200  # its own manager
    assert status("9000000001") == 200  # the top manager, as hierarchy walkers send it
    assert status("2020000002") == 403  # an unrelated account


def test_search_metrics_of_the_manager_are_refused(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "9000000001", "SELECT customer.id, metrics.clicks FROM customer")
    assert error_code(failure(response, 400)) == {"queryError": "REQUESTED_METRICS_FOR_MANAGER"}
    dated = search(sandbox_http, "9000000001", "SELECT campaign.id, segments.date FROM campaign "
                   "WHERE segments.date DURING YESTERDAY")
    assert error_code(failure(dated, 400)) == {"queryError": "REQUESTED_METRICS_FOR_MANAGER"}
    rows = all_rows(sandbox_http, "9000000001", "SELECT customer.manager FROM customer")
    assert rows[0]["customer"]["manager"] is True


def test_search_cancelled_account_is_not_enabled(sandbox_http: httpx.Client) -> None:
    error = failure(search(sandbox_http, "2020000004", "SELECT campaign.id FROM campaign", VIA_MANAGER), 403)
    assert error_code(error) == {"authorizationError": "CUSTOMER_NOT_ENABLED"}


def test_search_customer_client_walks_the_manager_tree(sandbox_http: httpx.Client) -> None:
    rows = all_rows(sandbox_http, "9000000001", "SELECT customer_client.client_customer, customer_client.id, "
                    "customer_client.level, customer_client.manager, customer_client.descriptive_name, "
                    "customer_client.currency_code, customer_client.time_zone, customer_client.status "
                    "FROM customer_client WHERE customer_client.level <= 1")
    found = {r["customerClient"]["id"]: r["customerClient"] for r in rows}
    assert set(found) == {"9000000001", "2020000001", "2020000003", "2020000004"}
    assert found["9000000001"]["level"] == "0" and found["9000000001"]["manager"] is True
    assert found["2020000003"] == {
        "resourceName": "customers/9000000001/customerClients/2020000003",
        "clientCustomer": "customers/2020000003", "id": "2020000003", "level": "1", "manager": False,
        "descriptiveName": "Bloom Botanics Search", "currencyCode": "EUR", "timeZone": "Europe/Berlin",
        "status": "ENABLED"}
    assert found["2020000004"]["status"] == "CANCELED"
    level_zero = all_rows(sandbox_http, "9000000001", "SELECT customer_client.id FROM customer_client "
                          "WHERE customer_client.level = 0")
    assert [r["customerClient"]["id"] for r in level_zero] == ["9000000001"]


@pytest.mark.parametrize("version", ["v23", "v24", "v25", "v26"])
def test_versions_live_ones_answer(sandbox_http: httpx.Client, version: str) -> None:
    response = sandbox_http.get(f"/google/ads/{version}/customers:listAccessibleCustomers", headers=TOKEN)
    assert response.status_code == 200


@pytest.mark.parametrize("version", ["v22", "v17"])
def test_versions_sunset_ones_are_unsupported(sandbox_http: httpx.Client, version: str) -> None:
    response = sandbox_http.post(f"/google/ads/{version}/customers/2020000002/googleAds:search",
                                 headers=TOKEN, json={"query": "SELECT campaign.id FROM campaign"})
    error = failure(response, 400)
    assert (error["status"], error["message"]) == ("INVALID_ARGUMENT",
                                                   "Request contains an invalid argument.")
    detail = error["details"][0]
    assert detail["@type"] == f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
    assert detail["errors"] == [{"errorCode": {"requestError": "UNSUPPORTED_VERSION"},
                                 "message": f" Version {version} is deprecated. Requests to this "
                                            "version will be blocked."}]


def test_versions_unknown_one_is_not_found(sandbox_http: httpx.Client) -> None:
    assert sandbox_http.get("/google/ads/v99/customers:listAccessibleCustomers",
                            headers=TOKEN).status_code == 404


def test_during_uses_the_account_time_zone(sandbox: Any, sandbox_http: httpx.Client) -> None:
    sandbox.app.state.clock.advance(dt.timedelta(hours=12))  # 00:00 UTC on the 27th
    query = ("SELECT campaign.id, segments.date, metrics.impressions FROM campaign "
             "WHERE segments.date DURING TODAY")
    kolkata = {r["segments"]["date"] for r in all_rows(sandbox_http, "2020000001", query, VIA_MANAGER)}
    new_york = {r["segments"]["date"] for r in all_rows(sandbox_http, "2020000002", query)}
    assert (kolkata, new_york) == ({"2026-11-27"}, {"2026-11-26"})
    yesterday = query.replace("TODAY", "YESTERDAY")
    assert {r["segments"]["date"] for r in all_rows(sandbox_http, "2020000001", yesterday,
                                                    VIA_MANAGER)} == {"2026-11-26"}


def test_search_is_deterministic_but_for_request_ids() -> None:
    bodies = []
    for _ in range(2):
        app = Sandbox(SandboxConfig(seed=7, today=dt.date(2026, 11, 26)))
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sandbox") as http:
            body = search(http, "2020000002", ADS, stream=True).json()
        bodies.append([{k: v for k, v in batch.items() if k != "requestId"} for batch in body])
    assert bodies[0] == bodies[1] and bodies[0][0]["results"]


def test_search_restates_recent_conversions_later(sandbox: Any, sandbox_http: httpx.Client) -> None:
    query = ("SELECT campaign.id, segments.date, metrics.conversions FROM campaign "
             "WHERE segments.date = '2026-11-24'")
    before = sum(r["metrics"]["conversions"] for r in all_rows(sandbox_http, "2020000002", query))
    sandbox.app.state.clock.advance(dt.timedelta(days=5))
    after = sum(r["metrics"]["conversions"] for r in all_rows(sandbox_http, "2020000002", query))
    assert after > before > 0


def test_auth_missing_unknown_and_refresh_tokens_get_401(sandbox_http: httpx.Client) -> None:
    url = f"{V}/customers:listAccessibleCustomers"
    missing = failure(sandbox_http.get(url), 401)
    assert missing["message"].startswith("Request is missing required authentication credential.")
    for value in ("ya29.nope", "1//sandbox-refresh-token"):
        error = failure(sandbox_http.get(url, headers={"Authorization": f"Bearer {value}"}), 401)
        assert error == {"code": 401, "status": "UNAUTHENTICATED", "message": (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
            "cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project.")}


def test_auth_developer_token_header_is_ignored(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{V}/customers:listAccessibleCustomers",
                                headers={**TOKEN, "developer-token": "anything"})
    assert response.status_code == 200


@pytest.mark.parametrize(("kind", "status", "canonical", "code"), [
    ("rate_limit", 429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}),
    ("server_error", 500, "INTERNAL", {"internalError": "INTERNAL_ERROR"}),
    ("reduce_data", 500, "INTERNAL", {"internalError": "INTERNAL_ERROR"}),
    ("unavailable", 503, "UNAVAILABLE", {"internalError": "TRANSIENT_ERROR"}),
    ("permission", 403, "PERMISSION_DENIED", {"authorizationError": "USER_PERMISSION_DENIED"}),
])
@pytest.mark.parametrize("stream", [False, True])
def test_faults_by_header_answer_like_google(sandbox_http: httpx.Client, kind: str, status: int,
                                             canonical: str, code: dict[str, str], stream: bool) -> None:
    response = search(sandbox_http, "2020000002", DAILY, {**TOKEN, "X-Sandbox-Fault": kind}, stream=stream)
    error = failure(response, status, stream=stream)
    assert error["status"] == canonical and error_code(error) == code
    assert error["details"][0]["requestId"] == response.headers["request-id"]
    assert search(sandbox_http, "2020000002", DAILY, stream=stream).status_code == 200


def test_faults_rate_limit_carries_retry_delay(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", DAILY, {**TOKEN, "X-Sandbox-Fault": "rate_limit"},
                      stream=True)
    error = failure(response, 429, stream=True)
    assert error["message"] == "Resource has been exhausted (e.g. check quota)."
    assert error["details"][0]["errors"][0]["details"] == {"quotaErrorDetails": {
        "rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": "30s"}}


def test_faults_expired_token_is_401_without_failure_details(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", DAILY, {**TOKEN, "X-Sandbox-Fault": "expired_token"})
    assert set(failure(response, 401)) == {"code", "message", "status"}


def test_faults_revoked_token_revokes_the_grant(sandbox_http: httpx.Client) -> None:
    tokens = sandbox_http.post("/google/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token",
        "client_id": "sandbox-client.apps.googleusercontent.com",
        "client_secret": "sandbox-google-client-secret"}).json()
    mine = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert search(sandbox_http, "2020000002", DAILY, {**mine, "X-Sandbox-Fault": "revoked_token"}
                  ).status_code == 401
    assert search(sandbox_http, "2020000002", DAILY, mine).status_code == 401
    refresh = sandbox_http.post("/google/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token",
        "client_id": "sandbox-client.apps.googleusercontent.com",
        "client_secret": "sandbox-google-client-secret"})
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")


def test_faults_rule_fires_on_the_nth_request(sandbox: Any, sandbox_http: httpx.Client) -> None:
    sandbox.app.faults.add(FaultRule(kind="server_error", platform="google", nth=2))
    statuses = [search(sandbox_http, "2020000002", DAILY).status_code for _ in range(3)]
    assert statuses == [200, 500, 200]


def test_faults_truncated_body_breaks_the_connection(sandbox_http: httpx.Client) -> None:
    with pytest.raises(httpx.HTTPError):
        search(sandbox_http, "2020000002", DAILY, {**TOKEN, "X-Sandbox-Fault": "truncated"})


def test_faults_malformed_body_is_not_json(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", DAILY, {**TOKEN, "X-Sandbox-Fault": "malformed"})
    with pytest.raises(ValueError):
        response.json()


def test_faults_slow_answer_arrives_late(sandbox_http: httpx.Client) -> None:
    started = time.monotonic()
    response = sandbox_http.get(f"{V}/customers:listAccessibleCustomers",
                                headers={**TOKEN, "X-Sandbox-Fault": "slow; delay=0.3"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.3


def test_wsgi_transport_serves_the_api_in_process() -> None:
    app = Sandbox(SandboxConfig(today=dt.date(2026, 11, 26)))
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sandbox") as http:
        rows = all_rows(http, "2020000003", "SELECT campaign.id, campaign.name FROM campaign", VIA_MANAGER)
    assert [r["campaign"]["id"] for r in rows] == ["3001", "3002", "3003", "3004"]  # 3004: PMax


SHARES = ("metrics.search_impression_share, metrics.search_budget_lost_impression_share, "
          "metrics.search_rank_lost_impression_share")


def test_search_impression_shares_only_for_search_campaigns_with_the_apis_bounds(
        sandbox_http: httpx.Client) -> None:
    from decimal import Decimal

    rows = all_rows(sandbox_http, "2020000003", "SELECT campaign.id, "
                    "campaign.advertising_channel_type, segments.date, metrics.impressions, "
                    f"{SHARES} FROM campaign WHERE segments.date DURING LAST_30_DAYS", VIA_MANAGER)
    search_rows = [r for r in rows if r["campaign"]["advertisingChannelType"] == "SEARCH"]
    pmax = [r for r in rows if r["campaign"]["advertisingChannelType"] == "PERFORMANCE_MAX"]
    assert pmax and all(set(r["metrics"]) == {"impressions"} for r in pmax)  # absent, not 0
    shares = [Decimal(str(r["metrics"]["searchImpressionShare"])) for r in search_rows
              if int(r["metrics"]["impressions"])]
    assert shares and all(Decimal("0.0999") <= share <= 1 for share in shares)
    assert Decimal("0.0999") in shares  # a day below 10 % is reported as the floor
    for row in search_rows:  # the three add up to 1 unless a bound stands in for one
        won, budget, rank = (Decimal(str(row["metrics"].get(key, 0))) for key in (
            "searchImpressionShare", "searchBudgetLostImpressionShare",
            "searchRankLostImpressionShare"))
        if Decimal("0.0999") not in (won,) and Decimal("0.9001") not in (budget, rank):
            assert won + budget + rank == 1


def test_search_impression_shares_are_refused_below_campaign(sandbox_http: httpx.Client) -> None:
    response = search(sandbox_http, "2020000002", f"SELECT ad_group.id, {SHARES} FROM ad_group "
                      "WHERE segments.date DURING LAST_7_DAYS")
    assert error_code(failure(response, 400)) == {
        "queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}


def test_search_impression_share_of_a_range_is_weighted_by_eligible_impressions(
        sandbox_http: httpx.Client) -> None:
    from decimal import Decimal

    from datadrip.sandbox.google.shares import true_shares

    where = "WHERE segments.date BETWEEN '2026-11-10' AND '2026-11-16'"
    daily = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, segments.date, "
                     f"metrics.impressions FROM campaign {where}")
    flat = all_rows(sandbox_http, "2020000002", "SELECT campaign.id, metrics.impressions, "
                    f"metrics.search_impression_share FROM campaign {where}")
    checked = 0
    for row in flat:
        mine = [d for d in daily if d["campaign"]["id"] == row["campaign"]["id"]
                and int(d["metrics"]["impressions"])]
        if not mine:
            continue
        eligible = sum(Decimal(d["metrics"]["impressions"]) / true_shares(
            row["campaign"]["id"], dt.date.fromisoformat(d["segments"]["date"]).toordinal())[0]
            for d in mine)
        weighted = (Decimal(row["metrics"]["impressions"]) / eligible).quantize(Decimal("0.0001"))
        sent = Decimal(str(row["metrics"]["searchImpressionShare"]))
        assert sent == (weighted if weighted >= Decimal("0.1") else Decimal("0.0999"))
        checked += 1
    assert checked
