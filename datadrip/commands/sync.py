"""`datadrip sync`: pull the connected accounts' daily numbers into the workbook."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import settings
from datadrip.commands._options import AgencyOpt, JsonOpt, VerboseOpt
from datadrip.core.enums import Level
from datadrip.core.errors import run_failure

if TYPE_CHECKING:
    from datadrip.sync.run import AccountSync, SyncOutcome, SyncUi, WaitNotice


def sync(ctx: typer.Context,
         client: Annotated[list[str] | None, typer.Option(
             "--client", "-c", help="Only this client (name or id); repeatable.", show_default=False)]
         = None,
         agency: AgencyOpt = None,
         platform: Annotated[str | None, typer.Option(
             help="Only this platform (an installed one: datadrip platform list).",
             metavar="NAME", show_default=False)] = None,
         level: Annotated[list[Level] | None, typer.Option(
             help="Only this level (repeatable); default: campaign, adset and ad.",
             show_default=False)] = None,
         since: Annotated[dt.datetime | None, typer.Option(
             formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", show_default=False,
             help="First day to fetch (the account's calendar day; a day after today is refused); "
                  "default: the day after the last sync, minus the lookback window, or [sync] "
                  "initial_days back.")] = None,
         until: Annotated[dt.datetime | None, typer.Option(
             formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", show_default=False,
             help="Last day to fetch; default: today in the account's time zone (still partial).")]
         = None,
         full: Annotated[bool, typer.Option(
             "--full", help="Re-fetch [sync] initial_days (or from --since), ignoring what is "
                            "already synced.")] = False,
         dry_run: Annotated[bool, typer.Option(
             "--dry-run", help="Show the accounts and windows a sync would fetch; fetch nothing.")]
         = False,
         wait: Annotated[bool, typer.Option(
             "--wait", help="If another sync holds the workbook, wait for it instead of exiting 1.")]
         = False,
         as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Fetch daily campaign, ad set and ad numbers of every connected account into the workbook.

    Incremental: each account continues from its last synced day and re-reads the lookback window
    ([meta] / [google] lookback_days) because platforms restate conversions. Exit 3 when some
    accounts failed (the rest is saved), 4 when a login must be renewed. When stdout is not a
    terminal (cron), a success prints nothing (--verbose prints the summary) and each problem is
    one line on stderr. A wait over 2 seconds (a rate limit, a retry) is always one line on
    stderr, with the time it ends; one over [sync] max_wait_seconds fails that account.

    \b
    Example:
      datadrip sync --client "Masala Mornings" --since 2026-09-01
    """
    from datadrip.platforms.registry import platform_names
    from datadrip.sync.run import SyncRequest, sync_accounts

    if since and until and until < since:
        raise typer.BadParameter("--until is before --since", param_hint="--until")
    if platform is not None and platform not in platform_names():
        raise typer.BadParameter(f"{platform!r} is not an installed platform (installed: "
                                 f"{', '.join(platform_names()) or 'none'})", param_hint="--platform")
    request = SyncRequest(clients=tuple(client or ()), agency=agency,
                          platform=platform,
                          levels=tuple(dict.fromkeys(item.value for item in level)) if level else
                          ("campaign", "adset", "ad"),
                          since=since.date() if since else None, until=until.date() if until else None,
                          full=full, dry_run=dry_run, wait=wait)
    quiet = output.unattended(as_json=as_json, verbose=verbose) and not dry_run
    with progress(enabled=not as_json and sys.stderr.isatty(), notices=not quiet) as ui:
        outcome = sync_accounts(settings(ctx), request, ui)
    _report(outcome, as_json, quiet=quiet)


COLUMNS = [("client", "Client"), ("platform", "Platform"), ("account_id", "Account"),
           ("status", "Status"), ("since", "From"), ("until", "To"), ("rows", "Rows"),
           ("seconds", "Seconds")]


def _report(outcome: SyncOutcome, as_json: bool, *, quiet: bool) -> None:
    records = [a.record() for a in outcome.accounts]
    if as_json:
        output.print_json({"dry_run": outcome.dry_run, "rows": outcome.rows,
                           "succeeded": len(outcome.succeeded), "failed": len(outcome.failed),
                           "accounts": records})
    elif outcome.dry_run:
        output.print_table(records, [c for c in COLUMNS if c[0] not in ("rows", "seconds", "status")]
                           + [("levels", "Levels")])
    elif not quiet:
        output.print_table(records, COLUMNS)
    for account in outcome.accounts:
        for warning in account.warnings:
            output.message(f"warning: {_label(account)}: {warning}")
    if missing := outcome.not_installed:
        output.message(f"warning: skipped {len(missing)} account(s) whose platform is not installed "
                       f"(see 'datadrip platform list'): {', '.join(_label(a) for a in missing)}")
    failed = outcome.failed
    if not failed:
        return
    for account in failed:  # with --json too: stdout stays JSON, problems go to stderr
        output.error(f"{_label(account)}: {account.error}", account.hint, one_line=quiet)
    logins = sorted({str(a.hint) for a in failed if a.needs_login})
    summary = f"{len(failed)} of {len(outcome.accounts)} accounts failed" + \
        (": a login is needed" if logins else "") + ("; the others are saved" if outcome.succeeded else "")
    hint = "  and  ".join(logins) if logins else "Run datadrip sync again later." if outcome.succeeded \
        else "See the errors above; saved chunks are kept, so the next sync goes on from there."
    # A login needed wins over "partly done": the next step is the login, whatever else synced.
    raise run_failure(summary, failed=len(failed), total=len(outcome.accounts),
                      needs_login=bool(logins), hint=None if quiet else hint)


def _label(account: AccountSync) -> str:
    return f"{account.client} · {account.platform} {account.account_id}"


def _wait_line(notice: WaitNotice) -> str | None:
    # A wait the sync refused to take is the account's error, reported with the others.
    return None if notice.gave_up else f"{_label(notice.account)}: {notice.text}"


def _print_wait(notice: WaitNotice) -> None:
    line = _wait_line(notice)
    if line:
        output.message(line)


class progress:  # noqa: N801 - used as a context manager, like a function
    """A live bar per account on a terminal; otherwise only notices (waiting for another sync),
    and not even those under cron. Waits over 2 seconds are always told: a silent stall looks
    like a hang."""

    def __init__(self, *, enabled: bool, notices: bool = True) -> None:
        self._enabled = enabled
        self._notices = notices
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> SyncUi:
        from datadrip.sync.run import SyncUi

        if not self._enabled:
            return SyncUi(on_notice=output.message if self._notices else lambda _text: None,
                          on_wait=_print_wait)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[rows]:>9,} rows"), TimeElapsedColumn(),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        return SyncUi(on_start=self._start, on_chunk=self._chunk, on_done=self._done,
                      on_notice=self._progress.console.print, on_wait=self._wait)

    def __exit__(self, *_exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _wait(self, notice: WaitNotice) -> None:
        line = _wait_line(notice)
        if line:
            from rich.text import Text

            self._progress.console.print(Text(line))

    def _start(self, account: AccountSync) -> None:
        self._tasks[account.id] = self._progress.add_task(_label(account), total=account.total_chunks,
                                                          rows=0)

    def _chunk(self, account: AccountSync, _rows: int) -> None:
        self._progress.update(self._tasks[account.id], advance=1, rows=account.rows)

    def _done(self, account: AccountSync) -> None:
        task = self._tasks.get(account.id)
        if task is not None:
            self._progress.update(task, description=f"{_label(account)} {account.status}")
