"""`datadrip report …`: build a client's report, send it (once), and look at the ones kept."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import AgencyOpt, JsonOpt, VerboseOpt
from datadrip.commands.metrics import SinceOpt, UntilOpt
from datadrip.core import validate
from datadrip.core.enums import ReportKind, ReportStatus, SendStatus
from datadrip.core.errors import UsageError, run_failure
from datadrip.core.exact_json import dumps
from datadrip.core.text import cell
from datadrip.reports.files import open_in_browser, report_path, write_file

if TYPE_CHECKING:
    from datadrip.reports.send import ReportSend, SendOutcome

app = typer.Typer(help="""Client reports: built from the workbook, e-mailed once.

    A report covers a period in the agency's calendar (daily: yesterday; weekly: last week;
    monthly: last month) against the period before: KPIs, a written summary, Meta against Google,
    top campaigns, the daily trend, budget pacing, and when each account was last synced. It is
    sent by [email] provider: outbox (the default: .eml files, nothing leaves the machine), smtp,
    resend or sendgrid. A report goes out once; sending it again is a no-op unless --force.

    \b
    Examples:
      datadrip report build "Masala Mornings" --open
      datadrip report send --all
      datadrip report list --json
    """, no_args_is_help=True)

ClientArg = Annotated[str, typer.Argument(help="Client name or id.", metavar="CLIENT",
                                          show_default=False)]
KindOpt = Annotated[ReportKind | None, typer.Option(
    "--kind", "-k", show_default=False,
    help="daily, weekly, monthly or custom; default: from the period (yesterday: daily, last-week "
         "and last-7-days: weekly, last-month: monthly), else daily.")]
PeriodOpt = Annotated[str | None, typer.Option(
    "--period", "-p", metavar="PERIOD",
    help="yesterday, last-7-days, last-week, last-month, month-to-date, … (default: the kind's "
         "own), in the agency's time zone.")]
FORMATS = ("html", "md", "txt", "json")
SEND_COLUMNS = [("client", "Client"), ("kind", "Kind"), ("since", "From"), ("until", "To"),
                ("status", "Status"), ("recipients", "Recipients"), ("reason", "Note")]
LIST_COLUMNS = [("id", "Id"), ("client", "Client"), ("kind", "Kind"), ("since", "From"),
                ("until", "To"), ("status", "Status"), ("sent_at", "Sent"), ("recipients", "Recipients"),
                ("error", "Note")]


@app.command("build")
def report_build(ctx: typer.Context, client: ClientArg, agency: AgencyOpt = None,
                 kind: KindOpt = None, period: PeriodOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None,
                 fmt: Annotated[str, typer.Option(
                     "--format", "-f", metavar="FORMAT",
                     help="html (charts inside), md, txt or json (every number).")] = "html",
                 out: Annotated[Path | None, typer.Option(
                     "--out", "-o", metavar="FILE", dir_okay=False,
                     help="Write to FILE (whole or not at all; its folder must exist) instead of "
                          "stdout.")] = None,
                 open_it: Annotated[bool, typer.Option(
                     "--open", help="Open the HTML report in your browser.")] = False) -> None:
    """Build a client's report from the workbook and keep it; nothing is sent.

    \b
    Examples:
      datadrip report build "Masala Mornings" --open
      datadrip report build "Masala Mornings" --period last-week --format md --out week.md
      datadrip report build "Masala Mornings" --since 2026-11-01 --until 2026-11-15 --format json
    """
    from datadrip.reports.history import build_report

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if open_it and fmt != "html":
        raise typer.BadParameter("--open shows the HTML report; leave out --format or use html",
                                 param_hint="--open")
    loaded = settings(ctx)
    with workbook(ctx, write=True) as wb:  # kept only once the report is written out whole
        report = build_report(wb.session, client, agency, kind=kind, period=period, since=since,
                              until=until, template_dir=loaded.settings.reports.template_dir,
                              save=True)
        text = dumps(report.record) + "\n" if fmt == "json" else report.rendered(fmt)
        own_folder = open_it and out is None
        if own_folder:
            plan = report.content.plan
            out = report_path(loaded.paths.data_dir, report.content.client.name, plan.kind.value,
                              plan.period.since, plan.period.until)
        if out is None:
            sys.stdout.write(text)
        else:
            output.message(f"Wrote {write_file(out, text, own_folder=own_folder)}")
    for warning in report.content.warnings:
        output.message(f"warning: {warning}")
    if open_it and out is not None:
        open_in_browser(out)


@app.command("send")
def report_send(ctx: typer.Context,
                client: Annotated[str | None, typer.Argument(
                    help="Client name or id (or --all).", metavar="[CLIENT]", show_default=False)] = None,
                all_clients: Annotated[bool, typer.Option(
                    "--all", help="Every active client (of --agency, else of every agency).")] = False,
                agency: AgencyOpt = None, kind: KindOpt = None, period: PeriodOpt = None,
                since: SinceOpt = None, until: UntilOpt = None,
                to: Annotated[list[str] | None, typer.Option(
                    "--to", metavar="ADDR", show_default=False,
                    help="Send a copy to ADDR instead of the client's recipients (repeatable); "
                         "the client's own send is not marked done.")] = None,
                dry_run: Annotated[bool, typer.Option(
                    "--dry-run", help="Show what would be sent, to whom; send and keep nothing.")] = False,
                force: Annotated[bool, typer.Option(
                    "--force", help="Send even if this report was sent already, or may have been "
                                    "(uncertain).")] = False,
                as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Send a client's report (or every client's) to its recipients, once.

    Sending a report that went out already does nothing and says so (--force sends it again);
    one whose send may have reached its recipients is "uncertain" and is not repeated without
    --force either. A send cut short before its message left is finished by the next one. A
    report with nothing in it (no accounts, no data for the period) is skipped, and why is
    recorded, unless [reports] send_empty; one without numbers because an account has not
    synced that far fails, naming the account. Passing failures (a busy server, a rate limit) are
    retried; with --all every client is attempted, each failure recorded with its reason, and the
    exit code is 3 when some failed (or are uncertain), 1 when all did, 4 when one needs a login.
    When stdout is not a terminal (cron), a success prints nothing (--verbose prints the summary)
    and each problem is one line on stderr.

    \b
    Examples:
      datadrip report send "Masala Mornings"
      datadrip report send --all --period last-week
      datadrip report send "Masala Mornings" --to me@agency.example --dry-run
    """
    from datadrip.reports.send import SendRequest, send_reports

    request = SendRequest(client=client, all_clients=all_clients, agency=agency, kind=kind,
                          period=period, since=since, until=until,
                          to=tuple(validate.email(address, what="--to") for address in to or ()),
                          dry_run=dry_run, force=force)
    announce = None if as_json or not sys.stderr.isatty() else _announce
    outcome = send_reports(settings(ctx), request, announce)
    quiet = output.unattended(as_json=as_json, verbose=verbose) and not dry_run
    _show_outcome(outcome, as_json=as_json, every=all_clients, quiet=quiet)


