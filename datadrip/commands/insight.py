"""`datadrip insight …`: suggestions from the numbers, and what you did about them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import settings, workbook
from datadrip.commands._options import AgencyOpt, JsonOpt, VerboseOpt
from datadrip.core.enums import ClientRunStatus, InsightStatus
from datadrip.core.errors import run_failure
from datadrip.core.text import cell

if TYPE_CHECKING:
    from datadrip.insights.generate import GenerateOutcome

app = typer.Typer(help="""Suggestions for each client: what changed, the numbers behind it, what to do.

    Two engines: local heuristics (no network; statistical tests on the counts, so noise is not
    flagged) and any OpenAI-compatible model ([ai] base_url, model; the key is the secret
    ai.api_key or OPENAI_API_KEY), whose suggestions pass guardrails: unknown campaigns, numbers
    that disagree with the workbook and budget changes beyond [ai] max_budget_change_pct are
    dropped or capped. When the model fails or a daily limit is reached, the heuristics' suggestions
    are kept instead, with a note saying why. Open suggestions appear in the client's reports.

    \b
    Examples:
      datadrip insight generate --client "Masala Mornings"
      datadrip insight list --status pending
      datadrip insight dismiss 3f2a9c --note "Seasonal dip, expected"
    """, no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="An insight id from 'datadrip insight list' (its first 6 "
                                           "characters are enough).", metavar="ID", show_default=False)]
NoteOpt = Annotated[str | None, typer.Option(
    "--note", help="Why: kept with the insight as feedback (the model is told about dismissals).")]
ClientOpt = Annotated[str | None, typer.Option("--client", "-c", help="Only this client (name or id).")]
GENERATE_COLUMNS = [("client", "Client"), ("engine", "Engine"), ("as_of", "Data to"),
                    ("found", "Found"), ("new", "New"), ("refreshed", "Updated"),
                    ("suppressed", "Closed before"), ("set_aside", "Set aside"), ("note", "Note")]
LIST_COLUMNS = [("id", "Id"), ("client", "Client"), ("type", "Type"), ("impact_score", "Impact"),
                ("status", "Status"), ("source", "Source"), ("claim", "Suggestion")]
SHOW_FIELDS = [("id", "Insight"), ("client", "Client"), ("type", "Type"), ("source", "Source"),
               ("status", "Status"), ("impact_score", "Impact"), ("entity_name", "About"),
               ("claim", "Finding"), ("action", "Action"), ("created_at", "Created"),
               ("resolved_at", "Resolved"), ("note", "Note")]
STATUSES = [status.value for status in InsightStatus]


@app.command("generate")
def insight_generate(ctx: typer.Context, client: ClientOpt = None, agency: AgencyOpt = None,
                     engine: Annotated[str | None, typer.Option(
                         "--engine", "-e", metavar="ENGINE",
                         help="auto (the model when one is set up, else the heuristics), heuristic "
                              "or llm; default: [ai] engine.")] = None,
                     as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Look at each client's last 7 days against the 28 before and save new suggestions.

    An open suggestion found again, by either engine, is updated, not repeated; a dismissed or
    applied one is not suggested again until its figures move materially; of a raise and a cut of
    one campaign's budget only the cut is kept, with the reason. A client that fails (a missing
    exchange rate) does not stop the others: the exit code is 3 when some failed, 1 when all did,
    4 when one needs a login. When stdout is not a terminal (cron), a success prints nothing
    (--verbose prints the summary); a note on stderr says when the model was not used, and why.

    \b
    Examples:
      datadrip insight generate --client "Masala Mornings" --engine heuristic
      datadrip insight generate --json | jq '.clients[].created[].claim'
    """
    from datadrip.insights.generate import ENGINES, GenerateRequest, generate_insights

    if engine is not None and engine not in ENGINES:
        raise typer.BadParameter(f"{engine!r} is not one of {', '.join(ENGINES)}", param_hint="--engine")
    outcome = generate_insights(settings(ctx), GenerateRequest(client, agency, engine))
    _show_generated(outcome, as_json=as_json, quiet=output.unattended(as_json=as_json, verbose=verbose))


