"""What results mean: Meta's overlap rules and Google's categories, as the plug-ins give them."""

from __future__ import annotations

import pytest

from datadrip.platforms.base import RESULT_NAMES, ConversionActionInfo, ResultRules
from datadrip.platforms.google.plugin import GooglePlatform
from datadrip.platforms.meta import results as meta_rules
from datadrip.platforms.meta.plugin import MetaPlatform

META = MetaPlatform()
GOOGLE = GooglePlatform()
CUSTOM = ConversionActionInfo("offsite_conversion.custom.998877", "Booked table", "custom")


def test_result_rules_every_builtin_plugin_has_them() -> None:
    assert isinstance(META, ResultRules)
    assert isinstance(GOOGLE, ResultRules)


def test_result_rules_meta_purchase_variants_overlap_never_added() -> None:
    rule = META.result_actions("purchase", [])
    assert rule is not None and rule.overlapping
    assert {"omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase",
            "onsite_web_purchase"} <= set(rule.actions)
    for variant in rule.actions:
        assert meta_rules.overlap("omni_purchase", variant)


@pytest.mark.parametrize("result", ["add_to_cart", "initiate_checkout", "complete_registration",
                                    "app_install", "landing_page_view"])
def test_result_rules_meta_omni_variants_of_each_result_overlap(result: str) -> None:
    rule = META.result_actions(result, [])
    assert rule is not None and rule.overlapping and len(rule.actions) > 1
    assert rule.actions[0].startswith("omni_")


def test_result_rules_meta_lead_contains_pixel_and_onsite_leads() -> None:
    rule = META.result_actions("lead", [])
    assert rule is not None and rule.overlapping
    assert set(rule.actions) == {"lead", "offsite_conversion.fb_pixel_lead",
                                 "onsite_conversion.lead_grouped"}
    assert meta_rules.contained("lead") == {"offsite_conversion.fb_pixel_lead",
                                            "onsite_conversion.lead_grouped"}


def test_result_rules_meta_engagement_nesting_is_never_added() -> None:
    assert {"post_engagement", "link_click", "comment", "post_reaction"} <= \
        meta_rules.contained("page_engagement")
    assert {"link_click", "comment", "post_reaction"} <= meta_rules.contained("post_engagement")
    assert "page_engagement" not in meta_rules.contained("post_engagement")
    assert meta_rules.combine(["post_engagement", "link_click"]).overlapping
    assert meta_rules.combine(["page_engagement", "comment"]).overlapping
    assert not meta_rules.combine(["link_click", "comment"]).overlapping


def test_result_rules_meta_distinct_results_and_custom_conversions_add_up() -> None:
    assert not meta_rules.combine(["offsite_conversion.fb_pixel_purchase", "lead"]).overlapping
    assert not meta_rules.combine([CUSTOM.action, "offsite_conversion.custom.1"]).overlapping
    assert not meta_rules.overlap(CUSTOM.action, "offsite_conversion.fb_pixel_purchase")


def test_result_rules_meta_single_type_results() -> None:
    for result, action in (("link_click", "link_click"), ("video_view", "video_view"),
                           ("messaging_conversation",
                            "onsite_conversion.messaging_conversation_started_7d")):
        rule = META.result_actions(result, [])
        assert rule is not None and rule.actions == (action,) and not rule.overlapping


def test_result_rules_meta_custom_conversion_by_name_or_id() -> None:
    for name in ("Booked table", CUSTOM.action):
        rule = META.result_actions(name, [CUSTOM])
        assert rule is not None and rule.actions == (CUSTOM.action,)
    assert META.action_label(CUSTOM.action, [CUSTOM]) == "Booked table"
    assert META.result_actions("Booked table", []) is None
    assert META.result_actions("no_such_action", [CUSTOM]) is None


def test_result_rules_meta_labels_name_every_variant_as_its_result() -> None:
    assert META.action_label("offsite_conversion.fb_pixel_purchase", []) == "Purchases"
    assert META.action_label("omni_purchase", []) == "Purchases"
    assert META.action_label("onsite_conversion.lead_grouped", []) == "Leads"
    assert META.action_label("link_click", []) == "Link clicks"
    assert META.action_label("post_engagement", []) == "Post engagements"
    assert META.action_label("some_new_type", []) == "some_new_type"
    for result in RESULT_NAMES:
        assert META.result_actions(result, []) is not None


GOOGLE_CATALOGUE = [
    ConversionActionInfo("111", "Website purchase", "conversion_action", "PURCHASE", True, True),
    ConversionActionInfo("112", "Store purchase (import)", "conversion_action", "PURCHASE", False,
                         False),
    ConversionActionInfo("113", "App purchase", "conversion_action", "PURCHASE", True, True),
    ConversionActionInfo("221", "Contact form", "conversion_action", "SUBMIT_LEAD_FORM", True, True),
    ConversionActionInfo("222", "Calls from ads", "conversion_action", "PHONE_CALL_LEAD", True, True),
    ConversionActionInfo("331", "Add to basket", "conversion_action", "ADD_TO_CART", False, True),
]


def test_result_rules_google_categories_add_distinct_actions_counted_in_conversions() -> None:
    rule = GOOGLE.result_actions("purchase", GOOGLE_CATALOGUE)
    assert rule is not None and rule.actions == ("111", "113") and not rule.overlapping
    lead = GOOGLE.result_actions("lead", GOOGLE_CATALOGUE)
    assert lead is not None and lead.actions == ("221", "222")
    cart = GOOGLE.result_actions("add_to_cart", GOOGLE_CATALOGUE)
    assert cart is not None and cart.actions == ("331",)


def test_result_rules_google_results_without_actions_are_none() -> None:
    assert GOOGLE.result_actions("initiate_checkout", GOOGLE_CATALOGUE) is None
    assert GOOGLE.result_actions("link_click", GOOGLE_CATALOGUE) is None
    assert GOOGLE.result_actions("purchase", []) is None


def test_result_rules_google_one_action_by_name_or_id_even_outside_conversions() -> None:
    for name in ("Store purchase (import)", "112"):
        rule = GOOGLE.result_actions(name, GOOGLE_CATALOGUE)
        assert rule is not None and rule.actions == ("112",)
    assert GOOGLE.action_label("221", GOOGLE_CATALOGUE) == "Contact form"
    assert GOOGLE.action_label("999", GOOGLE_CATALOGUE) == "999"
