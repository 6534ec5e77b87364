"""Meta ad account discovery: the ad accounts the login can read, as AccountRefs."""

from __future__ import annotations

from typing import Any

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import AccountRef
from datadrip.platforms.meta.graph import GraphClient

ACCOUNT_FIELDS = "id,account_id,name,currency,timezone_name,account_status"
DISABLED_STATUSES = frozenset({2, 101})  # DISABLED, CLOSED; the rest can still hold metrics


def list_accounts(graph: GraphClient, *, page_limit: int = 100) -> list[AccountRef]:
    """`me/adaccounts`, every page. external_id is the "act_…" id."""
    return [_account(item) for item in graph.get_all(
        "me/adaccounts", {"fields": ACCOUNT_FIELDS, "limit": str(page_limit)})]


def _account(item: dict[str, Any]) -> AccountRef:
    external_id = item.get("id")
    if not isinstance(external_id, str) or not external_id.startswith("act_"):
        raise DataDripError("Meta listed an ad account without an act_ id",
                            hint="Check [meta] graph_url and api_version.")
    status = item.get("account_status")
    return AccountRef(platform="meta", external_id=external_id,
                      name=str(item.get("name") or external_id),
                      currency=str(item.get("currency") or ""),
                      timezone=str(item.get("timezone_name") or ""),
                      status="disabled" if status in DISABLED_STATUSES else "active")
