"""`datadrip config …`: the effective settings and where they come from."""

from __future__ import annotations

import typer

from datadrip.commands import output
from datadrip.commands._context import settings
from datadrip.commands._options import JsonOpt
from datadrip.core.errors import SecretStoreError
from datadrip.secrets.store import stored_names

app = typer.Typer(help="""Configuration: what is in effect and where it came from.

    \b
    Example:
      datadrip config show --json | jq '.settings["workbook.url"]'
    """,
                  no_args_is_help=True)


@app.command("show")
def config_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show every setting, its value and its source (default, file, env or secret store); secrets redacted.

    \b
    Example:
      DATADRIP_META_API_VERSION=v25.0 datadrip config show
    """
    from datadrip.core.config import describe

    loaded = settings(ctx)
    try:
        stored = stored_names(loaded)
    except SecretStoreError as exc:  # still show the rest; say why the store was left out
        output.message(f"warning: secret store not read: {exc.message}")
        stored = set()
    described = describe(loaded, stored)
    if as_json:
        output.print_json(described)
        return
    found = "" if described["config_file_found"] else " (not found: defaults in use)"
    output.message(f"Config file: {described['config_file']}{found}")
    output.message(f"Workbook:    {described['workbook']}")
    rows = [{"key": key, "value": item["value"], "source": item["source"]}
            for key, item in described["settings"].items()]
    rows += [{"key": key, "value": "[redacted]" if item["set"] else "(not set)",
              "source": item["source"] or "secret"}
             for key, item in described["secrets"].items()]
    output.print_table(rows, [("key", "Key"), ("value", "Value"), ("source", "Source")])
