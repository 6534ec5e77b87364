"""Budget heuristics: month-to-date pacing against the client's budget, and moving budget between campaigns.

Pacing projects the month's end as the spend so far plus the last 7 days' average daily spend for
each remaining day (the 7-day run rate smooths weekdays) and flags a projection more than
PACING_TOLERANCE off the budget, the tolerance the reports use. Early in the month the month so far
says little, so until MIN_PACING_DAYS have passed only a run rate far off the budget by itself
(RUN_RATE_ALARM) is flagged; the day after a month closed, the run rate is held against the
coming month in the same way. The suggested change of daily budgets is what lands the month on its
budget, bounded by the agency's max_budget_change_pct.

Reallocation moves budget within one ad account (one currency, one lag) from a campaign whose
cost per result (CPA; "Cost per lead" in the client's words, facts.ResultTerms) worsened (a
"worse" performance finding whose CPA test is significant) to the campaign of the account with
the lowest recent CPA that has room to grow, when that CPA is significantly lower (the conditional
count test on conversions per spend, whose late conversions cancel between two campaigns of one
account). A structural gap between campaigns that were always apart is left
alone: campaigns differ in purpose.

A budget change explains a spend shift: a campaign whose daily budget was raised (or lowered) in
the recent window, and whose average daily spend moved the same way by MIN_SPEND_SHIFT or more
against the baseline, gets a finding naming the change, so the shift is read as the decision it
was rather than as a change in delivery. Without a monthly budget of the client's own, pacing
holds the month against the campaigns' budgets (facts.MonthToDate.budget_source).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from datadrip.core.money import to_amount
from datadrip.insights.facts import BASELINE_DAYS, RECENT_DAYS, ClientFacts, EntityFacts
from datadrip.insights.findings import Evidence, Finding
from datadrip.insights.heuristics.common import (
    ALPHA,
    FULL_STAKE,
    MIN_EFFECT,
    at_minor_unit,
    confidence,
    days_text,
    delivering,
    evidence,
    impact,
    label,
    lag_factor,
    money,
    pct,
    result_figures,
    spend_share,
    whole,
)
from datadrip.insights.stats import compare_rates

# The reports' tolerance: a projected month within ±10 % of the budget is on track.
PACING_TOLERANCE = Decimal("0.10")
# From the 3rd day the month so far plus the run rate is a fair projection.
MIN_PACING_DAYS = 3
# Before that, only a 7-day run rate this far off the budget's daily share is flagged by itself.
RUN_RATE_ALARM = Decimal("0.25")
# A projection this far off (or more) is as important as pacing gets: its stake is then FULL_STAKE.
FULL_PACING_GAP = Decimal("0.50")
# Confidence in a projection grows from 0.5 on the month's first day to 1 after a week of it.
PACING_CONFIDENT_DAYS = 7
# Reallocation: both campaigns need this many recent conversions for their CPAs to be compared.
MIN_REALLOCATION_CONVERSIONS = 20
# "Room to grow" on Meta: frequency not up by more than this against its own baseline.
MAX_RECIPIENT_FREQUENCY_RISE = Decimal("1.15")
_SHOWN = ("cpa", "conversions", "spend")
# A budget change explains a move of the daily spend this large (or larger), the same way.
MIN_SPEND_SHIFT = Decimal("0.20")


def pacing_findings(facts: ClientFacts, *, max_budget_change_pct: Decimal) -> list[Finding]:
    month = facts.month
    if month is None or month.budget_micros <= 0:
        return []
    currency = facts.client.currency
    spent, elapsed, length = month.spent_micros, month.days_elapsed, month.days_in_month
    remaining = length - elapsed
    period = "this month"
    so_far = (f"{money(spent, currency)} spent {days_text(month.first, month.through)}, {remaining} "
              f"day{'' if remaining == 1 else 's'} to go")
    if remaining <= 0:
        # The month closed yesterday: nothing of it is left to steer, so the run rate is judged
        # against the coming month, as on its first days (only when it is far off by itself).
        following = month.first + dt.timedelta(days=length)
        spent, elapsed = 0, 0
        length = remaining = ((following + dt.timedelta(days=32)).replace(day=1) - following).days
        period = f"in {following:%B}"
        so_far = f"{money(month.spent_micros, currency)} spent in {month.first:%B}"
    daily = Decimal(month.last_7_days_micros) / RECENT_DAYS
    budget = Decimal(month.budget_micros)
    projected = Decimal(spent) + daily * remaining
    gap = projected / budget - 1
    run_rate_gap = daily * length / budget - 1
    if abs(gap) <= PACING_TOLERANCE:
        return []
    if elapsed < MIN_PACING_DAYS and (abs(run_rate_gap) <= RUN_RATE_ALARM or (run_rate_gap > 0) != (gap > 0)):
        return []
    over = gap > 0
    left = budget - spent
    needed = (left / remaining / daily - 1) if daily > 0 else None
    bound = abs(max_budget_change_pct)
    change = _bounded(needed, bound) if needed is not None else None
    action = _pacing_action(over, needed, change, bound, left, currency, remaining)
    projected_micros, daily_micros = at_minor_unit(projected, currency), at_minor_unit(daily, currency)
    claim = (f"At the last 7 days' rate ({money(daily_micros, currency)} a day) "
             f"{facts.client.name} would spend {money(projected_micros, currency)} {period}, "
             f"{pct(float(gap))} {'over' if over else 'under'} "
             f"{'its' if month.budget_source == 'client' else 'its campaigns' + chr(39)} budget of "
             f"{money(month.budget_micros, currency)} ({so_far})")
    certainty = min(1.0, 0.5 + 0.5 * elapsed / PACING_CONFIDENT_DAYS)
    stake = float(min(abs(gap) / FULL_PACING_GAP, Decimal(1))) * FULL_STAKE
    return [Finding(
        type="budget", rule="budget.pacing", entity_ref=None, entity_name=None,
        direction="over" if over else "under", claim=claim, action=action,
        impact_score=impact(stake, certainty), since=month.first, until=month.through,
        evidence=[Evidence(None, "spent", "month", to_amount(spent, currency)),
                  Evidence(None, "budget", "month", to_amount(month.budget_micros, currency)),
                  Evidence(None, "projected", "month", to_amount(projected_micros, currency)),
                  Evidence(None, "daily_run_rate", "month", to_amount(daily_micros, currency))],
        figures={"projected_gap_pct": _percent(gap), "run_rate_gap_pct": _percent(run_rate_gap),
                 "days_elapsed": elapsed, "days_remaining": remaining,
                 "needed_change_pct": None if needed is None else _percent(needed)},
        budget_change_pct=change)]


def budget_change_findings(facts: ClientFacts) -> list[Finding]:
    """Campaigns whose daily budget changed in the recent window and whose spend followed."""
    found = []
    for change in facts.budget_changes:
        entity = facts.entities.get(change.ref)
        if entity is None or change.field != "daily_budget_micros" or change.old_value is None \
                or change.new_value is None or not \
                facts.recent.since <= change.changed_on <= facts.recent.until:
            continue
        old, new = int(change.old_value), int(change.new_value)
        before = Decimal(entity.baseline.spend_micros) / BASELINE_DAYS
        after = Decimal(entity.recent.spend_micros) / RECENT_DAYS
        if old <= 0 or new == old or before <= 0:
            continue
        shift = after / before - 1
        if abs(shift) < MIN_SPEND_SHIFT or (shift > 0) != (new > old):
            continue
        currency = entity.currency
        raised = new > old
        claim = (f"{label(entity)}'s daily budget was {'raised' if raised else 'lowered'} from "
                 f"{money(old, currency)} to {money(new, currency)} on "
                 f"{days_text(change.changed_on, change.changed_on)}, and its spend "
                 f"{'rose' if raised else 'fell'} {pct(float(shift))}: "
                 f"{money(at_minor_unit(after, currency), currency)} a day over "
                 f"{days_text(facts.recent.since, facts.recent.until)} against "
                 f"{money(at_minor_unit(before, currency), currency)} a day before")
        action = (f"Read {entity.name}'s spend {'rise' if raised else 'fall'} as the budget change; "
                  f"judge its {entity.result.cost} over the days since the change before "
                  "changing it again.")
        stake = spend_share(facts, entity) * float(min(abs(shift), Decimal(1)))
        found.append(Finding(
            type="budget", rule="budget.change", entity_ref=entity.ref, entity_name=entity.name,
            direction="increase" if raised else "decrease", claim=claim, action=action,
            impact_score=impact(stake, 1.0), since=facts.recent.since, until=facts.recent.until,
            evidence=evidence(entity, ("spend",)),
            figures={"field": change.field, "changed_on": change.changed_on.isoformat(),
                     "old_budget": to_amount(old, currency), "new_budget": to_amount(new, currency),
                     "spend_shift_pct": _percent(shift)}))
    return found


def _percent(fraction: Decimal) -> Decimal:
    return (fraction * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _bounded(fraction: Decimal, bound: Decimal) -> Decimal:
    """A change as a whole percentage, within ±bound."""
    percent = (fraction * 100).quantize(Decimal(1), ROUND_HALF_UP)
    return max(-bound, min(bound, percent))


def _pacing_action(over: bool, needed: Decimal | None, change: Decimal | None, bound: Decimal,
                   left: Decimal, currency: str, remaining: int) -> str:
    if over and left <= 0:
        return (f"The month's budget is already spent: pause or cut campaigns for the remaining "
                f"{remaining} days, or agree a higher budget with the client.")
    if needed is None or change is None:
        return "Nothing was spent in the last 7 days: check that the campaigns are running."
    verb = "Lower" if over else "Raise"
    step = f"{verb} the daily budgets by {abs(change)}%"
    target = f"about {money(int(left / remaining), currency)} a day"
    if abs(needed * 100) > bound:
        return (f"{step}, the most one step allows; landing on budget needs {pct(float(needed))} "
                f"({target}), so review again in a few days.")
    return f"{step} ({target}) to land on the month's budget."


def reallocation_findings(facts: ClientFacts, performance: list[Finding], *,
                          max_budget_change_pct: Decimal) -> list[Finding]:
    worsened = {finding.entity_ref for finding in performance
                if finding.direction == "worse" and "cpa" in finding.figures}
    found = []
    for donor in facts.at_level("campaign"):
        if donor.ref not in worsened:
            continue
        recipient = _recipient(facts, donor)
        if recipient is not None:
            found.append(_reallocation(facts, donor, recipient, max_budget_change_pct))
    return found


def _recipient(facts: ClientFacts, donor: EntityFacts) -> EntityFacts | None:
    """The account's campaign with the significantly lowest recent CPA and room to grow."""
    best: tuple[float, EntityFacts] | None = None
    donor_conversions = whole(donor.recent.conversions)
    if donor_conversions < MIN_REALLOCATION_CONVERSIONS or donor.recent.spend_micros <= 0:
        return None
    for other in facts.at_level("campaign"):
        if other.account_id != donor.account_id or other.ref == donor.ref or not _room(facts, other):
            continue
        conversions = whole(other.recent.conversions)
        if conversions < MIN_REALLOCATION_CONVERSIONS:
            continue
        test = compare_rates(conversions, donor_conversions, other.recent.spend_micros,
                             donor.recent.spend_micros)
        if test.ratio >= MIN_EFFECT and test.p_value < ALPHA and (best is None or test.p_value < best[0]):
            best = (test.p_value, other)
    return None if best is None else best[1]