def _announce(report: ReportSend) -> None:
    output.message(f"{report.client}: {report.status}" + (f" ({report.reason})" if report.reason else ""))


def _show_outcome(outcome: SendOutcome, *, as_json: bool, every: bool, quiet: bool) -> None:
    if not every and outcome.reports and outcome.reports[0].no_recipients:
        raise UsageError(str(outcome.reports[0].reason), hint=outcome.reports[0].hint)
    if as_json:
        output.print_json(outcome.record())
    elif not quiet or not outcome.reports:
        rows = [{**report.record(), "since": report.since, "until": report.until}
                for report in outcome.reports]
        output.print_table(rows, SEND_COLUMNS, empty="no active client to send to")
    for report in outcome.reports:
        for warning in report.warnings:
            output.message(f"warning: {report.client}: {warning}")
    failed = outcome.having(SendStatus.FAILED)
    if not failed:
        return
    for report in failed:
        output.error(f"{report.client}: {report.reason}", report.hint, one_line=quiet)
    logins = [report.hint for report in failed if report.needs_login and report.hint]
    uncertain = [report.force_command for report in failed if report.force_command]
    if logins:
        hint = "  and  ".join(dict.fromkeys(logins))
    elif uncertain and len(failed) == 1:
        hint = failed[0].hint or uncertain[0]  # the Message-ID to ask about, and the --force
    elif uncertain:  # never retried by the same command: each names its own --force
        hint = ("Run the same command again to retry the failed ones; s" if len(uncertain) < len(failed)
                else "S") + ("end an uncertain report again only once you know it did not arrive: "
                             + "  and  ".join(uncertain))
    elif len(failed) < len(outcome.reports):
        hint = "Run the same command again to retry the failed ones."
    else:
        hint = failed[0].hint or "See the error above."
    raise run_failure(outcome.summary(), failed=len(failed), total=len(outcome.reports),
                      needs_login=any(report.needs_login for report in failed),
                      hint=None if quiet else hint)


