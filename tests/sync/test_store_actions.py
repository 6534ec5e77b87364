"""The sync's writer keeps every conversion action beside its metric row: a chunk replaces its
days' actions whole (an action the platform stopped reporting goes), rows with actions are marked
so, and the account's catalogue keeps each action's latest name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from datadrip.core.config import load_settings
from datadrip.db.engine import open_workbook
from datadrip.db.models import AdAccount
from datadrip.platforms.base import (
    ActionCount,
    ConversionActionInfo,
    DateWindow,
    EntityRecord,
    MetricRow,
)
from datadrip.sync.store import AccountWriter
from datadrip.workbook.session import open_session

DAY = dt.date(2026, 11, 20)
WINDOW = DateWindow(DAY, DAY + dt.timedelta(days=1))
CAMPAIGN = EntityRecord("campaign", "120001", "Diwali")


@pytest.fixture
def account(dd: Callable[..., Any]) -> str:
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    assert dd("client", "add", "Masala Mornings").exit_code == 0
    with open_session(load_settings(), write=True) as wb:
        client_id = wb.session.execute(sa.text("SELECT id FROM client")).scalar_one()
        row = AdAccount(client_id=client_id, platform="meta", external_id="act_1", name="Main",
                        currency="INR", timezone="Asia/Kolkata")
        wb.session.add(row)
        wb.session.flush()
        return row.id


def _row(day: dt.date, actions: tuple[ActionCount, ...] | None, **numbers: Any) -> MetricRow:
    return MetricRow(level="campaign", entity_id="120001", date=day, spend_micros=1_500_000_000,
                     impressions=10_000, clicks=240, conversions=Decimal(3),
                     conversion_value_micros=4_500_000_000, actions=actions, **numbers)


def _held(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql))]


def test_store_keeps_every_action_of_a_row_exactly_and_marks_the_row(account, workbook_path):
    engine = open_workbook(str(workbook_path))
    writer = AccountWriter(engine, account)
    purchases = (ActionCount("omni_purchase", Decimal(3), 4_500_000_000),
                 ActionCount("offsite_conversion.fb_pixel_purchase", Decimal(3), 4_500_000_000),
                 ActionCount("link_click", Decimal(180)),
                 ActionCount("offsite_conversion.custom.77", Decimal("0.5"), None))
    rows = [_row(DAY, purchases, link_clicks=180, result_indicator="actions:omni_purchase",
                 results=Decimal(3), attribution_setting="7d_click_1d_view"),
            _row(DAY + dt.timedelta(days=1), None)]

    assert writer.write_chunk("campaign", WINDOW, [CAMPAIGN], rows) == 2

    assert _held(engine, "SELECT date, action, count_millionths, value_micros FROM "
                         "metric_action_daily ORDER BY action") == [
        ("2026-11-20", "link_click", 180_000_000, None),
        ("2026-11-20", "offsite_conversion.custom.77", 500_000, None),
        ("2026-11-20", "offsite_conversion.fb_pixel_purchase", 3_000_000, 4_500_000_000),
        ("2026-11-20", "omni_purchase", 3_000_000, 4_500_000_000)]
    assert _held(engine, "SELECT date, actions_kept, link_clicks, result_indicator, "
                         "results_millionths, attribution_setting FROM metric_daily ORDER BY date") == [
        ("2026-11-20", 1, 180, "actions:omni_purchase", 3_000_000, "7d_click_1d_view"),
        ("2026-11-21", 0, None, None, None, None)]


def test_store_an_action_named_twice_keeps_its_last_numbers_and_any_id_reads_back(account,
                                                                                  workbook_path):
    engine = open_workbook(str(workbook_path))
    actions = (ActionCount("lead", Decimal(1)), ActionCount('offsite_conversion.custom."Ä"\\1',
                                                           Decimal("0.3333335"), 7),
               ActionCount("lead", Decimal(2), 9_000_000))
    AccountWriter(engine, account).write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, actions)])

    assert _held(engine, "SELECT action, count_millionths, value_micros FROM metric_action_daily "
                         "ORDER BY action") == [
        ("lead", 2_000_000, 9_000_000),
        ('offsite_conversion.custom."Ä"\\1', 333_334, 7)]  # half to even: 333,333.5 → 333,334


def test_store_a_resync_replaces_the_days_actions_and_drops_those_no_longer_reported(account,
                                                                                    workbook_path):
    engine = open_workbook(str(workbook_path))
    writer = AccountWriter(engine, account)
    first = (ActionCount("omni_purchase", Decimal(3), 4_500_000_000), ActionCount("lead", Decimal(1)))
    writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, first)])
    before = _held(engine, "SELECT * FROM metric_action_daily ORDER BY action")
    writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, first)])
    again = _held(engine, "SELECT action, count_millionths, value_micros FROM metric_action_daily "
                          "ORDER BY action")
    assert again == [(action, count, value) for _a, _l, _d, _e, action, count, value, _s in before]

    restated = (ActionCount("omni_purchase", Decimal(4), 6_000_000_000),)
    AccountWriter(engine, account).write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, restated)])

    assert _held(engine, "SELECT action, count_millionths, value_micros FROM metric_action_daily") == [
        ("omni_purchase", 4_000_000, 6_000_000_000)]


def test_store_a_resync_whose_rows_no_longer_carry_a_number_empties_it(account, workbook_path):
    """A chunk binds only the optional columns some row of it fills: a column no row fills is
    still emptied on the rows the re-sync replaces, never left from the sync before."""
    engine = open_workbook(str(workbook_path))
    writer = AccountWriter(engine, account)
    full = _row(DAY, (ActionCount("lead", Decimal(2)),), reach=9_000, link_clicks=180,
                interactions=260, all_conversions=Decimal("4.5"),
                all_conversion_value_micros=7_000_000, result_indicator="actions:lead",
                results=Decimal(2), attribution_setting="7d_click_1d_view",
                search_impression_share=Decimal("0.5"), search_budget_lost_share=Decimal("0.1"),
                search_rank_lost_share=Decimal("0.4"))
    columns = ("reach, link_clicks, interactions, all_conversions_millionths, "
               "all_conversion_value_micros, result_indicator, results_millionths, "
               "attribution_setting, search_impression_share_millionths, "
               "search_budget_lost_share_millionths, search_rank_lost_share_millionths, actions, "
               "actions_kept")
    writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [full, _row(DAY + dt.timedelta(days=1), None)])
    assert _held(engine, f"SELECT {columns} FROM metric_daily ORDER BY date") == [
        (9_000, 180, 260, 4_500_000, 7_000_000, "actions:lead", 2_000_000, "7d_click_1d_view",
         500_000, 100_000, 400_000, '{"lead":[2000000,null]}', 1),
        (None,) * 12 + (0,)]

    writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, None)])

    assert _held(engine, f"SELECT {columns} FROM metric_daily") == [(None,) * 12 + (0,)]
    assert _held(engine, "SELECT spend_micros, conversions_millionths FROM metric_daily") == [
        (1_500_000_000, 3_000_000)]


def test_store_a_chunk_that_fails_leaves_the_days_actions_as_they_were(account, workbook_path):
    engine = open_workbook(str(workbook_path))
    writer = AccountWriter(engine, account)
    writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, (ActionCount("lead", Decimal(2)),))])
    too_large = (ActionCount("lead", Decimal(5)), ActionCount("omni_purchase", Decimal(1), 2 ** 64))

    with pytest.raises(OverflowError):  # SQLite keeps 64-bit integers: the chunk fails whole
        writer.write_chunk("campaign", WINDOW, [CAMPAIGN], [_row(DAY, too_large)])

    assert _held(engine, "SELECT action, count_millionths FROM metric_action_daily") == [
        ("lead", 2_000_000)]


def test_store_the_catalogue_keeps_each_actions_latest_name_and_never_forgets_one(account,
                                                                                    workbook_path):
    engine = open_workbook(str(workbook_path))
    writer = AccountWriter(engine, account)
    writer.write_catalogue([ConversionActionInfo("offsite_conversion.custom.77", "Brochure download",
                                                 "custom"),
                            ConversionActionInfo("offsite_conversion.custom.78", "Call back", "custom")])
    writer.write_catalogue([ConversionActionInfo("offsite_conversion.custom.77", "Brochure (PDF)",
                                                 "custom", status="ACTIVE")])

    assert _held(engine, "SELECT action, name, kind, status FROM conversion_action ORDER BY action") == [
        ("offsite_conversion.custom.77", "Brochure (PDF)", "custom", "ACTIVE"),
        ("offsite_conversion.custom.78", "Call back", "custom", None)]
