"""What commands print: data on stdout (a table on a terminal, plain text when piped, JSON, CSV);
messages, warnings and errors on stderr."""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from datadrip.core import exact_json
from datadrip.core.text import cell, printable

Columns = Sequence[tuple[str, str]]  # (record key, header)
to_json = exact_json.dumps  # JSON with exact decimals


def print_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")


def print_json_line(data: Any) -> None:
    """One JSON document on one line (NDJSON)."""
    sys.stdout.write(to_json(data, indent=None) + "\n")


def print_table(rows: Sequence[Mapping[str, Any]], columns: Columns, *, title: str = "",
                empty: str = "nothing to show", missing: str = "") -> None:
    """A rich table on a terminal; tab-separated lines without a header when piped. `missing`
    stands for a value that is None."""
    if not rows:
        message(empty)
        return
    if not sys.stdout.isatty():
        for row in rows:
            sys.stdout.write("\t".join(_cell_or(row.get(key), missing) for key, _ in columns) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, title_justify="left", header_style="bold")
    for _, header in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*(Text(_cell_or(row.get(key), missing)) for key, _ in columns))
    Console(highlight=False).print(table)


def _cell_or(value: Any, missing: str) -> str:
    return missing if value is None else cell(value)


def print_csv(rows: Sequence[Mapping[str, Any]], columns: Columns) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([key for key, _ in columns])
    for row in rows:
        writer.writerow([cell(row.get(key)) for key, _ in columns])


def print_record(record: Mapping[str, Any], fields: Columns) -> None:
    """One thing, a field per line: `Label: value`."""
    width = max(len(label) for _, label in fields)
    for key, label in fields:
        sys.stdout.write(f"{label + ':':<{width + 1}} {cell(record.get(key))}\n")


def print_one(record: Mapping[str, Any], fields: Columns, *, as_json: bool, note: str = "") -> None:
    """One thing as JSON, or as `Label: value` lines after a note on stderr."""
    if as_json:
        print_json(record)
        return
    if note:
        message(note)
    print_record(record, fields)


def unattended(*, as_json: bool, verbose: bool) -> bool:
    """Whether a command that does work should keep quiet about success: stdout is not a terminal
    (cron mails whatever is printed) and neither --json nor --verbose asked for a summary."""
    return not as_json and not verbose and not sys.stdout.isatty()


def message(text: str) -> None:
    """A note for the person at the terminal, on stderr so that stdout stays data."""
    sys.stderr.write(printable(text, keep_newlines=True) + "\n")


def error(text: str, hint: str | None = None, *, one_line: bool = False) -> None:
    """`error: …` and its `Hint: …` on the next line; `one_line` keeps both on one (under cron,
    one line per problem)."""
    text, hint = printable(text), printable(hint) if hint else hint
    if one_line and hint:
        sys.stderr.write(f"error: {text.rstrip('.')}. Hint: {hint}\n")
        return
    sys.stderr.write(f"error: {text}\n")
    if hint:
        sys.stderr.write(f"Hint: {hint}\n")
