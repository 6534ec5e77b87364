"""Connections in the workbook: which ad accounts a client has, under which stored login.

The workbook keeps each account's name, currency, time zone, manager, status and the `token_ref`
of its login, never a token. Logins themselves (the secret store) are handled by `connect.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from datadrip.core.enums import AccountStatus
from datadrip.core.errors import ConflictError, NotFoundError, UsageError
from datadrip.db.models import AdAccount, Agency, Client, MetricDaily, utcnow
from datadrip.platforms import registry
from datadrip.workbook import audit

if TYPE_CHECKING:
    from datadrip.platforms.base import AccountRef
    from datadrip.workbook.session import Workbook


def connect_command(platform: str, client_name: str) -> str:
    """The exact command that logs this client in again, for hints."""
    return f"datadrip connect {platform} {shell_quoted(client_name)}"


def shell_quoted(text: str) -> str:
    """`text` in double quotes, safe to paste into a POSIX shell (names may hold ' or $)."""
    escaped = "".join("\\" + ch if ch in '\\"$`' else ch for ch in text)
    return f'"{escaped}"'


# What `account list` says of an account whose platform's plug-in is not installed (the workbook
# keeps it; sync skips it, dashboards and reports show what it holds).
NOT_INSTALLED = "platform not installed; see 'datadrip platform list'"


def reauth_hint(platform: str, client_name: str) -> str:
    return f"run: {connect_command(platform, client_name)}"


def select_accounts(platform: str, visible: Sequence[AccountRef],
                    wanted: Sequence[str]) -> list[AccountRef]:
    """The visible accounts named by `--account` (already normalised), in the order given."""
    by_id = {account.external_id: account for account in visible}
    missing = [ref for ref in wanted if ref not in by_id]
    if missing:
        seen = ", ".join(sorted(by_id)) or "none"
        raise UsageError(f"this {registry.label(platform)} login cannot see "
                         f"{', '.join(missing)}; nothing was stored",
                         hint=f"Accounts it can see: {seen}.")
    return [by_id[ref] for ref in dict.fromkeys(wanted)]


@dataclass(frozen=True)
class Attached:
    account: AdAccount
    relogin: bool  # it was connected already; it now uses the new login


def attach_accounts(wb: Workbook, client: Client, platform: str, chosen: Sequence[AccountRef], *,
                    token_ref: str, token_expires_at: dt.datetime | None,
                    origin: str) -> list[Attached]:
    """Create (or re-point to the new login) the client's accounts, with one audit entry each."""
    attached = []
    for ref in chosen:
        _refuse_other_client(wb.session, client, platform, ref.external_id)
        account = wb.session.exec(select(AdAccount).where(
            AdAccount.client_id == client.id, AdAccount.platform == platform,
            AdAccount.external_id == ref.external_id)).first()
        relogin = account is not None
        if account is None:
            account = AdAccount(client_id=client.id, platform=platform,
                                external_id=ref.external_id, currency=ref.currency,
                                timezone=ref.timezone)
        account.name, account.currency, account.timezone = ref.name, ref.currency, ref.timezone
        account.login_customer_id = ref.login_customer_id
        account.token_ref, account.token_expires_at = token_ref, token_expires_at
        account.status = (AccountStatus.DISABLED if ref.status == AccountStatus.DISABLED
                          else AccountStatus.ACTIVE).value
        wb.session.add(account)
        wb.session.flush()
        audit.record(wb.session, wb.actor, "account.relogin" if relogin else "account.connect",
                     "ad_account", account.id, client=client.name, platform=platform,
                     account=ref.external_id, name=ref.name, login=origin,
                     login_customer_id=ref.login_customer_id)
        attached.append(Attached(account, relogin))
    return attached


def _refuse_other_client(session: Session, client: Client, platform: str, external_id: str) -> None:
    other = session.exec(select(Client).join(AdAccount, col(AdAccount.client_id) == col(Client.id))
                         .where(AdAccount.platform == platform, AdAccount.external_id == external_id,
                                AdAccount.client_id != client.id)).first()
    if other is not None:
        raise ConflictError(f"{external_id} is already connected to client {other.name!r}; "
                            "nothing was stored",
                            hint=f"Disconnect it there first: datadrip disconnect {platform} "
                                 f"{shell_quoted(other.name)}")


def client_accounts(session: Session, client: Client, platform: str,
                    external_ids: Iterable[str] = ()) -> list[AdAccount]:
    """The client's accounts on a platform; only the named ones when ids are given."""
    query = select(AdAccount).where(AdAccount.client_id == client.id, AdAccount.platform == platform)
    accounts = list(session.exec(query.order_by(col(AdAccount.external_id))))
    wanted = list(external_ids)
    if not wanted:
        if not accounts:
            raise NotFoundError(f"client {client.name!r} has no {registry.label(platform)} account",
                                hint="See 'datadrip account list'.")
        return accounts
    have = {account.external_id: account for account in accounts}
    missing = [ref for ref in wanted if ref not in have]
    if missing:
        raise NotFoundError(f"client {client.name!r} has no {platform} account {', '.join(missing)}",
                            hint="See 'datadrip account list'.")
    return [have[ref] for ref in dict.fromkeys(wanted)]


def metric_rows(session: Session, accounts: Sequence[AdAccount]) -> dict[str, int]:
    """Metric rows per account id (accounts without any are left out)."""
    ids = [account.id for account in accounts]
    query = (select(MetricDaily.account_id, func.count()).where(col(MetricDaily.account_id).in_(ids))
             .group_by(col(MetricDaily.account_id)))
    return {account_id: int(n) for account_id, n in session.exec(query)}


def remove_accounts(wb: Workbook, client: Client, accounts: Sequence[AdAccount]) -> None:
    """Remove the accounts (their entities and metrics go with them), audited."""
    counted = metric_rows(wb.session, accounts)
    for account in accounts:
        audit.record(wb.session, wb.actor, "account.disconnect", "ad_account", account.id,
                     client=client.name, platform=account.platform, account=account.external_id,
                     name=account.name, metric_rows_removed=counted.get(account.id, 0))
        wb.session.delete(account)
    wb.session.flush()


def refs_in_use(session: Session, refs: Iterable[str | None]) -> set[str]:
    """Which of these token refs some account still uses."""
    wanted = {ref for ref in refs if ref}
    if not wanted:
        return set()
    query = select(AdAccount.token_ref).where(col(AdAccount.token_ref).in_(wanted)).distinct()
    return {ref for ref in session.exec(query) if ref}


def platform_refs(session: Session, platform: str) -> set[str]:
    query = select(AdAccount.token_ref).where(AdAccount.platform == platform).distinct()
    return {ref for ref in session.exec(query) if ref}


def mark_needs_reauth(wb: Workbook, token_ref: str, reason: str) -> list[AdAccount]:
    """Every account on this login needs a new one; audited once per account that changed."""
    accounts = list(wb.session.exec(select(AdAccount).where(AdAccount.token_ref == token_ref)))
    changed = [a for a in accounts if a.status == AccountStatus.ACTIVE]
    for account in changed:
        account.status = AccountStatus.NEEDS_REAUTH.value
        wb.session.add(account)
        audit.record(wb.session, wb.actor, "account.needs_reauth", "ad_account", account.id,
                     platform=account.platform, account=account.external_id, reason=reason)
    wb.session.flush()
    return accounts


def list_connections(session: Session, client: Client | None = None,
                     agency: Agency | None = None) -> list[tuple[AdAccount, Client, Agency]]:
    query = (select(AdAccount, Client, Agency)
             .join(Client, col(Client.id) == col(AdAccount.client_id))
             .join(Agency, col(Agency.id) == col(Client.agency_id)))
    if client is not None:
        query = query.where(Client.id == client.id)
    if agency is not None:
        query = query.where(Agency.id == agency.id)
    query = query.order_by(func.lower(Agency.name), func.lower(Client.name),
                           col(AdAccount.platform), col(AdAccount.external_id))
    return [(account, owner, agency_) for account, owner, agency_ in session.exec(query)]


def connection_record(account: AdAccount, client: Client, agency: Agency, *,
                      now: dt.datetime | None = None) -> dict[str, Any]:
    """One connection as `account list` shows it (no token, only when it ends)."""
    warning = None
    if not registry.is_installed(account.platform):
        warning = NOT_INSTALLED
    elif account.status == AccountStatus.NEEDS_REAUTH:
        warning = f"needs a new login; {reauth_hint(account.platform, client.name)}"
    else:
        ending = registry.platform(account.platform).expiry_warning(account.token_expires_at,
                                                                    now or utcnow())
        if ending:
            warning = f"{ending}; {reauth_hint(account.platform, client.name)}"
    return {"id": account.id, "client": client.name, "agency": agency.name,
            "platform": account.platform, "account_id": account.external_id, "name": account.name,
            "currency": account.currency, "timezone": account.timezone,
            "login_customer_id": account.login_customer_id,
            "token_expires_at": account.token_expires_at, "status": account.status,
            "lookback_days": account.lookback_days, "attribution_setting": account.attribution_setting,
            "warning": warning}


def set_login_state(wb: Workbook, token_ref: str, problem: str | None,
                    expires_at: dt.datetime | None) -> None:
    """Record what a check of a login found: refused → needs_reauth; working → active again,
    with the expiry the platform now reports."""
    if problem is not None:
        mark_needs_reauth(wb, token_ref, problem)
        return
    for account in wb.session.exec(select(AdAccount).where(AdAccount.token_ref == token_ref)):
        if account.status == AccountStatus.NEEDS_REAUTH:
            account.status = AccountStatus.ACTIVE.value
            audit.record(wb.session, wb.actor, "account.login_ok", "ad_account", account.id,
                         platform=account.platform, account=account.external_id)
        account.token_expires_at = expires_at
        wb.session.add(account)
    wb.session.flush()


def login_refs(session: Session, *, client_id: str | None = None,
               agency_id: str | None = None) -> set[str]:
    """The logins a client's (or an agency's) accounts use: what removing it may leave unused."""
    query = select(AdAccount.token_ref).join(Client, col(Client.id) == col(AdAccount.client_id))
    if client_id is not None:
        query = query.where(Client.id == client_id)
    if agency_id is not None:
        query = query.where(Client.agency_id == agency_id)
    return {ref for ref in session.exec(query.distinct()) if ref}


def find_account(session: Session, ref: str) -> tuple[AdAccount, Client, Agency]:
    """A connected account by workbook id or platform id, in any form a platform accepts
    (act_…, 123-456-7890 or ten digits)."""
    text = ref.strip()
    candidates = {text}
    for plugin in registry.platforms():
        try:
            candidates.add(plugin.account_id(text))
        except UsageError:
            continue  # not an id of that platform
    found = [row for row in list_connections(session)
             if row[0].id == text or row[0].external_id in candidates]
    if not found:
        raise NotFoundError(f"no connected ad account {ref!r}", hint="See 'datadrip account list'.")
    if len(found) > 1:
        owners = ", ".join(repr(client.name) for _, client, _ in found)
        raise UsageError(f"{ref!r} is connected to several clients ({owners})",
                         hint="Give the account's id from 'datadrip account list --json'.")
    return found[0]


def edit_account(wb: Workbook, ref: str, *, lookback_days: int | None,
                 default_lookback: bool) -> tuple[AdAccount, Client, Agency]:
    """Change an account's own sync settings (its lookback window), audited."""
    if default_lookback and lookback_days is not None:
        raise UsageError("--lookback-days and --default-lookback contradict each other")
    if not default_lookback and lookback_days is None:
        raise UsageError("nothing to change", hint="Pass --lookback-days N or --default-lookback.")
    account, client, agency = find_account(wb.session, ref)
    before = account.lookback_days
    account.lookback_days = None if default_lookback else lookback_days
    if account.lookback_days == before:
        raise UsageError("nothing to change: the account already has that lookback")
    wb.session.add(account)
    audit.record(wb.session, wb.actor, "account.edit", "ad_account", account.id,
                 changes={"lookback_days": [before, account.lookback_days]})
    return account, client, agency
