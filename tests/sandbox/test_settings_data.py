"""The sandbox's settings stories: budgets about what campaigns spend, a yen budget of ¥5,000,
and a daily budget raised by half that the campaign's spend follows."""

from __future__ import annotations

import dataclasses
import datetime as dt

from datadrip.sandbox.data import World, default_accounts, yen_account

EPOCH = dt.date(2026, 11, 26)
PEAK = "1010000002"


def test_settings_data_budget_raise_is_followed_by_the_spend() -> None:
    world = World(seed=7, accounts=default_accounts(), epoch=EPOCH)
    without = World(seed=7, accounts=tuple(
        dataclasses.replace(a, stories=tuple(s for s in a.stories if s != "budget_raise"))
        for a in default_accounts()), epoch=EPOCH)
    campaign = world.entities(PEAK, "campaign")[0]
    raised = world.budget_raised_on

    def spend(w: World, since: dt.date, until: dt.date) -> int:
        return sum(r.spend_micros for r in w.rows(PEAK, "campaign", since, until, EPOCH)
                   if r.entity.id == campaign.id)

    week = dt.timedelta(days=7)
    assert spend(world, raised - week, raised - dt.timedelta(days=1)) == \
        spend(without, raised - week, raised - dt.timedelta(days=1))
    ratio = spend(world, raised, EPOCH) / spend(without, raised, EPOCH)
    assert 1.45 < ratio < 1.55
    before = world.setup(campaign, raised - dt.timedelta(days=1)).daily_budget_micros
    assert before is not None
    assert world.setup(campaign, raised).daily_budget_micros == before * 3 // 2
    assert [s.kind for s in world.stories if s.entity_id == campaign.id] == ["budget_raise"]


def test_settings_data_yen_campaign_budget_is_five_thousand_yen() -> None:
    world = World(seed=7, accounts=(*default_accounts(), yen_account()), epoch=EPOCH)

    first = world.entities(yen_account().id, "campaign")[0]

    assert world.setup(first, EPOCH).daily_budget_micros == 5_000 * 1_000_000


def test_settings_data_daily_budgets_are_about_what_the_campaigns_spend() -> None:
    world = World(seed=7, accounts=default_accounts(), epoch=EPOCH)
    since = EPOCH - dt.timedelta(days=59)

    for account in default_accounts():
        for campaign in world.entities(account.id, "campaign"):
            budget = world.setup(campaign, since).daily_budget_micros
            if campaign.status != "active" or budget is None or "budget_raise" in account.stories:
                continue
            days = [r.spend_micros for r in world.rows(account.id, "campaign", since,
                                                       since + dt.timedelta(days=29), EPOCH)
                    if r.entity.id == campaign.id]
            assert 0.4 < sum(days) / len(days) / budget < 1.6, (account.id, campaign.id)
