"""The sandbox's synthetic advertising world: accounts, entities and daily numbers.

Everything is a pure function of the seed: an ad's numbers on a day are computed from a hash of
(seed, account, ad, day), so any window of any account is generated on demand, in date order,
without holding history in memory. Campaign and ad-set rows are exact sums of their ads' rows
(reach, which does not add up, is estimated with an overlap factor).

Realism: weekday seasonality, slow trends, noise, zero-delivery days, paused and removed entities,
a renamed campaign, and planted stories (`World.stories`) for the analytics and insights issues.
Google accounts have conversion actions (`World.conversion_actions`): a row's conversions are
split over the actions counted in the Conversions column, and its all-conversions add actions
that are not; an account with the "pmax" story has a Performance Max campaign whose asset groups
stand at the ad-set level and which has no ads (its spend comes from units no ad-level query
returns).
Conversions are attributed to the day of the click and arrive late: a day's conversions grow with
its age until the attribution window closes (`maturity`), so a day re-read later is restated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

MICROS = 1_000_000
# Minor units of the currencies the sandbox uses.
MINOR_UNITS = {"INR": 2, "USD": 2, "EUR": 2, "JPY": 0}
# The "budget_raise" story: its campaign's daily budget goes up by half this many days before the
# epoch (the sandbox's first today), and its spend follows from that day on.
BUDGET_RAISE_DAYS_AGO = 6
BUDGET_RAISE = Decimal("1.5")
# An ad's average daily spend near the epoch against its profile's: the mean weekday (0.973),
# the trend there (1.25) and the days with delivery (0.97).
BUDGET_SPEND_FACTOR = Decimal("1.18")
_STEP = {currency: 10 ** (6 - places) for currency, places in MINOR_UNITS.items()}
# How many days conversions keep arriving after the click (Meta documents 28, Google's default 30).
ATTRIBUTION_DAYS = {"meta": 28, "google": 30}
WEEKDAY = (1.00, 1.04, 1.06, 1.05, 0.98, 0.86, 0.82)  # Monday … Sunday
LEVELS = ("campaign", "adset", "ad")
ARCHIVED_CAMPAIGN = 2  # the campaign (by position) of the "archived_spend" story


@dataclass(frozen=True)
class Account:
    """An ad account. `id` is Meta's account_id (no act_ prefix) or a Google customer id."""

    platform: str  # "meta" | "google"
    id: str
    name: str
    currency: str
    timezone: str
    status: str = "active"  # "active" | "disabled" (Meta 2 DISABLED, Google CANCELED)
    manager: bool = False  # Google manager (MCC) account: no metrics of its own
    manager_id: str | None = None  # Google: reached through this manager
    campaigns: int = 4
    adsets_per_campaign: int = 2
    ads_per_adset: int = 2
    scale: float = 1.0  # spend level (in the currency's major units per ad per day, roughly)
    history_days: int = 800
    stories: tuple[str, ...] = ()
    # Meta: what every campaign of the account is for (OUTCOME_SALES: a shop whose conversions
    # are purchases; OUTCOME_LEADS: a lead-generation client whose conversions are leads).
    objective: str = "OUTCOME_SALES"
    first_budget: Decimal | None = None  # the first campaign's daily budget (major units), when set

    @property
    def act_id(self) -> str:
        return f"act_{self.id}"


@dataclass(frozen=True)
class Entity:
    """A campaign, ad set (Google: ad group) or ad."""

    account_id: str
    level: str
    id: str
    name: str
    parent_id: str | None
    campaign_id: str
    status: str  # "active" | "paused" | "removed" | "archived"
    start: dt.date
    end: dt.date | None  # last day of delivery (paused / removed), None while running
    renamed_to: tuple[dt.date, str] | None = None  # from that day (sandbox today) the new name
    # Google's advertising_channel_type of the campaign it belongs to: "SEARCH", or
    # "PERFORMANCE_MAX" (its ad sets are asset groups; it has no ads).
    channel: str = "SEARCH"

    def name_on(self, today: dt.date) -> str:
        if self.renamed_to is not None and today >= self.renamed_to[0]:
            return self.renamed_to[1]
        return self.name