def _show_generated(outcome: GenerateOutcome, *, as_json: bool, quiet: bool) -> None:
    for run in outcome.runs:
        if run.fallback:
            output.message(f"note: {run.client}: the heuristics' suggestions were kept: {run.fallback}")
        if not quiet:
            for text in run.notes + [f"dropped: {reason}" for reason in run.dropped]:
                output.message(f"note: {run.client}: {text}")
    if as_json:
        output.print_json({"clients": [run.record() for run in outcome.runs]})
    elif not quiet:
        rows = [{**run.record(), "new": len(run.created),
                 "note": f"failed: {run.error}" if run.error else
                 "from cache" if run.cached else ("fallback" if run.fallback else "")}
                for run in outcome.runs]
        output.print_table(rows, GENERATE_COLUMNS, empty="no active client")
        created = [record for run in outcome.runs for record in run.created]
        for record in created:
            sys.stdout.write(f"\n{record['id'][:8]}  {record['client']} · {record['type']} · impact "
                             f"{record['impact_score']}\n  {record['claim']}\n  → {record['action']}\n")
    _fail_if_any(outcome, quiet=quiet)


def _fail_if_any(outcome: GenerateOutcome, *, quiet: bool) -> None:
    """Each client that failed on stderr, then the exit code of the run: 3 when the others went
    through, 1 when every client failed, 4 when one needs a login."""
    failed = outcome.failed
    if not failed:
        return
    for run in failed:
        output.error(f"{run.client}: {run.error}", run.hint, one_line=quiet)
    done = [run.client for run in outcome.runs if run.status != ClientRunStatus.FAILED]
    names = ", ".join(run.client for run in failed)
    summary = (f"{len(failed)} of {len(outcome.runs)} clients failed: {names}; done: {', '.join(done)}"
               if done else f"{len(failed)} client{'' if len(failed) == 1 else 's'} failed: {names}")
    logins = [run.hint for run in failed if run.needs_login and run.hint]
    hint = "  and  ".join(dict.fromkeys(logins)) if logins else \
        "Run the same command again once that is fixed." if done else failed[0].hint
    raise run_failure(summary, failed=len(failed), total=len(outcome.runs),
                      needs_login=any(run.needs_login for run in failed),
                      hint=None if quiet else hint)


@app.command("list")
def insight_list(ctx: typer.Context, client: ClientOpt = None, agency: AgencyOpt = None,
                 status: Annotated[list[str] | None, typer.Option(
                     "--status", "-s", metavar="STATUS",
                     help=f"Only these ({', '.join(STATUSES)}; repeatable); default: open ones "
                          "(pending and in_progress). 'all' lists every one.")] = None,
                 limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                                    help="Show at most this many.")] = 100,
                 as_json: JsonOpt = False) -> None:
    """List suggestions, each client's most impactful first.

    \b
    Examples:
      datadrip insight list --client "Masala Mornings"
      datadrip insight list --status dismissed --json | jq '.[].note'
    """
    from datadrip.insights.service import list_for

    chosen = _statuses(status)
    with workbook(ctx) as wb:
        records = list_for(wb.session, client, agency, chosen, limit)
    if as_json:
        output.print_json(records)
        return
    rows = [{**record, "id": record["id"][:8]} for record in records]
    output.print_table(rows, LIST_COLUMNS, empty="no suggestions: datadrip insight generate")


def _statuses(given: list[str] | None) -> list[str]:
    if not given:
        return [InsightStatus.PENDING.value, InsightStatus.IN_PROGRESS.value]
    if "all" in given:
        return []
    unknown = [value for value in given if value not in STATUSES]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r} is not one of {', '.join(STATUSES)}, all",
                                 param_hint="--status")
    return given


