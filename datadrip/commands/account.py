"""`datadrip account …`: the connected ad accounts and the state of their logins."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import AgencyOpt, JsonOpt
from datadrip.core.errors import AuthRequiredError

app = typer.Typer(help="""Connected ad accounts: which client, which login, and whether it still works.

    \b
    Examples:
      datadrip account list
      datadrip account check --json
      datadrip account edit act_1010000001 --lookback-days 7
    """,
                  no_args_is_help=True)

ClientOpt = Annotated[str | None, typer.Option("--client", "-c", help="Only this client (name or id).")]

COLUMNS = [("client", "Client"), ("platform", "Platform"), ("account_id", "Account"),
           ("name", "Name"), ("currency", "Currency"), ("timezone", "Time zone"),
           ("token_expires_at", "Login expires"), ("status", "Status"), ("warning", "Attention")]


@app.command("list")
def account_list(ctx: typer.Context, client: ClientOpt = None, agency: AgencyOpt = None,
                 as_json: JsonOpt = False) -> None:
    """List every connection: client, platform, account, currency, time zone, login expiry, status.

    \b
    Example:
      datadrip account list --json | jq -r '.[] | select(.status != "active") | .account_id'
    """
    from datadrip.workbook.accounts import connection_record, list_connections
    from datadrip.workbook.agencies import find_agency
    from datadrip.workbook.clients import find_client

    with workbook(ctx) as wb:
        owner = find_client(wb.session, client, agency) if client else None
        scope = find_agency(wb.session, agency) if agency and not client else None
        rows = [connection_record(a, c, ag) for a, c, ag in list_connections(wb.session, owner, scope)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No accounts connected yet: datadrip connect meta CLIENT")


@app.command("check")
def account_check(ctx: typer.Context, client: ClientOpt = None, agency: AgencyOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Try each stored login once; mark the refused ones needs_reauth (exit 4 with the command to run).

    A connected platform whose configured API version stops answering within 60 days (or has
    stopped) is warned about on stderr, with the api_version setting to change.

    \b
    Example:
      datadrip account check --client "Masala Mornings" || echo "a login is needed"
    """
    from datadrip.workbook.connect import check_connections

    checked = check_connections(settings(ctx), client, agency)
    if as_json:
        output.print_json(checked.records)
    else:
        output.print_table(checked.records, COLUMNS)
    for sunset in checked.sunsets:
        output.message(f"warning: {sunset.warning}")
    if checked.needs_login:
        raise AuthRequiredError(f"{len(checked.needs_login)} client login(s) need renewing",
                                hint="run: " + "  and  ".join(checked.needs_login))


@app.command("edit")
def account_edit(ctx: typer.Context,
                 account: Annotated[str, typer.Argument(
                     help="The account: act_…, a Google customer id, or its id in the workbook.",
                     metavar="ACCOUNT", show_default=False)],
                 lookback_days: Annotated[int | None, typer.Option(
                     "--lookback-days", min=0, max=400, show_default=False,
                     help="Days this account re-reads on every sync (conversions are restated).")]
                 = None,
                 default_lookback: Annotated[bool, typer.Option(
                     "--default-lookback", help="Use the platform's lookback_days setting again.")]
                 = False,
                 as_json: JsonOpt = False) -> None:
    """Change an account's own sync settings: how many days each sync re-reads.

    \b
    Example:
      datadrip account edit 123-456-7890 --lookback-days 90
    """
    from datadrip.workbook.accounts import connection_record, edit_account

    with workbook(ctx, write=True) as wb:
        found, owner, agency_ = edit_account(wb, account, lookback_days=lookback_days,
                                             default_lookback=default_lookback)
        record = connection_record(found, owner, agency_)
    if as_json:
        output.print_json(record)
    else:
        output.message(f"Updated {record['platform']} account {record['account_id']}.")
        output.print_record(record, [(key, header) for key, header in COLUMNS if key != "warning"]
                            + [("lookback_days", "Lookback days")])
