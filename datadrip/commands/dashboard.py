"""`datadrip dashboard`: how a client, or every client of the agency, is doing, at a glance."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from datadrip.commands import output
from datadrip.commands._context import workbook
from datadrip.commands._options import AgencyOpt, JsonOpt
from datadrip.commands.metrics import ClientOpt, PeriodOpt, SinceOpt, UntilOpt
from datadrip.core.money import show_money
from datadrip.core.periods import resolve_period
from datadrip.core.text import cell

if TYPE_CHECKING:
    from datadrip.analytics.dashboard import AgencyDashboard, ClientDashboard
    from datadrip.analytics.totals import Change

LABELS = {"spend": "Spend", "conversions": "Conversions", "cpa": "CPA", "roas": "ROAS",
          "conversion_value": "Revenue", "clicks": "Clicks", "ctr": "CTR %", "cpc": "CPC"}
BARS = " ▁▂▃▄▅▆▇█"


def dashboard(ctx: typer.Context, client: ClientOpt = None, agency: AgencyOpt = None,
              period: PeriodOpt = None, since: SinceOpt = None, until: UntilOpt = None,
              as_json: JsonOpt = False) -> None:
    """How a client is doing (or every client of the agency), against the previous period.

    For a client: KPIs with their change (green when the change is good: a falling CPA is good),
    Meta against Google, the best and worst campaigns (by ROAS, or by CPA when no revenue is
    reported), and daily spend and conversions. For the agency: one line per active client, with
    a flag when its numbers are stale or an account fails. --json prints the same as data.

    \b
    Examples:
      datadrip dashboard
      datadrip dashboard --client "Masala Mornings" --period last-30-days
      datadrip dashboard --period last-month --json | jq '.clients[] | select(.flags != [])'
    """
    from datadrip.analytics.dashboard import agency_dashboard, client_dashboard
    from datadrip.analytics.totals import agency_today, resolve_scope

    with workbook(ctx) as wb:
        scope = resolve_scope(wb.session, client, agency)
        window = resolve_period(period, since, until, agency_today(scope.agency))
        board = client_dashboard(wb.session, scope, window) if client is not None \
            else agency_dashboard(wb.session, scope, window)
    if as_json:
        output.print_json(board.record())
    else:
        show_board(board)


def show_board(board: ClientDashboard | AgencyDashboard) -> None:
    """The dashboard for people: drawn on a terminal, tab-separated text when piped."""
    if sys.stdout.isatty():
        _rich(board)
    else:
        _plain(board)


# --- plain text (piped) --------------------------------------------------------------------------

def _plain(board: ClientDashboard | AgencyDashboard) -> None:
    from datadrip.analytics.dashboard import ClientDashboard

    record = board.record()
    write = sys.stdout.write
    who = cell(record.get("client") or record.get("agency"))
    write(f"{who} · {board.period} ({board.period.name}) against {board.previous} · {board.scope.currency}\n")
    for change in board.kpis if isinstance(board, ClientDashboard) else board.total:
        write(f"{LABELS[change.metric]}\t{_value(change.current)}\t{_delta(change)}\n")
    if isinstance(board, ClientDashboard):
        _plain_results(board)
        _plain_rows("Channels", board.channels, ["platform", "spend", "share_pct", "cpa", "roas"])
        _plain_rows(f"Top campaigns by {board.ranked_by.upper()}", board.best,
                    ["campaign", "platform", "spend", "cpa", "roas"])
        _plain_rows(f"Bottom campaigns by {board.ranked_by.upper()}", board.worst,
                    ["campaign", "platform", "spend", "cpa", "roas"])
        _plain_rows("Daily", board.daily, ["day", "spend", "conversions"])
    else:
        _plain_rows("Clients", board.clients,
                    ["client", "currency", "spend", "spend_change_pct", "cpa", "roas", "flags"])


def result_line(result: Mapping[str, Any], currency: str, locale: str) -> str:
    """"Purchases 42 · Cost per purchase ₹310.20": a result with its own cost."""
    cost = result["cost"]
    shown = "n/a" if cost is None else show_money(cost, currency, locale)
    return f"{result['label']} {_value(result['count'])} · {result['cost_label']} {shown}"


def _plain_results(board: ClientDashboard) -> None:
    record = board.record()
    lines = [result_line(result, board.scope.currency, board.scope.agency.locale)
             for result in board.results]
    if record.get("link_clicks") is not None:
        lines.append(f"Link clicks {record['link_clicks']} · Link CTR "
                     f"{_value(record['link_ctr'])}% · Link CPC "
                     f"{_value(record['link_cpc'])}")
    if record.get("interactions") is not None:
        lines.append(f"Interactions {record['interactions']}")
    if lines or board.notes:
        sys.stdout.write("\nResults\n")
        for line in [*lines, *board.notes]:
            sys.stdout.write(cell(line) + "\n")


def _plain_rows(title: str, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    if not rows:
        return
    sys.stdout.write(f"\n{title}\n")
    for row in rows:
        sys.stdout.write("\t".join(_value(row.get(key)) for key in keys) + "\n")


def _value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return "; ".join(value) if value else "ok"
    return cell(value)


def _delta(change: Change) -> str:
    if change.change_pct is None:
        return "n/a" if change.previous in (None, 0) else "±0%"
    sign = "+" if change.change_pct > 0 else ""
    verdict = f" ({change.verdict})" if change.verdict else ""
    return f"{sign}{change.change_pct}%{verdict}"


# --- a terminal ----------------------------------------------------------------------------------

def _rich(board: ClientDashboard | AgencyDashboard) -> None:
    from rich.columns import Columns
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    from datadrip.analytics.dashboard import ClientDashboard

    console = Console(highlight=False)
    who = cell(board.scope.label)
    console.print(Text(f"{who}", style="bold"), Text(
        f"  {board.period} ({board.period.name}) against {board.previous} · {board.scope.currency}",
        style="dim"))
    changes = board.kpis if isinstance(board, ClientDashboard) else board.total
    show = _shower(board.scope.currency, board.scope.agency.locale)
    cards = []
    for change in changes:
        colour = {"good": "green", "bad": "red"}.get(change.verdict or "", "white")
        body = Text(show(change.metric, change.current, {}), style="bold")
        body.append("\n")
        body.append(_delta(change), style=colour)
        cards.append(Panel(body, title=LABELS[change.metric], width=18))
    console.print(Columns(cards))
    if isinstance(board, ClientDashboard):
        for result in board.results:
            console.print(Text(cell(result_line(result, board.scope.currency,
                                                board.scope.agency.locale)), style="bold"))
        for note in board.notes:
            console.print(Text(cell(note), style="yellow"))
        console.print(_table("Channels", board.channels,
                             [("platform", "Platform"), ("spend", "Spend"), ("share_pct", "Share %"),
                              ("conversions", "Conv."), ("cpa", "CPA"), ("roas", "ROAS")], show))
        columns = [("campaign", "Campaign"), ("platform", "Platform"), ("spend", "Spend"),
                   ("conversions", "Conv."), ("cpa", "CPA"), ("roas", "ROAS")]
        by = board.ranked_by.upper()
        console.print(_table(f"Top campaigns by {by}", board.best, columns, show))
        if board.worst:
            console.print(_table(f"Bottom campaigns by {by}", board.worst, columns, show))
        console.print(_chart(board.daily, "spend", "Daily spend"))
        console.print(_chart(board.daily, "conversions", "Daily conversions"))
    else:
        console.print(_table("Clients", board.clients,
                             [("client", "Client"), ("currency", "Cur."), ("spend", "Spend"),
                              ("spend_change_pct", "Change %"), ("cpa", "CPA"), ("roas", "ROAS"),
                              ("flags", "Sync")], show, flag_column="flags"))


Shower = Callable[[str, Any, Mapping[str, Any]], str]


def _shower(currency: str, locale: str) -> Shower:
    """Money in the agency's locale (₹1,23,456.78) and the row's currency, or else `currency`;
    anything else as in plain output."""
    from datadrip.analytics.totals import MONEY_METRICS

    def show(metric: str, value: Any, row: Mapping[str, Any] = {}) -> str:  # noqa: B006 (read only)
        if metric in MONEY_METRICS and isinstance(value, Decimal):
            return show_money(value, row.get("currency") or currency, locale)
        return _value(value)

    return show


def _table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]],
           show: Shower, *, flag_column: str | None = None) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", header_style="bold")
    for key, header in columns:
        table.add_column(header, justify="left" if key in ("platform", "campaign", "client", "flags")
                         else "right")
    for row in rows:
        cells = []
        for key, _ in columns:
            text = show(key, row.get(key), row)
            style = ("yellow" if row.get(key) else "green") if key == flag_column else ""
            cells.append(Text(text, style=style))
        table.add_row(*cells)
    if not rows:
        table.add_row(*(Text("—" if n == 0 else "") for n in range(len(columns))))
    return table


def _chart(days: Sequence[dict[str, Any]], key: str, title: str) -> Any:
    """One bar per day, eight heights, scaled to the period's largest day."""
    from rich.text import Text

    values = [Decimal(day[key]) for day in days]
    top = max(values, default=Decimal(0))
    bars = "".join(BARS[0] if not top else BARS[max(1, round(value / top * 8)) if value else 0]
                   for value in values)
    text = Text(f"{title}  ", style="bold")
    text.append(bars, style="cyan")
    text.append(f"  max {cell(top)}", style="dim")
    return text
