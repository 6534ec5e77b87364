"""Checks on what users type: time zones, currencies, locales, e-mail addresses, names."""

from __future__ import annotations

import re
from typing import NewType

from datadrip.core.errors import UsageError

# An e-mail address that passed `email`: the only kind a report e-mail carries, so the send path
# trusts it instead of checking it again.
EmailAddress = NewType("EmailAddress", str)

# The one grammar of an e-mail address: one bare local@domain, no display name, nothing that needs
# quoting or could end a line. ASCII only: a non-ASCII address needs SMTPUTF8, which neither we
# nor most relays promise. The domain has a dot and ends in a top-level label of letters.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
MAX_EMAIL = 254  # RFC 5321's path limit less the angle brackets


def timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidate = name.strip()
    try:
        if not candidate or candidate.startswith(("/", ".")):
            raise ValueError(candidate)
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r}",
                         hint="Use an IANA name such as Asia/Kolkata, Europe/Berlin or "
                              "America/New_York.") from None
    return candidate


def currency(code: str) -> str:
    from babel.numbers import list_currencies

    candidate = code.strip().upper()
    if len(candidate) != 3 or candidate not in list_currencies():
        raise UsageError(f"unknown currency {code!r}",
                         hint="Use an ISO 4217 code such as INR, USD or EUR.")
    return candidate


def locale(name: str) -> str:
    from babel import Locale, UnknownLocaleError

    wanted = name.strip().replace("-", "_")
    try:
        parsed = str(Locale.parse(wanted))
    except (UnknownLocaleError, ValueError, TypeError):
        parsed = ""
    # Babel quietly swaps an unknown region for a likely one (en_ZZ → en_US): refuse that too.
    if not parsed or parsed.lower() != wanted.lower():
        raise UsageError(f"unknown locale {name!r}", hint="Use a locale such as en_IN, en_US or de_DE.")
    return parsed


def email(address: str, *, what: str | None = None) -> EmailAddress:
    """`address` checked against the one e-mail grammar, stripped of surrounding blanks, its domain
    lowercased. Checked once, where it enters: `client add/edit` and `user add` (no `what`),
    `report send --to`, [email] from and reply_to, a recipient read from the workbook (`what` names
    where it came from: "--to 'x' is not an e-mail address")."""
    if what is None:
        plain_text(address, what="e-mail address")
    candidate = address.strip()
    if len(candidate) > MAX_EMAIL or not _EMAIL.fullmatch(candidate):
        if what is None:
            raise UsageError(f"{address!r} is not an e-mail address", hint="Write it as name@example.com.")
        raise UsageError(f"{what} {address!r} is not an e-mail address",
                         hint="Give one address such as reports@agency.example, without a name or "
                              "angle brackets.")
    local, _, domain = candidate.rpartition("@")
    return EmailAddress(f"{local}@{domain.lower()}")


def emails(text: str) -> list[EmailAddress]:
    """A comma-separated list of addresses, each checked, duplicates dropped, order kept."""
    found: list[EmailAddress] = []
    for part in text.split(","):
        if part.strip():
            address = email(part)
            if address.lower() not in (existing.lower() for existing in found):
                found.append(address)
    return found


_ACTION_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


def action_types(text: str) -> list[str]:
    """Comma-separated Meta action types ("lead", "offsite_conversion.fb_pixel_purchase"); "" → []."""
    found: list[str] = []
    for part in text.split(","):
        cleaned = part.strip()
        if not cleaned:
            continue
        if not _ACTION_TYPE.match(cleaned):
            raise UsageError(f"{cleaned!r} is not a Meta action type",
                             hint="Action types are lowercase words joined by dots and "
                                  "underscores, e.g. lead or offsite_conversion.fb_pixel_purchase.")
        if cleaned not in found:
            found.append(cleaned)
    return found


# Control characters (ESC opens the sequences that recolour or rewrite a terminal), and the
# invisible marks that reorder text on screen (bidi embeddings, overrides, isolates, LRM/RLM/ALM,
# line and paragraph separators). Tabs and line breaks are plain whitespace, allowed.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f"
                     "\u2028-\u202e\u2066-\u2069]")


def plain_text(value: str, *, what: str) -> str:
    """`value` unchanged, unless it holds a control character, a terminal escape or a bidi mark:
    then a UsageError naming the first one (shown escaped, as \\x1b or \\u202e)."""
    found = _HIDDEN.search(value)
    if found:
        code = ord(found.group())
        shown = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        raise UsageError(f"{what} holds an invisible control character ({shown} at position "
                         f"{found.start() + 1})",
                         hint="Type it again without terminal escapes, control characters or "
                              "text-direction marks.")
    return value


def name(value: str, *, what: str) -> str:
    plain_text(value, what=f"{what} name")
    cleaned = " ".join(value.split())
    if not cleaned:
        raise UsageError(f"{what} name cannot be empty")
    if len(cleaned) > 200:
        raise UsageError(f"{what} name is longer than 200 characters")
    return cleaned


def colour(value: str) -> str:
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value.strip()):
        raise UsageError(f"colour {value!r} is not a hex colour", hint="Write it as #1A73E8.")
    return value.strip().upper()


def image_file(path: str) -> str:
    """An existing PNG, JPEG, GIF or SVG file, as an absolute path."""
    from pathlib import Path

    candidate = Path(path).expanduser()
    if not candidate.is_file():
        raise UsageError(f"logo {path!r} is not a file")
    if candidate.suffix.lower() not in {".png", ".jpg", ".jpeg", ".gif", ".svg"}:
        raise UsageError(f"logo {path!r} is not a PNG, JPEG, GIF or SVG image")
    return str(candidate.resolve())
