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
from datadrip.platforms.base import BreakdownRow, DateWindow, SyncOptions
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
