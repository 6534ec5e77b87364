"""`datadrip sql`: a read-only query on the workbook, over documented views (docs/sql.md)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import settings
from datadrip.commands._options import JsonOpt


class SqlFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def sql(ctx: typer.Context,
        statement: Annotated[str, typer.Argument(
            metavar="STATEMENT", show_default=False,
            help="One query (SELECT, WITH, VALUES, EXPLAIN; on SQLite also a PRAGMA that reads), "
                 "or - to read it from stdin.")],
        fmt: Annotated[SqlFormat | None, typer.Option(
            "--format", "-f", show_default=False,
            help="table (the default: a table on a terminal, tab-separated lines when piped), "
                 "json (a list of objects) or csv (with a header).")] = None,
        as_json: JsonOpt = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="Same as --format csv.")] = False) -> None:
    """Run one read-only SQL query on the workbook; nothing it runs can change the workbook.

    Views with names, currencies and dates resolved: daily_metrics (every synced row),
    campaign_daily, adset_daily, ad_daily (one level each) and account_daily (an account's
    campaigns summed per day). Money is integer *_micros; spend and conversion_value are
    currency units. Every column: docs/sql.md. A query still running after [sql] timeout_seconds
    (default 30) is stopped (exit 1).

    \b
    Examples:
      datadrip sql "SELECT client, currency, SUM(spend_micros)/1e6 FROM campaign_daily
                    WHERE date >= '2026-11-01' GROUP BY 1, 2"
      datadrip sql "SELECT date, campaign_name, spend, clicks FROM campaign_daily ORDER BY date DESC LIMIT 20"
      datadrip sql --format csv "SELECT * FROM account_daily" > accounts.csv
      datadrip sql - --json < report.sql | jq '.[0]'
    """
    from datadrip.workbook.sql_console import run_query

    chosen = {choice for choice, given in ((fmt, fmt is not None), (SqlFormat.JSON, as_json),
                                           (SqlFormat.CSV, as_csv)) if given}
    if len(chosen) > 1:
        raise typer.BadParameter("choose one of --format, --json and --csv", param_hint="--format")
    shape = chosen.pop() if chosen else SqlFormat.TABLE
    text = sys.stdin.read() if statement == "-" else statement
    loaded = settings(ctx)
    result = run_query(loaded.workbook_target, text, timeout_seconds=loaded.settings.sql.timeout_seconds)
    records, columns = result.records(), [(name, name) for name in result.columns]
    if shape is SqlFormat.JSON:
        output.print_json(records)
    elif shape is SqlFormat.CSV:
        output.print_csv(records, columns)
    else:
        output.print_table(records, columns, empty="No rows.")
