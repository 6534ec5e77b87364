"""The local heuristic insight engine: findings from a client's facts, with no network and no model.

`heuristic_findings` runs every rule over a `ClientFacts` and returns the findings, most important
first. The rules:
- performance (here): a campaign's cost per result (rule "cpa"), ROAS, CTR or results per click
  ("cvr") against its own 28-day baseline, the result being the client's first key result named
  in the client's words (facts.ResultTerms: "Cost per lead"), flagged only when a count test
  (stats.compare_rates) says the change is unlikely to be noise, the counts have a minimum
  volume and the change is at least MIN_EFFECT. Conversion-based metrics allow for late
  conversions: the account's other campaigns over the same windows estimate the share of the
  recent window's conversions that has arrived (the lag factor, common to all campaigns of an
  account), and the recent expectation is scaled by it; without such a control a
  "worse" change is judged against the conservative LAG_FLOOR. A "better" change is judged with
  no lag allowance at all, so it never rests on conversions that have not arrived yet.
- budget (heuristics_budget): month-to-date pacing against the client's budget (or its
  campaigns' own budgets); moving budget from a campaign whose CPA worsened to one with a
  significantly lower CPA and room to grow; a budget change that explains a spend shift.
- creative and audience (heuristics_audience): ad fatigue (CTR down while frequency climbs),
  saturation of Meta ad sets and campaigns, sudden drops in delivery.
The impact score's formula is in heuristics_common.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from datadrip.analytics.totals import Totals
from datadrip.insights.facts import ClientFacts, EntityFacts, shown_figures
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.audience import audience_findings, creative_findings
from datadrip.insights.heuristics.budget import (
    budget_change_findings,
    pacing_findings,
    reallocation_findings,
)
from datadrip.insights.heuristics.common import (
    ALPHA,
    LAG_FLOOR,
    MIN_EFFECT,
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
from datadrip.insights.stats import RateTest, compare_rates

# Minimum volumes. Conversion metrics: 20 baseline conversions (a baseline rate known to ±25 %) and
# 10 expected recent ones (below that even halving is within noise of a few conversions).
MIN_BASELINE_CONVERSIONS = 20
MIN_EXPECTED_CONVERSIONS = 10.0
# CTR: 1,000 impressions in each window and 100 baseline clicks.
MIN_IMPRESSIONS = 1_000
MIN_BASELINE_CLICKS = 100
MIN_EXPECTED_CLICKS = 10.0


@dataclass(frozen=True)
class _Metric:
    name: str  # as in facts.shown_figures
    count: str  # what is counted: clicks, conversions, value (in baseline order-value units)
    exposure: str  # what it is counted per: impressions, clicks, spend
    lagged: bool  # conversion-based: late conversions lower the recent count
    supporting: tuple[str, ...]  # the evidence shown beside it


_METRICS = (
    _Metric("cpa", "conversions", "spend", True, ("cpa", "conversions", "spend")),
    _Metric("roas", "value", "spend", True, ("roas", "spend", "conversions")),
    _Metric("cvr", "conversions", "clicks", True, ("cvr", "conversions", "clicks")),
    _Metric("ctr", "clicks", "impressions", False, ("ctr", "clicks", "impressions")),
)


@dataclass(frozen=True)
class _Change:
    metric: _Metric
    test: RateTest
    factor: float  # the lag factor the expectation was scaled by (1.0: none)
    controlled: bool  # the factor came from the account's other campaigns

    @property
    def worse(self) -> bool:
        return self.test.ratio < 1.0


def heuristic_findings(facts: ClientFacts, *, max_budget_change_pct: Decimal) -> list[Finding]:
    """Every rule's findings for one client, the most important first."""
    if facts.as_of is None:
        return []
    performance = performance_findings(facts)
    creative = creative_findings(facts)
    found = [*performance, *creative, *audience_findings(facts, creative),
             *pacing_findings(facts, max_budget_change_pct=max_budget_change_pct),
             *reallocation_findings(facts, performance, max_budget_change_pct=max_budget_change_pct),
             *budget_change_findings(facts)]
    return sorted(found, key=lambda finding: (-finding.impact_score, finding.rule, finding.entity_ref or ""))


