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
    (("USD", "INR", "0"), "must be a positive number"),
    (("USD", "INR", "eighty"), "is not a number"),
    (("USD", "INR", "NaN"), "must be a positive number"),
    (("USD", "INR", "83", "--date", "2026-02-30"), "is not a date"),
])
def test_bad_rates_are_refused_with_exit_2_and_nothing_kept(dd, args, message):
    run = dd("fx", "set", *args)

    assert run.exit_code == 2
    assert message in run.stderr
    assert rates(dd) == []


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
