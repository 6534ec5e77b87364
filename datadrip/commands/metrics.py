"""`datadrip metrics`: the numbers broken down by a dimension, for scripts and spreadsheets."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import workbook
from datadrip.commands._options import AgencyOpt, JsonOpt
from datadrip.core.errors import UsageError
from datadrip.core.periods import resolve_period

BY = ("day", "week", "month", "platform", "account", "client", "campaign", "adset", "ad", "total")
AUDIENCE = ("age", "gender", "country", "placement", "device")  # from the synced breakdowns
FORMATS = ("table", "json", "csv", "ndjson")

ClientOpt = Annotated[str | None, typer.Option(
    "--client", "-c", help="One client's numbers, in the client's currency (default: every active "
                           "client of the agency, in the agency's currency).")]
PeriodOpt = Annotated[str | None, typer.Option(
    "--period", "-p", metavar="PERIOD",
    help="today, yesterday, last-7-days (the default; ends yesterday), last-30-days, this-week, "
         "last-week, month-to-date or last-month, in the agency's time zone.")]
SinceOpt = Annotated[str | None, typer.Option("--since", metavar="DATE",
                                              help="First day (YYYY-MM-DD) instead of --period.")]
UntilOpt = Annotated[str | None, typer.Option("--until", metavar="DATE",
                                              help="Last day (YYYY-MM-DD; default today).")]


def metrics(ctx: typer.Context,
            by: Annotated[str, typer.Option(
                "--by", "-b", metavar="DIMENSION",
                help=f"One line per: {', '.join(BY)}; or per value of a breakdown the client "
                     f"syncs (client edit --breakdowns): {', '.join(AUDIENCE)}.")] = "day",
            client: ClientOpt = None, agency: AgencyOpt = None,
            period: PeriodOpt = None, since: SinceOpt = None, until: UntilOpt = None,
            chosen: Annotated[str | None, typer.Option(
                "--metrics", "-m", metavar="LIST",
                help="Comma-separated, in order: spend, impressions, clicks, conversions, "
                     "conversion_value, ctr, cpc, cpm, cpa, roas, conversion_rate (default: all).")] = None,
            fmt: Annotated[str, typer.Option(
                "--format", "-f", metavar="FORMAT",
                help="table, json, csv or ndjson (one JSON object per line).")] = "table",
            as_json: JsonOpt = False) -> None:
    """Spend, results and rates broken down by day, week, month, platform, account, client,
    campaign, ad set or ad; or by age, gender, country, placement or device.

    Rates are computed from the summed parts (CTR = clicks / impressions over the whole line),
    never averaged; a rate with nothing to divide by is n/a (null in JSON, empty in CSV). Money
    is in the reporting currency: the client's, or the agency's for the whole agency, converted
    with the rates kept by `datadrip fx`.

    By age, gender, country, placement or device the lines come from the synced breakdowns
    (`client edit --breakdowns`), most spend first, with spend, impressions, clicks,
    conversions, conversion_value, ctr, cpa and reach; a number a platform does not give under
    the breakdown (Google's reach) is n/a, never 0. Their sums may be below the totals: Google
    has no age or gender for Performance Max campaigns.

    \b
    Examples:
      datadrip metrics --client "Masala Mornings" --by campaign --period last-30-days
      datadrip metrics --by client --period last-month --metrics spend,cpa,roas --format csv
      datadrip metrics --by day --since 2026-11-01 --format json | jq '.[] | .spend'
      datadrip metrics --client "Masala Mornings" --by age --period last-30-days --json
    """
    from datadrip.analytics.totals import (
        DIMENSIONS,
        agency_today,
        breakdown,
        line_records,
        parse_metrics,
        record_columns,
        resolve_scope,
    )

    if by not in DIMENSIONS and by not in AUDIENCE:
        raise UsageError(f"--by {by!r} is not a dimension",
                         hint=f"Use one of: {', '.join((*BY, *AUDIENCE))}.")
    if by in AUDIENCE and chosen is not None:
        raise UsageError(f"--metrics does not apply to --by {by}",
                         hint="Breakdown lines always show the same numbers; leave --metrics out.")
    if as_json:
        if fmt not in ("table", "json"):
            raise UsageError(f"--json and --format {fmt} ask for two formats", hint="Give one.")
        fmt = "json"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not a format", hint=f"Use one of: {', '.join(FORMATS)}.")
    names = parse_metrics(chosen)
    with workbook(ctx) as wb:
        scope = resolve_scope(wb.session, client, agency)
        window = resolve_period(period, since, until, agency_today(scope.agency))
        if by in AUDIENCE:
            from datadrip.analytics.breakdowns import COLUMNS, audience, audience_records

            records = audience_records(audience(wb.session, scope, window, by), by, scope.currency)
            names = list(COLUMNS)
        else:
            records = line_records(breakdown(wb.session, scope, window, by), by, names,
                                   scope.currency)
    if fmt == "json":
        output.print_json(records)
    elif fmt == "ndjson":
        for record in records:
            output.print_json_line(record)
    else:
        columns = [by, *names, "currency"] if by in AUDIENCE else record_columns(by, names)
        if fmt == "csv":
            output.print_csv(records, [(key, key) for key in columns])
        else:
            output.print_table(records, [(key, key.replace("_", " ").capitalize()) for key in columns],
                               title=f"{scope.label} · {window} · {scope.currency}",
                               empty=f"No numbers for {scope.label} in {window}.", missing="n/a")