@app.command("show")
def insight_show(ctx: typer.Context, insight_id: IdArg, as_json: JsonOpt = False) -> None:
    """Show one suggestion with the evidence it rests on.

    \b
    Example:
      datadrip insight show 3f2a9c --json
    """
    from datadrip.insights.store import find_insight, insight_record

    with workbook(ctx) as wb:
        record = insight_record(*find_insight(wb.session, insight_id))
    if as_json:
        output.print_json(record)
        return
    output.print_record(record, SHOW_FIELDS)
    _print_evidence(record)


def _print_evidence(record: dict[str, Any]) -> None:
    if record["evidence"]:
        sys.stdout.write("Evidence:\n")
    result = record.get("result") or {}
    # The result in the client's words: "Leads", "Cost per lead" rather than conversions and cpa.
    words = {"conversions": result.get("label"), "cpa": result.get("cost_label")}
    for item in record["evidence"]:
        metric = words.get(item["metric"]) or item["metric"]
        sys.stdout.write(f"  {item['entity_ref'] or 'client'} {metric} ({item['window']}): "
                         f"{cell(item['value'])}\n")
    for note in record["notes"]:
        sys.stdout.write(f"Note: {note}\n")
    for item in record["set_aside"]:
        engine = "model" if item["source"] == "llm" else "heuristics"
        where = f", insight {item['insight'][:8]}" if item["insight"] else ""
        sys.stdout.write(f"Set aside: {item['action']} ({engine}{where}): {item['reason']}.\n")


def _move(ctx: typer.Context, insight_id: str, to: InsightStatus, note: str | None, as_json: bool) -> None:
    from datadrip.insights.store import insight_record, move

    with workbook(ctx, write=True) as wb:
        insight, client, before = move(wb, insight_id, to, note)
        record = insight_record(insight, client)
    output.print_one(record, SHOW_FIELDS[:6], as_json=as_json,
                     note=f"{record['id'][:8]}: {before.replace('_', ' ')} → {to.value.replace('_', ' ')}")


@app.command("start")
def insight_start(ctx: typer.Context, insight_id: IdArg, note: NoteOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Mark a pending suggestion as being worked on (in_progress).

    \b
    Example:
      datadrip insight start 3f2a9c --note "Testing a new creative"
    """
    _move(ctx, insight_id, InsightStatus.IN_PROGRESS, note, as_json)


@app.command("apply")
def insight_apply(ctx: typer.Context, insight_id: IdArg, note: NoteOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Mark a suggestion as done (applied); it leaves the reports until its figures move materially.

    \b
    Example:
      datadrip insight apply 3f2a9c --note "Budget moved on 3 Dec"
    """
    _move(ctx, insight_id, InsightStatus.APPLIED, note, as_json)


@app.command("dismiss")
def insight_dismiss(ctx: typer.Context, insight_id: IdArg, note: NoteOpt = None,
                    as_json: JsonOpt = False) -> None:
    """Dismiss a suggestion; it is not suggested again until its figures move materially.

    \b
    Example:
      datadrip insight dismiss 3f2a9c --note "Planned pause for the sale"
    """
    _move(ctx, insight_id, InsightStatus.DISMISSED, note, as_json)


@app.command("usage")
def insight_usage(ctx: typer.Context, agency: AgencyOpt = None,
                  days: Annotated[int, typer.Option("--days", min=1, max=366,
                                                    help="How many days back.")] = 30,
                  as_json: JsonOpt = False) -> None:
    """Model requests, tokens and estimated cost per agency and day, against the daily limits.

    \b
    Example:
      datadrip insight usage --json | jq '.days[0]'
    """
    from datadrip.insights.service import usage_report

    loaded = settings(ctx)
    with workbook(ctx) as wb:
        report = usage_report(wb.session, loaded.settings.ai, agency, days)
    if as_json:
        output.print_json(report)
        return
    output.print_table(report["days"], [("agency", "Agency"), ("day", "Day"), ("requests", "Requests"),
                                        ("tokens", "Tokens"), ("cost", "Cost (USD)")],
                       empty="no model requests yet")
    limits = report["limits"]
    output.message(f"Daily limits per agency: {limits['requests']} requests, {limits['tokens']:,} tokens.")
