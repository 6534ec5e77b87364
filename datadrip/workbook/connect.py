"""Connecting a client's ad accounts, and undoing it.

Log in (browser, a pasted redirect, or a token on stdin), ask the platform which accounts the
login reaches, store the login in the secret store and attach the chosen accounts in the
workbook. Nothing is held open during the login: the workbook is read before and written after,
and a failure at any step leaves neither a secret nor a row behind.
"""

from __future__ import annotations

import datetime as dt
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datadrip.core.enums import AccountStatus
from datadrip.core.errors import DataDripError, NotFoundError, UsageError
from datadrip.db.models import AdAccount, Agency, Client
from datadrip.platforms import registry
from datadrip.platforms.base import LoginCheck, LoginRequest, LoginUi
from datadrip.platforms.sunsets import ApiSunset, api_sunsets
from datadrip.platforms.tokens import StoredLogin, load_login, new_token_ref
from datadrip.secrets.store import open_store
from datadrip.workbook.accounts import (
    attach_accounts,
    client_accounts,
    connect_command,
    connection_record,
    list_connections,
    metric_rows,
    platform_refs,
    reauth_hint,
    refs_in_use,
    remove_accounts,
    select_accounts,
    set_login_state,
)
from datadrip.workbook.clients import find_client
from datadrip.workbook.session import open_session

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.platforms.base import AccountRef
    from datadrip.secrets.store import SecretStore


@dataclass(frozen=True)
class ConnectUi:
    """How the login reaches the person: the command supplies these (the service never prints)."""

    on_url: Callable[[str, bool], None]  # the consent URL, and whether a browser opened it
    read_pasted: Callable[[], str]  # --no-browser: the redirected address (or code) pasted back
    choose: Callable[[str, list[AccountRef]], list[AccountRef]]  # the picker, without --account
    open_url: Callable[[str], object] = webbrowser.open
    on_notice: Callable[[str], None] = lambda _text: None


@dataclass(frozen=True)
class ConnectRequest:
    platform: str
    client_ref: str
    agency_ref: str | None = None
    accounts: Sequence[str] = ()  # --account values as typed
    no_browser: bool = False
    stdin_token: str | None = field(default=None, repr=False)  # --token-stdin / --refresh-token-stdin


@dataclass(frozen=True)
class ConnectOutcome:
    client: str
    platform: str
    login: str  # "browser" | "stdin"
    accounts: list[dict[str, Any]]  # connection records, each with "relogin"


def connect_accounts(loaded: Loaded, request: ConnectRequest, ui: ConnectUi) -> ConnectOutcome:
    """Log in, attach the chosen accounts to the client, and keep the login."""
    platform = request.platform
    plugin = registry.platform(platform)
    wanted = [plugin.account_id(text) for text in request.accounts]
    with open_session(loaded) as wb:
        client = find_client(wb.session, request.client_ref, request.agency_ref)
        client_id, client_name = client.id, client.name
    login_ui = LoginUi(open_url=ui.open_url, on_url=ui.on_url,
                       read_pasted=ui.read_pasted if request.no_browser else None)
    new = plugin.log_in(loaded, LoginRequest(login_ui, request.stdin_token,
                                             reauth_hint(platform, client_name)))
    login, visible = new.login, new.accounts
    chosen = select_accounts(platform, visible, wanted) if wanted else ui.choose(platform, visible)
    if not chosen:
        raise UsageError("no account was chosen; nothing was stored",
                         hint="Pick at least one, or name it with --account ID.")
    store, notice = open_store(loaded)
    if notice:
        ui.on_notice(notice)
    ref = new_token_ref(platform)
    store.set(ref, login.dumps())
    try:
        with open_session(loaded, write=True) as wb:
            owner = wb.session.get(Client, client_id)
            if owner is None:
                raise NotFoundError(f"client {client_name!r} was removed during the login; "
                                    "nothing was stored")
            agency = wb.session.get_one(Agency, owner.agency_id)
            earlier = {a.token_ref for a in _existing(wb.session, owner.id, platform, chosen)}
            attached = attach_accounts(wb, owner, platform, chosen, token_ref=ref,
                                       token_expires_at=login.expires_at, origin=login.origin)
            records = [{**connection_record(a.account, owner, agency), "relogin": a.relogin}
                       for a in attached]
            unused = {r for r in earlier if r} - refs_in_use(wb.session, earlier)
    except BaseException:
        store.delete(ref)
        raise
    for old in unused:  # the logins these accounts used before: nothing points at them now
        store.delete(old)
    return ConnectOutcome(client_name, platform, login.origin, records)


def _existing(session: Any, client_id: str, platform: str, chosen: Sequence[AccountRef]) -> list[Any]:
    from sqlmodel import col, select

    ids = [ref.external_id for ref in chosen]
    return list(session.exec(select(AdAccount).where(
        AdAccount.client_id == client_id, AdAccount.platform == platform,
        col(AdAccount.external_id).in_(ids))))


# --- disconnecting -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Disconnected:
    client: str
    platform: str
    accounts: list[str]  # external ids
    metric_rows: int
    revoked: int  # logins revoked at the platform
    notes: list[str]  # why a login was not revoked, or a revocation that failed


