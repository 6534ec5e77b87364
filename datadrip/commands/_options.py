"""Options shared by the commands, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Print the summary even when stdout is not a terminal (under cron a "
                            "success prints nothing; problems always go to stderr).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Remove without asking.")]
AgencyOpt = Annotated[str | None, typer.Option(
    "--agency", "-a", help="Agency name or id (may be left out when there is only one).")]
TimezoneOpt = Annotated[str | None, typer.Option(
    "--timezone", help="IANA time zone, e.g. Asia/Kolkata or Europe/Berlin.")]
CurrencyOpt = Annotated[str | None, typer.Option(
    "--currency", help="ISO 4217 currency code, e.g. INR, USD or EUR.")]
