"""`datadrip user …`: an agency's team members."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import workbook
from datadrip.commands._options import AgencyOpt, JsonOpt
from datadrip.core.enums import Role

app = typer.Typer(help="""Team members: the owners and members of an agency.

    \b
    Examples:
      datadrip user add priya@spiceroute.example --role owner
      datadrip user list --json
    """,
                  no_args_is_help=True)

COLUMNS = [("email", "E-mail"), ("role", "Role"), ("agency", "Agency")]


@app.command("add")
def user_add(ctx: typer.Context,
             email: Annotated[str, typer.Argument(help="The person's e-mail address.", metavar="EMAIL")],
             agency: AgencyOpt = None,
             role: Annotated[Role, typer.Option("--role", help="owner or member.")] = Role.MEMBER,
             as_json: JsonOpt = False) -> None:
    """Add a team member to an agency.

    \b
    Example:
      datadrip user add priya@spiceroute.example --agency "Spice Route Media" --role owner
    """
    from datadrip.workbook.team import add_user, user_record

    with workbook(ctx, write=True) as wb:
        user, found = add_user(wb, email, agency, role)
        record = user_record(user, found)
    if as_json:
        output.print_json(record)
    else:
        output.message(f"Added {user.email} to {found.name!r} as {user.role}.")


@app.command("list")
def user_list(ctx: typer.Context, agency: AgencyOpt = None, as_json: JsonOpt = False) -> None:
    """List the team members, of one agency or of all.

    \b
    Example:
      datadrip user list --agency "Spice Route Media"
    """
    from datadrip.workbook.team import list_users, user_record

    with workbook(ctx) as wb:
        rows = [user_record(u, a) for u, a in list_users(wb.session, agency)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No team members yet: datadrip user add EMAIL")


@app.command("remove")
def user_remove(ctx: typer.Context,
                user: Annotated[str, typer.Argument(help="E-mail address or id.", metavar="USER")],
                as_json: JsonOpt = False) -> None:
    """Remove a team member.

    \b
    Example:
      datadrip user remove priya@spiceroute.example
    """
    from datadrip.workbook.team import remove_user

    with workbook(ctx, write=True) as wb:
        removed = remove_user(wb, user)
    if as_json:
        output.print_json({"removed": {"id": removed.id, "email": removed.email}})
    else:
        output.message(f"Removed {removed.email}.")
