"""`datadrip account …`: the connected ad accounts and the state of their logins."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import AgencyOpt, JsonOpt

app = typer.Typer(help="""Connected ad accounts: which client, which login, and whether it still works.

    \b
    Examples:
      datadrip account list
      datadrip account check --json
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
    from datadrip.agencies import find_agency
    from datadrip.clients import find_client
    from datadrip.connections import connection_record, list_connections

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

    \b
    Example:
      datadrip account check --client "Masala Mornings" || echo "a login is needed"
    """
    from datadrip.connect import check_connections
    from datadrip.errors import AuthRequiredError

    checked = check_connections(settings(ctx), client, agency)
    if as_json:
        output.print_json(checked.records)
    else:
        output.print_table(checked.records, COLUMNS)
    if checked.needs_login:
        raise AuthRequiredError(f"{len(checked.needs_login)} client login(s) need renewing",
                                hint="run: " + "  and  ".join(checked.needs_login))