@dataclass(frozen=True)
class Row:
    """One entity's numbers on one of its account's days, as the platform would report today."""

    date: dt.date
    entity: Entity
    impressions: int
    clicks: int
    spend_micros: int
    reach: int
    conversions: Decimal  # whole numbers on Meta, fractional on Google
    conversion_value_micros: int
    # Google only: interactions (clicks, plus engagements on Performance Max), every conversion
    # action's count (all_conversions, secondary actions included), and the row's conversions per
    # action: (conversion action id, count, value micros), only actions with a count.
    interactions: int = 0
    all_conversions: Decimal = Decimal(0)
    all_conversion_value_micros: int = 0
    actions: tuple[tuple[str, Decimal, int], ...] = ()

    @property
    def is_zero(self) -> bool:
        return not (self.impressions or self.clicks or self.spend_micros or self.conversions)


@dataclass(frozen=True)
class ConversionActionDef:
    """A Google conversion action of an account, as `FROM conversion_action` names it."""

    id: str
    name: str
    category: str  # PURCHASE, ADD_TO_CART, SUBMIT_LEAD_FORM, PHONE_CALL_LEAD
    type: str  # WEBPAGE, AD_CALL
    primary_for_goal: bool
    include_in_conversions_metric: bool
    status: str = "ENABLED"


# Every Google account's conversion actions: (name, category, type, primary, included).
_GOOGLE_ACTIONS = (("Purchase", "PURCHASE", "WEBPAGE", True, True),
                   ("Add to cart", "ADD_TO_CART", "WEBPAGE", False, False),
                   ("Lead form", "SUBMIT_LEAD_FORM", "WEBPAGE", True, True),
                   ("Calls from ads", "PHONE_CALL_LEAD", "AD_CALL", True, True))
PERFORMANCE_MAX = "PERFORMANCE_MAX"
# Keys the per-day hash of an ad's conversion split apart from its delivery (ids stay far below).
_SPLIT_KEY = 1 << 63


@dataclass(frozen=True)
class Setup:
    """How an entity is set up on a given sandbox day, platform-neutral: budgets in micros of the
    account currency (the emulations write them as each platform does)."""

    objective: str  # "sales" | "traffic" | "leads" | "awareness"
    daily_budget_micros: int | None
    lifetime_budget_micros: int | None
    bid_strategy: str  # "lowest_cost" | "cost_cap" | "bid_cap" | "min_roas"
    start: dt.date
    end: dt.date | None  # the last day it is scheduled to run; None: no end date
    optimization_goal: str | None  # ad sets
    attribution_days: tuple[int, int] | None  # ad sets: (click days, view days)
    creative_title: str | None  # ads
    thumbnail_url: str | None  # ads


@dataclass(frozen=True)
class Story:
    """A pattern planted in the data that analytics and insights should find."""

    # "cpa_doubles" | "leads_halve" (a lead client's conversions are its leads) | "ctr_fatigue" |
    # "overspend" | "mixed_attribution" | "archived_spend" | "budget_raise" | "pmax"
    kind: str
    account_id: str
    entity_id: str | None
    description: str


def default_accounts() -> tuple[Account, ...]:
    """Accounts in three currencies and time zones, a Google manager with clients, one cancelled."""
    return (
        Account("meta", "1010000001", "Masala Mornings", "INR", "Asia/Kolkata", scale=900.0,
                stories=("cpa_doubles", "ctr_fatigue")),
        Account("meta", "1010000002", "Peak Trail Outfitters", "USD", "America/New_York",
                scale=40.0, stories=("budget_raise",)),
        Account("meta", "1010000003", "Bloom Botanics EU", "EUR", "Europe/Berlin", scale=25.0,
                campaigns=3),
        Account("google", "9000000001", "Spice Route Media MCC", "INR", "Asia/Kolkata",
                manager=True, campaigns=0),
        Account("google", "2020000001", "Masala Mornings Search", "INR", "Asia/Kolkata",
                manager_id="9000000001", scale=1100.0),
        Account("google", "2020000002", "Peak Trail Outfitters Search", "USD", "America/New_York",
                scale=55.0, stories=("overspend",)),
        Account("google", "2020000003", "Bloom Botanics Search", "EUR", "Europe/Berlin",
                manager_id="9000000001", scale=30.0, campaigns=3, stories=("pmax",)),
        Account("google", "2020000004", "Old Client (cancelled)", "INR", "Asia/Kolkata",
                manager_id="9000000001", status="disabled", campaigns=1),
    )


