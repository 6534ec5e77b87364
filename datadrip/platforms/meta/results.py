"""What Meta's action types mean: which make each result, which overlap, and how people read them.

Meta reports one conversion under several action types at once, so the types of `actions` are
never a plain sum (the sum of `actions` is not `total_actions`). The rules here are data:

* Families that repeat one number (`FAMILIES`): the purchase variants `omni_purchase`,
  `purchase`, `offsite_conversion.fb_pixel_purchase`, `onsite_web_purchase` (and the same for
  add to cart, checkout, registration, app install, landing page view) report the same
  purchases; a day's number is the largest of them, never their sum.
* Containment (`CONTAINS`): `page_engagement` ⊃ `post_engagement` ⊃ `link_click`, `comment`,
  `post_reaction`, …; and `lead` ⊇ `offsite_conversion.fb_pixel_lead` +
  `onsite_conversion.lead_grouped` (Meta does not document the lead rule: it is read from real
  rows, so DataDrip treats the lead types as one family and takes the largest — `lead` when Meta
  sends it — which never counts a lead twice). A contained type is never added to its container.
* Custom conversions (`offsite_conversion.custom.<id>`) are distinct from everything else and
  from each other, and are read by their catalogue name.

Labels: the names of Ads Manager's columns as DataDrip writes them ("Purchases", "Leads",
"Link clicks"). Meta's documentation does not list the column names, so these are ours, chosen
to read as Ads Manager's do; a type without one is shown as Meta spells it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from datadrip.platforms.base import RESULT_NAMES, RESULT_WORDS, ConversionActionInfo, ResultActions

CUSTOM_PREFIX = "offsite_conversion.custom."

# Each result's action types, the first the one that holds the others' number when Meta sends it.
FAMILIES: dict[str, tuple[str, ...]] = {
    "purchase": ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase",
                 "onsite_web_purchase", "onsite_web_app_purchase", "onsite_conversion.purchase"),
    "lead": ("lead", "offsite_conversion.fb_pixel_lead", "onsite_conversion.lead_grouped"),
    "add_to_cart": ("omni_add_to_cart", "add_to_cart", "offsite_conversion.fb_pixel_add_to_cart",
                    "onsite_web_add_to_cart", "onsite_web_app_add_to_cart"),
    "initiate_checkout": ("omni_initiated_checkout", "initiate_checkout",
                          "offsite_conversion.fb_pixel_initiate_checkout",
                          "onsite_web_initiate_checkout"),
    "complete_registration": ("omni_complete_registration", "complete_registration",
                              "offsite_conversion.fb_pixel_complete_registration"),
    "messaging_conversation": ("onsite_conversion.messaging_conversation_started_7d",),
    "app_install": ("omni_app_install", "mobile_app_install", "app_install"),
    "landing_page_view": ("omni_landing_page_view", "landing_page_view"),
    "link_click": ("link_click",),
    "video_view": ("video_view",),
}

# A container's directly contained types (each type's number is part of its container's).
CONTAINS: dict[str, tuple[str, ...]] = {
    "page_engagement": ("post_engagement", "like"),
    "post_engagement": ("link_click", "comment", "post_reaction", "post", "onsite_conversion.post_save",
                        "video_view", "photo_view"),
    "lead": ("offsite_conversion.fb_pixel_lead", "onsite_conversion.lead_grouped"),
}

OTHER_LABELS: dict[str, str] = {
    "page_engagement": "Page engagement",
    "post_engagement": "Post engagements",
    "post_reaction": "Post reactions",
    "comment": "Post comments",
    "post": "Post shares",
    "onsite_conversion.post_save": "Post saves",
    "like": "Page likes",
    "photo_view": "Photo views",
    "outbound_click": "Outbound clicks",
    "offsite_conversion.fb_pixel_custom": "Custom events",
}
_RESULT_OF = {action: result for result, family in FAMILIES.items() for action in family}


def result_of(action: str) -> str | None:
    """The result (one of RESULT_NAMES) an action type makes, if any."""
    return _RESULT_OF.get(action)


def contained(action: str) -> set[str]:
    """Every type whose number is part of `action`'s, at any depth."""
    found: set[str] = set()
    pending = list(CONTAINS.get(action, ()))
    while pending:
        inner = pending.pop()
        if inner not in found:
            found.add(inner)
            pending.extend(CONTAINS.get(inner, ()))
    return found


def overlap(first: str, second: str) -> bool:
    """True when two action types may count the same conversions: one family's variants, or one
    type contained in the other. Custom conversions overlap nothing but themselves."""
    if first == second:
        return True
    if first.startswith(CUSTOM_PREFIX) or second.startswith(CUSTOM_PREFIX):
        return False
    family = _RESULT_OF.get(first)
    if family is not None and family == _RESULT_OF.get(second):
        return True
    return second in contained(first) or first in contained(second)


def combine(actions: Iterable[str]) -> ResultActions:
    """Several action types as one result: overlapping (the largest a day) when any two overlap,
    otherwise distinct and added up."""
    chosen = tuple(dict.fromkeys(actions))
    overlapping = any(overlap(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1:])
    return ResultActions(chosen, overlapping)


def result_actions(result: str, catalogue: Sequence[ConversionActionInfo]) -> ResultActions | None:
    """The action types that make `result`: a friendly name (RESULT_NAMES), a catalogue entry's
    name (a custom conversion), or an action type as Meta spells it."""
    if result in RESULT_NAMES:
        family = FAMILIES[result]
        return ResultActions(family, overlapping=len(family) > 1)
    for entry in catalogue:
        if entry.name == result or entry.action == result:
            return ResultActions((entry.action,), overlapping=False)
    if result in _RESULT_OF or result in OTHER_LABELS or result in CONTAINS:
        return ResultActions((result,), overlapping=False)
    return None


def known_actions() -> list[str]:
    """The action types DataDrip can name without a catalogue."""
    return sorted(set(_RESULT_OF) | set(OTHER_LABELS) | set(CONTAINS))


def action_label(action: str, catalogue: Sequence[ConversionActionInfo]) -> str:
    """How people read an action type: the result's column name for any variant of it, a custom
    conversion's catalogue name, or the type itself."""
    result = _RESULT_OF.get(action)
    if result is not None:
        return RESULT_WORDS[result][0]
    if action in OTHER_LABELS:
        return OTHER_LABELS[action]
    for entry in catalogue:
        if entry.action == action:
            return entry.name
    return action


def result_label(result: str) -> tuple[str, str]:
    """A friendly result's column name and the singular its cost names ("Cost per purchase")."""
    return RESULT_WORDS[result]
