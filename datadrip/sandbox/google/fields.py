"""The GAQL fields the sandbox knows: their types, their JSON names and which FROM resource allows them.

A field's JSON name is its snake_case path in lowerCamelCase, nested (`ad_group_ad.ad.id` →
`{"adGroupAd": {"ad": {"id": …}}}`); int64 values are decimal strings, doubles are numbers
(the proto3 JSON mapping the REST API uses).
"""

from __future__ import annotations

import functools
from typing import Any, NoReturn

from datadrip.sandbox.google import creatives
from datadrip.sandbox.google.gaql import GaqlError, Query

INT64, DOUBLE, STRING, ENUM, BOOL, DATE = "int64", "double", "string", "enum", "bool", "date"
AD_TEXT_ASSETS = "ad_text_assets"  # a repeated AdTextAsset: [{"text": …, "pinnedField": …}]

FIELDS: dict[str, str] = {
    "customer.resource_name": STRING, "customer.id": INT64, "customer.descriptive_name": STRING,
    "customer.currency_code": STRING, "customer.time_zone": STRING, "customer.manager": BOOL,
    "customer.test_account": BOOL, "customer.status": ENUM,
    "customer_client.resource_name": STRING, "customer_client.client_customer": STRING,
    "customer_client.id": INT64, "customer_client.level": INT64, "customer_client.manager": BOOL,
    "customer_client.descriptive_name": STRING, "customer_client.currency_code": STRING,
    "customer_client.time_zone": STRING, "customer_client.status": ENUM,
    "customer_client.test_account": BOOL, "customer_client.hidden": BOOL,
    "campaign.resource_name": STRING, "campaign.id": INT64, "campaign.name": STRING,
    "campaign.status": ENUM, "campaign.primary_status": ENUM,
    "campaign.advertising_channel_type": ENUM, "campaign.bidding_strategy_type": ENUM,
    "campaign.start_date": STRING, "campaign.end_date": STRING,
    "campaign.start_date_time": STRING, "campaign.end_date_time": STRING,
    "campaign.campaign_budget": STRING,
    "campaign_budget.resource_name": STRING, "campaign_budget.amount_micros": INT64,
    "campaign_budget.total_amount_micros": INT64, "campaign_budget.period": ENUM,
    "ad_group.resource_name": STRING, "ad_group.id": INT64, "ad_group.name": STRING,
    "ad_group.status": ENUM, "ad_group.campaign": STRING,
    "ad_group_ad.resource_name": STRING, "ad_group_ad.ad.id": INT64, "ad_group_ad.ad.name": STRING,
    "ad_group_ad.status": ENUM, "ad_group_ad.ad_group": STRING,
    # An ad's creative (sandbox.google.creatives).
    "ad_group_ad.ad.type": ENUM, "ad_group_ad.ad.responsive_search_ad.headlines": AD_TEXT_ASSETS,
    "ad_group_ad.ad.expanded_text_ad.headline_part1": STRING,
    "ad_group_ad.ad.image_ad.image_url": STRING,
    "asset_group.resource_name": STRING, "asset_group.id": INT64, "asset_group.name": STRING,
    "asset_group.status": ENUM, "asset_group.campaign": STRING,
    "conversion_action.resource_name": STRING, "conversion_action.id": INT64,
    "conversion_action.name": STRING, "conversion_action.category": ENUM,
    "conversion_action.type": ENUM, "conversion_action.status": ENUM,
    "conversion_action.primary_for_goal": BOOL,
    "conversion_action.include_in_conversions_metric": BOOL,
    "segments.date": DATE, "segments.conversion_action": STRING,
    "segments.conversion_action_name": STRING, "segments.conversion_action_category": ENUM,
    "metrics.impressions": INT64, "metrics.clicks": INT64, "metrics.cost_micros": INT64,
    "metrics.conversions": DOUBLE, "metrics.conversions_value": DOUBLE, "metrics.ctr": DOUBLE,
    "metrics.average_cpc": DOUBLE, "metrics.interactions": INT64, "metrics.all_conversions": DOUBLE,
    "metrics.all_conversions_value": DOUBLE,
    # FROM campaign only (sandbox.google.shares).
    "metrics.search_impression_share": DOUBLE, "metrics.search_budget_lost_impression_share": DOUBLE,
    "metrics.search_rank_lost_impression_share": DOUBLE,
    # Breakdowns (sandbox.google.breakdowns).
    "segments.device": ENUM,
    "ad_group_criterion.resource_name": STRING, "ad_group_criterion.age_range.type": ENUM,
    "ad_group_criterion.gender.type": ENUM,
    "age_range_view.resource_name": STRING, "gender_view.resource_name": STRING,
    "geographic_view.resource_name": STRING, "geographic_view.country_criterion_id": INT64,
    "geographic_view.location_type": ENUM,
    "geo_target_constant.resource_name": STRING, "geo_target_constant.id": INT64,
    "geo_target_constant.country_code": STRING, "geo_target_constant.name": STRING,
    "geo_target_constant.canonical_name": STRING, "geo_target_constant.target_type": STRING,
}
METRICS = tuple(name for name in FIELDS if name.startswith("metrics."))
# Resources whose fields each FROM resource can select (its own and the ones it belongs to).
SELECTABLE = {
    "customer": ("customer",),
    "customer_client": ("customer_client", "customer"),
    "campaign": ("campaign", "campaign_budget", "customer"),
    "ad_group": ("ad_group", "campaign", "customer"),
    "ad_group_ad": ("ad_group_ad", "ad_group", "campaign", "customer"),
    "asset_group": ("asset_group", "campaign", "customer"),
    "conversion_action": ("conversion_action", "customer"),
    "age_range_view": ("age_range_view", "ad_group_criterion", "ad_group", "campaign", "customer"),
    "gender_view": ("gender_view", "ad_group_criterion", "ad_group", "campaign", "customer"),
    "geographic_view": ("geographic_view", "campaign", "customer"),
    "geo_target_constant": ("geo_target_constant",),
}
WITHOUT_METRICS = frozenset({"customer_client", "geo_target_constant"})
# The segments that name a conversion action, and the only metrics that may stand beside them
# (the others fail the query: reference card §6).
ACTION_SEGMENTS = ("segments.conversion_action", "segments.conversion_action_name",
                   "segments.conversion_action_category")
