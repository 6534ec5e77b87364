"""An account's conversion actions (`FROM conversion_action`): the catalogue that names the ids
in metric rows' actions and says which count in the Conversions column."""

from __future__ import annotations

from typing import Any, NoReturn

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import AccountRef, ConversionActionInfo, FetchNotes
from datadrip.platforms.google.ads import NOT_ENABLED, AdsClient, GoogleAdsApiError, customer_id

CATALOGUE_QUERY = ("SELECT conversion_action.id, conversion_action.name, conversion_action.category, "
                   "conversion_action.primary_for_goal, "
                   "conversion_action.include_in_conversions_metric, conversion_action.status, "
                   "conversion_action.type FROM conversion_action")
KIND = "conversion_action"


def conversion_actions(ads: AdsClient, account: AccountRef,
                       notes: FetchNotes) -> list[ConversionActionInfo]:
    """Every conversion action of the account, removed and hidden ones included (their past
    conversions stay in the rows). The id is the number at the end of the action's resource name
    (customers/{cid}/conversionActions/{id}). A cancelled account has none (the metrics say why)."""
    cid = customer_id(account.external_id)
    found = []
    try:
        for row in ads.search_stream(cid, CATALOGUE_QUERY,
                                     login_customer_id=account.login_customer_id, notes=notes):
            found.append(_entry(row, cid))
    except GoogleAdsApiError as exc:
        if NOT_ENABLED in exc.codes:
            return []
        raise
    return found


def _entry(row: dict[str, Any], cid: str) -> ConversionActionInfo:
    action = row.get("conversionAction")
    if not isinstance(action, dict):
        _fail(cid, "conversionAction", action)
    ident = action.get("id")
    if isinstance(ident, str) and ident.isdigit() and len(ident) <= 19:
        ident = str(int(ident))
    elif isinstance(ident, int) and not isinstance(ident, bool) and ident >= 0:
        ident = str(ident)
    else:
        _fail(cid, "conversionAction.id", ident)
    name = action.get("name")
    # proto3 JSON leaves empty strings and false out.
    shown = name if isinstance(name, str) and name.strip() else f"Conversion action {ident}"
    flags = []
    for key in ("primaryForGoal", "includeInConversionsMetric"):
        value = action.get(key, False)
        if not isinstance(value, bool):
            _fail(cid, f"conversionAction.{key}", value)
        flags.append(value)
    texts = []
    for key in ("category", "status", "type"):
        value = action.get(key)
        if value is not None and not isinstance(value, str):
            _fail(cid, f"conversionAction.{key}", value)
        texts.append(value)
    return ConversionActionInfo(action=ident, name=shown, kind=KIND, category=texts[0],
                                primary=flags[0], included_in_conversions=flags[1],
                                status=texts[1])


def _fail(cid: str, name: str, value: Any) -> NoReturn:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise DataDripError(f"Google Ads sent an unreadable {name} ({shown}) in a conversion action "
                        f"of customer {cid}",
                        hint="Check [google] api_url and api_version; if they are right, try "
                             "again later.")
