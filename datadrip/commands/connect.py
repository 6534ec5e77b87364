"""`datadrip connect PLATFORM CLIENT` and `datadrip disconnect`: a client's ad accounts, on any
installed platform."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import confirm_removal, settings
from datadrip.commands._options import AgencyOpt, JsonOpt, YesOpt
from datadrip.core.enums import AccountStatus
from datadrip.core.errors import UsageError

if TYPE_CHECKING:
    from datadrip.platforms.base import AccountRef, PlatformPlugin
    from datadrip.workbook.connect import ConnectOutcome, ConnectUi

PlatformArg = Annotated[str, typer.Argument(
    help="The platform: meta, google, or another installed one (see 'datadrip platform list').",
    metavar="PLATFORM", show_default=False)]
ClientArg = Annotated[str, typer.Argument(help="Client name or id.", metavar="CLIENT", show_default=False)]
AccountOpt = Annotated[list[str] | None, typer.Option(
    "--account", help="An account to connect (repeatable); without it, pick on the terminal.",
    metavar="ID", show_default=False)]
NoBrowserOpt = Annotated[bool, typer.Option(
    "--no-browser", help="Print the login address and read the address the browser ends on "
                         "(or the code) from stdin: for machines without a browser.")]
TokenStdinOpt = Annotated[bool, typer.Option(
    "--token-stdin", "--refresh-token-stdin",
    help="Read a token you already have from stdin instead of logging in: Meta, a Business "
         "Manager system-user token; Google Ads, a refresh token (both spellings work).")]


def connect(ctx: typer.Context, platform: PlatformArg, client: ClientArg, account: AccountOpt = None,
            agency: AgencyOpt = None, no_browser: NoBrowserOpt = False,
            token_stdin: TokenStdinOpt = False, as_json: JsonOpt = False) -> None:
    """Connect a client's ad accounts on a platform: log in once in the browser.

    The login is kept in the OS keyring (or the encrypted secret file); the workbook keeps only
    the accounts. Run it again to log in anew when a login has expired or was revoked.

    \b
    Examples:
      datadrip connect meta "Masala Mornings" --account act_1010000001
      datadrip connect google "Masala Mornings" --account 123-456-7890
      datadrip connect meta "Masala Mornings" --token-stdin --account act_1234567890 < token.txt
      datadrip connect google "Masala Mornings" --refresh-token-stdin < refresh-token.txt
    """
    from datadrip.platforms import registry
    from datadrip.workbook.connect import ConnectRequest, connect_accounts

    if token_stdin and no_browser:
        raise typer.BadParameter("a token read from stdin needs no login: drop --no-browser")
    plugin = registry.platform(platform)
    loaded = settings(ctx)
    token = _read_token(plugin) if token_stdin else None
    request = ConnectRequest(platform, client, agency, tuple(account or ()), no_browser, token)
    outcome = connect_accounts(loaded, request, _terminal_ui(plugin))
    _show(outcome, as_json)


def _terminal_ui(plugin: PlatformPlugin) -> ConnectUi:
    from datadrip.workbook.connect import ConnectUi

    name = plugin.label

    def on_url(url: str, opened: bool) -> None:
        if opened:
            output.message(f"Opened your browser to log in to {name}. If nothing opened, visit:\n"
                           f"  {url}")
        else:
            output.message(f"Open this address in a browser to log in to {name}:\n  {url}")

    def read_pasted() -> str:
        output.message("After you allow access, the browser lands on a page that cannot load "
                       "(http://127.0.0.1… or http://localhost…): copy its whole address.")
        if sys.stdin.isatty():
            return str(typer.prompt("Paste the address (or the code)", err=True))
        return sys.stdin.readline()

    return ConnectUi(on_url=on_url, read_pasted=read_pasted, choose=_pick, on_notice=output.message)


def _read_token(plugin: PlatformPlugin) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(f"Paste the {plugin.token_kind}", hide_input=True, err=True))
    return sys.stdin.read()


def _pick(platform: str, visible: list[AccountRef]) -> list[AccountRef]:
    """The accounts to connect, chosen on the terminal; elsewhere --account is required."""
    if not visible:
        raise UsageError("this login reaches no ad account; nothing was stored",
                         hint="Log in as a user who has access to the client's ad accounts.")
    seen = ", ".join(a.external_id for a in visible)
    if not sys.stdin.isatty():
        raise UsageError(f"say which accounts to connect with --account ID (this login sees: "
                         f"{seen}); nothing was stored",
                         hint=f"e.g. --account {visible[0].external_id}")
    for number, account in enumerate(visible, 1):
        extra = " [disabled]" if account.status == AccountStatus.DISABLED else ""
        via = f" (via {account.manager_name})" if account.manager_name else ""
        output.message(f"  {number:>2}  {account.external_id}  {account.name}  {account.currency}  "
                       f"{account.timezone}{extra}{via}")
    answer = str(typer.prompt("Connect which? Numbers like 1,3, or 'all'", err=True)).strip()
    if answer.lower() == "all":
        return list(visible)
    try:
        picked = [visible[int(part) - 1] for part in answer.replace(" ", ",").split(",") if part]
        if any(int(part) < 1 for part in answer.replace(" ", ",").split(",") if part):
            raise IndexError
    except (ValueError, IndexError):
        raise UsageError(f"{answer!r} is not a choice between 1 and {len(visible)}; nothing was "
                         "stored", hint="Run it again, or name the account with --account ID.") \
            from None
    return list(dict.fromkeys(picked))


CONNECTED = [("client", "Client"), ("platform", "Platform"), ("account_id", "Account"),
             ("name", "Name"), ("currency", "Currency"), ("timezone", "Time zone"),
             ("status", "Status")]


def _show(outcome: ConnectOutcome, as_json: bool) -> None:
    if as_json:
        output.print_json({"client": outcome.client, "platform": outcome.platform,
                           "login": outcome.login, "accounts": outcome.accounts})
        return
    for record in outcome.accounts:
        verb = "Logged in again for" if record["relogin"] else "Connected"
        output.message(f"{verb} {record['account_id']} ({record['name']}, {record['currency']}, "
                       f"{record['timezone']}) of {outcome.client!r}.")
    output.print_table(outcome.accounts, CONNECTED)


def disconnect(ctx: typer.Context, platform: PlatformArg, client: ClientArg,
               account: Annotated[list[str] | None, typer.Option(
                   "--account", help="Only this account (repeatable); default: all of the "
                                     "client's accounts on the platform.", metavar="ID",
                   show_default=False)] = None,
               agency: AgencyOpt = None,
               keep_grant: Annotated[bool, typer.Option(
                   "--keep-grant", help="Delete the login here but do not revoke it at the "
                                        "platform.")] = False,
               yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Disconnect a client's accounts: remove them with their metrics, and delete (and revoke)
    the login when no other account uses it.

    \b
    Example:
      datadrip disconnect meta "Masala Mornings" --account act_1010000001 --yes
    """
    from datadrip.workbook.connect import disconnect_accounts

    done = disconnect_accounts(settings(ctx), platform, client, agency, account or (),
                               revoke=not keep_grant,
                               confirm=lambda what, counts: confirm_removal(what, counts, yes=yes))
    record: dict[str, Any] = {"client": done.client, "platform": done.platform,
                              "accounts": done.accounts, "metric_rows_removed": done.metric_rows,
                              "logins_revoked": done.revoked, "notes": done.notes}
    if as_json:
        output.print_json(record)
        return
    output.message(f"Disconnected {', '.join(done.accounts)} from {done.client!r} "
                   f"({done.metric_rows} metric rows removed; {done.revoked} login(s) revoked).")
    for note in done.notes:
        output.message(f"Note: {note}")
