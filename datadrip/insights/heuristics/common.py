"""What the heuristic rules share: eligibility, the late-conversion factor, evidence, wording, impact.

Impact score (0–100) = 100 × confidence × min(1, stake / FULL_STAKE), at least 1, where
  stake = the entity's share of the client's recent spend in that currency × the relative effect
          (capped at 1): the part of the client's daily money the finding is about;
  confidence = 0.5 at p = 0.01, rising by 1/8 per decade of p, 1.0 from p = 10⁻⁶.
Budget pacing uses stake = FULL_STAKE × min(1, |projected − budget| / budget / 0.5) and a
confidence from 0.5 to 1 over the month's first week; a reallocation's stake is the moved share of
the donor's spend times the CPA gap (see heuristics_budget).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from datadrip.analytics.totals import Totals
from datadrip.core.money import minor_units, to_amount
from datadrip.insights.facts import BASELINE, RECENT, ClientFacts, EntityFacts, shown_figures
from datadrip.insights.findings import Evidence
from datadrip.platforms import registry

# Family-wise significance per entity: a p-value must be below ALPHA / (families of tests run on
# the entity), a Bonferroni correction. CPA, CVR and ROAS all test the same conversion count, so
# they are one family; CTR (clicks) is another. 5 % with the MIN_EFFECT gate keeps the stable
# sandbox accounts free of findings over many days and seeds, while a CPA rising by half on ~50
# conversions (p ≈ 0.01) is still caught; real data are noisier than Poisson counts, which the
# effect-size gate, not the p-value, guards against.
ALPHA = 0.05
# A statistically clear change smaller than this is not worth a person's attention: a rate must
# move by at least a factor 1.25 either way (CPA +25 %, or conversions per spend −20 %).
MIN_EFFECT = 1.25
# "Delivering": at least 5 of the 7 recent days with a row, and a row on one of the last two days.
# An entity that stopped delivering is a delivery question, not a performance one.
MIN_RECENT_DAYS = 5
MAX_SILENT_DAYS = 1
# Late conversions: when no other campaign of the account has the volume to measure them, assume
# the recent window holds as little as 55 % of its final conversions (a day 0–6 days old shows
# 55–80 % of them on the platforms' 28–30-day attribution windows). Used only for "worse" tests.
LAG_FLOOR = 0.55
# The control (the account's other campaigns) needs this many conversions in each window for its
# recent/baseline ratio to be a usable estimate of the lag: with fewer, a few conversions more or
# less (or whole-number rounding of small daily counts) move the estimate by a third.
CONTROL_MIN_RECENT = 30
CONTROL_MIN_BASELINE = 100
# A quarter of the client's recent daily spend at stake is as important as a finding gets.
FULL_STAKE = 0.25


def delivering(entity: EntityFacts, facts: ClientFacts) -> bool:
    """Running, and delivered on most recent days including one of the last two."""
    return (not entity.stopped and entity.recent.days >= MIN_RECENT_DAYS
            and entity.last_day is not None
            and (facts.recent.until - entity.last_day).days <= MAX_SILENT_DAYS)


def whole(count: Decimal | int) -> int:
    """Fractional (Google, data-driven) conversions rounded for the count tests."""
    return int(Decimal(count).quantize(Decimal(1), ROUND_HALF_UP))


def lag_factor(facts: ClientFacts, entity: EntityFacts, count: str, exposure: str) -> float | None:
    """The recent/baseline ratio of `count` per `exposure` over the account's other running
    campaigns: how much of the recent window's conversions have arrived yet. None without a
    control of enough volume. Capped at 1 (late conversions only ever lower the recent rate)."""
    controls = [other for other in facts.at_level("campaign")
                if other.account_id == entity.account_id and other.ref != entity.ref
                and delivering(other, facts)]
    recent_count = sum(_part(other.recent, count) for other in controls)
    baseline_count = sum(_part(other.baseline, count) for other in controls)
    recent_exposure = sum(_part(other.recent, exposure) for other in controls)
    baseline_exposure = sum(_part(other.baseline, exposure) for other in controls)
    if (recent_count < CONTROL_MIN_RECENT or baseline_count < CONTROL_MIN_BASELINE
            or not recent_exposure or not baseline_exposure):
        return None
    ratio = (recent_count / recent_exposure) / (baseline_count / baseline_exposure)
    return min(1.0, max(LAG_FLOOR, ratio))


def _part(sums: Totals, name: str) -> float:
    if name == "conversions":
        return float(sums.conversions)
    if name == "value":
        return float(sums.conversion_value_micros)
    if name == "spend":
        return float(sums.spend_micros)
    return float(getattr(sums, name))


def evidence(entity: EntityFacts, metrics: Iterable[str]) -> list[Evidence]:
    """The entity's figures for `metrics` in both windows, exactly as facts.shown_figures gives them."""
    windows = ((RECENT, shown_figures(entity.recent, entity.currency)),
               (BASELINE, shown_figures(entity.baseline, entity.currency)))
    found = []
    for metric in dict.fromkeys(metrics):
        for name, values in windows:
            value = values.get(metric)
            if value is not None:
                found.append(Evidence(entity.ref, metric, name, value))
    return found


def result_figures(entity: EntityFacts) -> dict[str, Any]:
    """The result a finding's conversions count ("lead", "Leads", "Cost per lead"), and the
    days of its account left out of the windows for want of actions, if any."""
    found: dict[str, Any] = entity.result.record()
    if entity.days_left_out:
        found["days_left_out"] = entity.days_left_out
    return found


def spend_share(facts: ClientFacts, entity: EntityFacts) -> float:
    """The entity's part of the recent spend of the client's campaigns in its currency."""
    total = sum(other.recent.spend_micros for other in facts.at_level("campaign")
                if other.currency == entity.currency)
    return entity.recent.spend_micros / total if total else 0.0


def confidence(p_value: float) -> float:
    decades = -math.log10(max(p_value, 1e-300))
    return min(1.0, max(0.5, 0.5 + (decades - 2.0) / 8.0))


def impact(stake: float, certainty: float) -> int:
    return max(1, round(100 * certainty * min(1.0, stake / FULL_STAKE)))


def at_minor_unit(micros: int | Decimal, currency: str) -> int:
    """Micros rounded (half up) to a whole minor unit of the currency: paise, cents, yen."""
    step: int = 10 ** (6 - minor_units(currency))
    return int((Decimal(micros) / step).to_integral_value(ROUND_HALF_UP)) * step


def money(micros: int | Decimal, currency: str) -> str:
    """'INR 674.62': the currency code and the amount at its minor unit."""
    return f"{currency} {to_amount(at_minor_unit(micros, currency), currency):,}"


def pct(fraction: float) -> str:
    """A relative change as a whole percentage without sign: 0.853 → '85%'."""
    return f"{abs(fraction) * 100:.0f}%"


def days_text(since: dt.date, until: dt.date) -> str:
    """'26 Nov–2 Dec', or '1 Dec' for a single day."""
    if since == until:
        return f"{since.day} {since:%b}"
    return f"{since.day} {since:%b}–{until.day} {until:%b}"


def label(entity: EntityFacts) -> str:
    """'Diwali Sale (Meta)': the name, and the platform's label."""
    return f"{entity.name} ({registry.label(entity.platform)})"
