"""What Google's conversion actions mean: which make each result, and how people read them.

A Google account's conversion actions are distinct (each conversion is credited to one action),
so the actions that make a result are added up. A result is made by the account's conversion
actions of its categories (`CATEGORIES`), and by default only those included in the Conversions
column (`include_in_conversions_metric`): the number the Google Ads UI shows as "Conversions"
for that category. Actions left out of the Conversions column still appear in
`metrics --by action`, and a client can name one as a key result by its name or id.

Categories are the conversion_action.category values. Lead is every lead-like category
(SUBMIT_LEAD_FORM, IMPORTED_LEAD, QUALIFIED_LEAD, CONVERTED_LEAD, PHONE_CALL_LEAD, CONTACT);
complete_registration is SIGNUP; landing_page_view is PAGE_VIEW (a page view counted by a tag, the
nearest to Meta's landing page views). Google has no category for link clicks, video views,
messaging conversations or app installs as conversions (installs are DOWNLOAD, which DataDrip
reads as app_install): those results have no Google actions, and Google's clicks and
interactions are in metric_daily.

Labels: a conversion action is read by its name in the account's catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

from datadrip.platforms.base import RESULT_NAMES, ConversionActionInfo, ResultActions

CATEGORIES: dict[str, tuple[str, ...]] = {
    "purchase": ("PURCHASE",),
    "lead": ("SUBMIT_LEAD_FORM", "IMPORTED_LEAD", "QUALIFIED_LEAD", "CONVERTED_LEAD",
             "PHONE_CALL_LEAD", "CONTACT"),
    "add_to_cart": ("ADD_TO_CART",),
    "initiate_checkout": ("BEGIN_CHECKOUT",),
    "complete_registration": ("SIGNUP",),
    "messaging_conversation": (),
    "app_install": ("DOWNLOAD",),
    "landing_page_view": ("PAGE_VIEW",),
    "link_click": (),
    "video_view": (),
}


def result_actions(result: str, catalogue: Sequence[ConversionActionInfo], *,
                   included_only: bool = True) -> ResultActions | None:
    """The conversion actions that make `result`: a friendly name's categories (those counted
    in the Conversions column unless `included_only` is False), or one action by its name or id."""
    if result in RESULT_NAMES:
        categories = set(CATEGORIES[result])
        actions = tuple(sorted(
            entry.action for entry in catalogue
            if entry.category in categories
            and (not included_only or entry.included_in_conversions is not False)))
        return ResultActions(actions, overlapping=False) if actions else None
    for entry in catalogue:
        if entry.action == result or entry.name == result:
            return ResultActions((entry.action,), overlapping=False)
    return None


def action_label(action: str, catalogue: Sequence[ConversionActionInfo]) -> str:
    """A conversion action's catalogue name, or its id when the catalogue lacks it."""
    for entry in catalogue:
        if entry.action == action:
            return entry.name
    return action