def disconnect_accounts(loaded: Loaded, platform: str, client_ref: str, agency_ref: str | None,
                        account_ids: Sequence[str], *, revoke: bool,
                        confirm: Callable[[str, dict[str, int]], None]) -> Disconnected:
    """Remove the client's accounts on a platform (all, or the named ones) with their metrics,
    then forget the logins nothing uses any more, revoking those DataDrip obtained itself."""
    plugin = registry.platform(platform)
    wanted = [plugin.account_id(text) for text in account_ids]
    with open_session(loaded) as wb:
        client = find_client(wb.session, client_ref, agency_ref)
        accounts = client_accounts(wb.session, client, platform, wanted)
        rows = sum(metric_rows(wb.session, accounts).values())
        names = ", ".join(a.external_id for a in accounts)
    confirm(f"the {platform} connection {names} of {client.name!r}", {"metric_rows": rows})
    with open_session(loaded, write=True) as wb:
        client = find_client(wb.session, client.id)
        accounts = client_accounts(wb.session, client, platform, [a.external_id for a in accounts])
        refs = {a.token_ref for a in accounts if a.token_ref}
        removed = [a.external_id for a in accounts]
        remove_accounts(wb, client, accounts)
        orphans = refs - refs_in_use(wb.session, refs)
        others = platform_refs(wb.session, platform)
    store, _ = open_store(loaded, announce=False)
    revoked, notes = 0, []
    for ref in sorted(orphans):
        text = store.get(ref)
        if text is None:
            continue
        login = StoredLogin.loads(text, ref)
        if revoke:
            note = _revoke(loaded, store, login, others)
            revoked += note is None
            if note:
                notes.append(note)
        store.delete(ref)
    return Disconnected(client.name, platform, removed, rows, revoked, notes)


def _revoke(loaded: Loaded, store: SecretStore, login: StoredLogin, others: set[str]) -> str | None:
    """Revoke a login at the platform unless someone else may rely on the same grant: None when
    revoked, else why not."""
    if login.origin != "browser":
        return ("the token was given on stdin, so it was only deleted here, not revoked "
                "(other tools may use it)")
    shared = []
    for ref in sorted(others):
        text = store.get(ref)
        if text is not None:
            shared.append(StoredLogin.loads(text, ref))
    try:
        return registry.platform(login.platform).revoke(loaded, login, shared)
    except DataDripError as exc:
        return f"could not revoke the login ({exc.message}); it was deleted here anyway"


def forget_logins(loaded: Loaded, refs: set[str]) -> int:
    """Delete from the secret store the logins among `refs` that no account uses any more (after
    a client or agency was removed). They are not revoked: the same grant may serve elsewhere."""
    if not refs:
        return 0
    with open_session(loaded) as wb:
        unused = refs - refs_in_use(wb.session, refs)
    store, _ = open_store(loaded, announce=False)
    return sum(store.delete(ref) for ref in unused)


# --- checking stored logins ----------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    records: list[dict[str, Any]]  # connection records after the check
    needs_login: list[str]  # the `datadrip connect` commands to run
    sunsets: list[ApiSunset] = field(default_factory=list)  # API versions near or past their end


def check_connections(loaded: Loaded, client_ref: str | None, agency_ref: str | None, *,
                      now: dt.datetime | None = None) -> Checked:
    """Try every stored login once (each platform's `check_login`: Google refreshes, Meta asks
    debug_token): mark those the platform refuses `needs_reauth`, put working ones back to
    active, keep the expiries the platforms report."""
    with open_session(loaded) as wb:
        client = find_client(wb.session, client_ref, agency_ref) if client_ref else None
        connections = list_connections(wb.session, client)
        if not connections:
            raise NotFoundError("no connected ad accounts" + (f" for {client.name!r}" if client else ""),
                                hint=f"Connect one: datadrip connect "
                                     f"{'|'.join(registry.platform_names())} CLIENT.")
        logins = {(a.token_ref, a.platform, owner.name) for a, owner, _ in connections}
    store, _ = open_store(loaded, announce=False)
    verdicts = {}
    for ref, platform, client_name in sorted(logins, key=lambda item: str(item)):
        if ref not in verdicts:
            hint = reauth_hint(platform, client_name)
            try:
                login = load_login(store, ref, reauth_hint=hint)
                verdicts[ref] = registry.platform(platform).check_login(loaded, login)
            except DataDripError as exc:
                if exc.exit_code != 4:
                    raise
                verdicts[ref] = LoginCheck(exc.message)
    with open_session(loaded, write=True) as wb:
        for ref, check in verdicts.items():
            if ref:
                set_login_state(wb, ref, check.problem, check.expires_at)
        rows = list_connections(wb.session, find_client(wb.session, client.id) if client else None)
        records = [connection_record(a, owner, agency, now=now) for a, owner, agency in rows]
        commands = sorted({connect_command(a.platform, owner.name) for a, owner, _ in rows
                           if a.status == AccountStatus.NEEDS_REAUTH})
    today = (now or dt.datetime.now(dt.UTC)).date()
    sunsets = api_sunsets(loaded.settings, {a.platform for a, _, _ in rows}, today)
    return Checked(records, commands, sunsets)
