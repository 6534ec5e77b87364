"""Clients: the businesses an agency runs ads for, who receive its reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from datadrip.core import money, validate
from datadrip.core.errors import AmbiguousError, ConflictError, NotFoundError, UsageError
from datadrip.db.models import AdAccount, Agency, Client, ConversionAction, utcnow
from datadrip.db.queries import count_client_data
from datadrip.platforms import registry
from datadrip.platforms.base import RESULT_NAMES, ConversionActionInfo, ResultRules
from datadrip.workbook import audit
from datadrip.workbook.agencies import agency_or_only, find_agency
from datadrip.workbook.breakdowns import breakdowns_in_use, breakdowns_option
from datadrip.workbook.session import Workbook


@dataclass(frozen=True)
class ClientChanges:
    """What `client add` or `client edit` was given; None means 'leave as is'."""

    name: str | None = None
    recipients: str | None = None
    currency: str | None = None
    monthly_budget: str | None = None
    clear_budget: bool = False
    active: bool | None = None
    conversion_actions: str | None = None  # comma-separated Meta action types; "" = the default
    breakdowns: str | None = None  # comma-separated breakdown names; "none"; "" = the agency's
    key_results: str | None = None  # comma-separated results or action ids / names; "" = the default


def add_client(wb: Workbook, name: str, agency_ref: str | None, changes: ClientChanges) -> Client:
    agency = agency_or_only(wb.session, agency_ref)
    cleaned = validate.name(name, what="client")
    _ensure_unused(wb.session, agency, cleaned)
    client = Client(agency_id=agency.id, name=cleaned, currency=agency.currency)
    _apply(client, changes)
    if changes.key_results is not None:
        client.key_results = key_results(wb.session, client, changes.key_results) or None
    wb.session.add(client)
    wb.session.flush()
    audit.record(wb.session, wb.actor, "client.add", "client", client.id, agency=agency.name,
                 **_fields(client))
    return client


def edit_client(wb: Workbook, ref: str, agency_ref: str | None, changes: ClientChanges) -> Client:
    client = find_client(wb.session, ref, agency_ref)
    before = _fields(client)
    if changes.name is not None:
        new_name = validate.name(changes.name, what="client")
        if new_name.lower() != client.name.lower():
            _ensure_unused(wb.session, wb.session.get_one(Agency, client.agency_id), new_name)
        client.name = new_name
    _apply(client, changes)
    if changes.key_results is not None:
        client.key_results = key_results(wb.session, client, changes.key_results) or None
    diff = audit.changes(before, _fields(client))
    if not diff:
        raise UsageError("nothing to change",
                         hint="Pass an option such as --recipients or --monthly-budget.")
    client.updated_at = utcnow()
    wb.session.add(client)
    audit.record(wb.session, wb.actor, "client.edit", "client", client.id, changes=diff)
    return client


def find_client(session: Session, ref: str, agency_ref: str | None = None) -> Client:
    """A client by id or name (exact, then ignoring case), within an agency when one is named."""
    query = select(Client)
    if agency_ref is not None:
        query = query.where(Client.agency_id == find_agency(session, agency_ref).id)
    matches = list(session.exec(query.where(sa.or_(col(Client.id) == ref, col(Client.name) == ref))))
    if not matches:
        matches = list(session.exec(query.where(func.lower(Client.name) == ref.lower())))
    if not matches:
        where = f" in agency {agency_ref!r}" if agency_ref else ""
        raise NotFoundError(f"no client {ref!r}{where}", hint="See 'datadrip client list'.")
    if len(matches) > 1:
        agencies = ", ".join(repr(session.get_one(Agency, c.agency_id).name) for c in matches)
        raise AmbiguousError(f"{ref!r} names clients in several agencies ({agencies})",
                             hint="Add --agency NAME to say which.")
    return matches[0]


def list_clients(session: Session, agency_ref: str | None = None) -> list[tuple[Client, Agency]]:
    query = select(Client, Agency).join(Agency, col(Agency.id) == col(Client.agency_id))
    if agency_ref is not None:
        query = query.where(Client.agency_id == find_agency(session, agency_ref).id)
    query = query.order_by(func.lower(Agency.name), func.lower(Client.name))
    return [(client, agency) for client, agency in session.exec(query)]


def account_counts(session: Session) -> dict[str, int]:
    """Connected ad accounts per client id."""
    query = select(AdAccount.client_id, func.count()).group_by(col(AdAccount.client_id))
    return {client_id: int(n) for client_id, n in session.exec(query)}


def client_counts(session: Session, client_id: str) -> dict[str, int]:
    """What belongs to the client, by kind: what would go with it if it were removed."""
    return count_client_data(session, select(Client.id).where(Client.id == client_id))


def remove_client(wb: Workbook, client: Client) -> dict[str, int]:
    """Remove the client with its accounts, metrics, reports and insights."""
    counts = client_counts(wb.session, client.id)
    audit.record(wb.session, wb.actor, "client.remove", "client", client.id, name=client.name,
                 removed_with={kind: n for kind, n in counts.items() if n})
    wb.session.delete(client)
    wb.session.flush()
    return counts


def client_record(client: Client, agency: Agency, accounts: int | None = None, *,
                  setting: str = "") -> dict[str, Any]:
    """The client as shown; `breakdowns_in_use` names the breakdowns its syncs fetch and who
    chose them (the client, its agency, or `setting`: `[sync] breakdowns`)."""
    budget = client.monthly_budget_micros
    record: dict[str, Any] = {
        "id": client.id, "name": client.name, "agency": agency.name, "agency_id": agency.id,
        "currency": client.currency,
        "monthly_budget": None if budget is None else money.to_amount(budget, client.currency),
        "report_recipients": list(client.report_recipients), "active": client.active,
        "conversion_actions": list(client.conversion_actions),
        "key_results": list(client.key_results or []), "created_at": client.created_at,
        "breakdowns": None if client.breakdowns is None else list(client.breakdowns),
        **breakdowns_in_use(client.breakdowns, agency.breakdowns, setting).record(),
    }
    if accounts is not None:
        record["ad_accounts"] = accounts
    return record


def _ensure_unused(session: Session, agency: Agency, name: str) -> None:
    clash = session.exec(select(Client).where(
        Client.agency_id == agency.id, func.lower(Client.name) == name.lower())).first()
    if clash is not None:
        raise ConflictError(f"agency {agency.name!r} already has a client named {clash.name!r}",
                            hint="Pick another name, or change that one: datadrip client edit.")


def _apply(client: Client, changes: ClientChanges) -> None:
    if changes.currency is not None:
        client.currency = validate.currency(changes.currency)
    if changes.recipients is not None:
        client.report_recipients = list[str](validate.emails(changes.recipients))
    if changes.clear_budget and changes.monthly_budget is not None:
        raise UsageError("--monthly-budget and --no-monthly-budget contradict each other")
    if changes.clear_budget:
        client.monthly_budget_micros = None
    elif changes.monthly_budget is not None:
        client.monthly_budget_micros = money.parse_amount(
            changes.monthly_budget, client.currency, what="monthly budget")
    elif changes.currency is not None and client.monthly_budget_micros is not None:
        # Re-check the kept budget against the new currency's minor unit (JPY has none).
        amount = money.to_amount(client.monthly_budget_micros, client.currency)
        money.parse_amount(str(amount), client.currency, what="monthly budget")
    if changes.active is not None:
        client.active = changes.active
    if changes.conversion_actions is not None:
        client.conversion_actions = validate.action_types(changes.conversion_actions)
    if changes.breakdowns is not None:
        client.breakdowns = breakdowns_option(changes.breakdowns,
                                              default="the agency's, else [sync] breakdowns")


def _fields(client: Client) -> dict[str, Any]:
    budget = client.monthly_budget_micros
    return {"name": client.name, "currency": client.currency,
            "monthly_budget": None if budget is None else money.to_amount(budget, client.currency),
            "report_recipients": list(client.report_recipients), "active": client.active,
            "conversion_actions": list(client.conversion_actions),
            "key_results": list(client.key_results or []),
            "breakdowns": None if client.breakdowns is None else list(client.breakdowns)}


def key_results(session: Session, client: Client, text: str) -> list[str]:
    """`--results` checked: each name a friendly result (RESULT_NAMES), or an action id or a
    catalogue name (a custom conversion, a Google conversion action) that one of the client's
    accounts knows. An unknown name is a UsageError listing what is available; "" is the default
    (what the platforms call results)."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        return []
    accounts = ([] if client.id is None else
                list(session.exec(select(AdAccount).where(AdAccount.client_id == client.id))))
    catalogues: dict[str, list[ConversionActionInfo]] = {account.id: [] for account in accounts}
    if accounts:
        query = (select(ConversionAction).where(col(ConversionAction.account_id).in_(list(catalogues)))
                 .order_by(col(ConversionAction.account_id), col(ConversionAction.action)))
        for entry in session.exec(query):
            catalogues[entry.account_id].append(ConversionActionInfo(
                entry.action, entry.name, entry.kind, entry.category, entry.primary,
                entry.included_in_conversions, entry.status))
    for name in names:
        if name in RESULT_NAMES:
            continue
        known = False
        for account in accounts:
            plugin = registry.platform(account.platform) if registry.is_installed(account.platform) else None
            if isinstance(plugin, ResultRules) and \
                    plugin.result_actions(name, catalogues[account.id]) is not None:
                known = True
                break
        if not known:
            named = sorted({entry.name for entries in catalogues.values() for entry in entries})
            raise UsageError(
                f"{name!r} is not a result the accounts of client {client.name!r} know",
                hint=f"Use any of: {', '.join([*RESULT_NAMES, *named])}; or an action id as the "
                     "platform spells it (offsite_conversion.fb_pixel_purchase, a conversion "
                     "action id); \"\" for what the platforms call results.")
    return names