_EXTRA_LOOKS = (("INR", "Asia/Kolkata", 700.0), ("USD", "America/New_York", 35.0),
                ("EUR", "Europe/Berlin", 20.0))


def extra_accounts(clients: int) -> tuple[Account, ...]:
    """A Meta and a Google account for each of `clients` more clients (soaks, benchmarks):
    "Client 04" has act_1010000104 and 2020000104, in the currencies and zones of the others."""
    found: list[Account] = []
    for n in range(4, 4 + clients):
        currency, timezone, scale = _EXTRA_LOOKS[n % 3]
        found.append(Account("meta", f"10100001{n:02d}", f"Client {n:02d}", currency, timezone,
                             scale=scale, campaigns=3))
        found.append(Account("google", f"20200001{n:02d}", f"Client {n:02d} Search", currency,
                             timezone, scale=scale * 1.2, campaigns=3))
    return tuple(found)


def results_accounts() -> tuple[Account, ...]:
    """Meta accounts for results by action (added to a world by the tests that need them): a shop
    with an ad set on a different attribution setting and an archived campaign that spent, and a
    lead-generation client whose first campaign's leads halve over the last week."""
    return (
        Account("meta", "1010000005", "Kettle & Crumb Shop", "USD", "America/New_York", scale=30.0,
                campaigns=3, stories=("mixed_attribution", "archived_spend")),
        Account("meta", "1010000006", "Harbour Dental Leads", "EUR", "Europe/Berlin", scale=20.0,
                campaigns=2, objective="OUTCOME_LEADS", stories=("leads_halve",)),
    )
def removed_spend_account() -> Account:
    """A Google account for the "archived_spend" story, where Google calls it removed: the shop's
    search account (Kettle & Crumb again), whose third campaign was removed a few days ago after
    spending, so a sync that filtered statuses would lose spend."""
    return Account("google", "2020000005", "Kettle & Crumb Search", "USD", "America/New_York",
                   scale=35.0, campaigns=3, stories=("archived_spend",))


def story_accounts() -> tuple[Account, ...]:
    """The accounts of the stories a new user should see (`datadrip sandbox serve` and the demo
    add them to the default ones): a shop with purchases and add-to-carts on Meta and Google, an
    ad set on another attribution setting, an archived (Meta) and a removed (Google) campaign
    that spent, a lead-generation client, a budget in yen."""
    return (*results_accounts(), yen_account(), removed_spend_account())


def yen_account() -> Account:
    """A Meta account in yen (a currency Meta counts budgets in whole units of): its first
    campaign's daily budget is ¥5,000, which Meta sends as "5000"."""
    return Account("meta", "1010000007", "Sakura Tea House", "JPY", "Asia/Tokyo", scale=1200.0,
                   campaigns=2, first_budget=Decimal(5000))


def large_account() -> Account:
    """A big Meta account for benchmarks: 40 campaigns × 5 ad sets × 4 ads, two years."""
    return Account("meta", "1010000099", "Mega Retail", "USD", "America/New_York", scale=60.0,
                   campaigns=40, adsets_per_campaign=5, ads_per_adset=4, history_days=730)


class _Hash:
    """Uniform numbers from a keyed hash: the same key always gives the same numbers."""

    def __init__(self, seed: int) -> None:
        self._seed = struct.pack("<q", seed)

    def uniforms(self, *key: object) -> tuple[float, float, float, float]:
        return self._unpack(repr(key).encode())

    def day(self, account: int, entity: int, ordinal: int) -> tuple[float, float, float, float]:
        """The hot path: one ad on one day, keyed by numbers only."""
        return self._unpack(_DAY_KEY.pack(account, entity, ordinal))

    def _unpack(self, key: bytes) -> tuple[float, float, float, float]:
        digest = hashlib.blake2b(key, key=self._seed, digest_size=16).digest()
        a, b, c, d = _FOUR.unpack(digest)
        return a * _SCALE, b * _SCALE, c * _SCALE, d * _SCALE


_DAY_KEY = struct.Struct("<QQI")
_FOUR = struct.Struct("<4I")
_SCALE = 1 / 4294967296


@dataclass(frozen=True)
class _Profile:
    """An ad's constant traits, computed once."""

    base: float
    ctr: float
    cpc: float
    cvr: float
    aov_micros: int  # average order value
    fatigue: bool  # the ad of the "ctr_fatigue" story
    cpa_story: bool  # in the campaign of the "cpa_doubles" story
    budget_story: bool = False  # in the campaign of the "budget_raise" story
    leads_story: bool = False  # in the campaign of the "leads_halve" story

    @property
    def daily_spend(self) -> float:
        """Its spend on a plain day without trend (major units): what budgets are made from."""
        return self.base * self.ctr * self.cpc


