"""Money: amounts typed by people become integer micros; micros become exact Decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from datadrip.core.errors import ExitCode, UsageError
from datadrip.core.money import (
    MICROS,
    conversions_from_millionths,
    conversions_to_millionths,
    minor_units,
    parse_amount,
    to_amount,
)

INT64_MAX = 2**63 - 1


def test_money_minor_units_follow_iso_4217() -> None:
    assert minor_units("INR") == 2
    assert minor_units("USD") == 2
    assert minor_units("JPY") == 0
    assert minor_units("KWD") == 3


# --- parse_amount -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "micros"), [
    ("150000", "INR", 150_000_000_000),
    ("1,50,000.50", "INR", 150_000_500_000),
    ("150,000.50", "INR", 150_000_500_000),
    ("1500.5", "INR", 1_500_500_000),
    ("0.01", "INR", 10_000),
    ("0", "INR", 0),
    ("  42 ", "USD", 42_000_000),
    ("5000", "JPY", 5_000_000_000),
    ("1,000,000", "JPY", 1_000_000_000_000),
    ("1.234", "KWD", 1_234_000),
    ("0.001", "KWD", 1_000),
])
def test_money_parse_amount_reads_commas_and_decimals(text: str, currency: str,
                                                      micros: int) -> None:
    assert parse_amount(text, currency) == micros


@pytest.mark.parametrize(("text", "currency"), [
    ("1.005", "INR"), ("0.001", "USD"), ("100.5", "JPY"), ("1.2345", "KWD"),
])
def test_money_parse_amount_refuses_more_decimals_than_the_currency_has(text: str,
                                                                         currency: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount(text, currency)

    places = minor_units(currency)
    assert raised.value.message == \
        f"amount {text} has more decimals than {currency} allows ({places})"
    assert raised.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("text", ["-1", "-0.50", "-1,000"])
def test_money_parse_amount_refuses_negatives(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount(text, "INR", what="budget")

    assert raised.value.message == f"budget cannot be negative: {text}"


@pytest.mark.parametrize("text", ["", "   ", "abc", "₹500", "12abc", "1.2.3", "1 000", "0x10",
                                  "five"])
def test_money_parse_amount_refuses_garbage(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount(text, "INR")

    assert raised.value.message == f"amount {text!r} is not a number"


@pytest.mark.parametrize("text", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf"])
def test_money_parse_amount_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount(text, "INR")

    assert "is not a number" in raised.value.message


def test_money_parse_amount_accepts_the_largest_amount_that_fits_in_micros() -> None:
    largest = "9223372036854.77"

    assert parse_amount(largest, "USD") == 9_223_372_036_854_770_000
    assert parse_amount(largest, "USD") <= INT64_MAX


@pytest.mark.parametrize("text", ["9223372036854.78", "10000000000000", "1e30",
                                  "99999999999999999999999999"])
def test_money_parse_amount_refuses_huge_values(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount(text, "INR")

    assert raised.value.message == f"amount {text} is too large"


def test_money_parse_amount_names_what_was_typed() -> None:
    with pytest.raises(UsageError) as raised:
        parse_amount("lots", "INR", what="monthly budget")

    assert raised.value.message == "monthly budget 'lots' is not a number"
    assert raised.value.hint is not None and "150000" in raised.value.hint


def test_money_parse_amount_returns_an_int() -> None:
    assert type(parse_amount("1500.50", "INR")) is int


# --- to_amount ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("micros", "currency", "text"), [
    (150_000_500_000, "INR", "150000.50"),
    (150_000_000_000, "INR", "150000.00"),
    (1_234_567, "INR", "1.234567"),
    (1_230_000, "INR", "1.23"),
    (1_235_000, "INR", "1.235"),
    (0, "INR", "0.00"),
    (10_000, "INR", "0.01"),
    (5_000_000, "JPY", "5"),
    (5_500_000, "JPY", "5.5"),
    (1_234_000, "KWD", "1.234"),
    (1_000_000, "KWD", "1.000"),
    (INT64_MAX, "USD", "9223372036854.775807"),
])
def test_money_to_amount_is_exact(micros: int, currency: str, text: str) -> None:
    amount = to_amount(micros, currency)

    assert isinstance(amount, Decimal)
    assert amount == Decimal(text)
    assert str(amount) == text


def test_money_to_amount_matches_the_examples_of_the_spec() -> None:
    assert to_amount(150000500000, "INR") == Decimal("150000.50")
    assert to_amount(1234567, "INR") == Decimal("1.234567")
    assert to_amount(5_000_000, "JPY") == Decimal("5")


@pytest.mark.parametrize(("text", "currency"), [("150000.50", "INR"), ("1,50,000.05", "INR"),
                                                ("5000", "JPY"), ("1.234", "KWD"),
                                                ("0.10", "USD")])
def test_money_parse_then_to_amount_round_trips(text: str, currency: str) -> None:
    micros = parse_amount(text, currency)

    assert to_amount(micros, currency) == Decimal(text.replace(",", ""))
    assert micros == int(Decimal(text.replace(",", "")) * MICROS)


@pytest.mark.parametrize(("sent", "millionths", "shown"), [
    ("1537.5", 1_537_500_000, "1537.5"), ("0.333333", 333_333, "0.333333"), ("12.000", 12_000_000, "12"),
    ("0", 0, "0"), ("1E+3", 1_000_000_000, "1000"), ("0.0000005", 0, "0"), ("0.0000015", 2, "0.000002")])
def test_money_conversions_round_trip_through_integer_millionths(sent: str, millionths: int,
                                                                 shown: str) -> None:
    stored = conversions_to_millionths(Decimal(sent))

    assert (stored, type(stored)) == (millionths, int)
    assert str(conversions_from_millionths(stored)) == shown  # no exponent, no trailing zeros


def test_money_conversions_sum_exactly_as_integers() -> None:
    # As floats, a hundred Google hundredths of 0.01 add up to 1.0000000000000007.
    assert sum(0.01 for _ in range(100)) != 1.0
    total = sum(conversions_to_millionths(Decimal("0.01")) for _ in range(100))

    assert conversions_from_millionths(total) == Decimal(1)
