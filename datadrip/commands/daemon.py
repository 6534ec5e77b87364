"""`datadrip daemon`: run the [schedule] jobs of every agency in its own timezone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datadrip.commands._context import settings
from datadrip.core.enums import JobStatus
from datadrip.core.errors import DataDripError, PartialError


def daemon(ctx: typer.Context,
           once: Annotated[bool, typer.Option(
               "--once", help="Run what is due now (missed runs caught up once), then exit.")] = False,
           log_file: Annotated[Path | None, typer.Option(
               "--log-file", metavar="FILE", show_default=False, dir_okay=False,
               help="Log to FILE (rotated at 5 MB, five kept) instead of stderr.")] = None,
           json_logs: Annotated[bool, typer.Option(
               "--json-logs", help="One JSON object per log line, for log collectors.")] = False) -> None:
    """Run the scheduled logins check, syncs and reports of every agency until stopped.

    Jobs and times come from [schedule] (cron, in each agency's timezone); what ran is kept in the
    workbook, so a restart catches up a missed run once. SIGTERM or Ctrl-C: the job under way
    finishes (a sync stops after its chunk in flight), then exit 0. One daemon per workbook.

    \b
    Example:
      datadrip daemon --log-file ~/datadrip.log
    """
    from datadrip.scheduling.daemon import DaemonRequest, run_daemon

    outcome = run_daemon(settings(ctx), DaemonRequest(once=once, log_file=log_file, json_logs=json_logs))
    if not once or outcome.stopped_by:
        return
    if outcome.worst == JobStatus.FAILED:
        raise DataDripError("some jobs failed", hint="See the log lines above.")
    if outcome.worst in (JobStatus.PARTIAL, JobStatus.ABANDONED):
        raise PartialError("some jobs were only partly done", hint="See the log lines above.")
