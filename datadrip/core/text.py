"""Text made safe for a terminal, and values written as a table cell shows them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# What must never reach a terminal raw: C0 and C1 control characters (ESC starts the sequences
# that recolour, move the cursor or retitle the window), and the invisible marks that reorder text
# (bidi embeddings, overrides and isolates, LRM/RLM/ALM, line and paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f"
                                 "\u2028-\u202e\u2066-\u2069]")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` safe to print on a terminal: each control character, terminal escape or bidi mark
    written out as Python writes it (ESC as \\x1b, RIGHT-TO-LEFT OVERRIDE as \\u202e), so that
    a name from an ad platform cannot recolour, rewrite or reorder what is shown."""
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    return pattern.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or \
        (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def cell(value: Any) -> str:
    """One value as people read it in a table or a `show` listing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.utcoffset() == dt.timedelta(0) \
            else value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={cell(item)}" for key, item in value.items() if item is not None)
    return printable(str(value).replace("\t", " "))
