"""Exchange rates the user keeps in the workbook, and converting micros with them.

A rate says one unit of `base` is worth `rate` units of `quote`, from a day on (or always, when
undated). Converting an amount on a day uses the newest rate of the pair dated on or before that
day, else the undated one; a pair kept only the other way round is used inverted. Rates are exact
decimals, and a converted amount is rounded to the micro (half to even) once, per amount."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from datadrip.core import validate
from datadrip.core.errors import DataDripError, UsageError
from datadrip.core.periods import parse_day
from datadrip.db.models import FxRate
from datadrip.workbook import audit

# A rate is kept within these bounds, with at most this many significant digits: enough for any
# pair of real currencies (1 USD is about 1,000,000 IRR on the open market, 1 IRR 0.000001 USD),
# and small enough that every amount converted with it stays exact to the micro (a sum of micros
# times the rate never overflows the 28 digits of a Decimal).
MIN_RATE = Decimal("0.0000001")
MAX_RATE = Decimal("10000000")
MAX_SIGNIFICANT_DIGITS = 15
RANGE_HINT = (f"A rate is units of TO per unit of FROM, between {MIN_RATE:f} and {MAX_RATE:,f} "
              f"with at most {MAX_SIGNIFICANT_DIGITS} significant digits, e.g. 83.10.")


class MissingRateError(DataDripError):
    """A blend needs a rate the workbook does not hold."""


def parse_rate(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise UsageError(f"rate {text!r} is not a number", hint="Write it like 83.10.") from None
    if not value.is_finite() or value <= 0:
        raise UsageError(f"rate {text!r} must be a positive number", hint=RANGE_HINT)
    problem = rate_problem(value)
    if problem:
        raise UsageError(f"rate {text!r} {problem}", hint=RANGE_HINT)
    return Decimal(format(value, "f"))  # 1e3 is kept, shown and audited as 1000


def rate_problem(value: Decimal) -> str | None:
    """Why a positive rate cannot be kept (out of range, too many digits), or None."""
    if not MIN_RATE <= value <= MAX_RATE:
        return f"is out of range ({MIN_RATE:f} to {MAX_RATE:,f})"
    if len(value.normalize().as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
        return f"has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
    return None


def _pair(base: str, quote: str) -> tuple[str, str]:
    base, quote = validate.currency(base), validate.currency(quote)
    if base == quote:
        raise UsageError(f"a rate needs two different currencies, not {base} and {quote}")
    return base, quote


@dataclass(frozen=True)
class RateInput:
    base: str
    quote: str
    rate: Decimal
    valid_from: dt.date | None


def rate_input(base: str, quote: str, rate: str, valid_from: str | dt.date | None) -> RateInput:
    base, quote = _pair(base, quote)
    day = parse_day(valid_from, "date") if isinstance(valid_from, str) else valid_from
    return RateInput(base, quote, parse_rate(rate), day)


def set_rates(session: Session, actor: str, rates: Sequence[RateInput], *, source: str) -> int:
    """Add or replace each rate (a pair and day, or a pair undated); audited as one change."""
    for given in rates:
        existing = session.exec(select(FxRate).where(
            FxRate.base == given.base, FxRate.quote == given.quote,
            col(FxRate.valid_from).is_(None) if given.valid_from is None
            else FxRate.valid_from == given.valid_from)).first()
        if existing is None:
            existing = FxRate(base=given.base, quote=given.quote, rate="",
                              valid_from=given.valid_from)
        existing.rate = format(given.rate, "f")
        session.add(existing)
    session.flush()
    details: dict[str, Any] = {"source": source, "count": len(rates)}
    if len(rates) == 1:
        details.update(pair=f"{rates[0].base}/{rates[0].quote}", rate=format(rates[0].rate, "f"),
                       valid_from=rates[0].valid_from.isoformat() if rates[0].valid_from else None)
    audit.record(session, actor, "fx.set", "fx_rate", f"{rates[0].base}/{rates[0].quote}"
                 if len(rates) == 1 else "*", **details)
    return len(rates)


CSV_COLUMNS = ("base", "quote", "rate", "date")


def read_rates_csv(path: Path) -> list[RateInput]:
    """Every row of a CSV with the columns base, quote, rate and optionally date; all or nothing."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in CSV_COLUMNS[:3] if name not in header]
    if missing:
        raise UsageError(f"{path} has no column {', '.join(missing)}",
                         hint="The first line names the columns: base,quote,rate[,date].")
    reader.fieldnames = header
    rates, seen = [], set()
    for line, row in enumerate(reader, start=2):
        if not any((value or "").strip() for value in row.values()):
            continue
        try:
            given = rate_input(row.get("base") or "", row.get("quote") or "", row.get("rate") or "",
                               (row.get("date") or "").strip() or None)
        except UsageError as exc:
            raise UsageError(f"{path} line {line}: {exc}", hint=exc.hint) from None
        key = (given.base, given.quote, given.valid_from)
        if key in seen:
            raise UsageError(f"{path} line {line}: {given.base}/{given.quote} "
                             f"{given.valid_from or '(undated)'} appears twice")
        seen.add(key)
        rates.append(given)
    if not rates:
        raise UsageError(f"{path} holds no rates")
    return rates