@dataclass
class World:
    """The whole synthetic world for one seed. `today` is passed in: the sandbox owns the clock."""

    seed: int = 7
    accounts: tuple[Account, ...] = field(default_factory=default_accounts)
    # Entity calendars and stories are laid out relative to this day (the sandbox's first today).
    epoch: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    # An ad-day's conversions pinned to a count as a platform sends it (Google's data-driven
    # attribution reports fractions such as 0.333333): {(account id, ad id, day): count}.
    pinned_conversions: dict[tuple[str, str, dt.date], Decimal] = field(default_factory=dict)
    # An entity's budget pinned to the text a platform sends for it (whatever it is: "12abc"):
    # {(account id, entity id): text}.
    pinned_budget_texts: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._hash = _Hash(self.seed)
        self._by_id = {account.id: account for account in self.accounts}
        self._profiles: dict[str, _Profile] = {}
        self._actions: dict[str, list[ConversionActionDef]] = {}

    def account(self, account_id: str) -> Account | None:
        return self._by_id.get(account_id.removeprefix("act_"))

    def of_platform(self, platform: str) -> list[Account]:
        return [account for account in self.accounts if account.platform == platform]

    @cached_property
    def _entities(self) -> dict[str, dict[str, list[Entity]]]:
        return {account.id: self._layout(account) for account in self.accounts}

    def entities(self, account_id: str, level: str) -> list[Entity]:
        """The account's entities at `level`; "unit" gives the Performance Max units that make
        its asset groups' numbers (no API returns them as ads)."""
        return self._entities[account_id.removeprefix("act_")][level]

    def conversion_actions(self, account_id: str) -> list[ConversionActionDef]:
        """A Google account's conversion actions (none for Meta and for managers)."""
        account = self.account(account_id)
        if account is None or account.platform != "google" or account.manager:
            return []
        found = self._actions.get(account.id)
        if found is None:
            found = [ConversionActionDef(f"6{account.id[-4:]}{n + 1:02d}", name, category, kind,
                                         primary, included)
                     for n, (name, category, kind, primary, included) in enumerate(_GOOGLE_ACTIONS)]
            self._actions[account.id] = found
        return list(found)

    @cached_property
    def stories(self) -> list[Story]:
        found = []
        for account in self.accounts:
            campaigns = self.entities(account.id, "campaign")
            for kind in account.stories:
                if kind == "cpa_doubles":
                    found.append(Story(kind, account.id, campaigns[0].id,
                                       f"{campaigns[0].name}: CPA doubles over the last 7 days"))
                elif kind == "leads_halve":
                    found.append(Story(kind, account.id, campaigns[0].id,
                                       f"{campaigns[0].name}: half the leads for the same spend over "
                                       "the last 7 days (cost per lead doubles)"))
                elif kind == "ctr_fatigue":
                    ad = self._fatigued_ad(account)
                    found.append(Story(kind, account.id, ad.id,
                                       f"{ad.name}: CTR decays as frequency rises, 14 days"))
                elif kind == "budget_raise":
                    found.append(Story(kind, account.id, campaigns[0].id,
                                       f"{campaigns[0].name}: daily budget raised by half on "
                                       f"{self.budget_raised_on}, spend follows"))
                elif kind == "overspend":
                    found.append(Story(kind, account.id, None,
                                       f"{account.name}: spend up 60% this month, over budget"))
                elif kind == "mixed_attribution":
                    adset = self.entities(account.id, "adset")[account.adsets_per_campaign - 1]
                    found.append(Story(kind, account.id, adset.id,
                                       f"{adset.name}: attributed on 1-day click, its campaign's "
                                       "other ad sets on 7-day click, 1-day view"))
                elif kind == "archived_spend":
                    campaign = campaigns[ARCHIVED_CAMPAIGN]
                    found.append(Story(kind, account.id, campaign.id,
                                       f"{campaign.name}: {campaign.status} after spending "
                                       f"until {campaign.end}"))
                elif kind == "pmax":
                    pmax = self.entities(account.id, "campaign")[-1]
                    found.append(Story(kind, account.id, pmax.id,
                                       f"{pmax.name}: Performance Max, asset groups and no ads"))
        return found

    def rows(self, account_id: str, level: str, since: dt.date, until: dt.date,
             today: dt.date) -> Iterator[Row]:
        """Rows of one level, day by day from `since` to `until`, as reported on `today`.

        Days with no delivery produce no row; days after `today` have none."""
        account = self.account(account_id)
        if account is None or account.manager:
            return
        ads = self.entities(account.id, "ad")
        if level != "ad":  # Performance Max delivers through its asset groups, without ads
            ads = ads + self.entities(account.id, "unit")
        parents = {e.id: e for e in self.entities(account.id, level)}
        day = since
        last = min(until, today)
        while day <= last:
            if level == "ad":
                for ad in ads:
                    row = self._ad_day(account, ad, day, today)
                    if row is not None:
                        yield row
            else:
                yield from self._rolled_up(account, ads, parents, level, day, today)
            day += dt.timedelta(days=1)

    def _rolled_up(self, account: Account, ads: list[Entity], parents: dict[str, Entity],
                   level: str, day: dt.date, today: dt.date) -> Iterator[Row]:
        sums: dict[str, list[int | Decimal]] = {}
        actions: dict[str, dict[str, list[Decimal | int]]] = {}
        for ad in ads:
            row = self._ad_day(account, ad, day, today)
            if row is None:
                continue
            key = ad.campaign_id if level == "campaign" else str(ad.parent_id)
            total = sums.setdefault(key, [0, 0, 0, 0, Decimal(0), 0, 0, Decimal(0), 0])
            for index, value in enumerate((row.impressions, row.clicks, row.spend_micros,
                                           row.reach, row.conversions,
                                           row.conversion_value_micros, row.interactions,
                                           row.all_conversions, row.all_conversion_value_micros)):
                total[index] += value  # type: ignore[operator]
            by_action = actions.setdefault(key, {})
            for action, count, value_micros in row.actions:
                pair = by_action.setdefault(action, [Decimal(0), 0])
                pair[0] += count
                pair[1] += value_micros
        for entity_id, (impressions, clicks, spend, reach, conversions, value, interactions,
                        all_conversions, all_value) in sums.items():
            overlap = 0.8 if level == "campaign" else 0.9
            summed = tuple((action, Decimal(count), int(value_micros)) for action, (count, value_micros)
                           in sorted(actions.get(entity_id, {}).items()))
            yield Row(day, parents[entity_id], int(impressions), int(clicks), int(spend),
                      max(1, int(int(reach) * overlap)), Decimal(conversions), int(value),
                      int(interactions), Decimal(all_conversions), int(all_value), summed)

    def _ad_day(self, account: Account, ad: Entity, day: dt.date, today: dt.date) -> Row | None:
        if day < ad.start or (ad.end is not None and day > ad.end) or day > today:
            return None
        u1, u2, u3, u4 = self._hash.day(int(account.id), int(ad.id), day.toordinal())
        if u4 < 0.03:  # no delivery that day
            return None
        profile = self._profile(account, ad)
        ctr, cvr = profile.ctr, profile.cvr
        age = (self.epoch - day).days
        trend = 1.0 + 0.25 * (1 - min(max(age, 0), 730) / 730)  # growing towards the epoch
        if "overspend" in account.stories and 0 <= age < 30:
            trend *= 1.6
        if profile.budget_story and day >= self.budget_raised_on:
            trend *= float(BUDGET_RAISE)  # the raised budget is spent
        impressions = int(profile.base * WEEKDAY[day.weekday()] * trend * (0.75 + 0.5 * u1))
        frequency = 1.15 + 0.2 * u2
        if profile.fatigue and 0 <= age < 14:  # day 1 … 14 of the story
            ctr *= 1.0 - 0.045 * (14 - age)
            frequency += 0.18 * (14 - age)
        if profile.cpa_story and 0 <= age < 7:
            cvr /= 1.0 + (7 - age) / 7  # conversions halve over a week at the same spend
        if profile.leads_story and 0 <= age < 7:
            cvr /= 2  # a lead form broke a week ago: half the leads for the same clicks
        clicks = int(impressions * ctr * (0.85 + 0.3 * u2))
        step = _STEP[account.currency]
        spend_micros = _round_to(int(clicks * profile.cpc * (0.9 + 0.2 * u3) * MICROS), step)
        matured = clicks * cvr * (0.8 + 0.4 * u1) * maturity(account.platform, (today - day).days)
        # Whole conversions on Meta; hundredths on Google (data-driven attribution).
        hundredths = int(matured) * 100 if account.platform == "meta" else int(matured * 100)
        conversions = Decimal(hundredths // 100) if account.platform == "meta" else \
            Decimal(hundredths).scaleb(-2)
        value_micros = _round_to(hundredths * profile.aov_micros // 100, step)
        pinned = self.pinned_conversions.get((account.id, ad.id, day))
        conversions = conversions if pinned is None else pinned
        reach = max(1, int(impressions / frequency)) if impressions else 0
        if account.platform != "google":
            return Row(day, ad, impressions, clicks, spend_micros, reach, conversions, value_micros)
        return self._google_row(account, ad, day, today, (impressions, clicks, spend_micros, reach),
                                conversions, value_micros, pinned is None, cvr)

    def _google_row(self, account: Account, ad: Entity, day: dt.date, today: dt.date,
                    delivery: tuple[int, int, int, int], conversions: Decimal, value_micros: int,
                    split: bool, cvr: float) -> Row:
        """The Google ad-day with its interactions and its conversions per conversion action:
        the Conversions column's count split over the included actions (the purchase takes the
        value; a pinned count stays whole on the purchase), add-to-carts on top for all
        conversions."""
        impressions, clicks, spend_micros, reach = delivery
        v1, v2, v3, v4 = self._hash.day(int(account.id), int(ad.id) | _SPLIT_KEY, day.toordinal())
        purchase, add_to_cart, lead, call = (a.id for a in self.conversion_actions(account.id))
        counts: dict[str, tuple[Decimal, int]] = {}
        if split:
            hundredths = int(conversions.scaleb(2))
            leads = hundredths * int(v1 * 4) // 10
            calls = (hundredths - leads) * int(v2 * 3) // 10
            counts = {purchase: (Decimal(hundredths - leads - calls).scaleb(-2), value_micros),
                      lead: (Decimal(leads).scaleb(-2), 0), call: (Decimal(calls).scaleb(-2), 0)}
        else:
            counts = {purchase: (conversions, value_micros)}
        carts = int(clicks * cvr * (1.5 + 2 * v3) * maturity("google", (today - day).days) * 100)
        counts[add_to_cart] = (Decimal(carts).scaleb(-2), 0)
        actions = tuple((action, count, value) for action, (count, value) in sorted(counts.items())
                        if count)
        interactions = clicks + (int(impressions * 0.01 * v4) if ad.channel == PERFORMANCE_MAX else 0)
        return Row(day, ad, impressions, clicks, spend_micros, reach, conversions, value_micros,
                   interactions, conversions + counts[add_to_cart][0], value_micros, actions)

    def _profile(self, account: Account, ad: Entity) -> _Profile:
        profile = self._profiles.get(ad.id)
        if profile is None:
            u1, u2, u3, u4 = self._hash.uniforms(account.id, ad.id, "profile")
            ctr = 0.008 + 0.025 * u2
            cpc = account.scale / 60 * (0.6 + 0.8 * u3)
            campaigns = self.entities(account.id, "campaign")
            profile = _Profile(
                # impressions for ~scale a day; a Performance Max unit a quarter of that, so the
                # story adds little to its account's spend (Bloom Botanics stays on budget)
                base=account.scale / (ctr * cpc) * (0.5 + u1) * (0.25 if ad.channel == PERFORMANCE_MAX
                                                                 else 1.0),
                ctr=ctr, cpc=cpc, cvr=0.02 + 0.06 * u4,
                aov_micros=int(cpc * 40 * (0.8 + 0.6 * u1) * MICROS),
                fatigue="ctr_fatigue" in account.stories and ad.id == self._fatigued_ad(account).id,
                cpa_story="cpa_doubles" in account.stories and ad.campaign_id == campaigns[0].id,
                leads_story="leads_halve" in account.stories and ad.campaign_id == campaigns[0].id,
                budget_story="budget_raise" in account.stories and ad.campaign_id == campaigns[0].id)
            self._profiles[ad.id] = profile
        return profile

    @property
    def budget_raised_on(self) -> dt.date:
        """The day the "budget_raise" story's campaign's daily budget goes up."""
        return self.epoch - dt.timedelta(days=BUDGET_RAISE_DAYS_AGO)

    def setup(self, entity: Entity, today: dt.date) -> Setup:
        """How `entity` is set up as the platform shows it on `today`.

        Campaigns carry the budget (a daily one; the third campaign of a larger account, once it
        stopped, a lifetime one over its run); ad sets the optimisation goal and attribution;
        ads the creative. A daily budget is what the campaign's ads spend on an average recent
        day (BUDGET_SPEND_FACTOR), at two significant digits, unless the account fixes its first
        campaign's; the "budget_raise" story's campaign raises it on `budget_raised_on`."""
        account = self._by_id[entity.account_id]
        u1, u2, _, _ = self._hash.uniforms(account.id, entity.id, "setup")
        campaigns = self.entities(account.id, "campaign")
        index = next(i for i, c in enumerate(campaigns) if c.id == entity.campaign_id)
        daily = lifetime = None
        end = entity.end
        if entity.level == "campaign":
            spend = sum(Decimal(str(round(self._profile(account, ad).daily_spend, 6)))
                        for ad in (*self.entities(account.id, "ad"), *self.entities(account.id, "unit"))
                        if ad.campaign_id == entity.id)  # Performance Max delivers through units
            budget = _two_digits(spend * BUDGET_SPEND_FACTOR) if spend else Decimal(0)
            if index == 0 and account.first_budget is not None:
                budget = account.first_budget
            if index == 2 and account.campaigns > 3 and entity.end is not None:
                lifetime = int(budget * ((entity.end - entity.start).days + 1) * MICROS)
            else:
                if "budget_raise" in account.stories and index == 0 and \
                        today >= self.budget_raised_on:
                    budget *= BUDGET_RAISE
                daily = int(budget * MICROS)
        objective = _OBJECTIVES[index % len(_OBJECTIVES)]
        goal = _GOALS[objective] if entity.level == "adset" else None
        attribution = ((7, 1) if u1 < 0.7 else (1, 0)) if entity.level == "adset" else None
        title = thumbnail = None
        if entity.level == "ad":
            title = f"{entity.name}: {('New season', 'Fresh picks', 'Last chance')[int(u2 * 3)]}"
            thumbnail = f"https://scontent.example/t/{entity.id}.jpg"
        return Setup(objective, daily, lifetime, _BIDS[index % len(_BIDS)], entity.start, end,
                     goal, attribution, title, thumbnail)

    def _fatigued_ad(self, account: Account) -> Entity:
        """The ad of the CTR-fatigue story: the last ad of the second campaign (still running)."""
        campaign = self.entities(account.id, "campaign")[1]
        return [ad for ad in self.entities(account.id, "ad") if ad.campaign_id == campaign.id][-1]

    def _layout(self, account: Account) -> dict[str, list[Entity]]:
        """Campaigns → ad sets → ads with ids, names, statuses and delivery windows."""
        layout: dict[str, list[Entity]] = {level: [] for level in (*LEVELS, "unit")}
        prefix = "12021" if account.platform == "meta" else ""
        for c in range(account.campaigns):
            u1, u2, u3, _ = self._hash.uniforms(account.id, "campaign", c)
            campaign_id = f"{prefix}{account.id[-4:]}{c + 1:03d}" if prefix else \
                f"{int(account.id[-3:]) * 1000 + c + 1}"
            start = self.epoch - dt.timedelta(days=int(account.history_days * (0.5 + 0.5 * u1)))
            status, end = "active", None
            if c == ARCHIVED_CAMPAIGN and "archived_spend" in account.stories:
                # Archived (Google: removed) a few days ago: recent days still have its spend.
                status = "archived" if account.platform == "meta" else "removed"
                end = self.epoch - dt.timedelta(days=4)
            elif c == account.campaigns - 1 and account.campaigns > 2:
                # Paused weeks ago; on the overspending account before the spend jump, so the jump
                # shows in the account's totals.
                weeks_ago = 20 + int(40 * u2) + (90 if "overspend" in account.stories else 0)
                status, end = "paused", self.epoch - dt.timedelta(days=weeks_ago)
            elif c == account.campaigns - 2 and account.campaigns > 3:
                status, end = "removed", self.epoch - dt.timedelta(days=120 + int(200 * u3))
            renamed = (self.epoch - dt.timedelta(days=10), f"{_CAMPAIGN_NAMES[c % 12]} (renamed)") \
                if c == 1 else None
            campaign = Entity(account.id, "campaign", campaign_id, _campaign_name(c), None,
                              campaign_id, status, start, end, renamed)
            layout["campaign"].append(campaign)
            for s in range(account.adsets_per_campaign):
                adset_id = f"{campaign_id}{s + 1:02d}"
                adset = Entity(account.id, "adset", adset_id, f"{campaign.name} · {_AUDIENCES[s % 6]}",
                               campaign_id, campaign_id, status, start, end)
                layout["adset"].append(adset)
                for a in range(account.ads_per_adset):
                    ad_id = f"{adset_id}{a + 1:02d}"
                    layout["ad"].append(Entity(account.id, "ad", ad_id,
                                               f"{_CREATIVES[(s + a) % 8]} {a + 1}", adset_id,
                                               campaign_id, status, start, end))
        if "pmax" in account.stories:
            self._performance_max(account, layout)
        return layout

    def _performance_max(self, account: Account, layout: dict[str, list[Entity]]) -> None:
        """The "pmax" story: one more campaign, Performance Max, with two asset groups, each
        delivering through two units that no ad-level query returns."""
        c = account.campaigns
        campaign_id = f"{int(account.id[-3:]) * 1000 + c + 1}"
        start = self.epoch - dt.timedelta(days=120)
        campaign = Entity(account.id, "campaign", campaign_id, "Performance Max · All products",
                          None, campaign_id, "active", start, None, channel=PERFORMANCE_MAX)
        layout["campaign"].append(campaign)
        for s, theme in enumerate(("Bestsellers", "New arrivals")):
            group_id = f"{campaign_id}{s + 1:02d}"
            layout["adset"].append(Entity(account.id, "adset", group_id, f"Asset group · {theme}",
                                          campaign_id, campaign_id, "active", start, None,
                                          channel=PERFORMANCE_MAX))
            for a in range(2):
                layout["unit"].append(Entity(account.id, "ad", f"{group_id}{a + 1:02d}",
                                             f"{theme} unit {a + 1}", group_id, campaign_id,
                                             "active", start, None, channel=PERFORMANCE_MAX))


_OBJECTIVES = ("sales", "traffic", "leads", "awareness")
_GOALS = {"sales": "OFFSITE_CONVERSIONS", "traffic": "LINK_CLICKS", "leads": "LEAD_GENERATION",
          "awareness": "REACH"}
_BIDS = ("lowest_cost", "cost_cap", "lowest_cost", "bid_cap")


def _two_digits(amount: Decimal) -> Decimal:
    """`amount` rounded to two significant digits (5040 → 5000, 168 → 170)."""
    digits = amount.adjusted() - 1
    return (amount.scaleb(-digits).quantize(Decimal(1))).scaleb(digits).quantize(Decimal(1))


def maturity(platform: str, age_days: int) -> float:
    """Share of a day's final conversions reported `age_days` after it (late conversions)."""
    window = ATTRIBUTION_DAYS[platform]
    if age_days >= window:
        return 1.0
    if age_days < 0:
        return 0.0
    return 0.55 + 0.45 * math.sqrt(age_days / window)


def _round_to(micros: int, step: int) -> int:
    """Round micros to a multiple of `step` (the currency's minor unit), half to even."""
    quotient, remainder = divmod(micros, step)
    if remainder * 2 > step or (remainder * 2 == step and quotient % 2):
        quotient += 1
    return quotient * step


_CAMPAIGN_NAMES = ("Diwali Sale", "Brand Search", "Retargeting", "Prospecting Broad",
                   "Winter Collection", "Lookalike 1%", "App Installs", "Video Views",
                   "Lead Gen", "Catalog Sales", "Local Awareness", "Remarketing Lists")
_AUDIENCES = ("Broad", "Interests", "Lookalike", "Website Visitors", "Engaged", "Cart Abandoners")
_CREATIVES = ("Carousel", "Video 15s", "Static Image", "Story", "Reel", "Collection", "UGC",
              "Testimonial")


def _campaign_name(index: int) -> str:
    base = _CAMPAIGN_NAMES[index % len(_CAMPAIGN_NAMES)]
    return base if index < len(_CAMPAIGN_NAMES) else f"{base} {index // len(_CAMPAIGN_NAMES) + 1}"