def _room(facts: ClientFacts, entity: EntityFacts) -> bool:
    """Delivered every recent day, CPA not worse than its own baseline (late conversions allowed
    for), and on Meta a frequency that is not climbing."""
    recent, baseline = entity.recent, entity.baseline
    if not delivering(entity, facts) or recent.days < RECENT_DAYS or not baseline.spend_micros:
        return False
    if recent.daily_frequency is not None and baseline.daily_frequency is not None \
            and recent.daily_frequency > baseline.daily_frequency * MAX_RECIPIENT_FREQUENCY_RISE:
        return False
    factor = lag_factor(facts, entity, "conversions", "spend") or 1.0
    rate = float(recent.conversions) / recent.spend_micros
    expected = float(baseline.conversions) / baseline.spend_micros * factor
    return rate * MIN_EFFECT >= expected  # not significantly worse: within the minimum effect


def _reallocation(facts: ClientFacts, donor: EntityFacts, recipient: EntityFacts,
                  max_budget_change_pct: Decimal) -> Finding:
    currency = donor.currency
    assert donor.recent.cpa_micros is not None and recipient.recent.cpa_micros is not None
    bound = abs(max_budget_change_pct)
    daily = Decimal(donor.recent.spend_micros) / RECENT_DAYS
    shift = at_minor_unit(daily * bound / 100, currency)
    test = compare_rates(whole(recipient.recent.conversions), whole(donor.recent.conversions),
                         recipient.recent.spend_micros, donor.recent.spend_micros)
    gap = donor.recent.cpa_micros / recipient.recent.cpa_micros - 1
    cost = donor.result.cost
    claim = (f"{label(donor)}'s {cost} of {money(donor.recent.cpa_micros, currency)} over "
             f"{days_text(facts.recent.since, facts.recent.until)} is {pct(gap)} above "
             f"{recipient.name}'s {money(recipient.recent.cpa_micros, currency)} in the same account")
    action = (f"Move {bound}% of {donor.name}'s daily spend (about {money(shift, currency)} a day) to "
              f"{recipient.name}, which delivered every day at a steady {cost}.")
    stake = spend_share(facts, donor) * float(bound) / 100 * min(1.0, gap)
    return Finding(
        type="budget", rule="budget.reallocation", entity_ref=donor.ref, entity_name=donor.name,
        direction="shift", claim=claim, action=action,
        impact_score=impact(stake, confidence(test.p_value)),
        since=facts.recent.since, until=facts.recent.until,
        evidence=[*evidence(donor, _SHOWN), *evidence(recipient, _SHOWN)],
        figures={"recipient_ref": recipient.ref, "p_value": float(f"{test.p_value:.3g}"),
                 "result": result_figures(donor),
                 "cpa_ratio": round(gap + 1, 3), "daily_shift": to_amount(shift, currency)},
        budget_change_pct=-bound)