@app.command("list")
def report_list(ctx: typer.Context,
                client: Annotated[str | None, typer.Option(
                    "--client", "-c", help="Only this client's reports.")] = None,
                agency: AgencyOpt = None,
                status: Annotated[list[ReportStatus] | None, typer.Option(
                    "--status", "-s", show_default=False,
                    help="Only reports in this state (repeatable): built, sent, failed (with "
                         "why), skipped (with why) or uncertain (may have been sent).")] = None,
                limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                                   help="Show at most this many, newest first.")] = 50,
                as_json: JsonOpt = False) -> None:
    """List the reports kept in the workbook, newest period first: built, sent, failed, skipped
    or uncertain.

    \b
    Examples:
      datadrip report list --status failed
      datadrip report list --client "Masala Mornings" --json | jq '.[] | select(.status == "failed")'
    """
    from datadrip.reports.history import list_reports_for, report_record

    statuses = [item.value for item in status or ()]
    with workbook(ctx) as wb:
        records = [report_record(report, owner) for report, owner
                   in list_reports_for(wb.session, client, agency, limit, statuses)]
    if as_json:
        output.print_json(records)
        return
    rows = [{**record, "since": record["period"]["since"], "until": record["period"]["until"],
             "id": record["id"][:8]} for record in records]
    output.print_table(rows, LIST_COLUMNS, empty="no reports like that" if statuses else
                       "no reports yet: datadrip report build CLIENT")


@app.command("show")
def report_show(ctx: typer.Context,
                report_id: Annotated[str, typer.Argument(
                    help="A report id from 'datadrip report list' (its first 6 characters are "
                         "enough).", metavar="ID", show_default=False)],
                html: Annotated[bool, typer.Option(
                    "--html", help="Print the stored HTML report to stdout.")] = False,
                open_it: Annotated[bool, typer.Option(
                    "--open", help="Open the stored HTML report in your browser.")] = False,
                as_json: JsonOpt = False) -> None:
    """Show a kept report: its period, status, recipients and every delivery attempt.

    \b
    Examples:
      datadrip report show 3f2a9c --open
      datadrip report show 3f2a9c --html > report.html
    """
    from datadrip.reports.history import deliveries, delivery_record, find_report_by_id, report_record

    with workbook(ctx) as wb:
        report, owner = find_report_by_id(wb.session, report_id)
        record = report_record(report, owner)
        record["deliveries"] = [delivery_record(item) for item in deliveries(wb.session, report.id)]
        record["summary"] = report.summary
        stored = report.html
    if open_it:
        path = report_path(settings(ctx).paths.data_dir, owner.name, report.kind,
                           report.period_start, report.period_end)
        open_in_browser(write_file(path, stored, own_folder=True))
    if html:
        sys.stdout.write(stored)
    elif as_json:
        output.print_json(record)
    elif not open_it:
        _show_report(record)


def _days(period: object) -> str:
    assert isinstance(period, dict)
    since, until = period["since"], period["until"]
    return str(since) if since == until else f"{since} to {until}"


def _show_report(record: dict[str, object]) -> None:
    from datadrip.reports.summary import plain

    lines = [("Report", record["id"]), ("Client", record["client"]), ("Kind", record["kind"]),
             ("Period", _days(record["period"])), ("Status", record["status"]),
             ("Recipients", record["recipients"]), ("Sent", record["sent_at"]),
             ("Message-ID", record["message_id"]), ("Provider", record["provider"]),
             ("Skipped" if record["status"] == ReportStatus.SKIPPED.value else "Error", record["error"])]
    for label, value in lines:
        if value not in (None, "", []):
            sys.stdout.write(f"{label + ':':<12}{cell(value)}\n")
    sys.stdout.write("\n" + plain(str(record["summary"])).strip() + "\n")
    deliveries = record["deliveries"]
    assert isinstance(deliveries, list)
    if deliveries:
        sys.stdout.write("\nDeliveries:\n")
    for item in deliveries:
        outcome = item["status"] if item["error"] is None else f"{item['status']}: {item['error']}"
        sys.stdout.write(f"  {cell(item['at'])}  {item['provider']}  "
                         f"{cell(item['recipients'])}  {outcome}\n")
