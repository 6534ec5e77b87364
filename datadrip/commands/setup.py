"""The root commands `datadrip init`, `datadrip demo` and `datadrip audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import Invocation, settings, workbook
from datadrip.commands._options import JsonOpt
from datadrip.commands.dashboard import show_board
from datadrip.commands.sync import progress
from datadrip.platforms.registry import label


def init(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the config file (commented, from datadrip.toml.example) and the workbook.

    Safe to run twice: an existing config file is left as it is.

    \b
    Example:
      datadrip init && datadrip agency add "My Agency"
    """
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.init import initialise

    invocation = ctx.find_object(Invocation) or Invocation()
    done = initialise(load_settings(invocation.config_path, must_exist=False))
    if as_json:
        output.print_json({"config_file": str(done.config_file),
                           "config_written": done.config_written,
                           "workbook": done.workbook.workbook, "schema": done.workbook.after})
        return
    verb = "Wrote" if done.config_written else "Kept the existing"
    output.message(f"{verb} config file {done.config_file}")
    output.message(f"Workbook ready: {done.workbook.workbook} (schema {done.workbook.after})")
    output.message('Next: datadrip agency add "My Agency"')


def demo(ctx: typer.Context,
         folder: Annotated[Path | None, typer.Option(
             "--dir", help="Folder for the demo (default: 'demo' in the data folder).")] = None,
         as_json: JsonOpt = False) -> None:
    """Run DataDrip end to end on demo data, in a folder of its own (reset on each run).

    \b
    Example:
      datadrip demo && DATADRIP_HOME=~/.local/share/datadrip/demo datadrip client list
    """
    import sys

    from datadrip.demo import run_demo

    home = (folder or settings(ctx).paths.data_dir / "demo").expanduser().resolve()
    with progress(enabled=not as_json and sys.stderr.isatty()) as ui:
        result = run_demo(home, ui)
    if as_json:
        output.print_json({"home": str(result.home), "agencies": result.agencies,
                           "clients": result.clients, "team": result.team,
                           "accounts": result.accounts, "synced": result.synced,
                           "dashboard": result.dashboard.record() if result.dashboard else None,
                           "insights": result.insights, "reports": result.reports,
                           "stories": result.stories})
        return
    output.message(f"Demo workbook in {result.home}\n")
    output.print_table(result.agencies, [("name", "Agency"), ("timezone", "Time zone"),
                                         ("currency", "Currency"), ("plan", "Plan")])
    output.print_table(result.clients, [("name", "Client"), ("currency", "Currency"),
                                        ("monthly_budget", "Monthly budget"),
                                        ("report_recipients", "Recipients")])
    output.print_table(result.team, [("email", "Team member"), ("role", "Role")])
    output.print_table(result.synced, [("client", "Client"), ("platform", "Platform"),
                                       ("account_id", "Account"), ("currency", "Currency"),
                                       ("since", "From"), ("until", "To"), ("rows", "Rows synced")])
    if result.dashboard is not None:
        sys.stdout.write("\n")
        show_board(result.dashboard)
    _show_insights(result.insights)
    if result.stories:
        output.message("\nPlanted in the demo's data (datadrip metrics --client NAME --by campaign "
                       "--period last-30-days shows them):")
        for story in result.stories:
            output.message(f"  {story['client']} · {label(story['platform'])}: {story['description']}")
    if result.reports:
        output.message("\nYesterday's reports, e-mailed to the demo outbox (nothing left this machine):")
        for report in result.reports:
            output.message(f"  {report['client']}: open {report['html_file']}")
        output.message(f"  the e-mails: {result.home / 'outbox'}")
    output.message(f"\nExplore it: DATADRIP_HOME={result.home} datadrip dashboard --client "
                   "'Masala Mornings'\n"
                   f"Sync it again: datadrip sandbox serve --port {result.sandbox_port} & "
                   f"DATADRIP_HOME={result.home} datadrip sync")


def _show_insights(runs: list[dict[str, Any]]) -> None:
    created = [record for run in runs for record in run["created"]]
    if created:
        output.message("\nSuggestions (datadrip insight list; they are in the reports too):")
    for record in created:
        output.message(f"  {record['client']} · {record['type']}: {record['claim']}")
    for run in runs:
        if run["fallback"]:
            output.message(f"  {run['client']}: the heuristics' suggestions were kept: {run['fallback']}")


def audit(ctx: typer.Context,
          since: Annotated[str | None, typer.Option(
              "--since", help="Only changes since a date (2026-11-01) or a span (24h, 7d).")] = None,
          limit: Annotated[int | None, typer.Option(
              "--limit", min=1, help="Only the newest N changes.")] = None,
          as_json: JsonOpt = False) -> None:
    """List every change made to the workbook: when, who, what.

    \b
    Example:
      datadrip audit --since 7d --json | jq '.[] | select(.action == "client.remove")'
    """
    from datadrip.workbook.audit import entry_record, list_entries, parse_since

    start = parse_since(since) if since else None
    with workbook(ctx) as wb:
        rows = [entry_record(entry) for entry in list_entries(wb.session, since=start, limit=limit)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, [("at", "When"), ("actor", "Who"), ("action", "What"),
                                  ("details", "Details")], empty="No changes recorded.")
