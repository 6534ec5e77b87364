"""`datadrip schedule`: the daemon's timetable, and the same as crontab lines or a systemd unit."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import settings
from datadrip.commands._options import JsonOpt

app = typer.Typer(help="""The daemon's timetable: next runs, crontab lines, a systemd unit.

    Jobs and times come from [schedule] in datadrip.toml: cron expressions read in each agency's
    own timezone.

    \b
    Examples:
      datadrip schedule show
      datadrip schedule cron --utc
      datadrip schedule systemd
    """, no_args_is_help=True)

COLUMNS = [("agency", "Agency"), ("job", "Job"), ("cron", "Cron"), ("next_run_local", "Next (local)"),
           ("next_run_utc", "Next (UTC)"), ("last_status", "Last run")]


@app.command("show")
def schedule_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List every job of every agency with its next run in the agency's time and in UTC.

    \b
    Example:
      datadrip schedule show --json | jq '.[] | select(.job == "sync")'
    """
    import datetime as dt

    from datadrip.scheduling.export import schedule_records

    records = schedule_records(settings(ctx), dt.datetime.now(dt.UTC))
    if as_json:
        output.print_json(records)
    else:
        output.print_table(records, COLUMNS, empty="no agencies: add one with datadrip agency add")


@app.command("cron")
def schedule_cron(ctx: typer.Context, utc: Annotated[bool, typer.Option(
        "--utc", help="Times converted to UTC, for a cron without CRON_TZ (Debian, Ubuntu).")]
        = False) -> None:
    """Print crontab lines that run the same jobs as the daemon, each agency in its timezone.

    \b
    Example:
      datadrip schedule cron | crontab -
    """
    import datetime as dt

    from datadrip.scheduling.export import crontab_text

    typer.echo(crontab_text(settings(ctx), dt.datetime.now(dt.UTC), utc=utc), nl=False)


@app.command("systemd")
def schedule_systemd(ctx: typer.Context) -> None:
    """Print a systemd user unit that runs `datadrip daemon` with this configuration.

    \b
    Example:
      datadrip schedule systemd > ~/.config/systemd/user/datadrip.service
    """
    from datadrip.scheduling.export import systemd_unit

    typer.echo(systemd_unit(settings(ctx)), nl=False)
