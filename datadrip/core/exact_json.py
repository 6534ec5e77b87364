"""JSON that keeps money exact: a Decimal is written as its digits and read back as a Decimal.

Used for `--json` output and for the workbook's JSON columns (audit details, report data)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """JSON text; `indent=None` gives one line. Decimals never pass through a float."""
    return _encode(data, indent, 0)


def loads(text: str) -> Any:
    """Parse JSON, reading numbers with a fraction as exact Decimals."""
    return json.loads(text, parse_float=Decimal)


def _encode(value: Any, indent: int | None, depth: int) -> str:
    if isinstance(value, Mapping):
        items = [f"{json.dumps(str(key))}: {_encode(item, indent, depth + 1)}"
                 for key, item in value.items()]
        return _join(items, "{", "}", indent, depth)
    if isinstance(value, list | tuple):
        return _join([_encode(item, indent, depth + 1) for item in value], "[", "]", indent, depth)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, Enum):
        return json.dumps(value.value)
    return json.dumps(value)


def _join(items: list[str], opening: str, closing: str, indent: int | None, depth: int) -> str:
    if not items:
        return opening + closing
    if indent is None:
        return opening + ", ".join(items) + closing
    pad, inner = " " * indent * depth, " " * indent * (depth + 1)
    return f"{opening}\n{inner}" + f",\n{inner}".join(items) + f"\n{pad}{closing}"
