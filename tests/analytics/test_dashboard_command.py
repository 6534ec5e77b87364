"""`datadrip dashboard`: a client's KPIs against the previous period, channels, best and worst
campaigns and daily series; the agency's clients with their sync flags; JSON, plain text, and a
real terminal."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import drain_terminal

from tests.analytics.analytics_support import fill_workbook

MASALA = ("--client", "Masala Mornings")
NOV = ("--since", "2026-11-01", "--until", "2026-11-03")


@pytest.fixture
def rated(dd: Callable[..., Any]) -> Callable[..., Any]:
    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10").exit_code == 0
    return dd


def board(dd: Callable[..., Any], *args: str) -> dict[str, Any]:
    run = dd("dashboard", *args, "--json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout, parse_float=Decimal)


def test_kpis_compare_with_the_previous_period_and_say_whether_the_change_is_good(rated):
    # 2 November against 1 November, one day each.
    data = board(rated, *MASALA, "--since", "2026-11-02", "--until", "2026-11-02")

    assert data["period"] == {"name": "custom", "since": "2026-11-02", "until": "2026-11-02", "days": 1}
    assert data["previous_period"]["since"] == data["previous_period"]["until"] == "2026-11-01"
    kpis = {kpi["metric"]: kpi for kpi in data["kpis"]}
    assert list(kpis) == ["spend", "conversions", "cpa", "roas", "conversion_value", "clicks", "ctr", "cpc"]
    assert kpis["spend"] == {"metric": "spend", "value": Decimal("500.50"), "previous": Decimal("2031.00"),
                             "change": Decimal("-1530.50"), "change_pct": Decimal("-75.4"),
                             "verdict": None}  # less spend is neither good nor bad
    assert (kpis["clicks"]["change_pct"], kpis["clicks"]["verdict"]) == (Decimal("-100.0"), "bad")
    assert (kpis["ctr"]["value"], kpis["ctr"]["previous"], kpis["ctr"]["verdict"]) == (
        Decimal("0.00"), Decimal("1.00"), "bad")  # 110 / 11,000 on the 1st
    assert kpis["cpa"] == {"metric": "cpa", "value": None, "previous": Decimal("369.27"), "change": None,
                           "change_pct": None, "verdict": None}  # no conversions on the 2nd: n/a


def test_a_falling_cpa_is_good_and_a_falling_roas_is_bad():
    from datadrip.analytics.totals import Totals, compare

    cheaper = compare(Totals(spend_micros=100 * 10**6, conversions_millionths=10 * 10**6),
                      Totals(spend_micros=100 * 10**6, conversions_millionths=5 * 10**6), "INR",
                      ["cpa", "spend"])
    assert [(c.metric, c.change, c.change_pct, c.verdict) for c in cheaper] == [
        ("cpa", Decimal("-10.00"), Decimal("-50.0"), "good"),
        ("spend", Decimal("0.00"), Decimal("0.0"), None)]
    worse = compare(Totals(spend_micros=10**6, conversion_value_micros=2 * 10**6),
                    Totals(spend_micros=10**6, conversion_value_micros=4 * 10**6), "INR", ["roas"])
    assert (worse[0].change_pct, worse[0].verdict) == (Decimal("-50.0"), "bad")


def test_channels_campaigns_and_the_daily_series(rated):
    data = board(rated, *MASALA, *NOV)

    assert data["channels"] == [
        {"platform": "meta", "spend": Decimal("1700.50"), "share_pct": Decimal("67.2"),
         "conversions": 4, "cpa": Decimal("425.13"), "roas": Decimal("2.94")},
        {"platform": "google", "spend": Decimal("831.00"), "share_pct": Decimal("32.8"),
         "conversions": Decimal("1.5"), "cpa": Decimal("554.00"), "roas": Decimal("3.00")}]
    assert data["ranked_by"] == "roas"
    assert [(c["campaign"], c["roas"]) for c in data["top_campaigns"]] == [
        ("Diwali", Decimal("3.33")), ("Search", Decimal("3.00")), ("Brand", Decimal("0.00"))]
    assert data["bottom_campaigns"] == []  # three campaigns all fit in the top five
    assert data["daily"] == [
        {"day": "2026-11-01", "spend": Decimal("2031.00"), "conversions": Decimal("5.5")},
        {"day": "2026-11-02", "spend": Decimal("500.50"), "conversions": 0},
        {"day": "2026-11-03", "spend": Decimal("0.00"), "conversions": 0}]  # a day without numbers


def test_without_revenue_campaigns_are_ranked_by_cpa(rated):
    data = board(rated, "--client", "Peak Trail", *NOV)

    assert data["ranked_by"] == "roas"  # Peak Trail reports revenue
    assert board(rated, *MASALA, "--since", "2026-11-02", "--until", "2026-11-02")["ranked_by"] == "cpa"


def _sync_run(account: str, status: str, finished: dt.datetime) -> None:
    from sqlmodel import select

    from datadrip.db.models import AdAccount, SyncRun
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    with open_session(load_settings(), write=True) as wb:
        found = wb.session.exec(select(AdAccount).where(AdAccount.external_id == account)).one()
        wb.session.add(SyncRun(account_id=found.id, status=status, started_at=finished,
                               finished_at=finished))


def test_the_agency_view_has_a_line_per_active_client_and_flags_what_cannot_be_trusted(rated):
    now = dt.datetime.now(dt.UTC)
    _sync_run("act_2", "succeeded", now - dt.timedelta(hours=2))
    _sync_run("act_1", "succeeded", now - dt.timedelta(hours=3))
    _sync_run("1234567890", "succeeded", now - dt.timedelta(days=3))
    _sync_run("1234567890", "failed", now - dt.timedelta(hours=1))

    data = board(rated, *NOV)

    assert data["agency"] == "Spice Route Media" and data["currency"] == "INR"
    lines = {line["client"]: line for line in data["clients"]}
    assert list(lines) == ["Masala Mornings", "Peak Trail"]  # flagged first; Dormant is inactive
    assert lines["Masala Mornings"]["flags"] == ["google 1234567890 failed its last sync"]
    assert lines["Peak Trail"]["flags"] == []
    assert (lines["Peak Trail"]["spend"], lines["Peak Trail"]["currency"], lines["Peak Trail"]["roas"]) == (
        Decimal("20.00"), "USD", Decimal("5.00"))  # each client in its own currency
    assert {kpi["metric"]: kpi["value"] for kpi in data["kpis"]}["spend"] == Decimal("4193.50")  # blended


def test_a_stale_sync_and_a_login_needed_are_flagged(rated):
    _sync_run("act_2", "succeeded", dt.datetime.now(dt.UTC) - dt.timedelta(days=2))

    lines = {line["client"]: line for line in board(rated, *NOV)["clients"]}

    [stale] = lines["Peak Trail"]["flags"]
    assert stale.startswith("meta act_2 last synced ")
    assert "meta act_1 never synced" in lines["Masala Mornings"]["flags"]


def test_piped_the_dashboard_is_plain_tab_separated_text(rated):
    run = rated("dashboard", *MASALA, *NOV)

    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == ("Masala Mornings · 2026-11-01..2026-11-03 (custom) against "
                        "2026-10-29..2026-10-31 · INR")
    assert "Spend\t2531.50\tn/a" in lines  # nothing the period before: no percentage
    assert "Top campaigns by ROAS" in lines
    assert "Diwali\tmeta\t1500.50\t375.13\t3.33" in lines
    assert "2026-11-03\t0.00\t0" in lines


def test_a_blend_without_a_rate_fails_like_metrics(dd):
    fill_workbook(dd)

    run = dd("dashboard", *NOV)

    assert run.exit_code == 1
    assert "no exchange rate from USD to INR" in run.stderr and run.stdout == ""


HOSTILE = "Diwali\x1b[31m\x1b]0;owned\x07\u202elaes"
SHOWN = "Diwali\\x1b[31m\\x1b]0;owned\\x07\\u202elaes"


@pytest.fixture
def hostile(rated: Callable[..., Any], home: Path) -> Callable[..., Any]:
    """The workbook after a sync stored a campaign name with terminal escapes and a bidi override,
    as an ad platform may send it."""
    import sqlite3

    with sqlite3.connect(home / "workbook.db") as db:
        db.execute("UPDATE entity SET name = ? WHERE name = 'Diwali'", (HOSTILE,))
    return rated


def test_a_campaign_name_with_terminal_escapes_is_shown_escaped_when_piped(hostile):
    board = hostile("dashboard", *MASALA, *NOV)
    table = hostile("metrics", *MASALA, *NOV, "--by", "campaign")
    as_json = hostile("dashboard", *MASALA, *NOV, "--json")

    for run in (board, table):
        assert run.exit_code == 0, run.stderr
        assert SHOWN in run.stdout
        assert not any(char in run.stdout for char in "\x1b\x07\u202e")
    assert HOSTILE in [row["campaign"] for row in json.loads(as_json.stdout)["top_campaigns"]]  # data, exact


def test_on_a_terminal_a_campaign_name_with_terminal_escapes_is_shown_escaped(hostile, home):
    screen = run_in_terminal(["dashboard", *MASALA, *NOV], home)

    assert "\x1b]0;" not in screen and "\u202e" not in screen and "\x1b[31mlaes" not in screen
    assert "Diwali\\x1b[31m" in screen


def run_in_terminal(args: list[str], home: Path) -> str:
    """`datadrip ARGS` with a pseudo-terminal as stdout, as a person at a terminal runs it."""
    leader, follower = pty.openpty()
    env = {**os.environ, "DATADRIP_HOME": str(home), "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "datadrip", *args], stdout=follower,
                               stderr=subprocess.PIPE, env=env)
    os.close(follower)
    output = drain_terminal(leader, process)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return output.decode()


def test_on_a_terminal_kpi_cards_tables_and_a_daily_chart_are_drawn(rated, home):
    screen = run_in_terminal(["dashboard", *MASALA, *NOV], home)

    for text in ("Masala Mornings", "Spend", "₹2,531.50", "ROAS", "Channels", "Top campaigns by ROAS",
                 "Diwali", "Daily spend", "Daily conversions", "╭"):
        assert text in screen, text
    assert "█" in screen  # the largest day's bar


def test_on_a_terminal_the_agency_table_shows_the_flags(rated, home):
    screen = run_in_terminal(["dashboard", *NOV], home)

    assert "Clients" in screen and "never synced" in screen and "Peak Trail" in screen
    assert "$20.00" in screen  # each client in its own currency, written the agency's (en_IN) way
