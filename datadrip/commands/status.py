"""`datadrip status`: is everything synced, logged in and sent? Exit 1 when not, for monitoring."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import JsonOpt
from datadrip.core.enums import HealthState, ReportStatus

if TYPE_CHECKING:
    from datadrip.status import Status

AgencyOpt = Annotated[str | None, typer.Option(
    "--agency", "-a", show_default=False,
    help="Only this agency's clients (name or id); default: every agency.")]
COLUMNS = [("check", "Check"), ("who", "Who"), ("what", "What"), ("state", "State"),
           ("when", "When"), ("note", "Note")]


def status(ctx: typer.Context, agency: AgencyOpt = None, as_json: JsonOpt = False) -> None:
    """Check every active client: last sync per account, logins needed, last reports, next runs.

    Exit 1 when anything needs attention: an account with no successful sync for 36 hours, a
    failed last sync or report, a report whose send was cut short or may have gone out
    (uncertain), a report the daemon's latest run should have sent by [schedule]
    report_deadline and did not, a daemon run stopped or failed as a whole, or a login to renew
    (the command to run is named); exit 0 when all is well. A
    report skipped for having nothing in it (no accounts, no data for its period) is named with
    why, and is not a problem. A connected platform whose configured API version stops answering
    within 60 days (or has stopped) is a warning naming the date and the api_version setting to
    change; it does not change the exit code. The last sync's warnings (days a breakdown could
    not be fetched, beyond what a platform keeps) are in the account's note and in --json's
    last_sync.warnings; they do not change the exit code either. The verdict is one line on
    stderr.

    \b
    Examples:
      datadrip status || echo "DataDrip needs attention"
      datadrip status --json | jq -r '.problems[]'
    """
    from datadrip.reports.claims import send_locks
    from datadrip.status import check_status

    loaded = settings(ctx)
    with workbook(ctx) as wb, send_locks(loaded) as locks:
        report = check_status(wb.session, agency_ref=agency, schedule=loaded.settings.schedule,
                              locks=locks, settings=loaded.settings)
    if as_json:
        output.print_json(report.record())
    else:
        output.print_table(rows(report), COLUMNS, title="DataDrip status",
                           empty="no active client has accounts or reports yet")
    for sunset in report.sunsets:
        output.message(f"warning: {sunset.warning}")
    output.message(verdict(report))
    if not report.ok:
        raise typer.Exit(1)


def verdict(report: Status) -> str:
    problems = report.problems
    skipped = [item.skipped for item in report.reports if item.skipped]
    said = f"{len(skipped)} skipped: " + ", ".join(skipped) if skipped else ""
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        return f"not ok: {count}: " + "; ".join(problems) + (f"; report{'s' if len(skipped) > 1 else ''} "
                                                             + said if said else "")
    synced = sum(1 for account in report.accounts if account.state == HealthState.OK)
    sent = sum(1 for item in report.reports if item.status == ReportStatus.SENT)
    return (f"ok: {synced} account{'' if synced == 1 else 's'} synced within "
            f"{report.record()['stale_after_hours']} h, {sent} latest report{'' if sent == 1 else 's'} "
            "sent" + (f", {said}" if said else ""))


def rows(report: Status) -> list[dict[str, Any]]:
    """One line per account, per latest report and per next run: a compact table, or
    tab-separated lines whose first field says which."""
    now = report.checked_at
    lines: list[dict[str, Any]] = []
    for account in report.accounts:
        last = account.last_run or {}
        note = account.connect or (last.get("error") if account.state == HealthState.FAILING else None) or \
            (account.wait["text"] if account.wait and account.wait["waiting"] else None) or \
            "; ".join(last.get("warnings") or [])
        lines.append({"check": "sync", "who": account.client,
                      "what": f"{account.platform} {account.account_id}", "state": account.state,
                      "when": ago(account.last_success_at, now), "note": note or ""})
    for item in report.reports:
        period = str(item.since) if item.since == item.until else f"{item.since}..{item.until}"
        lines.append({"check": "report", "who": item.client, "what": f"{item.kind} {period}",
                      "state": item.state or item.status,
                      "when": ago(item.sent_at or item.built_at, now),
                      "note": item.command or item.error or ""})
    for missed in report.missed_reports:
        period = str(missed.since) if missed.since == missed.until else f"{missed.since}..{missed.until}"
        lines.append({"check": "report", "who": missed.client, "what": f"{missed.kind} {period}",
                      "state": "not sent", "when": "never", "note": missed.command})
    for daemon_run in report.daemon_runs:
        lines.append({"check": "daemon", "who": daemon_run.agency, "what": daemon_run.job,
                      "state": daemon_run.status, "when": ago(daemon_run.scheduled_for, now),
                      "note": f"{daemon_run.error}; {daemon_run.command}"})
    for sunset in report.sunsets:
        lines.append({"check": "api", "who": sunset.label, "what": sunset.api_version,
                      "state": "ended" if sunset.days_left < 0 else "ending",
                      "when": str(sunset.sunset), "note": f"set [{sunset.platform}] api_version to a "
                                                          "newer version"})
    for run in report.next_runs:
        lines.append({"check": "next", "who": run.agency, "what": run.job, "state": "scheduled",
                      "when": f"{run.local:%Y-%m-%d %H:%M %Z} ({run.utc:%H:%M} UTC)", "note": ""})
    return lines


def ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago, as people say it at a glance: 12 min ago, 5 h ago, 3 d ago; or never."""
    if moment is None:
        return "never"
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} d ago"