def list_rates(session: Session) -> list[FxRate]:
    return list(session.exec(select(FxRate).order_by(
        col(FxRate.base), col(FxRate.quote), col(FxRate.valid_from))).all())


def rate_record(rate: FxRate) -> dict[str, Any]:
    return {"base": rate.base, "quote": rate.quote, "rate": Decimal(rate.rate),
            "valid_from": rate.valid_from}


class RateBook:
    """The workbook's rates, ready to convert amounts into one currency."""

    def __init__(self, rates: Iterable[FxRate]) -> None:
        # (from, to) → [(valid_from or None, rate)], dated ones newest first
        self._pairs: dict[tuple[str, str], list[tuple[dt.date | None, Decimal]]] = {}
        for rate in rates:
            try:
                value = Decimal(rate.rate)
            except InvalidOperation:
                value = Decimal("NaN")  # refused by _check_kept if a conversion needs it
            self._pairs.setdefault((rate.base, rate.quote), []).append((rate.valid_from, value))
        for entries in self._pairs.values():
            entries.sort(key=lambda entry: entry[0] or dt.date.min, reverse=True)

    @classmethod
    def load(cls, session: Session) -> RateBook:
        return cls(list_rates(session))

    def rate(self, source: str, target: str, day: dt.date | None) -> Decimal:
        """Units of `target` per unit of `source` on `day` (None: the undated or newest rate)."""
        if source == target:
            return Decimal(1)
        direct = self._find((source, target), day)
        if direct is not None:
            return direct
        inverse = self._find((target, source), day)
        if inverse is not None:
            with localcontext() as context:
                context.prec = 34
                return Decimal(1) / inverse
        when = f" on {day}" if day is not None else ""
        raise MissingRateError(
            f"no exchange rate from {source} to {target}{when}: amounts in {source} cannot be "
            f"added to amounts in {target}",
            hint=f"Add one: datadrip fx set {source} {target} RATE [--date YYYY-MM-DD].")

    def _find(self, pair: tuple[str, str], day: dt.date | None) -> Decimal | None:
        for valid_from, value in self._pairs.get(pair, ()):
            if valid_from is None or day is None or valid_from <= day:
                _check_kept(pair, valid_from, value)
                return value
        return None

    def convert(self, micros: int, source: str, target: str, day: dt.date | None) -> int:
        if source == target or micros == 0:
            return micros
        exact = Decimal(micros) * self.rate(source, target, day)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _check_kept(pair: tuple[str, str], valid_from: dt.date | None, value: Decimal) -> None:
    """A rate kept before rates were checked (or written by hand) is refused where it is used,
    naming the command that replaces it, instead of converting with it."""
    problem = "is not a positive number" if not value.is_finite() or value <= 0 \
        else rate_problem(value)
    if problem:
        base, quote = pair
        when = f" --date {valid_from}" if valid_from else ""
        raise UsageError(f"the kept rate {base}/{quote}{f' from {valid_from}' if valid_from else ''}"
                         f" ({value}) {problem}",
                         hint=f"Replace it: datadrip fx set {base} {quote} RATE{when}. {RANGE_HINT}")
