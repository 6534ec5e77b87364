"""What an ad of the Google sandbox is made of, as GAQL returns it from ad_group_ad: its type and
the fields of that type that carry a title or an image.

Each ad group's ads mix three types by position: responsive search ads (`responsive_search_ad.
headlines`, a list of text assets, one of them pinned to HEADLINE_1 in every other ad group),
expanded text ads (`expanded_text_ad.headline_part1`) and image ads (`image_ad.image_url`; their
title is the ad's name). An ad of one type has no fields of the others: proto3 JSON leaves them
out. Performance Max has no ads, so none of this."""

from __future__ import annotations

import datetime as dt
from typing import Any

from datadrip.sandbox.data import Entity, World

RESPONSIVE_SEARCH_AD, EXPANDED_TEXT_AD, IMAGE_AD = "RESPONSIVE_SEARCH_AD", "EXPANDED_TEXT_AD", "IMAGE_AD"
AD_TYPES = (RESPONSIVE_SEARCH_AD, EXPANDED_TEXT_AD, IMAGE_AD)
TYPE = "ad_group_ad.ad.type"
HEADLINES = "ad_group_ad.ad.responsive_search_ad.headlines"
HEADLINE_PART1 = "ad_group_ad.ad.expanded_text_ad.headline_part1"
IMAGE_URL = "ad_group_ad.ad.image_ad.image_url"
FIELDS = (TYPE, HEADLINES, HEADLINE_PART1, IMAGE_URL)
# Every AdType a row may carry (the sandbox serves the first three).
TYPE_VALUES = (*AD_TYPES, "TEXT_AD", "RESPONSIVE_DISPLAY_AD", "VIDEO_AD", "APP_AD", "CALL_AD",
               "SHOPPING_PRODUCT_AD", "DEMAND_GEN_MULTI_ASSET_AD")
_OTHER_HEADLINES = ("Free delivery on every order", "Order online today")


def _position(ad: Entity) -> tuple[int, int]:
    """(ad group, ad) positions from the ad's id, which ends in both (data.World._layout)."""
    return int(ad.id[-4:-2]), int(ad.id[-2:])


def ad_type(ad: Entity) -> str:
    group, position = _position(ad)
    return AD_TYPES[(group + position) % len(AD_TYPES)]


def pinned(ad: Entity) -> bool:
    """Whether the ad's title is a headline pinned to HEADLINE_1 (not the first in the list)."""
    return ad_type(ad) == RESPONSIVE_SEARCH_AD and _position(ad)[0] % 2 == 1


def image_url(ad: Entity) -> str:
    return f"https://tpc.googlesyndication.example/simgad/{ad.id}"


def creative_fields(world: World, ad: Entity, today: dt.date) -> dict[str, Any]:
    """The ad's type and the title or image fields of that type, by GAQL field name."""
    kind = ad_type(ad)
    found: dict[str, Any] = {TYPE: kind}
    if kind == IMAGE_AD:
        found[IMAGE_URL] = image_url(ad)
        return found
    title = world.setup(ad, today).creative_title
    if kind == EXPANDED_TEXT_AD:
        found[HEADLINE_PART1] = title
        return found
    first, second = _OTHER_HEADLINES
    if pinned(ad):
        headlines = [{"text": first}, {"text": title, "pinnedField": "HEADLINE_1"}, {"text": second}]
    else:
        headlines = [{"text": title}, {"text": first}, {"text": second, "pinnedField": "HEADLINE_3"}]
    found[HEADLINES] = headlines
    return found
