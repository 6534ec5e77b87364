"""The GAQL parser: every construct it reads, every syntax error it reports, and the same errors
as the sandbox's API returns them over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from datadrip.sandbox.google.gaql import Condition, GaqlError, Value, during, parse, parse_date, tokenize

TOKEN = {"Authorization": "Bearer ya29.sandbox-access-token"}
SEARCH = "/google/ads/v26/customers/2020000002/googleAds:search"


def test_gaql_parses_select_from_where_order_limit_parameters() -> None:
    query = parse("select Campaign.ID, metrics.clicks FROM campaign WHERE campaign.status = ENABLED "
                  "and metrics.clicks > 10 ORDER BY metrics.clicks DESC, campaign.id asc LIMIT 5 "
                  "PARAMETERS omit_unselected_resource_names = true")
    assert query.select == ("campaign.id", "metrics.clicks")
    assert query.resource == "campaign"
    assert query.where == (Condition("campaign.status", "=", (Value("word", "ENABLED"),)),
                           Condition("metrics.clicks", ">", (Value("number", "10"),)))
    assert query.order_by == (("metrics.clicks", True), ("campaign.id", False))
    assert query.limit == 5
    assert query.parameters == {"omit_unselected_resource_names": "true"}


@pytest.mark.parametrize("operator", ["=", "!=", ">", ">=", "<", "<="])
def test_gaql_parses_each_comparison_operator(operator: str) -> None:
    query = parse(f"SELECT campaign.id FROM campaign WHERE campaign.id {operator} 2001")
    assert query.where[0].operator == operator


def test_gaql_parses_in_not_in_between_during_like_and_is_null() -> None:
    query = parse("SELECT campaign.id FROM campaign WHERE campaign.id IN (1, 2) "
                  "AND campaign.status NOT IN ('PAUSED', 'REMOVED') "
                  "AND segments.date BETWEEN '2026-11-01' AND \"20261105\" "
                  "AND segments.date during last_7_days AND campaign.name LIKE '%Sale%' "
                  "AND campaign.name NOT LIKE 'x\\_%' AND campaign.name IS NOT NULL")
    ops = [(c.operator, tuple(v.text for v in c.values)) for c in query.where]
    assert ops == [("IN", ("1", "2")), ("NOT IN", ("PAUSED", "REMOVED")),
                   ("BETWEEN", ("2026-11-01", "20261105")), ("DURING", ("LAST_7_DAYS",)),
                   ("LIKE", ("%Sale%",)), ("NOT LIKE", ("x\\_%",)), ("IS NOT NULL", ())]


def test_gaql_tokenizer_keeps_quotes_escapes_and_negative_numbers_apart() -> None:
    kinds = [(t.kind, t.text) for t in tokenize("a.b >= -1.5 AND c = 'it\\'s, (x)'")]
    assert kinds == [("word", "a.b"), ("op", ">="), ("number", "-1.5"), ("word", "AND"),
                     ("word", "c"), ("op", "="), ("string", "it's, (x)"), ("end", "")]


@pytest.mark.parametrize(("text", "code"), [
    ("", "UNEXPECTED_END_OF_QUERY"),
    ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id =", "UNEXPECTED_END_OF_QUERY"),
    ("campaign.id FROM campaign", "EXPECTED_SELECT"),
    ("SELECT campaign.id campaign", "EXPECTED_FROM"),
    ("SELECT FROM campaign", "BAD_FIELD_NAME"),
    ("SELECT campaign.id FROM campaign, ad_group", "UNEXPECTED_INPUT"),
    ("SELECT campaign.id FROM campaign LIMIT 5 extra", "UNEXPECTED_INPUT"),
    ("SELECT campaign.id FROM campaign WHERE campaign.name = 'open", "STRING_NOT_TERMINATED"),
    ("SELECT campaign.id FROM campaign WHERE campaign.name = 'a\nb'", "PROHIBITED_NEWLINE_IN_STRING"),
    ("SELECT campaign.id FROM campaign WHERE campaign.name = 'a\\qb'", "BAD_ESCAPE_SEQUENCE"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id = 12ab", "BAD_NUMBER"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id ~ 1", "BAD_SYMBOL"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id CONTAINS 1", "BAD_OPERATOR"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id IN 1", "EXPECTED_LIST"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id IN ()", "PROHIBITED_EMPTY_LIST_IN_CONDITION"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id IN (1, 'a')",
     "PROHIBITED_VALUE_COMBINATION_IN_LIST"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id = (1)", "EXPECTED_SINGLE_VALUE"),
    ("SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-11-01' '2026-11-02'",
     "EXPECTED_AND"),
    ("SELECT campaign.id FROM campaign WHERE segments.date BETWEEN AND",
     "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR"),
    ("SELECT campaign.id FROM campaign WHERE segments.date DURING LAST_99_DAYS",
     "INVALID_VALUE_WITH_DURING_OPERATOR"),
    ("SELECT campaign.id FROM campaign WHERE campaign.name LIKE 5", "INVALID_VALUE_WITH_LIKE_OPERATOR"),
    ("SELECT campaign.id FROM campaign WHERE campaign.id = AND", "BAD_VALUE"),
    ("SELECT campaign.id FROM campaign ORDER campaign.id", "EXPECTED_BY"),
    ("SELECT campaign.id FROM campaign LIMIT ten", "BAD_LIMIT_VALUE"),
    ("SELECT campaign.id FROM campaign LIMIT 0", "LIMIT_VALUE_TOO_LOW"),
    ("SELECT campaign.id FROM 5", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
])
def test_gaql_rejects_bad_syntax_with_the_api_code(text: str, code: str) -> None:
    with pytest.raises(GaqlError) as caught:
        parse(text)
    assert caught.value.code == code


def test_gaql_reads_both_date_formats_and_rejects_impossible_dates() -> None:
    assert parse_date(Value("string", "2026-11-05")) == dt.date(2026, 11, 5)
    assert parse_date(Value("string", "20261105")) == dt.date(2026, 11, 5)
    with pytest.raises(GaqlError) as caught:
        parse_date(Value("string", "2026-02-30"))
    assert caught.value.code == "BAD_VALUE"


@pytest.mark.parametrize(("literal", "first", "last"), [
    ("TODAY", "2026-11-26", "2026-11-26"),  # a Thursday
    ("YESTERDAY", "2026-11-25", "2026-11-25"),
    ("LAST_7_DAYS", "2026-11-19", "2026-11-25"),
    ("LAST_14_DAYS", "2026-11-12", "2026-11-25"),
    ("LAST_30_DAYS", "2026-10-27", "2026-11-25"),
    ("THIS_MONTH", "2026-11-01", "2026-11-26"),
    ("LAST_MONTH", "2026-10-01", "2026-10-31"),
    ("THIS_WEEK_MON_TODAY", "2026-11-23", "2026-11-26"),
    ("THIS_WEEK_SUN_TODAY", "2026-11-22", "2026-11-26"),
    ("LAST_WEEK_MON_SUN", "2026-11-16", "2026-11-22"),
    ("LAST_WEEK_SUN_SAT", "2026-11-15", "2026-11-21"),
    ("LAST_BUSINESS_WEEK", "2026-11-16", "2026-11-20"),
])
def test_gaql_during_literals_cover_the_documented_ranges(literal: str, first: str, last: str) -> None:
    assert during(literal, dt.date(2026, 11, 26)) == (dt.date.fromisoformat(first),
                                                      dt.date.fromisoformat(last))


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "Request contains an invalid argument."
    detail = error["details"][0]
    assert detail["@type"] == "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"
    assert detail["requestId"] == response.headers["request-id"]
    failure: dict[str, Any] = detail["errors"][0]
    return failure


@pytest.mark.parametrize(("query", "code"), [
    ("SELECT campaign.nope FROM campaign", {"queryError": "UNRECOGNIZED_FIELD"}),
    ("SELECT campaign.id FROM campaigns", {"queryError": "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"}),
    ("SELECT metrics.clicks FROM metrics", {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE"}),
    ("SELECT ad_group.id FROM campaign", {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"}),
    ("SELECT campaign.id FROM campaign WHERE ad_group.id = 1",
     {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_WHERE_CLAUSE"}),
    ("SELECT customer_client.id, metrics.clicks FROM customer_client",
     {"queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"}),
    ("SELECT customer_client.id, segments.date FROM customer_client",
     {"queryError": "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE"}),
    ("SELECT campaign.id FROM campaign WHERE", {"queryError": "UNEXPECTED_END_OF_QUERY"}),
    ("SELECT campaign.id FROM campaign WHERE segments.date >= '2026-13-01'", {"queryError": "BAD_VALUE"}),
    ("SELECT campaign.id FROM campaign WHERE campaign.status = LIVE", {"queryError": "BAD_ENUM_CONSTANT"}),
    ("SELECT campaign.id FROM campaign WHERE campaign.id LIKE '1%'",
     {"queryError": "OPERATOR_FIELD_MISMATCH"}),
    ("SELECT campaign.id FROM campaign PARAMETERS fast = true", {"queryError": "BAD_PARAMETER_NAME"}),
    ("SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE segments.date >= '2026-11-01'",
     {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"}),
    ("SELECT campaign.id, segments.date, metrics.clicks FROM campaign "
     "WHERE segments.date BETWEEN '2023-01-01' AND '2023-01-31'",
     {"dateRangeError": "REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED"}),
])
def test_gaql_errors_reach_the_client_as_google_ads_failures(sandbox_http: httpx.Client, query: str,
                                                             code: dict[str, str]) -> None:
    failure = _error(sandbox_http.post(SEARCH, headers=TOKEN, json={"query": query}))
    assert failure["errorCode"] == code
    assert failure["message"]


def test_gaql_unrecognized_field_message_names_the_field(sandbox_http: httpx.Client) -> None:
    failure = _error(sandbox_http.post(SEARCH, headers=TOKEN,
                                       json={"query": "SELECT campaign.foo FROM campaign"}))
    assert failure["message"] == "Unrecognized field in the query: 'campaign.foo'."


def test_gaql_finite_range_message_is_the_api_wording(sandbox_http: httpx.Client) -> None:
    failure = _error(sandbox_http.post(SEARCH, headers=TOKEN, json={
        "query": "SELECT campaign.id, segments.date, metrics.clicks FROM campaign"}))
    assert failure == {"errorCode": {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"},
                       "message": "Expects filters on the following field to limit a finite date "
                                  "range: 'segments.date'."}


@pytest.mark.parametrize("where", [
    "segments.date BETWEEN '2026-11-01' AND '2026-11-03'",
    "segments.date BETWEEN '20261101' AND '20261103'",
    "segments.date >= '2026-11-01' AND segments.date <= '2026-11-03'",
    "segments.date > '2026-10-31' AND segments.date < '2026-11-04'",
    "segments.date IN ('2026-11-01', '2026-11-02', '2026-11-03')",
])
def test_gaql_every_finite_range_form_selects_the_same_days(sandbox_http: httpx.Client, where: str) -> None:
    query = f"SELECT campaign.id, segments.date, metrics.impressions FROM campaign WHERE {where}"
    response = sandbox_http.post(SEARCH, headers=TOKEN, json={"query": query})
    assert response.status_code == 200, response.text
    days = {row["segments"]["date"] for row in response.json()["results"]}
    assert days == {"2026-11-01", "2026-11-02", "2026-11-03"}