CONVERSION_METRICS = ("metrics.conversions", "metrics.conversions_value", "metrics.all_conversions",
                      "metrics.all_conversions_value")
# What each resource allows beyond its own fields: asset groups report delivery and conversions
# only (card §9); a conversion action reports all conversions by date (card §6).
RESOURCE_ONLY = {
    "asset_group": ("metrics.impressions", "metrics.clicks", "metrics.cost_micros",
                    "metrics.conversions", "metrics.conversions_value", "segments.date"),
    "conversion_action": ("metrics.all_conversions", "metrics.all_conversions_value",
                          "segments.date"),
}
ENUM_VALUES = {
    "customer.status": ("ENABLED", "CANCELED", "SUSPENDED", "CLOSED"),
    "customer_client.status": ("ENABLED", "CANCELED", "SUSPENDED", "CLOSED"),
    "conversion_action.status": ("ENABLED", "REMOVED", "HIDDEN"),
    "conversion_action.type": ("WEBPAGE", "AD_CALL", "UPLOAD_CLICKS", "WEBSITE_CALL"),
    "conversion_action.category": ("DEFAULT", "PAGE_VIEW", "PURCHASE", "SIGNUP", "ADD_TO_CART",
                                   "BEGIN_CHECKOUT", "SUBMIT_LEAD_FORM", "PHONE_CALL_LEAD",
                                   "IMPORTED_LEAD", "CONTACT", "QUALIFIED_LEAD",
                                   "CONVERTED_LEAD"),
    "segments.conversion_action_category": ("DEFAULT", "PAGE_VIEW", "PURCHASE", "SIGNUP",
                                            "ADD_TO_CART", "BEGIN_CHECKOUT", "SUBMIT_LEAD_FORM",
                                            "PHONE_CALL_LEAD", "IMPORTED_LEAD", "CONTACT",
                                            "QUALIFIED_LEAD", "CONVERTED_LEAD"),
    "campaign.primary_status": ("ELIGIBLE", "PAUSED", "REMOVED", "ENDED", "PENDING", "LIMITED",
                                "LEARNING", "NOT_ELIGIBLE", "MISCONFIGURED"),
    "campaign.advertising_channel_type": ("SEARCH", "DISPLAY", "SHOPPING", "HOTEL", "VIDEO",
                                          "MULTI_CHANNEL", "LOCAL", "SMART", "PERFORMANCE_MAX",
                                          "LOCAL_SERVICES", "TRAVEL", "DEMAND_GEN"),
    "campaign.bidding_strategy_type": ("MANUAL_CPC", "MAXIMIZE_CONVERSIONS",
                                       "MAXIMIZE_CONVERSION_VALUE", "TARGET_CPA", "TARGET_ROAS",
                                       "TARGET_SPEND", "TARGET_IMPRESSION_SHARE"),
    "campaign_budget.period": ("DAILY", "CUSTOM_PERIOD"),
    "segments.device": ("MOBILE", "TABLET", "DESKTOP", "CONNECTED_TV", "OTHER"),
    "ad_group_ad.ad.type": creatives.TYPE_VALUES,
    "ad_group_criterion.age_range.type": ("AGE_RANGE_18_24", "AGE_RANGE_25_34", "AGE_RANGE_35_44",
                                          "AGE_RANGE_45_54", "AGE_RANGE_55_64", "AGE_RANGE_65_UP",
                                          "UNDETERMINED"),
    "ad_group_criterion.gender.type": ("MALE", "FEMALE", "UNDETERMINED"),
    "geographic_view.location_type": ("AREA_OF_INTEREST", "LOCATION_OF_PRESENCE"),
}
# Campaign dates by API version: v23 renamed them (card §0.4); the other names are unknown there.
DATES_BEFORE_V23 = frozenset({"campaign.start_date", "campaign.end_date"})
DATES_FROM_V23 = frozenset({"campaign.start_date_time", "campaign.end_date_time"})
ENTITY_STATUSES = ("ENABLED", "PAUSED", "REMOVED")
PARAMETERS = {"include_drafts": ("true", "false"), "omit_unselected_resource_names": ("true", "false")}