def performance_findings(facts: ClientFacts) -> list[Finding]:
    """At most one finding per running campaign: its most significant change."""
    found = []
    for entity in facts.at_level("campaign"):
        if not delivering(entity, facts):
            continue
        changes = [change for metric in _METRICS if (change := _change(facts, entity, metric))]
        if not changes:
            continue
        threshold = ALPHA / len({change.metric.count != "clicks" for change in changes})
        significant = sorted((change for change in changes if change.test.p_value < threshold
                              and _large(change.test.ratio)), key=lambda change: change.test.p_value)
        if significant:
            # CPA speaks for its family (CVR, ROAS test the same conversions) when it is significant.
            cpa = [change for change in significant if change.metric.name == "cpa"]
            if cpa and significant[0].metric.count != "clicks":
                significant.remove(cpa[0])
                significant.insert(0, cpa[0])
            found.append(_finding(facts, entity, significant))
    return found


def _large(ratio: float) -> bool:
    return ratio <= 1 / MIN_EFFECT or ratio >= MIN_EFFECT


def _change(facts: ClientFacts, entity: EntityFacts, metric: _Metric) -> _Change | None:
    """The metric's test, or None below the minimum volumes."""
    recent, baseline = entity.recent, entity.baseline
    counts = _counts(metric, recent, baseline)
    if counts is None:
        return None
    recent_count, baseline_count = counts
    recent_exposure, baseline_exposure = _exposure(recent, metric), _exposure(baseline, metric)
    if recent_exposure <= 0 or baseline_exposure <= 0:
        return None
    if not metric.lagged:
        if min(recent.impressions, baseline.impressions) < MIN_IMPRESSIONS:
            return None
        test = compare_rates(recent_count, baseline_count, recent_exposure, baseline_exposure)
        return _Change(metric, test, 1.0, False) if test.expected >= MIN_EXPECTED_CLICKS else None
    control = lag_factor(facts, entity, "conversions" if metric.count != "value" else "value",
                         metric.exposure)
    # A fall is judged against the lag (the control's, else its floor); a rise against no lag at
    # all, so a "better" finding never rests on conversions that have not arrived. A recent count
    # between those two expectations is no change either way.
    for falls, factor in ((True, LAG_FLOOR if control is None else control), (False, 1.0)):
        test = compare_rates(recent_count, baseline_count, recent_exposure, baseline_exposure, factor)
        if test.expected < MIN_EXPECTED_CONVERSIONS:
            return None
        change = _Change(metric, test, factor, falls and control is not None)
        if change.worse == falls:
            return change
    return None


def _counts(metric: _Metric, recent: Totals, baseline: Totals) -> tuple[int, int] | None:
    if metric.count == "clicks":
        return (recent.clicks, baseline.clicks) if baseline.clicks >= MIN_BASELINE_CLICKS else None
    conversions = whole(baseline.conversions)
    if conversions < MIN_BASELINE_CONVERSIONS:
        return None
    if metric.count == "conversions":
        return whole(recent.conversions), conversions
    if baseline.conversion_value_micros <= 0:
        return None
    # Value in units of the baseline's average order value: a count with the conversions' noise.
    order_value = Decimal(baseline.conversion_value_micros) / baseline.conversions
    return whole(Decimal(recent.conversion_value_micros) / order_value), conversions


def _exposure(sums: Totals, metric: _Metric) -> float:
    return float({"spend": sums.spend_micros, "clicks": sums.clicks,
                  "impressions": sums.impressions}[metric.exposure])


