"""`datadrip db …`: the workbook's schema."""

from __future__ import annotations

import typer

from datadrip.commands import output
from datadrip.commands._context import settings
from datadrip.commands._options import JsonOpt

app = typer.Typer(help="""The workbook's schema.

    \b
    Example:
      datadrip db upgrade
    """, no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the workbook if needed and migrate it to the newest schema (commands do this too).

    \b
    Example:
      datadrip db upgrade
    """
    from datadrip.workbook.session import upgrade_workbook

    done = upgrade_workbook(settings(ctx))
    if as_json:
        output.print_json({"workbook": done.workbook, "from": done.before, "to": done.after})
    elif done.before == done.after:
        output.message(f"{done.workbook} is up to date (schema {done.after}).")
    else:
        output.message(f"{done.workbook}: schema {done.before or 'empty'} → {done.after}.")
