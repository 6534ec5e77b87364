"""Google Ads campaigns, ad groups and ads with their settings (GAQL on campaign, ad_group and
ad_group_ad; removed ones are listed too, since GAQL filters no status unless asked).

A campaign's channel is its advertising_channel_type, its effective status its primary_status,
its budget campaign_budget.amount_micros when the budget's period is DAILY, total_amount_micros
when it is CUSTOM_PERIOD. Its dates are start_date/end_date ("2026-03-01") up to v22 and
start_date_time/end_date_time ("2026-03-01 00:00:00", the customer's time zone) from v23, which
refuses the old names; the end Google gives a campaign without one (2037-12-30) means none.
Ad groups have none of these settings in Google Ads: their status is what is kept. An ad keeps
its creative's title and thumbnail: the title is the headline pinned to HEADLINE_1 of a responsive
search ad, else its first headline (responsive_search_ad.headlines); an expanded text ad's
headline_part1; else the ad's name (image and display ads). The thumbnail is an image ad's
image_ad.image_url; other ads have none (None).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, NoReturn

from datadrip.core.errors import DataDripError, UsageError
from datadrip.platforms.base import LEVELS, AccountRef, EntityRecord, EntitySettings, FetchNotes
from datadrip.platforms.google.ads import AdsClient, customer_id

NO_END = dt.date(2037, 12, 30)
# What an ad's creative title and thumbnail are read from (the module's docstring says how).
CREATIVE_FIELDS = ("ad_group_ad.ad.responsive_search_ad.headlines",
                   "ad_group_ad.ad.expanded_text_ad.headline_part1",
                   "ad_group_ad.ad.image_ad.image_url")
TITLE_PIN = "HEADLINE_1"
RENAMED_DATES_FROM = 23  # the API version that renamed campaign.start_date/end_date
_WHOLE = re.compile(r"\d{1,19}")
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})( \d{2}:\d{2}:\d{2})?")
HINT = "Check [google] api_url and api_version; if they are right, try again later."


def version_number(api_version: str) -> int:
    """ "v23" (or "v23_1") → 23; UsageError for anything else."""
    found = re.fullmatch(r"v(\d+)(_\d+)?", api_version.strip().strip("/"))
    if found is None:
        raise UsageError(f"[google] api_version {api_version!r} is not a version such as v23")
    return int(found.group(1))


def entity_query(level: str, version: int) -> str:
    """The GAQL listing every entity of `level` with its settings, as API `version` names them."""
    if level == "campaign":
        dates = ("campaign.start_date_time", "campaign.end_date_time") \
            if version >= RENAMED_DATES_FROM else ("campaign.start_date", "campaign.end_date")
        return ("SELECT campaign.id, campaign.name, campaign.status, campaign.primary_status, "
                "campaign.advertising_channel_type, campaign.bidding_strategy_type, "
                f"{dates[0]}, {dates[1]}, campaign_budget.period, "
                "campaign_budget.amount_micros, campaign_budget.total_amount_micros FROM campaign")
    if level == "adset":
        return "SELECT ad_group.id, ad_group.name, ad_group.status, campaign.id FROM ad_group"
    if level == "ad":
        return ("SELECT ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.status, ad_group.id, "
                f"{', '.join(CREATIVE_FIELDS)} FROM ad_group_ad")
    raise UsageError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")


def entities(ads: AdsClient, account: AccountRef, level: str, version: int,
             notes: FetchNotes) -> Iterator[EntityRecord]:
    """Every entity of `level` in `account` with its settings."""
    query = entity_query(level, version)
    cid = customer_id(account.external_id)
    for row in ads.search_stream(cid, query, login_customer_id=account.login_customer_id,
                                 notes=notes):
        yield parse_entity(row, level, cid)


def parse_entity(row: dict[str, Any], level: str, cid: str) -> EntityRecord:
    """One row of entity_query read; a clear DataDripError for anything unreadable."""
    read = _Reader(row, cid)
    if level == "campaign":
        entity_id = read.id("campaign", "id")
        period = read.text("campaignBudget", "period")
        amount = read.micros("campaignBudget", "amountMicros")
        total = read.micros("campaignBudget", "totalAmountMicros")
        ends_on = read.day("campaign", "endDateTime") or read.day("campaign", "endDate")
        settings = EntitySettings(
            objective=read.text("campaign", "advertisingChannelType"),
            effective_status=read.text("campaign", "primaryStatus"),
            daily_budget_micros=amount if period in (None, "DAILY") else None,
            lifetime_budget_micros=total if period == "CUSTOM_PERIOD" else None,
            bid_strategy=read.text("campaign", "biddingStrategyType"),
            starts_on=read.day("campaign", "startDateTime") or read.day("campaign", "startDate"),
            ends_on=None if ends_on == NO_END else ends_on)
        return EntityRecord(level, entity_id, read.text("campaign", "name") or
                            f"Campaign {entity_id}", None, read.status("campaign"), settings)
    if level == "adset":
        entity_id = read.id("adGroup", "id")
        status = read.text("adGroup", "status")
        return EntityRecord(level, entity_id, read.text("adGroup", "name") or
                            f"Ad group {entity_id}", read.id("campaign", "id"),
                            read.status("adGroup"), EntitySettings(effective_status=status))
    ad = row.get("adGroupAd", {}).get("ad") if isinstance(row.get("adGroupAd"), dict) else None
    ad = ad if isinstance(ad, dict) else {}
    read_ad = _Reader({"ad": ad, "responsiveSearchAd": ad.get("responsiveSearchAd"),
                       "expandedTextAd": ad.get("expandedTextAd"), "imageAd": ad.get("imageAd")},
                      cid)
    entity_id = read_ad.id("ad", "id")
    status = read.text("adGroupAd", "status")
    name = read_ad.text("ad", "name")
    title = read_ad.headline() or read_ad.text("expandedTextAd", "headlinePart1") or name
    return EntityRecord(level, entity_id, name or f"Ad {entity_id}",
                        read.id("adGroup", "id"), read.status("adGroupAd"),
                        EntitySettings(effective_status=status, creative_title=title,
                                       thumbnail_url=read_ad.text("imageAd", "imageUrl")))


class _Reader:
    def __init__(self, row: dict[str, Any], cid: str) -> None:
        self._row = row
        self._cid = cid

    def _get(self, resource: str, key: str) -> Any:
        holder = self._row.get(resource)
        return holder.get(key) if isinstance(holder, dict) else None

    def id(self, resource: str, key: str) -> str:
        value = self._get(resource, key)
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            return value
        self._fail(f"{resource}.{key}", value, "not an id")

    def text(self, resource: str, key: str) -> str | None:
        value = self._get(resource, key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._fail(f"{resource}.{key}", value, "not text")
        return value or None

    def status(self, resource: str) -> str:
        return (self.text(resource, "status") or "").lower()

    def headline(self) -> str | None:
        """A responsive search ad's title: its headline pinned to HEADLINE_1, else its first."""
        value = self._get("responsiveSearchAd", "headlines")
        if value is None:
            return None
        name = "responsiveSearchAd.headlines"
        if not isinstance(value, list):
            self._fail(name, value, "not a list of text assets")
        texts: list[tuple[str, str | None]] = []
        for asset in value:
            text = asset.get("text") if isinstance(asset, dict) else None
            pin = asset.get("pinnedField") if isinstance(asset, dict) else None
            if not isinstance(text, str) or not (pin is None or isinstance(pin, str)):
                self._fail(name, asset, "not a text asset")
            if text:
                texts.append((text, pin))
        chosen = [text for text, pin in texts if pin == TITLE_PIN] or [text for text, _ in texts]
        return chosen[0] if chosen else None

    def micros(self, resource: str, key: str) -> int | None:
        value = self._get(resource, key)
        if value is None:  # unset (proto3 JSON leaves it out)
            return None
        if isinstance(value, str) and _WHOLE.fullmatch(value) and int(value) < 2 ** 63:
            return int(value)
        self._fail(f"{resource}.{key}", value, "not a whole number of micros")

    def day(self, resource: str, key: str) -> dt.date | None:
        value = self._get(resource, key)
        if value is None:
            return None
        found = _DAY.fullmatch(value) if isinstance(value, str) else None
        if found is not None:
            try:
                return dt.date.fromisoformat(found.group(1))
            except ValueError:
                pass
        self._fail(f"{resource}.{key}", value, "not a date")

    def _fail(self, name: str, value: Any, problem: str) -> NoReturn:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise DataDripError(f"Google Ads sent an unreadable {name} ({problem}: {shown}) in a "
                            f"settings row of customer {self._cid}", hint=HINT)
