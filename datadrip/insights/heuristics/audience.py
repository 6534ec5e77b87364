"""Creative and audience heuristics: tired ads, saturating Meta audiences, sudden falls in delivery.

Fatigue: an ad's recent CTR significantly below its baseline (the conditional count test on clicks
per impression) while its average daily frequency rose by FATIGUE_FREQUENCY_RISE. Frequency needs
reach, which only Meta reports, so Google ads never show fatigue here.
Saturation: a Meta ad set (or campaign) whose frequency climbed by SATURATION_FREQUENCY_RISE to at
least SATURATION_MIN_FREQUENCY while its daily reach stayed flat or fell: the same people see it
more often. An ad set whose ad already shows fatigue is left to that finding (the ad explains it).
Delivery drop: a running campaign or ad set (either platform) whose impressions per day fell by at
least DELIVERY_DROP against the baseline's daily rate, significantly (the count test with days as
the exposure), while it still delivered recently. An ad set is left out when its campaign dropped.
"""

from __future__ import annotations

from decimal import Decimal

from datadrip.insights.facts import ClientFacts, EntityFacts, shown_figures
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.common import (
    ALPHA,
    MAX_SILENT_DAYS,
    MIN_EFFECT,
    confidence,
    days_text,
    delivering,
    evidence,
    impact,
    label,
    pct,
    spend_share,
)
from datadrip.insights.stats import compare_rates

# Fatigue: frequency up by a quarter, CTR down by MIN_EFFECT (a fifth), on enough clicks to tell.
FATIGUE_FREQUENCY_RISE = Decimal("1.25")
FATIGUE_MIN_BASELINE_CLICKS = 100
FATIGUE_MIN_IMPRESSIONS = 1_000
FATIGUE_MIN_EXPECTED_CLICKS = 10.0
# Saturation: daily frequency up 30 % and at least 2 (below 2 most people see it once a day at most),
# with daily reach no more than 5 % above its baseline (flat within day-to-day noise, or falling).
SATURATION_FREQUENCY_RISE = Decimal("1.30")
SATURATION_MIN_FREQUENCY = Decimal("2.0")
SATURATION_MAX_REACH_RISE = Decimal("1.05")
# A few hundred impressions a week make any frequency: the audience is too small to speak of.
SATURATION_MIN_IMPRESSIONS = 1_000
# Delivery: impressions per day down by half or more, from a baseline of real volume and length.
DELIVERY_DROP = 0.5
DELIVERY_MIN_BASELINE_IMPRESSIONS = 1_000
DELIVERY_MIN_BASELINE_DAYS = 14
# Saturation rests on no count test (frequency is a ratio of large sums, its noise is small), so its
# confidence is fixed; its effect is the frequency's rise, a doubling counting as the full effect.
SATURATION_CONFIDENCE = 0.75
SATURATION_FULL_RISE = 1.0


def creative_findings(facts: ClientFacts) -> list[Finding]:
    found = []
    for ad in facts.at_level("ad"):
        recent, baseline = ad.recent, ad.baseline
        if not delivering(ad, facts) or recent.daily_frequency is None or baseline.daily_frequency is None:
            continue
        if recent.daily_frequency < baseline.daily_frequency * FATIGUE_FREQUENCY_RISE:
            continue
        if baseline.clicks < FATIGUE_MIN_BASELINE_CLICKS \
                or min(recent.impressions, baseline.impressions) < FATIGUE_MIN_IMPRESSIONS:
            continue
        test = compare_rates(recent.clicks, baseline.clicks, recent.impressions, baseline.impressions)
        if test.expected < FATIGUE_MIN_EXPECTED_CLICKS or test.ratio > 1 / MIN_EFFECT \
                or test.p_value >= ALPHA:
            continue
        now, then = shown_figures(recent, ad.currency), shown_figures(baseline, ad.currency)
        claim = (f"{label(ad)}: CTR fell {pct(test.ratio - 1)} to {now['ctr']}% over "
                 f"{days_text(facts.recent.since, facts.recent.until)}, against {then['ctr']}% in the "
                 f"{facts.baseline.days} days before, while its frequency rose from {then['frequency']} to "
                 f"{now['frequency']}")
        found.append(Finding(
            type="creative", rule="creative.fatigue", entity_ref=ad.ref, entity_name=ad.name,
            direction="worse", claim=claim,
            action=f"Rotate a fresh creative into {ad.name}'s ad set, or refresh this ad; pause it once "
                   "the new one beats it.",
            impact_score=impact(spend_share(facts, ad) * min(1.0, 1 - test.ratio), confidence(test.p_value)),
            since=facts.recent.since, until=facts.recent.until,
            evidence=evidence(ad, ("ctr", "frequency", "clicks", "impressions")),
            figures={"p_value": float(f"{test.p_value:.3g}"), "observed_clicks": test.observed,
                     "expected_clicks": round(test.expected, 1), "ctr_ratio": round(test.ratio, 3),
                     "frequency_ratio": _ratio(recent.daily_frequency, baseline.daily_frequency)}))
    return found


