"""Reading Meta's broken-down campaign rows: each value as Meta writes it (placement joined as
"instagram/feed"), numbers exact and read like the daily rows, a missing number unknown (None),
and a clear error for anything unreadable; the requests asked for each dimension."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import AccountRef, BreakdownRow, DateWindow, FetchNotes, SyncOptions
from datadrip.platforms.meta.breakdowns import (
    META_BREAKDOWNS,
    breakdown_limit,
    breakdown_params,
    parse_breakdown_row,
    reach_from,
)

TODAY = dt.date(2026, 11, 26)


def row(**fields: Any) -> dict[str, Any]:
    """An age row as Graph writes it, with `fields` changed (None removes one)."""
    base: dict[str, Any] = {
        "campaign_id": "1", "campaign_name": "Diwali Sale", "age": "25-34", "spend": "421.05",
        "impressions": "5123", "clicks": "129", "reach": "4021",
        "actions": [{"action_type": "omni_purchase", "value": "3", "7d_click": "2", "1d_view": "1"},
                    {"action_type": "lead", "value": "5"}],
        "action_values": [{"action_type": "omni_purchase", "value": "5231.00"}],
        "date_start": "2026-11-20", "date_stop": "2026-11-20"}
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_meta_breakdown_row_is_read_exactly_with_the_daily_rows_conversions() -> None:
    assert parse_breakdown_row(row(), "age", ("age",), SyncOptions()) == BreakdownRow(
        "1", dt.date(2026, 11, 20), "age", "25-34", 421_050_000, 5123, 129, Decimal(3),
        5_231_000_000, 4021)
    chosen = parse_breakdown_row(row(), "age", ("age",), SyncOptions(conversion_actions=("lead",)))
    assert (chosen.conversions, chosen.conversion_value_micros) == (Decimal(5), 0)


def test_meta_breakdown_row_without_reach_or_spend_leaves_them_unknown() -> None:
    read = parse_breakdown_row(row(reach=None, spend=None), "age", ("age",), SyncOptions())
    assert read.reach is None and read.spend_micros is None and read.impressions == 5123


def test_meta_placement_rows_join_platform_and_position() -> None:
    read = parse_breakdown_row(row(age=None, publisher_platform="instagram",
                                   platform_position="feed"),
                               "placement", META_BREAKDOWNS["placement"], SyncOptions())
    assert read.value == "instagram/feed"


@pytest.mark.parametrize(("fields", "message"), [
    ({"campaign_id": None}, r"a age breakdown row without campaign_id"),
    ({"age": None}, r"a row for campaign 1 by age without age"),
    ({"age": ""}, r"a row for campaign 1 by age without age"),
    ({"spend": "abc"}, r"spend = 'abc' for campaign 1 by age on 2026-11-20: not a number"),
    ({"reach": "12.5"}, r"reach = '12.5' .*: not a whole number"),
    ({"actions": {"omni_purchase": "1"}}, r"actions for campaign 1 by age on 2026-11-20 that is not a list"),
    ({"date_stop": "2026-11-21"}, r"a row for campaign 1 by age covering '2026-11-20' to '2026-11-21'")])
def test_meta_breakdown_row_unreadable_is_a_clear_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DataDripError, match=r"^Meta sent " + message) as caught:
        parse_breakdown_row(row(**fields), "age", ("age",), SyncOptions())
    assert caught.value.hint is not None


def test_meta_breakdown_requests_list_windows_for_age_and_gender_only_and_reach_within_13_months() -> None:
    recent = DateWindow(dt.date(2026, 11, 1), dt.date(2026, 11, 14))
    age = breakdown_params(recent, "age", TODAY, 500)
    placement = breakdown_params(recent, "placement", TODAY, 500)
    assert age["breakdowns"] == "age" and placement["breakdowns"] == "publisher_platform,platform_position"
    assert json.loads(age["action_attribution_windows"]) == ["1d_click", "7d_click", "1d_view"]
    assert "action_attribution_windows" not in placement
    assert "reach" in age["fields"].split(",")
    old = DateWindow(dt.date(2025, 10, 25), dt.date(2025, 11, 7))
    assert reach_from(TODAY) == dt.date(2025, 10, 26)
    assert "reach" not in breakdown_params(old, "country", TODAY, 500)["fields"].split(",")
    assert breakdown_limit("device", TODAY) == dt.date(2023, 10, 26)


def test_meta_breakdown_of_an_unknown_dimension_is_refused() -> None:
    with pytest.raises(DataDripError, match="unknown breakdown dimension 'planet'"):
        breakdown_params(DateWindow(TODAY, TODAY), "planet", TODAY, 500)


# --- the device breakdown ([meta] device_breakdown) -----------------------------------------------

INR = AccountRef("meta", "act_1010000001", "Masala Mornings", "INR", "Asia/Kolkata")
DEVICE_WINDOW = DateWindow(dt.date(2026, 11, 10), dt.date(2026, 11, 12))  # the sandbox's today: 11-26


def _device_rows(sandbox: Any, settings: dict[str, Any], device_breakdown: str | None
                 ) -> tuple[list[BreakdownRow], list[dict[str, str]]]:
    """The device rows of INR over DEVICE_WINDOW read from the sandbox over HTTP with the setting
    (None: the default), and the requests the sandbox saw."""
    import httpx

    from datadrip.platforms.meta.connector import MetaAds

    chosen = {} if device_breakdown is None else {"device_breakdown": device_breakdown}
    sandbox.app.state.extra.pop("meta_breakdown_requests", None)
    with httpx.Client(timeout=10) as http:
        connector = MetaAds(http=http, graph_url=settings["graph_url"],
                            api_version=settings["api_version"],
                            access_token=settings["access_token"], **chosen)
        rows = list(connector.breakdown_metrics(INR, DEVICE_WINDOW, "device", SyncOptions(),
                                                FetchNotes(), today=TODAY))
    return rows, list(sandbox.app.state.extra.get("meta_breakdown_requests", []))


def _campaign_days(rows: list[BreakdownRow]) -> dict[tuple[str, dt.date], tuple[Any, ...]]:
    sums: dict[tuple[str, dt.date], list[Any]] = {}
    for read in rows:
        total = sums.setdefault((read.entity_id, read.date), [0, 0, 0, Decimal(0), 0])
        for index, number in enumerate((read.spend_micros, read.impressions, read.clicks,
                                        read.conversions, read.conversion_value_micros)):
            total[index] += number
    return {key: tuple(value) for key, value in sums.items()}


def test_meta_device_breakdown_by_default_is_device_platform_with_reach(
        sandbox: Any, meta_settings: dict[str, Any]) -> None:
    rows, requests = _device_rows(sandbox, meta_settings, None)

    assert {request["breakdowns"] for request in requests} == {"device_platform"}
    assert {read.value for read in rows} == {"mobile_app", "mobile_web", "desktop"}
    assert all(read.reach is not None and read.reach > 0 for read in rows)


def test_meta_device_breakdown_by_impression_device_sums_the_platforms_and_leaves_reach_unknown(
        sandbox: Any, meta_settings: dict[str, Any]) -> None:
    by_device_platform, _ = _device_rows(sandbox, meta_settings, "device_platform")
    rows, requests = _device_rows(sandbox, meta_settings, "publisher_platform,impression_device")

    assert {request["breakdowns"] for request in requests} == {"publisher_platform,impression_device"}
    assert all("reach" not in request["fields"].split(",") for request in requests)
    assert {read.value for read in rows} <= {"iphone", "ipad", "android_smartphone",
                                             "android_tablet", "desktop", "other"}
    assert "iphone" in {read.value for read in rows}
    # one row per campaign, day and device: the publisher platforms are summed into it
    assert len({(read.entity_id, read.date, read.value) for read in rows}) == len(rows)
    assert all(read.reach is None for read in rows)
    # both splits add up to the same campaign days, to the micro
    assert _campaign_days(rows) == _campaign_days(by_device_platform) != {}


def test_meta_device_breakdown_rows_with_an_unknown_part_stay_unknown_when_summed() -> None:
    from datadrip.platforms.meta.breakdowns import DEVICE_KEYS, _summed

    keys = DEVICE_KEYS["publisher_platform,impression_device"]
    parts = [parse_breakdown_row(row(age=None, publisher_platform=platform,
                                     impression_device="iphone", spend=spend), "device", keys,
                                 SyncOptions())
             for platform, spend in (("facebook", "1.50"), ("instagram", None))]
    (summed,) = list(_summed(parts))
    assert (summed.value, summed.spend_micros, summed.impressions, summed.clicks, summed.reach) == (
        "iphone", None, 2 * 5123, 2 * 129, None)
    assert summed.conversions == Decimal(6)


@pytest.mark.parametrize("value", ["impression_device", "platform_position", "device",
                                   "impression_device,publisher_platform"])
def test_meta_device_breakdown_setting_refuses_what_meta_does_not_document(value: str) -> None:
    from pydantic import ValidationError

    from datadrip.platforms.meta.settings import MetaSettings

    with pytest.raises(ValidationError, match="device_platform"):
        MetaSettings(device_breakdown=value)
    assert MetaSettings(device_breakdown=" publisher_platform , impression_device").device_breakdown \
        == "publisher_platform,impression_device"


def test_meta_impression_device_without_the_opt_in_gives_no_rows_and_a_warning_naming_it(
        sandbox: Any, meta_settings: dict[str, Any]) -> None:
    import httpx

    from datadrip.platforms.meta.connector import MetaAds

    sandbox.app.state.extra["meta_impression_device_not_opted_in"] = {"1010000001"}
    notes = FetchNotes()
    with httpx.Client(timeout=10) as http:
        def device(setting: str) -> list[BreakdownRow]:
            connector = MetaAds(http=http, graph_url=meta_settings["graph_url"],
                                api_version=meta_settings["api_version"],
                                access_token=meta_settings["access_token"], device_breakdown=setting)
            return list(connector.breakdown_metrics(INR, DEVICE_WINDOW, "device", SyncOptions(),
                                                    notes, today=TODAY))

        assert device("publisher_platform,impression_device") == []
        assert device("device_platform")  # the other breakdown needs no opt-in
    assert [warning for warning in notes.warnings if "opt-in" in warning] == [
        "Meta answered no publisher_platform,impression_device rows for act_1010000001 from "
        "2026-11-10 to 2026-11-12: if its campaigns ran then, the account needs the Ads Manager "
        "opt-in for impression_device (since 2026-08-03, for accounts without a sales "
        "representative), or set [meta] device_breakdown = \"device_platform\""]
