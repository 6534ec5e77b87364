"""`datadrip fx …`: the exchange rates that blend accounts of several currencies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import workbook
from datadrip.commands._options import JsonOpt

app = typer.Typer(help="""Exchange rates, for totals over accounts in several currencies.

    A client's or agency's numbers are shown in one currency. An account in another currency is
    converted day by day with the newest rate dated on or before the day (or the undated one);
    a rate kept one way is used the other way inverted. Without a rate, a blend stops with an
    error naming the pair.

    \b
    Examples:
      datadrip fx set USD INR 83.10
      datadrip fx set EUR INR 90.45 --date 2026-11-01
      datadrip fx import rates.csv
      datadrip fx list --json
    """, no_args_is_help=True)

COLUMNS = [("base", "From"), ("quote", "To"), ("rate", "Rate"), ("valid_from", "From day")]


# A negative rate ("-5") is a value to refuse as not positive, not an unknown option.
@app.command("set", context_settings={"ignore_unknown_options": True})
def fx_set(ctx: typer.Context,
           base: Annotated[str, typer.Argument(help="The currency converted from, e.g. USD.",
                                               metavar="FROM", show_default=False)],
           quote: Annotated[str, typer.Argument(help="The currency converted to, e.g. INR.",
                                                metavar="TO", show_default=False)],
           rate: Annotated[str, typer.Argument(help="Units of TO per unit of FROM, e.g. 83.10 "
                                                    "(0.0000001 to 10,000,000).",
                                               metavar="RATE", show_default=False)],
           date: Annotated[str | None, typer.Option(
               "--date", metavar="DATE",
               help="The first day (YYYY-MM-DD) the rate applies to; without it, the rate applies "
                    "to every day no dated rate covers.")] = None,
           as_json: JsonOpt = False) -> None:
    """Keep a rate: 1 FROM = RATE TO (replacing the pair's rate for the same day).

    \b
    Example:
      datadrip fx set USD INR 83.10 --date 2026-11-01
    """
    from datadrip.workbook.fx import rate_input, set_rates

    given = rate_input(base, quote, rate, date)
    with workbook(ctx, write=True) as wb:
        set_rates(wb.session, wb.actor, [given], source="fx set")
    record = {"base": given.base, "quote": given.quote, "rate": given.rate,
              "valid_from": given.valid_from}
    output.print_one(record, COLUMNS, as_json=as_json,
                     note=f"1 {given.base} = {given.rate:f} {given.quote}"
                          f"{f' from {given.valid_from}' if given.valid_from else ''}.")


@app.command("import")
def fx_import(ctx: typer.Context,
              path: Annotated[Path, typer.Argument(help="A CSV file with the columns base, quote, "
                                                        "rate and, optionally, date.",
                                                   metavar="FILE", show_default=False)],
              as_json: JsonOpt = False) -> None:
    """Keep every rate of a CSV file, all or none (a bad line changes nothing).

    \b
    Example:
      datadrip fx import rates.csv
    \b
    where rates.csv holds (date: the first day a rate applies to; empty: every day):
      base,quote,rate,date
      USD,INR,83.10,2026-11-01
      EUR,INR,90.45,
    """
    from datadrip.workbook.fx import read_rates_csv, set_rates

    rates = read_rates_csv(path)
    with workbook(ctx, write=True) as wb:
        count = set_rates(wb.session, wb.actor, rates, source=f"fx import {path.name}")
    if as_json:
        output.print_json({"imported": count})
    else:
        output.message(f"Kept {count} rate{'s' if count != 1 else ''} from {path}.")


@app.command("list")
def fx_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the rates kept, by pair and day.

    \b
    Example:
      datadrip fx list --json | jq '.[] | select(.quote == "INR")'
    """
    from datadrip.workbook.fx import list_rates, rate_record

    with workbook(ctx) as wb:
        rows = [rate_record(rate) for rate in list_rates(wb.session)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No rates kept. Add one: datadrip fx set USD INR 83.10")