def audience_findings(facts: ClientFacts, creative: list[Finding]) -> list[Finding]:
    by_ref = facts.entities
    by_id = {entity.id: entity for entity in by_ref.values()}
    explained: set[str] = set()  # ad sets and campaigns whose tired ad explains their frequency
    for finding in creative:
        ad = by_ref.get(finding.entity_ref or "")
        adset = by_id.get(ad.parent_id or "") if ad is not None else None
        if adset is not None:
            explained.update({adset.id, adset.parent_id or ""})
    found: list[Finding] = []
    saturated: set[str] = set()
    for level in ("adset", "campaign"):
        for entity in facts.at_level(level):
            if entity.id in explained or (level == "campaign" and entity.id in saturated):
                continue
            saturation = _saturation(facts, entity)
            if saturation is not None:
                found.append(saturation)
                saturated.update({entity.id, entity.parent_id or ""})
    dropped: set[str] = set()
    for level in ("campaign", "adset"):
        for entity in facts.at_level(level):
            if entity.parent_id in dropped:
                continue
            drop = _delivery_drop(facts, entity)
            if drop is not None:
                found.append(drop)
                dropped.add(entity.id)
    return found


def _saturation(facts: ClientFacts, entity: EntityFacts) -> Finding | None:
    recent, baseline = entity.recent, entity.baseline
    if not delivering(entity, facts) or recent.daily_frequency is None or baseline.daily_frequency is None:
        return None
    if min(recent.impressions, baseline.impressions) < SATURATION_MIN_IMPRESSIONS:
        return None
    if recent.daily_frequency < SATURATION_MIN_FREQUENCY \
            or recent.daily_frequency < baseline.daily_frequency * SATURATION_FREQUENCY_RISE:
        return None
    reach_now = Decimal(recent.daily_reach_sum) / recent.days
    reach_then = Decimal(baseline.daily_reach_sum) / max(baseline.days, 1)
    if reach_now > reach_then * SATURATION_MAX_REACH_RISE:
        return None
    now, then = shown_figures(recent, entity.currency), shown_figures(baseline, entity.currency)
    rise = float(recent.daily_frequency / baseline.daily_frequency) - 1
    claim = (f"{label(entity)}: frequency rose {pct(rise)} to {now['frequency']} a day over "
             f"{days_text(facts.recent.since, facts.recent.until)}, against {then['frequency']} in the "
             f"{facts.baseline.days} days before, while its daily reach "
             f"{'fell' if reach_now < reach_then else 'stayed flat'}")
    return Finding(
        type="audience", rule="audience.saturation", entity_ref=entity.ref, entity_name=entity.name,
        direction="worse", claim=claim,
        action=f"Widen {entity.name}'s audience (broader interests, a larger lookalike) or cap its "
               "frequency; the same people see it more and more often.",
        impact_score=impact(spend_share(facts, entity) * min(1.0, rise / SATURATION_FULL_RISE),
                            SATURATION_CONFIDENCE),
        since=facts.recent.since, until=facts.recent.until,
        evidence=evidence(entity, ("frequency", "impressions", "spend")),
        figures={"frequency_ratio": _ratio(recent.daily_frequency, baseline.daily_frequency),
                 "daily_reach_ratio": _ratio(reach_now, reach_then)})


def _delivery_drop(facts: ClientFacts, entity: EntityFacts) -> Finding | None:
    recent, baseline = entity.recent, entity.baseline
    if entity.stopped or entity.last_day is None or recent.days == 0 \
            or (facts.recent.until - entity.last_day).days > MAX_SILENT_DAYS:
        return None
    if baseline.impressions < DELIVERY_MIN_BASELINE_IMPRESSIONS or baseline.days < DELIVERY_MIN_BASELINE_DAYS:
        return None
    test = compare_rates(recent.impressions, baseline.impressions, facts.recent.days, facts.baseline.days)
    if test.ratio > 1 - DELIVERY_DROP or test.p_value >= ALPHA:
        return None
    per_day_now = recent.impressions // facts.recent.days
    per_day_then = baseline.impressions // facts.baseline.days
    claim = (f"{label(entity)}: {per_day_now:,} impressions a day over "
             f"{days_text(facts.recent.since, facts.recent.until)}, {pct(test.ratio - 1)} below the "
             f"{per_day_then:,} a day of the {facts.baseline.days} days before")
    total = sum(other.baseline.spend_micros for other in facts.at_level("campaign")
                if other.currency == entity.currency)
    share = baseline.spend_micros / total if total else 0.0
    return Finding(
        type="audience", rule="audience.delivery_drop", entity_ref=entity.ref, entity_name=entity.name,
        direction="under", claim=claim,
        action=f"Check {entity.name}'s budget, bids, audience size and any disapproved ads or payment "
               "problems: it is still on but reaches far fewer people.",
        impact_score=impact(share * min(1.0, 1 - test.ratio), confidence(test.p_value)),
        since=facts.recent.since, until=facts.recent.until,
        evidence=evidence(entity, ("impressions", "spend", "clicks")),
        figures={"p_value": float(f"{test.p_value:.3g}"), "impressions_ratio": round(test.ratio, 3),
                 "recent_days_delivered": recent.days})


def _ratio(now: Decimal, then: Decimal) -> Decimal:
    return (now / then).quantize(Decimal("0.001"))
