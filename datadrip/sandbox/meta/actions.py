"""Meta action types for the sandbox: what one ad reports on one day under `actions`,
`action_values` and `results`, the ad sets' attribution settings, and the custom conversions.

Everything is derived from the world's ad-day rows (the seed), so campaign and ad-set rows are
exact sums of their ads, type by type. The types overlap as Meta's do (platform facts card §1):
the purchase variants repeat one number; page_engagement ⊃ post_engagement ⊃ link_click +
post_reaction + comment; landing_page_view ≤ link_click; lead = on-Meta + pixel leads. A shop's
purchases and a lead client's leads are the world's conversions of the day.
"""

from __future__ import annotations

import datetime as dt

from datadrip.sandbox.data import Account, Entity, Row, World

PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "onsite_web_purchase",
                  "purchase")
DEFAULT_SETTING = "7d_click_1d_view"  # Meta's default attribution setting
OTHER_SETTING = "1d_click"  # the ad set of the "mixed_attribution" story
MIXED = "mixed"  # a campaign (or account) whose ad sets have different settings
# Campaign objective → the indicator of its Results column.
INDICATORS = {"OUTCOME_SALES": "actions:offsite_conversion.fb_pixel_purchase",
              "OUTCOME_LEADS": "actions:lead"}


def link_clicks(row: Row) -> int:
    """An ad-day's link clicks: 85–95 % of its clicks (all)."""
    return row.clicks * (85 + int(row.entity.id) % 11) // 100


def ad_actions(account: Account, row: Row, link_clicks: int) -> dict[str, int]:
    """The counts of one ad-day beside link_click and the purchase variants (which insights.py
    already splits by attribution window): {action_type: count}, zeros left out."""
    number, ordinal = int(row.entity.id), row.date.toordinal()
    reactions = row.impressions * (3 + number % 5) // 1000
    comments = reactions // 9
    post_engagement = link_clicks + reactions + comments
    found = {"landing_page_view": link_clicks * (70 + number % 21) // 100,
             "post_reaction": reactions, "comment": comments,
             "post_engagement": post_engagement,
             "page_engagement": post_engagement + reactions // 4}
    conversions = int(row.conversions)
    if account.objective == "OUTCOME_LEADS":
        on_meta = conversions * (40 + number % 30) // 100
        found.update({"lead": conversions, "onsite_conversion.lead_grouped": on_meta,
                      "offsite_conversion.fb_pixel_lead": conversions - on_meta,
                      "onsite_conversion.messaging_conversation_started_7d": link_clicks // 20})
    else:
        carts = conversions * (3 + number % 3) + min(link_clicks, (number + ordinal) % 3)
        found.update({"add_to_cart": carts,
                      "initiate_checkout": conversions + (carts - conversions) // 2,
                      custom_action(account): (conversions + number % 2) // 2})
    return {kind: count for kind, count in found.items() if count}


def purchases(account: Account, row: Row) -> int:
    """The ad-day's purchases (every purchase variant repeats this number): the world's
    conversions for a shop, none for a lead-generation client."""
    return 0 if account.objective == "OUTCOME_LEADS" else int(row.conversions)


def result_count(account: Account, counts: dict[str, int], purchased: int) -> int:
    """The Results number of a row whose actions are `counts` (and `purchased` purchases)."""
    return counts.get("lead", 0) if account.objective == "OUTCOME_LEADS" else purchased


def attribution_setting(account: Account, adset: Entity, adsets: list[Entity]) -> str:
    """An ad set's attribution setting: Meta's default, but the last ad set of the first campaign
    on the "mixed_attribution" account attributes on 1-day click."""
    if "mixed_attribution" in account.stories:
        first = [a for a in adsets if a.campaign_id == adsets[0].campaign_id]
        if adset.id == first[-1].id:
            return OTHER_SETTING
    return DEFAULT_SETTING


def custom_conversions(account: Account) -> list[dict[str, str | bool]]:
    """The account's custom conversions (a shop's; a lead client has none): one in use, one
    archived."""
    if account.objective == "OUTCOME_LEADS":
        return []
    return [{"id": f"5{account.id}1", "name": "Purchase over 100", "custom_event_type": "PURCHASE",
             "is_archived": False},
            {"id": f"5{account.id}2", "name": "Old thank-you page", "custom_event_type": "OTHER",
             "is_archived": True}]


def custom_action(account: Account) -> str:
    """The action type under which the account's custom conversion in use is reported."""
    return f"offsite_conversion.custom.5{account.id}1"


def world_actions(world: World, account_id: str, level: str, since: dt.date, until: dt.date,
                  today: dt.date) -> dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]]:
    """The ground truth of every action type: {(entity id at `level`, day): {action_type: (count,
    value micros or None)}}, each type added up over the entity's ads, types never with each
    other, zeros left out; what the insights of that level report type by type (whatever the
    attribution settings: a "mixed" campaign's ad sets still hold these)."""
    account = world.account(account_id)
    assert account is not None
    found: dict[tuple[str, dt.date], dict[str, tuple[int, int | None]]] = {}
    for row in world.rows(account.id, "ad", since, until, today):
        ad = row.entity
        key = ({"ad": ad.id, "adset": str(ad.parent_id), "campaign": ad.campaign_id}[level], row.date)
        clicked = link_clicks(row)
        bought = purchases(account, row)
        counts: dict[str, tuple[int, int | None]] = {"link_click": (clicked, None)}
        counts.update({kind: (bought, row.conversion_value_micros) for kind in PURCHASE_TYPES})
        counts.update({kind: (count, None)
                       for kind, count in ad_actions(account, row, clicked).items()})
        into = found.setdefault(key, {})
        for kind, (count, value) in counts.items():
            if not count:
                continue
            had, had_value = into.get(kind, (0, None))
            into[kind] = (had + count, value if had_value is None else
                          had_value + (value or 0))
    return {key: kinds for key, kinds in found.items() if kinds}
