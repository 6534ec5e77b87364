"""The sandbox's synthetic world: deterministic, consistent across levels, realistic, restated."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest

from datadrip.sandbox.data import World, default_accounts, large_account, maturity

TODAY = dt.date(2026, 11, 26)
DAY = dt.timedelta(days=1)


@pytest.fixture
def world() -> World:
    return World(seed=7, epoch=TODAY)


def rows(world: World, account: str, level: str, since: dt.date, until: dt.date,
         today: dt.date = TODAY) -> list:
    return list(world.rows(account, level, since, until, today))


def test_data_accounts_cover_three_currencies_and_time_zones(world: World) -> None:
    assert {(a.currency, a.timezone) for a in world.accounts} >= {
        ("INR", "Asia/Kolkata"), ("USD", "America/New_York"), ("EUR", "Europe/Berlin")}
    assert {a.platform for a in world.accounts} == {"meta", "google"}
    managers = [a for a in world.accounts if a.manager]
    assert [a.id for a in managers] == ["9000000001"]
    assert {a.id for a in world.accounts if a.manager_id == "9000000001"} == {
        "2020000001", "2020000003", "2020000004"}
    assert [a.id for a in world.accounts if a.status == "disabled"] == ["2020000004"]


def test_data_same_seed_gives_the_same_numbers_and_another_seed_others() -> None:
    since = TODAY - 30 * DAY
    first = rows(World(seed=7, epoch=TODAY), "1010000001", "ad", since, TODAY)
    again = rows(World(seed=7, epoch=TODAY), "1010000001", "ad", since, TODAY)
    other = rows(World(seed=8, epoch=TODAY), "1010000001", "ad", since, TODAY)

    assert first == again
    assert [r.spend_micros for r in first] != [r.spend_micros for r in other]


@pytest.mark.parametrize("account", ["1010000001", "2020000002"])
@pytest.mark.parametrize("level", ["campaign", "adset"])
def test_data_upper_levels_are_exact_sums_of_their_ads(world: World, account: str, level: str) -> None:
    since = TODAY - 40 * DAY
    ads = rows(world, account, "ad", since, TODAY)
    upper = rows(world, account, level, since, TODAY)
    summed: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, Decimal(0), 0])
    for row in ads:
        key = (row.date, row.entity.campaign_id if level == "campaign" else row.entity.parent_id)
        for index, value in enumerate((row.impressions, row.clicks, row.spend_micros,
                                       row.conversions, row.conversion_value_micros)):
            summed[key][index] += value

    assert len(upper) == len(summed)
    for row in upper:
        assert summed[(row.date, row.entity.id)] == [row.impressions, row.clicks, row.spend_micros,
                                                    row.conversions, row.conversion_value_micros]
        assert 0 < row.reach <= row.impressions


def test_data_rows_come_in_date_order_and_stop_at_today(world: World) -> None:
    found = rows(world, "1010000002", "campaign", TODAY - 10 * DAY, TODAY + 10 * DAY)

    dates = [row.date for row in found]
    assert dates == sorted(dates)
    assert max(dates) == TODAY


def test_data_money_is_rounded_to_the_currency_minor_unit(world: World) -> None:
    for account in ("1010000001", "1010000002", "2020000003"):
        for row in rows(world, account, "ad", TODAY - 20 * DAY, TODAY):
            assert row.spend_micros % 10_000 == 0
            assert row.conversion_value_micros % 10_000 == 0


def test_data_meta_conversions_are_whole_and_google_fractional(world: World) -> None:
    meta = rows(world, "1010000001", "ad", TODAY - 60 * DAY, TODAY - 30 * DAY)
    google = rows(world, "2020000002", "ad", TODAY - 60 * DAY, TODAY - 30 * DAY)

    assert all(row.conversions == row.conversions.to_integral_value() for row in meta)
    assert any(row.conversions != row.conversions.to_integral_value() for row in google)


def test_data_some_days_have_no_delivery(world: World) -> None:
    days = 90
    since = TODAY - (days - 1) * DAY
    running = {ad.id for ad in world.entities("1010000001", "ad")
               if ad.end is None and ad.start <= since}
    found = [row for row in rows(world, "1010000001", "ad", since, TODAY) if row.entity.id in running]

    assert running
    assert len(found) < len(running) * days  # zero-delivery days produce no row
    assert all(not row.is_zero for row in found)


def test_data_paused_and_removed_campaigns_stop_delivering_but_keep_history(world: World) -> None:
    campaigns = {c.status: c for c in world.entities("1010000001", "campaign")}
    assert {"active", "paused", "removed"} <= set(campaigns)
    removed = campaigns["removed"]
    assert removed.end is not None
    history = rows(world, "1010000001", "campaign", removed.end - 30 * DAY, TODAY)

    mine = [row.date for row in history if row.entity.id == removed.id]
    assert mine and max(mine) <= removed.end


def test_data_a_campaign_is_renamed_as_of_a_day(world: World) -> None:
    renamed = [c for c in world.entities("1010000001", "campaign") if c.renamed_to]
    assert len(renamed) == 1
    day, new_name = renamed[0].renamed_to

    assert renamed[0].name_on(day - DAY) == renamed[0].name
    assert renamed[0].name_on(day) == new_name != renamed[0].name


def test_data_conversions_of_recent_days_are_restated_later(world: World) -> None:
    recent = TODAY - 3 * DAY
    old = TODAY - 60 * DAY
    seen_now = rows(world, "2020000002", "campaign", recent, recent)
    seen_later = rows(world, "2020000002", "campaign", recent, recent, today=TODAY + 20 * DAY)
    old_now = rows(world, "2020000002", "campaign", old, old)
    old_later = rows(world, "2020000002", "campaign", old, old, today=TODAY + 20 * DAY)

    assert sum(r.conversions for r in seen_later) > sum(r.conversions for r in seen_now)
    assert [r.spend_micros for r in seen_later] == [r.spend_micros for r in seen_now]
    assert old_later == old_now


def test_data_maturity_grows_to_one_when_the_window_closes() -> None:
    shares = [maturity("meta", age) for age in range(0, 40)]

    assert shares == sorted(shares)
    assert shares[0] < 1.0 and shares[28] == 1.0
    assert maturity("google", 29) < 1.0 == maturity("google", 30)


def test_data_cpa_doubles_over_the_last_week_in_the_planted_campaign(world: World) -> None:
    story = next(s for s in world.stories if s.kind == "cpa_doubles")
    late = TODAY + 40 * DAY  # every day fully reported, so restatement doesn't blur the story

    def cpa(since: dt.date, until: dt.date) -> float:
        found = [r for r in world.rows(story.account_id, "campaign", since, until, late)
                 if r.entity.id == story.entity_id]
        return sum(r.spend_micros for r in found) / max(1, float(sum(r.conversions for r in found)))

    before = cpa(TODAY - 27 * DAY, TODAY - 8 * DAY)
    last_days = cpa(TODAY - 2 * DAY, TODAY)
    assert last_days > 1.6 * before


def test_data_fatigued_ad_loses_ctr_while_frequency_rises(world: World) -> None:
    story = next(s for s in world.stories if s.kind == "ctr_fatigue")
    found = [r for r in rows(world, story.account_id, "ad", TODAY - 30 * DAY, TODAY)
             if r.entity.id == story.entity_id]
    early = [r for r in found if r.date < TODAY - 14 * DAY]
    late = [r for r in found if r.date > TODAY - 3 * DAY]

    def ctr(part: list) -> float:
        return sum(r.clicks for r in part) / sum(r.impressions for r in part)

    def frequency(part: list) -> float:
        return sum(r.impressions for r in part) / sum(r.reach for r in part)

    assert ctr(late) < 0.6 * ctr(early)
    assert frequency(late) > frequency(early) + 1.0


def test_data_overspending_account_spends_more_this_month(world: World) -> None:
    story = next(s for s in world.stories if s.kind == "overspend")
    month = rows(world, story.account_id, "campaign", TODAY - 20 * DAY, TODAY)
    before = rows(world, story.account_id, "campaign", TODAY - 80 * DAY, TODAY - 60 * DAY)

    assert sum(r.spend_micros for r in month) > 1.4 * sum(r.spend_micros for r in before)


def test_data_stable_accounts_have_no_stories(world: World) -> None:
    with_stories = {s.account_id for s in world.stories}

    assert {"1010000003", "2020000001"}.isdisjoint(with_stories)
    # Bloom Botanics Search keeps its numbers and adds a Performance Max campaign.
    assert [(s.kind, s.account_id) for s in world.stories if s.account_id == "2020000003"] == [
        ("pmax", "2020000003")]
    # Peak Trail's Meta account only raises a budget: its spend moves, none of its rates.
    assert {s.kind for s in world.stories if s.account_id == "1010000002"} == {"budget_raise"}


def test_data_manager_accounts_have_no_rows(world: World) -> None:
    assert rows(world, "9000000001", "campaign", TODAY - 10 * DAY, TODAY) == []


def test_data_large_account_streams_two_years_without_building_a_list() -> None:
    import itertools
    import types

    world = World(seed=7, accounts=default_accounts() + (large_account(),), epoch=TODAY)
    since = TODAY - 729 * DAY
    stream = world.rows("1010000099", "ad", since, TODAY, TODAY)

    assert isinstance(stream, types.GeneratorType)  # rows are made as they are read
    first = list(itertools.islice(stream, 2000))
    assert len(first) == 2000
    assert first[0].date >= since
    assert [r.date for r in first] == sorted(r.date for r in first)
    assert first[-1].date < since + 60 * DAY  # the first rows come from the start of the window
    assert len(world.entities("1010000099", "ad")) == 800


def test_data_extra_clients_get_a_meta_and_a_google_account_each_with_ids_of_their_own() -> None:
    from datadrip.sandbox.app import Sandbox, SandboxConfig
    from datadrip.sandbox.data import extra_accounts

    world = Sandbox(SandboxConfig(seed=7, today=TODAY, extra_clients=5)).world
    extra = extra_accounts(5)
    ads = [ad.id for account in world.accounts for ad in world.entities(account.id, "ad")]

    assert [a.id for a in extra[:4]] == ["1010000104", "2020000104", "1010000105", "2020000105"]
    assert world.accounts == default_accounts() + extra
    assert {(a.currency, a.timezone) for a in extra} == {
        ("INR", "Asia/Kolkata"), ("USD", "America/New_York"), ("EUR", "Europe/Berlin")}
    assert len(ads) == len(set(ads))  # an ad's numbers are keyed by its id: none is shared
    assert rows(world, "2020000108", "campaign", TODAY - 6 * DAY, TODAY)  # they deliver


@pytest.mark.parametrize("level", ["campaign", "adset", "ad"])
def test_data_google_actions_add_up_to_conversions_and_all_conversions(world: World,
                                                                        level: str) -> None:
    included = {a.id for a in world.conversion_actions("2020000003") if a.include_in_conversions_metric}
    found = rows(world, "2020000003", level, TODAY - 40 * DAY, TODAY)

    assert found and any(row.actions for row in found)
    for row in found:
        assert sum((c for a, c, _ in row.actions if a in included), Decimal(0)) == row.conversions
        assert sum((c for _, c, _ in row.actions), Decimal(0)) == row.all_conversions
        assert sum(v for _, _, v in row.actions) == row.all_conversion_value_micros
        assert row.all_conversion_value_micros == row.conversion_value_micros
        assert row.interactions >= row.clicks
    assert any(row.all_conversions > row.conversions for row in found)


def test_data_performance_max_spends_through_asset_groups_and_has_no_ads(world: World) -> None:
    pmax = world.entities("2020000003", "campaign")[-1]
    since = TODAY - 30 * DAY
    campaign = [r for r in rows(world, "2020000003", "campaign", since, TODAY) if r.entity.id == pmax.id]
    groups = [r for r in rows(world, "2020000003", "adset", since, TODAY)
              if r.entity.campaign_id == pmax.id]

    assert pmax.channel == "PERFORMANCE_MAX" and campaign
    assert sum(r.spend_micros for r in campaign) == sum(r.spend_micros for r in groups) > 0
    assert {r.entity.id for r in groups} == {e.id for e in world.entities("2020000003", "adset")
                                             if e.campaign_id == pmax.id}
    assert all(ad.campaign_id != pmax.id for ad in world.entities("2020000003", "ad"))
    assert any(r.interactions > r.clicks for r in campaign)  # engagements beyond clicks


def test_data_performance_max_leaves_the_other_campaigns_numbers_unchanged() -> None:
    accounts = tuple(replace(a, stories=()) if a.id == "2020000003" else a for a in default_accounts())
    without = World(seed=7, accounts=accounts, epoch=TODAY)
    since = TODAY - 60 * DAY

    before = rows(without, "2020000003", "ad", since, TODAY)
    after = rows(World(seed=7, epoch=TODAY), "2020000003", "ad", since, TODAY)

    assert before == after and before
