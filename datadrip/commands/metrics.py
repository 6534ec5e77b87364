"""`datadrip metrics`: the numbers broken down by a dimension, for scripts and spreadsheets."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import workbook
from datadrip.commands._options import AgencyOpt, JsonOpt
from datadrip.core.errors import UsageError
from datadrip.core.periods import resolve_period

BY = ("day", "week", "month", "platform", "account", "client", "campaign", "adset", "ad", "total",
      "action")
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
                     "conversion_value, ctr, cpc, cpm, cpa, roas, conversion_rate (default: "
                     "these); also link_clicks, link_ctr, link_cpc (Meta's link clicks, CTR and "
                     "CPC as Ads Manager computes them), interactions (Google's), reach and "
                     "frequency (Meta's people reached over the whole period, as synced for it; "
                     "n/a where it was not), search_impression_share, search_budget_lost_share, "
                     "search_rank_lost_share (Google's, in percent, weighted by eligible "
                     "impressions; \"<10\", \"<=x\", \">=x\" where Google gave a bound), and "
                     "results: each key result of the clients with its own cost (--by total, "
                     "day, platform, account, client or campaign).")] = None,
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
    the breakdown (Google's reach) is n/a, never 0. Reach is shown for a one-day period only:
    daily reach is not additive, so over more days it is n/a. Their sums may be below the
    totals: Google has no age or gender for Performance Max campaigns. Days of the period with
    no breakdown (before the platforms keep them, 37 months back; before the client chose it)
    are named on stderr.
    --by action lists each account's actions as the platform reports them (Meta action types,
    Google conversion actions), named as Ads Manager or the account's catalogue names them, with
    count, value and cost per action (the account's spend / the count). Meta's types overlap
    (omni_purchase and offsite_conversion.fb_pixel_purchase count the same purchases), so the
    lines are never added up; --metrics does not apply.

    Reach is never added up: the people reached on Monday and on Tuesday overlap, and so do
    two campaigns' or two accounts' audiences. A line's reach (and its frequency = impressions
    / reach) is the one Meta counted for exactly that period: `sync` fetches it for the last 7
    days, last week, month to date and last month, and the periods before them. A campaign
    line over one day uses the day's own row. Lines of several accounts, by day, week or month,
    and periods not fetched show n/a (null in JSON).
    Google's search impression shares are ratios: a period's share is its impressions over
    its eligible impressions (each day's impressions / its share), never a sum or an average
    of days. Google reports a share below 10 % as 9.99 % and a lost share above 90 % as 90.01 %;
    a period with such a day shows the bound it makes ("<=42.32", "<10"; ">=93.49", ">90").

    --by ad notes (on stderr) when the scope has Performance Max campaigns: they have no ads, so
    their spend is only in the campaign lines.

    \b
    Examples:
      datadrip metrics --client "Masala Mornings" --by campaign --period last-30-days
      datadrip metrics --by client --period last-month --metrics spend,cpa,roas --format csv
      datadrip metrics --by day --since 2026-11-01 --format json | jq '.[] | .spend'
      datadrip metrics --client "Masala Mornings" --by action --json
      datadrip metrics --client "Masala Mornings" --by age --period last-30-days --json
    """
    from datadrip.analytics.results import (
        ACTION_COLUMNS,
        PERFORMANCE_MAX_NOTE,
        action_lines,
        has_performance_max,
        key_result_names,
        line_results,
        result_columns,
    )
    from datadrip.analytics.totals import (
        DIMENSIONS,
        agency_today,
        breakdown,
        line_records,
        parse_metrics,
        record_columns,
        resolve_scope,
    )

    if by not in DIMENSIONS and by != "action" and by not in AUDIENCE:
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
    if by == "action" and chosen is not None:
        raise UsageError("--metrics does not apply to --by action",
                         hint="Each action's line has its count, value and cost per action.")
    asked = [] if chosen is None else [name.strip().lower() for name in chosen.split(",")]
    with_results = "results" in asked
    rest = ",".join(name for name in asked if name != "results")
    names = [] if with_results and not rest.strip(", ") else \
        parse_metrics(None if chosen is None else rest)
    results: list[str] = []
    without = ""
    with workbook(ctx) as wb:
        scope = resolve_scope(wb.session, client, agency)
        window = resolve_period(period, since, until, agency_today(scope.agency))
        if by == "action":
            records = action_lines(wb.session, scope, window)
        elif by in AUDIENCE:
            from datadrip.analytics.breakdowns import (
                COLUMNS,
                audience,
                audience_records,
                days_without,
                days_without_note,
            )

            records = audience_records(audience(wb.session, scope, window, by), by, scope.currency)
            names = list(COLUMNS)
            without = days_without_note(days_without(wb.session, scope, window, by), by)
        else:
            lines = breakdown(wb.session, scope, window, by,
                              reach=bool({"reach", "frequency"} & set(names)))
            records = line_records(lines, by, names, scope.currency)
            if with_results:
                results = key_result_names(scope)
                if not results:
                    raise UsageError(f"{scope.label} has no key results",
                                     hint="Choose them: datadrip client edit NAME --results "
                                          "purchase,lead.")
                counts = line_results(wb.session, scope, window, by, results)
                for line, record in zip(lines, records, strict=True):
                    record.update(result_columns(results, counts.get(line.key, {}),
                                                 line.totals.spend_micros, scope.currency))
                    record["currency"] = record.pop("currency")
        pmax = by == "ad" and has_performance_max(wb.session, scope)
    if fmt == "json":
        output.print_json(records)
    elif fmt == "ndjson":
        for record in records:
            output.print_json_line(record)
    else:
        if by == "action":
            columns = list(ACTION_COLUMNS)
        elif by in AUDIENCE:
            columns = [by, *names, "currency"]
        else:
            columns = [*record_columns(by, names)[:-1],
                       *(column for name in results for column in (name, f"cost_per_{name}")),
                       "currency"]
        if fmt == "csv":
            output.print_csv(records, [(key, key) for key in columns])
        else:
            output.print_table(records, [(key, key.replace("_", " ").capitalize()) for key in columns],
                               title=f"{scope.label} · {window} · {scope.currency}",
                               empty=f"No numbers for {scope.label} in {window}.", missing="n/a")
    if pmax:
        output.message(PERFORMANCE_MAX_NOTE)
    if without:
        output.message(without)
