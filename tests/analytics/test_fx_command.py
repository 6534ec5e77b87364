"""`datadrip fx set|import|list`: exchange rates kept exactly, replaced per pair and day, imported
all or nothing, and every bad input refused with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest


def rates(dd: Callable[..., Any]) -> list[dict[str, Any]]:
    run = dd("fx", "list", "--json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout, parse_float=Decimal)


def test_a_rate_is_kept_exactly_and_replaced_for_the_same_pair_and_day(dd):
    assert dd("fx", "set", "usd", "inr", "83.10").exit_code == 0
    assert dd("fx", "set", "USD", "INR", "82.123456789", "--date", "2026-11-01").exit_code == 0
    replaced = dd("fx", "set", "USD", "INR", "83.25", "--json")

    assert replaced.exit_code == 0, replaced.stderr
    assert json.loads(replaced.stdout) == {"base": "USD", "quote": "INR", "rate": 83.25, "valid_from": None}
    assert rates(dd) == [
        {"base": "USD", "quote": "INR", "rate": Decimal("83.25"), "valid_from": None},
        {"base": "USD", "quote": "INR", "rate": Decimal("82.123456789"), "valid_from": "2026-11-01"}]
    actions = [entry["action"] for entry in dd("audit", "--json").json()]
    assert actions.count("fx.set") == 3


def test_an_empty_list_says_how_to_add_a_rate(dd):
    run = dd("fx", "list")

    assert run.exit_code == 0
    assert "datadrip fx set USD INR" in run.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("USD", "USD", "1"), "two different currencies"),
    (("USD", "XYZ", "83"), "XYZ"),
    (("--", "USD", "INR", "-83"), "must be a positive number"),
    (("USD", "INR", "-5"), "rate '-5' must be a positive number"),
    (("USD", "INR", "-0.5", "--date", "2026-11-01"), "rate '-0.5' must be a positive number"),
    (("USD", "INR", "1e400"), "rate '1e400' is out of range (0.0000001 to 10,000,000)"),
    (("USD", "INR", "1e-300"), "rate '1e-300' is out of range"),
    (("USD", "INR", "10000000.1"), "is out of range"),
    (("USD", "INR", "0.00000009"), "is out of range"),
    (("USD", "INR", "83.12345678901234"), "has more than 15 significant digits"),
    (("USD", "INR", "Infinity"), "must be a positive number"),
    (("USD", "INR", "0"), "must be a positive number"),
    (("USD", "INR", "eighty"), "is not a number"),
    (("USD", "INR", "NaN"), "must be a positive number"),
    (("USD", "INR", "83", "--date", "2026-02-30"), "is not a date"),
])
def test_bad_rates_are_refused_with_exit_2_and_nothing_kept(dd, args, message):
    run = dd("fx", "set", *args)

    assert run.exit_code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert rates(dd) == []


@pytest.mark.parametrize(("given", "kept"), [
    ("0.0000001", "0.0000001"), ("10000000", "10000000"), ("1e3", "1000"),
    ("83.1234567890120", "83.1234567890120"), ("  90.45 ", "90.45")])
def test_rates_at_the_edges_of_the_range_are_kept_written_out_in_full(dd, given, kept):
    run = dd("fx", "set", "USD", "INR", given)

    assert run.exit_code == 0, run.stderr
    assert run.stderr == f"1 USD = {kept} INR.\n"
    assert f'"rate": {kept}' in dd("fx", "list", "--json").stdout  # JSON without an exponent


def test_a_kept_rate_out_of_range_is_refused_where_it_is_used_naming_the_fix(dd, home):
    import sqlite3

    from tests.analytics.analytics_support import fill_workbook

    fill_workbook(dd)
    assert dd("fx", "set", "USD", "INR", "83.10", "--date", "2026-10-01").exit_code == 0
    with sqlite3.connect(home / "workbook.db") as db:  # as an older DataDrip could keep it
        db.execute("UPDATE fx_rate SET rate = '1E+400'")

    run = dd("dashboard", "--client", "Masala Mornings", "--since", "2026-11-01",
             "--until", "2026-11-03")

    assert run.exit_code == 2, run.stderr
    assert run.stderr.splitlines()[0] == ("error: the kept rate USD/INR from 2026-10-01 (1E+400) "
                                          "is out of range (0.0000001 to 10,000,000)")
    assert "Hint: Replace it: datadrip fx set USD INR RATE --date 2026-10-01." in run.stderr
    assert "InvalidOperation" not in run.stderr and run.stdout == ""


def test_a_csv_is_imported_whole(dd, tmp_path: Path):
    path = tmp_path / "rates.csv"
    path.write_text("base,quote,rate,date\nUSD,INR,83.10,2026-11-01\nEUR,INR,90.45,\n\n", encoding="utf-8")

    run = dd("fx", "import", str(path), "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"imported": 2}
    assert [(r["base"], r["rate"], r["valid_from"]) for r in rates(dd)] == [
        ("EUR", Decimal("90.45"), None), ("USD", Decimal("83.10"), "2026-11-01")]


@pytest.mark.parametrize(("text", "message"), [
    ("base,quote,rate\nUSD,INR,83.10\nUSD,INR,oops\n", "line 3: rate 'oops' is not a number"),
    ("base,quote,rate\nUSD,INR,83.10\nUSD,INR,83.20\n", "line 3: USD/INR (undated) appears twice"),
    ("from,to,rate\nUSD,INR,83.10\n", "has no column base, quote"),
    ("base,quote,rate\n", "holds no rates"),
    ("base,quote,rate\nUSD,INR,83.10\nEUR,INR,1e400\n", "line 3: rate '1e400' is out of range"),
    ("base,quote,rate\nUSD,INR,-83\n", "line 2: rate '-83' must be a positive number"),
])
def test_a_bad_csv_keeps_nothing(dd, tmp_path: Path, text, message):
    assert dd("fx", "set", "GBP", "INR", "105").exit_code == 0
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")

    run = dd("fx", "import", str(path))

    assert run.exit_code == 2
    assert message in run.stderr
    assert [(r["base"], r["quote"]) for r in rates(dd)] == [("GBP", "INR")]


def test_a_missing_file_is_a_clear_error(dd, tmp_path: Path):
    run = dd("fx", "import", str(tmp_path / "nowhere.csv"))

    assert run.exit_code == 2
    assert "cannot read" in run.stderr and "nowhere.csv" in run.stderr
