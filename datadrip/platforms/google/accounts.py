"""Google Ads account discovery: directly reachable accounts, then the clients under each manager."""

from __future__ import annotations

from typing import Any

from datadrip.platforms.base import AccountRef
from datadrip.platforms.google.ads import NOT_ENABLED, AdsClient, GoogleAdsApiError, customer_id

CUSTOMER_QUERY = ("SELECT customer.id, customer.descriptive_name, customer.currency_code, "
                  "customer.time_zone, customer.manager, customer.test_account FROM customer")
CLIENTS_QUERY = ("SELECT customer_client.client_customer, customer_client.id, customer_client.level, "
                 "customer_client.manager, customer_client.descriptive_name, "
                 "customer_client.currency_code, customer_client.time_zone, customer_client.status "
                 "FROM customer_client WHERE customer_client.level <= 1")


def list_accounts(ads: AdsClient) -> list[AccountRef]:
    """Accounts with metrics the login can read. Managers are walked, not returned (metrics
    cannot be read from them); cancelled accounts reached directly are skipped, those under a
    manager come back "disabled". An account reached directly wins over the same account reached
    through a manager; otherwise the first sighting wins."""
    found: dict[str, AccountRef] = {}
    managers: list[tuple[str, str]] = []
    for cid in ads.accessible_customers():
        customer = _customer(ads, cid)
        if customer is None:
            continue
        name = str(customer.get("descriptiveName") or cid)
        if customer.get("manager") is True:
            managers.append((cid, name))
        elif cid not in found:
            found[cid] = AccountRef(platform="google", external_id=cid, name=name,
                                    currency=str(customer.get("currencyCode") or ""),
                                    timezone=str(customer.get("timeZone") or ""))
    for top, top_name in managers:
        for client in _clients(ads, top):
            found.setdefault(client["id"], AccountRef(
                platform="google", external_id=client["id"], name=client["name"],
                currency=client["currency"], timezone=client["timezone"],
                status="active" if client["status"] == "ENABLED" else "disabled",
                login_customer_id=top, manager_name=top_name))
    return list(found.values())


def _customer(ads: AdsClient, cid: str) -> dict[str, Any] | None:
    """The customer row of a directly reachable account; None when it is cancelled."""
    try:
        rows = list(ads.search(cid, CUSTOMER_QUERY, login_customer_id=cid))
    except GoogleAdsApiError as exc:
        if NOT_ENABLED in exc.codes:
            return None
        raise
    customer = rows[0].get("customer") if rows else None
    return customer if isinstance(customer, dict) else None


def _clients(ads: AdsClient, top: str) -> list[dict[str, str]]:
    """The non-manager accounts anywhere under `top`, walking sub-managers level by level; every
    query goes through `top`, the manager the login reaches directly."""
    clients: list[dict[str, str]] = []
    pending, walked = [top], set()
    while pending:
        manager = pending.pop(0)
        if manager in walked:
            continue
        walked.add(manager)
        try:
            rows = list(ads.search(manager, CLIENTS_QUERY, login_customer_id=top))
        except GoogleAdsApiError as exc:
            if NOT_ENABLED in exc.codes:  # a cancelled sub-manager: nothing to read below it
                continue
            raise
        for row in rows:
            client = row.get("customerClient")
            if not isinstance(client, dict) or str(client.get("level")) == "0":
                continue  # level 0 is the manager itself
            cid = customer_id(client.get("id"))
            if client.get("manager") is True:
                pending.append(cid)
                continue
            clients.append({"id": cid, "name": str(client.get("descriptiveName") or cid),
                            "currency": str(client.get("currencyCode") or ""),
                            "timezone": str(client.get("timeZone") or ""),
                            "status": str(client.get("status") or "")})
    return clients
