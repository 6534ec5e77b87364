"""`datadrip platform …`: the ad platforms DataDrip can connect and sync, each an installed plug-in."""

from __future__ import annotations

from dataclasses import asdict

import typer

from datadrip.commands import output
from datadrip.commands._options import JsonOpt

app = typer.Typer(help="""Ad platforms: the installed plug-ins that DataDrip connects to and syncs from.

    Each platform is a plug-in found through the `datadrip.platforms` entry point group. Meta and
    Google Ads come with DataDrip; installing a package that provides another platform adds it,
    with its own [NAME] section in datadrip.toml and its own secrets. Its NAME is what `connect`,
    `sync --platform` and the workbook's platform column use. Accounts of a platform that is not
    installed (any more) stay in the workbook: `account list` says so and `sync` skips them.

    \b
    Examples:
      datadrip platform list
      datadrip platform list --json | jq -r '.[].name'
    """,
                  no_args_is_help=True)

COLUMNS = [("name", "Name"), ("label", "Platform"), ("package", "Package"), ("version", "Version")]


@app.command("list")
def platform_list(as_json: JsonOpt = False) -> None:
    """List the installed platforms: their name, label, and the package (and version) providing each.

    \b
    Example:
      datadrip platform list --json
    """
    from datadrip.platforms.registry import installed

    rows = [asdict(found) for found in installed()]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No platform is installed: reinstall datadrip "
                                                "(Meta and Google Ads come with it).")
