"""What commands print: exact JSON, plain tab-separated tables when piped, messages on stderr."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from enum import Enum

import pytest

from datadrip.commands import output

ANSI = re.compile(r"\x1b\[")
COLUMNS = [("name", "Name"), ("budget", "Budget"), ("active", "Active"), ("tags", "Tags")]


class Plan(Enum):
    GROWTH = "growth"


# --- to_json ------------------------------------------------------------------------------------

def test_output_to_json_writes_decimals_exactly() -> None:
    text = output.to_json({"spend": Decimal("150000.50"), "currency": "INR"})

    assert re.search(r'"spend": 150000\.50\b', text)
    assert json.loads(text, parse_float=Decimal) == {"spend": Decimal("150000.50"),
                                                      "currency": "INR"}
    assert str(json.loads(text, parse_float=Decimal)["spend"]) == "150000.50"


@pytest.mark.parametrize("amount", ["0.1", "0.00", "1.234567", "-42.10",
                                    "9223372036854.775807", "12345678901234567890.123456"])
def test_output_to_json_decimals_never_go_through_float(amount: str) -> None:
    text = output.to_json([Decimal(amount)])

    assert amount in text
    assert json.loads(text, parse_float=Decimal) == [Decimal(amount)]
    assert str(json.loads(text, parse_float=Decimal)[0]) == amount


def test_output_to_json_writes_exponent_decimals_as_plain_digits() -> None:
    text = output.to_json({"value": Decimal("1E+3")})

    assert json.loads(text) == {"value": 1000}
    assert "E" not in text


def test_output_to_json_writes_dates_and_times_iso() -> None:
    moment = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)

    data = json.loads(output.to_json({"date": dt.date(2026, 11, 1), "at": moment}))

    assert data == {"date": "2026-11-01", "at": "2026-11-01T09:30:00+00:00"}


def test_output_to_json_writes_nested_structures() -> None:
    data = {
        "client": {"name": "Masala Mornings", "recipients": ["owner@masala.example"],
                   "budget": {"amount": Decimal("1500.05"), "currency": "INR"}},
        "accounts": [{"id": 1, "active": True, "closed": None, "plan": Plan.GROWTH},
                     {"id": 2, "active": False, "closed": dt.date(2026, 1, 31),
                      "ratio": 0.25}],
        "tuple": (1, "two"),
        "empty_list": [],
        "empty_map": {},
    }

    text = output.to_json(data)

    assert json.loads(text, parse_float=Decimal) == {
        "client": {"name": "Masala Mornings", "recipients": ["owner@masala.example"],
                   "budget": {"amount": Decimal("1500.05"), "currency": "INR"}},
        "accounts": [{"id": 1, "active": True, "closed": None, "plan": "growth"},
                     {"id": 2, "active": False, "closed": "2026-01-31",
                      "ratio": Decimal("0.25")}],
        "tuple": [1, "two"],
        "empty_list": [],
        "empty_map": {},
    }


def test_output_to_json_keeps_key_order_and_indents_like_json_dumps() -> None:
    data = {"b": 1, "a": [1, {"c": "d"}], "z": {}}

    assert output.to_json(data) == json.dumps(data, indent=2)


def test_output_to_json_escapes_strings() -> None:
    tricky = 'quote " backslash \\ newline \n tab \t मसाला'

    assert json.loads(output.to_json({"name": tricky})) == {"name": tricky}


def test_output_print_json_writes_one_document_and_a_newline(capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    output.print_json({"total": Decimal("10.50")})

    captured = capsys.readouterr()
    assert captured.out.endswith("}\n")
    assert json.loads(captured.out, parse_float=Decimal) == {"total": Decimal("10.50")}
    assert captured.err == ""


# --- tables when piped --------------------------------------------------------------------------

def test_output_print_table_piped_is_tab_separated_without_header(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {"name": "Masala Mornings", "budget": Decimal("150000.50"), "active": True,
         "tags": ["food", "delhi"]},
        {"name": "Spice\tRoute", "budget": None, "active": False, "tags": []},
    ]

    output.print_table(rows, COLUMNS, title="Clients")

    captured = capsys.readouterr()
    assert captured.out == ("Masala Mornings\t150000.50\tyes\tfood, delhi\n"
                            "Spice Route\t\tno\t\n")
    assert "Name" not in captured.out
    assert "Clients" not in captured.out
    assert not ANSI.search(captured.out)
    assert captured.err == ""


def test_output_print_table_piped_has_one_line_per_row_and_a_cell_per_column(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"name": f"client {n}", "budget": n, "active": True, "tags": None} for n in range(3)]

    output.print_table(rows, COLUMNS)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(len(line.split("\t")) == len(COLUMNS) for line in lines)


def test_output_print_table_with_no_rows_says_so_on_stderr(capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    output.print_table([], COLUMNS, empty="no clients yet")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "no clients yet\n"


def test_output_print_csv_has_header_and_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    output.print_csv([{"name": "Masala, Mornings", "budget": Decimal("1.50"), "active": True,
                       "tags": None}], COLUMNS)

    assert capsys.readouterr().out == 'name,budget,active,tags\n"Masala, Mornings",1.50,yes,\n'


# --- cells, records and messages ----------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (None, ""),
    (True, "yes"),
    (False, "no"),
    (Decimal("150000.50"), "150000.50"),
    (dt.date(2026, 11, 1), "2026-11-01"),
    (dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC), "2026-11-01 09:30 UTC"),
    (dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
     "2026-11-01T09:30+05:30"),
    (["a", "b"], "a, b"),
    ({"colour": "#E4572E", "logo": None}, "colour=#E4572E"),
    (0, "0"),
])
def test_output_cell_shows_values_as_people_read_them(value: object, text: str) -> None:
    assert output.cell(value) == text


def test_output_print_record_aligns_labels(capsys: pytest.CaptureFixture[str]) -> None:
    output.print_record({"name": "Masala Mornings", "currency": "INR"},
                        [("name", "Name"), ("currency", "Currency")])

    assert capsys.readouterr().out == "Name:     Masala Mornings\nCurrency: INR\n"


def test_output_error_goes_to_stderr_as_one_line_and_a_hint(capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    output.error("no client 'Masala'", hint="See 'datadrip client list'.")
    output.message("note")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: no client 'Masala'\nHint: See 'datadrip client list'.\nnote\n"


# --- names from the ad platforms, shown on a terminal ---------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    ("Sale\x1b[31m red \x1b[0m", "Sale\\x1b[31m red \\x1b[0m"),
    ("gpj.\u202eexe", "gpj.\\u202eexe"),
    ("two\nlines\r", "two\\nlines\\r"),
    ("bell\x07 and C1\x9b", "bell\\x07 and C1\\x9b"),
    ("iso\u2067late\u2069", "iso\\u2067late\\u2069"),
    ("tab\there", "tab here"),
    ("Diwali दीवाली 🎆", "Diwali दीवाली 🎆"),  # letters of any script and emoji stay as they are
    (["ok", "\x1b[2J"], "ok, \\x1b[2J"),
])
def test_output_cell_escapes_control_characters_and_bidi_marks(value: object, text: str) -> None:
    assert output.cell(value) == text


def test_output_print_table_and_record_never_print_a_terminal_escape(
        capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"name": "Evil\x1b]0;owned\x07\u202e", "budget": None, "active": True, "tags": None}]

    output.print_table(rows, COLUMNS)
    output.print_record(rows[0], COLUMNS)
    output.print_csv(rows, COLUMNS)

    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert out.splitlines()[0] == "Evil\\x1b]0;owned\\x07\\u202e\t\tyes\t"


def test_output_messages_and_errors_escape_what_they_quote(capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    output.message("Synced campaign \x1b[31mred\nsecond line")
    output.error("no client 'a\u202eb'", hint="See \x1b[2J")

    assert capsys.readouterr().err == ("Synced campaign \\x1b[31mred\nsecond line\n"
                                       "error: no client 'a\\u202eb'\nHint: See \\x1b[2J\n")