def resource_of(name: str) -> str:
    return name.split(".", 1)[0]


@functools.cache
def camel(path: str) -> str:
    """`ad_group_ad.ad.cost_micros` → `adGroupAd.ad.costMicros` (cached: every row asks)."""
    return ".".join(part.split("_")[0] + "".join(word.title() for word in part.split("_")[1:])
                    for part in path.split("."))


def enum_values(name: str) -> tuple[str, ...]:
    return ENUM_VALUES.get(name, ENTITY_STATUSES)


def validate(query: Query, version: int | None = None) -> None:
    """Reject fields the API (of `version`, the newest when None) does not know or does not
    allow with this FROM resource."""
    unknown = DATES_FROM_V23 if version is not None and version < 23 else DATES_BEFORE_V23
    if query.resource in ("metrics", "segments"):
        raise GaqlError("PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE",
                        f"Error in FROM clause: '{query.resource}' is not a resource.")
    if query.resource not in SELECTABLE:
        raise GaqlError("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                        f"Error in FROM clause: invalid resource name '{query.resource}'.")
    clauses = (("SELECT", query.select), ("WHERE", [c.field for c in query.where]),
               ("ORDER BY", [name for name, _ in query.order_by]))
    for clause, names in clauses:
        for name in names:
            if name not in FIELDS or name in unknown:
                # Wording as real responses show it (google-ads-perl logging test, Airbyte tests).
                raise GaqlError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'.")
            _check_compatible(query.resource, name, clause)
    for name, value in query.parameters.items():
        if name not in PARAMETERS:
            raise GaqlError("BAD_PARAMETER_NAME", f"Error in PARAMETERS: unknown parameter '{name}'.")
        if value not in PARAMETERS[name]:
            raise GaqlError("BAD_PARAMETER_VALUE",
                            f"Error in PARAMETERS: invalid value '{value}' for '{name}'.")
    _check_action_segments(query)
    for condition in query.where:
        kind = FIELDS[condition.field]
        if condition.operator in ("LIKE", "NOT LIKE") and kind != STRING:
            raise GaqlError("OPERATOR_FIELD_MISMATCH",
                            f"Error in WHERE clause: LIKE cannot be used with '{condition.field}'.")
        if condition.operator == "DURING" and kind != DATE:
            raise GaqlError("OPERATOR_FIELD_MISMATCH",
                            f"Error in WHERE clause: DURING cannot be used with '{condition.field}'.")


def _check_action_segments(query: Query) -> None:
    """A conversion-action segment fails beside any metric that is not a conversion metric,
    with the message public clients quote (card §6; the enum is the likely one, unconfirmed)."""
    named = [*query.select, *(c.field for c in query.where)]
    segments = [n for n in dict.fromkeys(named) if n in ACTION_SEGMENTS]
    others = [n for n in dict.fromkeys(named)
              if n.startswith("metrics.") and n not in CONVERSION_METRICS]
    if segments and others:
        listed = ", ".join(f"'{n}'" for n in segments)
        unsupported = ", ".join(f"'{n.removeprefix('metrics.')}'" for n in others)
        raise GaqlError("PROHIBITED_SEGMENT_WITH_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                        "Cannot select the following segments because at least one unsupported "
                        f"metric is found in SELECT or WHERE clause: {listed}(unsupported "
                        f"metrics: {unsupported})")


# The search impression shares: the sandbox serves them FROM campaign only.
CAMPAIGN_ONLY = frozenset({"metrics.search_impression_share",
                           "metrics.search_budget_lost_impression_share",
                           "metrics.search_rank_lost_impression_share"})


def _check_compatible(resource: str, name: str, clause: str) -> None:
    owner = resource_of(name)
    allowed = RESOURCE_ONLY.get(resource)
    if owner in ("metrics", "segments"):
        if resource in WITHOUT_METRICS or (allowed is not None and name not in allowed) or \
                (name in CAMPAIGN_ONLY and resource != "campaign"):
            _incompatible(resource, name, owner)
        return
    if owner not in SELECTABLE[resource]:
        where = "SELECT" if clause == "SELECT" else "WHERE"
        verb = "select fields" if where == "SELECT" else "filter on fields"
        # googleads/google-ads-java #173 shows the SELECT form of this message.
        raise GaqlError(f"PROHIBITED_RESOURCE_TYPE_IN_{where}_CLAUSE",
                        f"Cannot {verb} from the following resource: '{owner.upper()}', since the "
                        "resource is incompatible with the resource in FROM clause.")


def _incompatible(resource: str, name: str, owner: str) -> NoReturn:
    """A metric or segment the FROM resource cannot give (wording of the segment form seen in
    googleads/google-ads-java #180)."""
    kind = "metric" if owner == "metrics" else "segment"
    code = "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE" if owner == "metrics" else \
        "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE"
    raise GaqlError(code, f"Cannot select or filter on the following {kind}s: '{name}'"
                          f"(could not support requested resources: '{resource.upper()}'), since "
                          f"{kind} is incompatible with the resource in the FROM clause or other "
                          "selected segmenting resources.")


def to_json(kind: str, value: Any) -> Any:
    """A Python value in the proto3 JSON form: int64 as a string, doubles as numbers."""
    if kind == INT64:  # text pinned as the platform sends it goes out as it is
        return value if isinstance(value, str) else str(int(value))
    if kind == DOUBLE:
        number = float(value)
        return int(number) if number.is_integer() else number
    if kind == DATE:
        return value.isoformat()
    return value


def convert_literal(name: str, text: str, literal_kind: str) -> Any:
    """A WHERE literal as a value comparable with the field's; GaqlError when it cannot be one."""
    kind = FIELDS[name]
    try:
        if kind == INT64:
            return int(text) if literal_kind != "word" else int("x")
        if kind == DOUBLE:
            return float(text) if literal_kind != "word" else float("x")
        if kind == BOOL:
            if text.upper() not in ("TRUE", "FALSE"):
                raise ValueError(text)
            return text.upper() == "TRUE"
        if kind == ENUM:
            if text.upper() not in (*enum_values(name), "UNKNOWN", "UNSPECIFIED"):
                raise GaqlError("BAD_ENUM_CONSTANT",
                                f"Error in WHERE clause: invalid enum constant '{text}'.")
            return text.upper()
    except ValueError:
        raise GaqlError("BAD_VALUE", f"Error in WHERE clause: invalid value {text}.") from None
    if literal_kind == "number":
        raise GaqlError("INVALID_STRING_VALUE", f"Error in WHERE clause: '{text}' is not a string.")
    return text
