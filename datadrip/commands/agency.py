"""`datadrip agency …`: the agencies in the workbook."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import confirm_removal, settings, workbook
from datadrip.commands._options import CurrencyOpt, JsonOpt, TimezoneOpt, YesOpt
from datadrip.core.enums import Plan

app = typer.Typer(help="""Agencies: yours, with time zone, currency and branding.

    \b
    Examples:
      datadrip agency add "Spice Route Media" --timezone Asia/Kolkata --currency INR
      datadrip agency list --json
    """,
                  no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Agency name or id.", metavar="AGENCY", show_default=False)]
PlanOpt = Annotated[Plan | None, typer.Option("--plan", help="starter, growth or scale.")]
LocaleOpt = Annotated[str | None, typer.Option(
    "--locale", help="How money and dates are written, e.g. en_IN or de_DE.")]
LogoOpt = Annotated[str | None, typer.Option("--logo", help="Logo image for reports.")]
ColourOpt = Annotated[str | None, typer.Option("--colour", help="Brand colour, e.g. #1A73E8.")]
BreakdownsOpt = Annotated[str | None, typer.Option(
    "--breakdowns", metavar="NAMES",
    help="Breakdowns synced for the agency's clients that choose none themselves (`client edit "
         "--breakdowns`), comma-separated: age_gender, country, placement, device; \"none\" for "
         "none; \"\" = [sync] breakdowns.")]

COLUMNS = [("name", "Agency"), ("timezone", "Time zone"), ("currency", "Currency"),
           ("plan", "Plan"), ("clients", "Clients"), ("users", "Team")]
FIELDS = [("id", "ID"), ("name", "Name"), ("timezone", "Time zone"), ("currency", "Currency"),
          ("locale", "Locale"), ("plan", "Plan"), ("branding", "Branding"),
          ("breakdowns", "Breakdowns"), ("breakdowns_in_use", "Breakdowns synced"),
          ("breakdowns_from", "Breakdowns from"), ("clients", "Clients"), ("users", "Team"),
          ("created_at", "Created")]


@app.command("add")
def agency_add(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Agency name.", metavar="NAME")],
               timezone: TimezoneOpt = None, currency: CurrencyOpt = None,
               plan: PlanOpt = None, locale: LocaleOpt = None, logo: LogoOpt = None,
               colour: ColourOpt = None, breakdowns: BreakdownsOpt = None,
               as_json: JsonOpt = False) -> None:
    """Add an agency (defaults: Asia/Kolkata, INR, en_IN, starter).

    \b
    Example:
      datadrip agency add "Spice Route Media" --timezone Asia/Kolkata --currency INR
    """
    from datadrip.workbook.agencies import AgencyChanges, add_agency, agency_counts, agency_record

    changes = AgencyChanges(timezone=timezone, currency=currency, locale=locale, plan=plan,
                            logo=logo, colour=colour, breakdowns=breakdowns)
    with workbook(ctx, write=True) as wb:
        agency = add_agency(wb, name, changes)
        record = agency_record(agency, agency_counts(wb.session, agency.id),
                               setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json, note=f"Added agency {agency.name!r}.")


@app.command("list")
def agency_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the agencies.

    \b
    Example:
      datadrip agency list --json | jq -r '.[].name'
    """
    from datadrip.workbook.agencies import agency_counts, agency_record, list_agencies

    with workbook(ctx) as wb:
        setting = settings(ctx).settings.sync.breakdowns
        rows = [agency_record(a, agency_counts(wb.session, a.id), setting=setting)
                for a in list_agencies(wb.session)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No agencies yet: datadrip agency add NAME")


@app.command("show")
def agency_show(ctx: typer.Context, agency: NameArg, as_json: JsonOpt = False) -> None:
    """Show one agency.

    \b
    Example:
      datadrip agency show "Spice Route Media"
    """
    from datadrip.workbook.agencies import agency_counts, agency_record, find_agency

    with workbook(ctx) as wb:
        found = find_agency(wb.session, agency)
        record = agency_record(found, agency_counts(wb.session, found.id),
                               setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json)


@app.command("edit")
def agency_edit(ctx: typer.Context, agency: NameArg,
                name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
                timezone: TimezoneOpt = None, currency: CurrencyOpt = None,
                plan: PlanOpt = None, locale: LocaleOpt = None, logo: LogoOpt = None,
                colour: ColourOpt = None, breakdowns: BreakdownsOpt = None,
                as_json: JsonOpt = False) -> None:
    """Change an agency's name, time zone, currency, locale, plan, branding or breakdowns.

    \b
    Examples:
      datadrip agency edit "Spice Route Media" --plan growth --colour "#E4572E"
      datadrip agency edit "Spice Route Media" --breakdowns age_gender,country
    """
    from datadrip.workbook.agencies import AgencyChanges, agency_counts, agency_record, edit_agency

    changes = AgencyChanges(name=name, timezone=timezone, currency=currency, locale=locale,
                            plan=plan, logo=logo, colour=colour, breakdowns=breakdowns)
    with workbook(ctx, write=True) as wb:
        found = edit_agency(wb, agency, changes)
        record = agency_record(found, agency_counts(wb.session, found.id),
                               setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json, note=f"Updated agency {found.name!r}.")


@app.command("remove")
def agency_remove(ctx: typer.Context, agency: NameArg, yes: YesOpt = False,
                  as_json: JsonOpt = False) -> None:
    """Remove an agency with its clients, team and their data (asks first).

    \b
    Example:
      datadrip agency remove "Old Agency" --yes
    """
    from datadrip.workbook.accounts import login_refs
    from datadrip.workbook.agencies import agency_counts, find_agency, remove_agency
    from datadrip.workbook.connect import forget_logins

    with workbook(ctx) as wb:  # ask before taking the write lock
        found = find_agency(wb.session, agency)
        counts = agency_counts(wb.session, found.id)
    confirm_removal(f"agency {found.name!r}", counts, yes=yes)
    with workbook(ctx, write=True) as wb:
        refs = login_refs(wb.session, agency_id=found.id)
        removed = remove_agency(wb, find_agency(wb.session, found.id))
    forget_logins(settings(ctx), refs)
    if as_json:
        output.print_json({"removed": {"id": found.id, "name": found.name}, "with": removed})
    else:
        output.message(f"Removed agency {found.name!r}.")
