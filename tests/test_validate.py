"""Checks on what users type: each accepts the good forms, cleans them, and names the bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadrip.core import validate
from datadrip.core.errors import ExitCode, UsageError

# --- time zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Asia/Kolkata", "Europe/Berlin", "America/New_York", "UTC",
                                  "Etc/GMT+5", "America/Argentina/Buenos_Aires"])
def test_validate_timezone_accepts_iana_names(name: str) -> None:
    assert validate.timezone(name) == name


def test_validate_timezone_strips_spaces() -> None:
    assert validate.timezone("  Asia/Kolkata ") == "Asia/Kolkata"


@pytest.mark.parametrize("name", ["IST", "India Standard Time", "+05:30", "GMT+5:30",
                                  "Mars/Olympus", "asia/kolkata", "Asia/Kolkata/", "",
                                  "   ", "/etc/localtime", "../zoneinfo/UTC",
                                  "Asia/../Asia/Kolkata"])
def test_validate_timezone_rejects_what_is_not_iana(name: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.timezone(name)

    assert raised.value.message == f"unknown time zone {name!r}"
    assert raised.value.hint is not None and "Asia/Kolkata" in raised.value.hint
    assert raised.value.exit_code == ExitCode.BAD_INPUT


# --- currencies ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "expected"), [("INR", "INR"), ("inr", "INR"), ("Usd", "USD"),
                                                (" eur ", "EUR"), ("JPY", "JPY"),
                                                ("kwd", "KWD")])
def test_validate_currency_accepts_iso_4217_any_case(code: str, expected: str) -> None:
    assert validate.currency(code) == expected


@pytest.mark.parametrize("code", ["ABC", "RS", "US", "USDX", "₹", "", "IN R", "rupee"])
def test_validate_currency_rejects_unknown_codes(code: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.currency(code)

    assert raised.value.message == f"unknown currency {code!r}"
    assert raised.value.hint is not None and "ISO 4217" in raised.value.hint


# --- locales ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [("en_IN", "en_IN"), ("en-IN", "en_IN"),
                                                ("de_DE", "de_DE"), ("hi_IN", "hi_IN"),
                                                ("fr", "fr"), (" en_US ", "en_US")])
def test_validate_locale_accepts_and_normalises(name: str, expected: str) -> None:
    assert validate.locale(name) == expected


@pytest.mark.parametrize("name", ["klingon", "xx_YY", "de_XX", "", "zz", "12"])
def test_validate_locale_rejects_unknown(name: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.locale(name)

    assert raised.value.message == f"unknown locale {name!r}"
    assert raised.value.hint is not None and "en_IN" in raised.value.hint


# --- e-mail addresses ---------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "expected"), [
    ("owner@masala.example", "owner@masala.example"),
    ("First.Last+reports@Sub.Masala.EXAMPLE", "First.Last+reports@sub.masala.example"),
    ("  owner@masala.example  ", "owner@masala.example"),
    ("o'neil@agency.co.in", "o'neil@agency.co.in"),
    ("a_b-c@x-y.example", "a_b-c@x-y.example"),
])
def test_validate_email_accepts_and_lowercases_the_domain(address: str, expected: str) -> None:
    assert validate.email(address) == expected


@pytest.mark.parametrize("address", [
    "", "owner", "owner@", "@masala.example", "owner@masala", "owner@@masala.example",
    "own er@masala.example", "Owner <owner@masala.example>", "owner@masala.example,",
    "owner@masala..example", "owner@-masala.example", "owner@masala-.example",
    "owner@masala.e", "owner@masala.example.", "a;b@masala.example",
    "x" * 250 + "@masala.example",
])
def test_validate_email_rejects_bad_addresses(address: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.email(address)

    assert raised.value.message == f"{address!r} is not an e-mail address"
    assert raised.value.hint == "Write it as name@example.com."


@pytest.mark.parametrize("address", ["owner@masala.example", "o.w+n_er@mail.masala.example",
                                     "  owner@masala.example\n"])
def test_validate_email_from_a_named_source_accepts_a_bare_address(address: str) -> None:
    assert validate.email(address, what="--to") == address.strip()


@pytest.mark.parametrize("address", ["", "owner", "owner@", "@masala.example", "a@@masala.example",
                                     "Owner <owner@masala.example>", "own er@masala.example",
                                     "owner@masala.example\nBcc: x@y.example", "a@x.example,b@x.example",
                                     "owner@masala..example", "owner@-masala.example", "prïya@masala.example",
                                     "a\x00b@masala.example", "x" * 250 + "@masala.example",
                                     "owner@masala", "a..b@masala.example", ".a@masala.example",
                                     "a\\b@masala.example"])
def test_validate_email_from_a_named_source_names_it_when_refusing(address: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.email(address, what="--to")

    assert raised.value.message == f"--to {address!r} is not an e-mail address"
    assert raised.value.hint == ("Give one address such as reports@agency.example, without a name or "
                                 "angle brackets.")


@pytest.mark.parametrize("address", ["prïya@masala.example", "a..b@masala.example", "a\\b@masala.example",
                                     "(x)@masala.example"])
def test_validate_email_is_the_one_grammar_so_what_a_client_keeps_can_be_sent(address: str) -> None:
    """An address `client add` keeps is one every provider can send to: the same grammar decides."""
    with pytest.raises(UsageError):
        validate.email(address)
    with pytest.raises(UsageError):
        validate.email(address, what="recipient")


def test_validate_emails_splits_on_commas_and_drops_duplicates_in_order() -> None:
    text = "owner@masala.example, Ops@Masala.Example,ops@masala.example , OWNER@MASALA.EXAMPLE,,"

    assert validate.emails(text) == ["owner@masala.example", "Ops@masala.example"]


def test_validate_emails_empty_text_is_an_empty_list() -> None:
    assert validate.emails("") == []
    assert validate.emails(" , ,") == []


def test_validate_emails_one_bad_address_fails_the_list() -> None:
    with pytest.raises(UsageError) as raised:
        validate.emails("owner@masala.example, not-an-address")

    assert "not-an-address" in raised.value.message


# --- colours ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [("#1A73E8", "#1A73E8"), ("#1a73e8", "#1A73E8"),
                                                 (" #e4572e ", "#E4572E")])
def test_validate_colour_accepts_hex_and_uppercases(value: str, expected: str) -> None:
    assert validate.colour(value) == expected


@pytest.mark.parametrize("value", ["1A73E8", "#1A73E", "#1A73E8FF", "#GGGGGG", "red", "",
                                   "#fff", "rgb(1,2,3)"])
def test_validate_colour_rejects_other_forms(value: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.colour(value)

    assert raised.value.message == f"colour {value!r} is not a hex colour"


# --- names --------------------------------------------------------------------------------------

def test_validate_name_collapses_whitespace() -> None:
    assert validate.name("  Spice \t Route\n Media ", what="agency") == "Spice Route Media"


def test_validate_name_keeps_unicode() -> None:
    assert validate.name("Café Masala — मसाला", what="client") == "Café Masala — मसाला"


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_validate_name_rejects_empty(value: str) -> None:
    with pytest.raises(UsageError) as raised:
        validate.name(value, what="client")

    assert raised.value.message == "client name cannot be empty"


def test_validate_name_allows_200_characters_but_not_201() -> None:
    assert validate.name("x" * 200, what="agency") == "x" * 200

    with pytest.raises(UsageError) as raised:
        validate.name("x" * 201, what="agency")

    assert raised.value.message == "agency name is longer than 200 characters"


# --- logo files ---------------------------------------------------------------------------------

def test_validate_image_file_accepts_an_image_and_returns_its_absolute_path(
        tmp_path: Path) -> None:
    logo = tmp_path / "logo.PNG"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n")

    assert validate.image_file(str(logo)) == str(logo.resolve())


def test_validate_image_file_rejects_missing_and_other_files(tmp_path: Path) -> None:
    text = tmp_path / "logo.txt"
    text.write_text("x", encoding="utf-8")

    with pytest.raises(UsageError, match="is not a file"):
        validate.image_file(str(tmp_path / "missing.png"))
    with pytest.raises(UsageError, match="is not a PNG, JPEG, GIF or SVG image"):
        validate.image_file(str(text))
    with pytest.raises(UsageError, match="is not a file"):
        validate.image_file(str(tmp_path))


@pytest.mark.parametrize(("text", "shown"), [
    ("a\x1b[31mb", "\\x1b at position 2"), ("\u202eabc", "\\u202e at position 1"),
    ("x\x7f", "\\x7f"), ("x\x85", "\\x85"), ("l\u200fr", "\\u200f"), ("p\u2029", "\\u2029"),
    ("v\x0bt", "\\x0b")])
def test_validate_plain_text_refuses_control_characters_and_bidi_marks(text: str, shown: str) -> None:
    with pytest.raises(UsageError) as refused:
        validate.plain_text(text, what="note")

    assert refused.value.message.startswith("note holds an invisible control character (")
    assert shown in refused.value.message
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("text", ["Masala Mornings", "tab\tand\nnew line\r\n", "दीवाली", "مرحبا",
                                  "Café ☕ 🎆", "zero\u200dwidth joiner"])
def test_validate_plain_text_keeps_ordinary_text_of_any_script(text: str) -> None:
    assert validate.plain_text(text, what="note") == text
