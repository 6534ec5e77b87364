"""`datadrip client …`: the businesses an agency runs ads for."""

from __future__ import annotations

from typing import Annotated

import typer

from datadrip.commands import output
from datadrip.commands._context import confirm_removal, settings, workbook
from datadrip.commands._options import AgencyOpt, CurrencyOpt, JsonOpt, YesOpt

app = typer.Typer(help="""Clients: who you run ads for and who gets their reports.

    \b
    Examples:
      datadrip client add "Masala Mornings" --recipients owner@masala.example
      datadrip client edit "Masala Mornings" --monthly-budget 150000
      datadrip client list --json
    """,
                  no_args_is_help=True)

ClientArg = Annotated[str, typer.Argument(help="Client name or id.", metavar="CLIENT", show_default=False)]
RecipientsOpt = Annotated[str | None, typer.Option(
    "--recipients", help="Report recipients, comma-separated: a@x.example,b@y.example.")]
BudgetOpt = Annotated[str | None, typer.Option(
    "--monthly-budget", help="Monthly ad budget in the client's currency, e.g. 150000.")]
ConversionsOpt = Annotated[str | None, typer.Option(
    "--conversion-actions", metavar="TYPES",
    help="Meta action types counted as conversions, comma-separated (added up, so name each "
         "conversion once), e.g. lead or offsite_conversion.fb_pixel_purchase; \"\" = the default, "
         "one type of the purchase family.")]
BreakdownsOpt = Annotated[str | None, typer.Option(
    "--breakdowns", metavar="NAMES",
    help="Breakdowns synced for the client, comma-separated: age_gender, country, placement, "
         "device (see `metrics --by age`); \"none\" for none; \"\" = the agency's (`agency edit "
         "--breakdowns`), else [sync] breakdowns.")]
ResultsOpt = Annotated[str | None, typer.Option(
    "--results", metavar="LIST",
    help="The client's key results, comma-separated, each shown with its own cost: purchase, "
         "lead, add_to_cart, initiate_checkout, complete_registration, messaging_conversation, "
         "app_install, landing_page_view, link_click, video_view, or an action as a platform "
         "names it (offsite_conversion.fb_pixel_purchase, a custom conversion's or Google "
         "conversion action's name or id); \"\" = what the platforms call results (Meta's "
         "Results column, Google's Conversions). Insights judge the first of them.")]

COLUMNS = [("name", "Client"), ("agency", "Agency"), ("currency", "Currency"),
           ("monthly_budget", "Monthly budget"), ("report_recipients", "Recipients"),
           ("ad_accounts", "Accounts"), ("active", "Active")]
FIELDS = [("id", "ID"), ("name", "Name"), ("agency", "Agency"), ("currency", "Currency"),
          ("monthly_budget", "Monthly budget"), ("report_recipients", "Recipients"),
          ("ad_accounts", "Ad accounts"), ("active", "Active"),
          ("conversion_actions", "Conversions"), ("key_results", "Key results"),
          ("breakdowns", "Breakdowns"), ("breakdowns_in_use", "Breakdowns synced"),
          ("breakdowns_from", "Breakdowns from"),
          ("created_at", "Created")]


@app.command("add")
def client_add(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Client name.", metavar="NAME")],
               agency: AgencyOpt = None, recipients: RecipientsOpt = None,
               currency: CurrencyOpt = None, monthly_budget: BudgetOpt = None,
               conversion_actions: ConversionsOpt = None, results: ResultsOpt = None,
               breakdowns: BreakdownsOpt = None,
               as_json: JsonOpt = False) -> None:
    """Add a client to an agency (currency defaults to the agency's).

    \b
    Example:
      datadrip client add "Masala Mornings" --agency "Spice Route Media" \\
        --recipients owner@masala.example --monthly-budget 150000
    """
    from datadrip.db.models import Agency
    from datadrip.workbook.clients import ClientChanges, add_client, client_record

    changes = ClientChanges(recipients=recipients, currency=currency,
                            monthly_budget=monthly_budget, conversion_actions=conversion_actions,
                            key_results=results, breakdowns=breakdowns)
    with workbook(ctx, write=True) as wb:
        client = add_client(wb, name, agency, changes)
        record = client_record(client, wb.session.get_one(Agency, client.agency_id), 0,
                               setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json, note=f"Added client {client.name!r}.")


