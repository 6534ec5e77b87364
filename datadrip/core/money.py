"""Money is integer micros of a currency; amounts shown to people are exact Decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from datadrip.core.errors import UsageError

MICROS = 1_000_000


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit (INR 2, JPY 0, KWD 3)."""
    from babel.numbers import get_currency_precision

    return int(get_currency_precision(currency))


def parse_amount(text: str, currency: str, *, what: str = "amount") -> int:
    """'1,50,000.50' in INR → micros. Rejects negatives and more decimals than the currency has."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise UsageError(f"{what} {text!r} is not a number",
                         hint="Write it in currency units, for example 150000 or 1500.50.") from None
    if not value.is_finite():
        raise UsageError(f"{what} {text!r} is not a number")
    if value < 0:
        raise UsageError(f"{what} cannot be negative: {text}")
    places = minor_units(currency)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise UsageError(f"{what} {text} has more decimals than {currency} allows ({places})")
    micros = value * MICROS
    if micros > 2**63 - 1:
        raise UsageError(f"{what} {text} is too large")
    return int(micros)


def to_amount(micros: int, currency: str) -> Decimal:
    """Micros → currency units, with at least the currency's minor digits and never float noise."""
    value = Decimal(micros).scaleb(-6)
    places = Decimal(1).scaleb(-minor_units(currency))
    quantized = value.quantize(places)
    return quantized if quantized == value else value.normalize()


def show_money(amount: Decimal, currency: str, locale: str) -> str:
    """An amount as people of `locale` write it: ₹1,23,456.78 in en_IN, 1.234,56 € in de_DE."""
    from babel.numbers import format_currency

    return str(format_currency(amount, currency, locale=locale))


# Conversions are integer millionths, as money is micros: platforms attribute parts of a
# conversion (Google's data-driven model, Meta's modelled conversions), in at most six decimals.
MILLIONTHS = 1_000_000


def conversions_to_millionths(count: Decimal) -> int:
    """A platform's exact conversion count (a Decimal parsed from its string) → integer millionths.

    A count with more than six decimals is rounded half to even to the nearest millionth."""
    return int((count * MILLIONTHS).to_integral_value(ROUND_HALF_EVEN))


def conversions_from_millionths(millionths: int) -> Decimal:
    """Integer millionths (a row or a SQL SUM) → the conversions people see: exact, without
    trailing zeros ('1537.5', '0.333333', '12'). The one place where a count of conversions
    becomes a shown number (dashboards, metrics, reports, exports, insights, --json).

    Rates are computed from the integers, never from a rounded count: CPA is spend_micros /
    conversions_millionths (micros per millionth is currency units per conversion), an exact
    Decimal quotient rounded half up to the currency's minor unit; the conversion rate is
    100 × conversions_millionths / (clicks × 1,000,000), rounded half up to 0.01 %; ROAS and CTR
    involve no conversions. No rate is ever taken from a float or an integer division."""
    value = Decimal(millionths).scaleb(-6)
    whole = value.to_integral_value()
    return whole.quantize(Decimal(1)) if value == whole else value.normalize()