def _finding(facts: ClientFacts, entity: EntityFacts, changes: list[_Change]) -> Finding:
    head = changes[0]
    effect = abs(head.test.ratio - 1.0)
    supporting = [name for change in changes for name in change.metric.supporting]
    figures: dict[str, Any] = {"headline": head.metric.name, "tests": len(changes),
                               "result": result_figures(entity)}
    for change in changes:
        figures[change.metric.name] = {
            "p_value": float(f"{change.test.p_value:.3g}"), "observed": change.test.observed,
            "expected": round(change.test.expected, 1), "ratio": round(change.test.ratio, 3),
            "lag_factor": round(change.factor, 3), "lag_from_control": change.controlled}
    return Finding(
        type="performance", rule=f"performance.{head.metric.name}", entity_ref=entity.ref,
        entity_name=entity.name, direction="worse" if head.worse else "better",
        claim=_claim(facts, entity, head), action=_action(entity, head),
        impact_score=impact(spend_share(facts, entity) * min(1.0, effect), confidence(head.test.p_value)),
        since=facts.recent.since, until=facts.recent.until,
        evidence=evidence(entity, supporting), figures=figures)


def _claim(facts: ClientFacts, entity: EntityFacts, change: _Change) -> str:
    """What happened, in the client's words for its result ("Cost per lead rose 42% …")."""
    name, recent, baseline, terms = change.metric.name, entity.recent, entity.baseline, entity.result
    window = f"over {days_text(facts.recent.since, facts.recent.until)}"
    before = f"in the {facts.baseline.days} days before"
    lag = ""
    # With none at all in the recent window there is no rate to allow late ones for.
    if change.metric.lagged and change.factor < 1.0 and change.test.ratio > 0:
        rate_change = 1 / change.test.ratio - 1 if name == "cpa" else change.test.ratio - 1
        lag = (f" ({pct(rate_change)} {_word(name, rate_change > 0)} once late {terms.counted} are "
               "allowed for)")
    if name == "cpa":
        if recent.cpa_micros is None or baseline.cpa_micros is None:
            spent, was = (money(sums.spend_micros, entity.currency) for sums in (recent, baseline))
            return (f"{label(entity)}: no {terms.counted} {window} for {spent} spent, against "
                    f"{baseline.conversions} for {was} {before}")
        rise = recent.cpa_micros / baseline.cpa_micros - 1
        return (f"{label(entity)}: {terms.cost_label} {'rose' if rise > 0 else 'fell'} {pct(rise)} to "
                f"{money(recent.cpa_micros, entity.currency)} {window}, against "
                f"{money(baseline.cpa_micros, entity.currency)} {before}{lag}")
    shown = {"roas": ("ROAS", recent.roas, baseline.roas, ""), "ctr": ("CTR", recent.ctr, baseline.ctr, "%"),
             "cvr": (f"{terms.counted} per click", recent.cvr, baseline.cvr, "%")}[name]
    title, now, then, unit = shown
    values = shown_figures(entity.recent, entity.currency), shown_figures(entity.baseline, entity.currency)
    move = (now or Decimal(0)) / then - 1 if then else Decimal(0)
    return (f"{label(entity)}: {title} {'rose' if move > 0 else 'fell'} {pct(float(move))} to "
            f"{values[0][name]}{unit} {window}, against {values[1][name]}{unit} {before}{lag}")


def _word(metric: str, up: bool) -> str:
    if metric == "cpa":
        return "higher" if up else "lower"
    return "above" if up else "below"


def _action(entity: EntityFacts, change: _Change) -> str:
    name, terms = entity.name, entity.result
    worse = {
        "cpa": f"Check what changed in {name} (bids, targeting, landing page, tracking of its "
               f"{terms.counted}) and lower its daily budget until its {terms.cost} recovers.",
        "roas": f"Check order values and the products behind {name}'s sales; lower its budget while its "
                "ROAS stays down.",
        "cvr": f"Check {name}'s landing page and forms: clicks still arrive but fewer of them become "
               f"{terms.counted}.",
        "ctr": f"Refresh {name}'s creatives or targeting: fewer of the people reached click.",
    }
    better = {
        "cpa": f"Raise {name}'s daily budget step by step while its {terms.cost} holds, within the "
               "month's budget.",
        "roas": f"Give {name} more budget step by step while its ROAS holds, within the month's budget.",
        "cvr": f"Find what lifted {name}'s {terms.counted} per click (page, offer, audience) and apply "
               "it to other campaigns.",
        "ctr": f"Find which of {name}'s ads lift its CTR and give them a larger share of its budget.",
    }
    return (worse if change.worse else better)[change.metric.name]