@app.command("list")
def client_list(ctx: typer.Context, agency: AgencyOpt = None, as_json: JsonOpt = False) -> None:
    """List the clients, of one agency or of all.

    \b
    Example:
      datadrip client list --json | jq -r '.[] | select(.active) | .name'
    """
    from datadrip.workbook.clients import account_counts, client_record, list_clients

    with workbook(ctx) as wb:
        accounts = account_counts(wb.session)
        setting = settings(ctx).settings.sync.breakdowns
        rows = [client_record(c, a, accounts.get(c.id, 0), setting=setting)
                for c, a in list_clients(wb.session, agency)]
    if as_json:
        output.print_json(rows)
    else:
        output.print_table(rows, COLUMNS, empty="No clients yet: datadrip client add NAME")


@app.command("show")
def client_show(ctx: typer.Context, client: ClientArg, agency: AgencyOpt = None,
                as_json: JsonOpt = False) -> None:
    """Show one client.

    \b
    Example:
      datadrip client show "Masala Mornings" --json
    """
    from datadrip.db.models import Agency
    from datadrip.workbook.clients import client_counts, client_record, find_client

    with workbook(ctx) as wb:
        found = find_client(wb.session, client, agency)
        counts = client_counts(wb.session, found.id)
        record = client_record(found, wb.session.get_one(Agency, found.agency_id),
                               counts["ad_accounts"], setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json)


@app.command("edit")
def client_edit(ctx: typer.Context, client: ClientArg, agency: AgencyOpt = None,
                name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
                recipients: RecipientsOpt = None, currency: CurrencyOpt = None,
                monthly_budget: BudgetOpt = None,
                no_monthly_budget: Annotated[bool, typer.Option(
                    "--no-monthly-budget", help="Clear the monthly budget.")] = False,
                active: Annotated[bool | None, typer.Option(
                    "--active/--inactive", help="Include the client in syncs and reports.",
                    show_default=False)] = None,
                conversion_actions: ConversionsOpt = None, results: ResultsOpt = None,
                breakdowns: BreakdownsOpt = None,
                as_json: JsonOpt = False) -> None:
    """Change a client's name, recipients, currency, budget or whether it is active.

    \b
    Example:
      datadrip client edit "Masala Mornings" --recipients a@masala.example,b@masala.example
      datadrip client edit "Masala Mornings" --results purchase,lead
    """
    from datadrip.db.models import Agency
    from datadrip.workbook.clients import ClientChanges, client_counts, client_record, edit_client

    changes = ClientChanges(name=name, recipients=recipients, currency=currency,
                            monthly_budget=monthly_budget, clear_budget=no_monthly_budget,
                            active=active, conversion_actions=conversion_actions,
                            key_results=results, breakdowns=breakdowns)
    with workbook(ctx, write=True) as wb:
        found = edit_client(wb, client, agency, changes)
        record = client_record(found, wb.session.get_one(Agency, found.agency_id),
                               client_counts(wb.session, found.id)["ad_accounts"],
                               setting=settings(ctx).settings.sync.breakdowns)
    output.print_one(record, FIELDS, as_json=as_json, note=f"Updated client {found.name!r}.")


@app.command("remove")
def client_remove(ctx: typer.Context, client: ClientArg, agency: AgencyOpt = None,
                  yes: YesOpt = False, as_json: JsonOpt = False) -> None:
    """Remove a client with its ad accounts, metrics, reports and insights (asks first).

    \b
    Example:
      datadrip client remove "Masala Mornings" --yes
    """
    from datadrip.workbook.accounts import login_refs
    from datadrip.workbook.clients import client_counts, find_client, remove_client
    from datadrip.workbook.connect import forget_logins

    with workbook(ctx) as wb:  # ask before taking the write lock
        found = find_client(wb.session, client, agency)
        counts = client_counts(wb.session, found.id)
    confirm_removal(f"client {found.name!r}", counts, yes=yes)
    with workbook(ctx, write=True) as wb:
        refs = login_refs(wb.session, client_id=found.id)
        removed = remove_client(wb, find_client(wb.session, found.id))
    forget_logins(settings(ctx), refs)
    if as_json:
        output.print_json({"removed": {"id": found.id, "name": found.name}, "with": removed})
    else:
        output.message(f"Removed client {found.name!r}.")
