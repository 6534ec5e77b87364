"""Meta's catalogue of an account's conversion actions: its custom conversions, which insights
report as the action type "offsite_conversion.custom.<id>" (platform facts card §1)."""

from __future__ import annotations

from typing import Any

from datadrip.core.errors import DataDripError, UsageError
from datadrip.platforms.base import AccountRef, ConversionActionInfo, FetchNotes
from datadrip.platforms.meta.graph import GraphClient
from datadrip.platforms.meta.insights import BAD_DATA_HINT

CUSTOM_CONVERSION_FIELDS = "id,name,custom_event_type,is_archived"
CUSTOM_PREFIX = "offsite_conversion.custom."


def custom_conversions(graph: GraphClient, account: AccountRef, notes: FetchNotes, *,
                       page_limit: int = 100) -> list[ConversionActionInfo]:
    """`act_…/customconversions`, every page, as catalogue entries: kind "custom", category the
    custom event type ("PURCHASE", "LEAD", "OTHER"), status "archived" or "active"."""
    act = account.external_id
    if not act.startswith("act_") or not act[4:].isdigit():
        raise UsageError(f"{act!r} is not a Meta ad account id (act_ and digits)")
    return [_entry(item, act) for item in graph.get_all(
        f"{act}/customconversions", {"fields": CUSTOM_CONVERSION_FIELDS, "limit": str(page_limit)},
        notes=notes)]


def _entry(item: Any, act: str) -> ConversionActionInfo:
    conversion_id = item.get("id") if isinstance(item, dict) else None
    if not isinstance(conversion_id, str) or not conversion_id.isdigit():
        raise DataDripError(f"Meta listed a custom conversion of {act} without a numeric id",
                            hint=BAD_DATA_HINT)
    name = item.get("name")
    event = item.get("custom_event_type")
    archived = item.get("is_archived", False)
    if not isinstance(archived, bool) or (event is not None and not isinstance(event, str)):
        raise DataDripError(f"Meta sent custom conversion {conversion_id} of {act} with an "
                            "unreadable custom_event_type or is_archived", hint=BAD_DATA_HINT)
    return ConversionActionInfo(action=f"{CUSTOM_PREFIX}{conversion_id}",
                                name=name if isinstance(name, str) and name else conversion_id,
                                kind="custom", category=event or None,
                                status="archived" if archived else "active")
