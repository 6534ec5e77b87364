"""The heuristic rules on crafted facts: each fires on a clear case and keeps quiet on noise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from datadrip.insights.facts import ClientFacts, EntityFacts, ResultTerms, shown_figures
from datadrip.insights.findings import Finding
from datadrip.insights.heuristics.engine import heuristic_findings
from insights.heuristics_support import (
    AS_OF,
    client_facts,
    entity,
    month_to_date,
    steady,
    sums,
)

BOUND = Decimal(30)
LAG = Decimal("0.75")  # the share of the recent week's conversions that has arrived


def findings(facts: ClientFacts, bound: Decimal = BOUND) -> list[Finding]:
    return heuristic_findings(facts, max_budget_change_pct=bound)


def rules(found: list[Finding]) -> list[tuple[str, str | None, str]]:
    return [(finding.rule, finding.entity_ref, finding.direction) for finding in found]


def account_with(subject_factor: Decimal, *, lag: Decimal = LAG, others: int = 2) -> ClientFacts:
    """A Meta account: campaign:1 whose conversions per spend moved by `subject_factor`, and
    `others` steady campaigns; every campaign's recent conversions are only `lag` arrived."""
    campaigns = [steady("campaign:1", recent_factor=subject_factor, lag=lag, name="Diwali Sale")]
    campaigns += [steady(f"campaign:{n}", lag=lag, cpa=380 + 20 * n, name=f"Steady {n}")
                  for n in range(2, 2 + others)]
    return client_facts(*campaigns)


def assert_evidence_is_the_facts(facts: ClientFacts, found: list[Finding]) -> None:
    for finding in found:
        assert finding.evidence, finding
        for item in finding.evidence:
            if item.entity_ref is None:
                continue
            subject = facts.entities[item.entity_ref]
            assert shown_figures(subject.window(item.window), subject.currency)[item.metric] == item.value


# performance


def test_performance_flags_a_cpa_rise_beyond_late_conversions() -> None:
    facts = account_with(Decimal("0.5"))
    found = findings(facts)
    performance = [finding for finding in found if finding.type == "performance"]
    assert [(finding.entity_ref, finding.direction) for finding in performance] == [("campaign:1", "worse")]
    head = performance[0]
    assert head.rule in {"performance.cpa", "performance.cvr", "performance.roas"}
    assert {"cpa", "cvr", "roas"} <= set(head.figures)
    assert head.figures["cpa"]["lag_factor"] == pytest.approx(0.75, abs=0.01)
    assert head.figures["cpa"]["lag_from_control"] is True
    assert head.since == facts.recent.since and head.until == facts.recent.until
    assert head.rule == "performance.cpa"  # CPA heads its family when it is significant
    assert "Diwali Sale (Meta): Cost per result rose" in head.claim and "INR" in head.claim
    assert_evidence_is_the_facts(facts, found)


def test_performance_cpa_claim_names_the_numbers() -> None:
    facts = account_with(Decimal("0.5"))
    cpa = next(finding for finding in findings(facts) if finding.type == "performance")
    recent = shown_figures(facts.entities["campaign:1"].recent, "INR")
    baseline = shown_figures(facts.entities["campaign:1"].baseline, "INR")
    assert f"INR {recent['cpa']:,}" in cpa.claim and f"INR {baseline['cpa']:,}" in cpa.claim
    assert "the 28 days before" in cpa.claim


def test_performance_flags_a_rise_as_better() -> None:
    found = findings(account_with(Decimal("2.0"), lag=Decimal(1)))
    assert ("campaign:1", "better") in [(f.entity_ref, f.direction) for f in found if f.type == "performance"]


def test_performance_every_campaign_cpa_up_30_percent_together_is_no_finding() -> None:
    # The whole account's recent conversions per spend fell by a quarter (CPA +33 %): the lag.
    campaigns = [steady(f"campaign:{n}", lag=Decimal("0.75"), cpa=300 + 50 * n) for n in range(1, 4)]
    facts = client_facts(*campaigns)
    assert findings(facts) == []


def test_performance_without_a_control_a_fall_within_the_lag_floor_is_no_finding() -> None:
    facts = client_facts(steady("campaign:1", lag=Decimal("0.6")))
    assert findings(facts) == []


def test_performance_without_a_control_a_fall_below_the_lag_floor_is_a_finding() -> None:
    facts = client_facts(steady("campaign:1", lag=Decimal("0.3")))
    found = findings(facts)
    assert rules(found)[0][1:] == ("campaign:1", "worse")
    assert found[0].figures[found[0].figures["headline"]]["lag_from_control"] is False


def test_performance_stays_quiet_below_minimum_volume() -> None:
    # 15 baseline conversions: even a halving is not judged.
    facts = client_facts(steady("campaign:1", daily_spend=200, recent_factor=Decimal("0.3"), lag=Decimal(1)),
                         steady("campaign:2", lag=Decimal(1)), steady("campaign:3", lag=Decimal(1)))
    assert facts.entities["campaign:1"].baseline.conversions < 20
    assert [f for f in findings(facts) if f.entity_ref == "campaign:1"] == []


def test_performance_large_change_on_small_counts_is_noise() -> None:
    # 56 baseline conversions, 14 expected this week, 8 arrived: −43 %, but within chance.
    facts = client_facts(steady("campaign:1", daily_spend=800, recent_factor=Decimal("0.58"), lag=Decimal(1)),
                         steady("campaign:2", lag=Decimal(1)), steady("campaign:3", lag=Decimal(1)))
    subject = facts.entities["campaign:1"]
    assert subject.baseline.conversions == 56 and subject.recent.conversions == 8
    assert [f for f in findings(facts) if f.entity_ref == "campaign:1"] == []


def test_performance_rounds_fractional_google_conversions_for_the_test() -> None:
    google = [steady(f"campaign:{n}", lag=LAG, platform="google", account="acc-google") for n in (1, 2, 3)]
    google[0].recent.conversions_millionths = 65_630_000  # half its baseline rate, in hundredths
    found = [f for f in findings(client_facts(*google)) if f.type == "performance"]
    assert [(f.entity_ref, f.direction) for f in found] == [("campaign:1", "worse")]
    assert found[0].figures["cpa"]["observed"] == 66


def test_performance_a_better_change_never_rests_on_the_lag() -> None:
    # 10 % fewer conversions than the baseline rate, where the lag predicts 25 % fewer: not "better".
    facts = client_facts(steady("campaign:1", lag=Decimal("0.9")),
                         steady("campaign:2", lag=LAG), steady("campaign:3", lag=LAG))
    assert [f for f in findings(facts) if f.entity_ref == "campaign:1"] == []


def test_performance_flags_a_ctr_fall_on_enough_impressions() -> None:
    baseline = sums(spend=280_000, impressions=1_000_000, clicks=15_000, days=28)
    recent = sums(spend=70_000, impressions=250_000, clicks=2_250)
    facts = client_facts(entity("campaign:1", recent=recent, baseline=baseline, platform="google"))
    found = findings(facts)
    assert rules(found) == [("performance.ctr", "campaign:1", "worse")]
    assert "CTR fell 40% to 0.90%" in found[0].claim
    assert_evidence_is_the_facts(facts, found)


def test_performance_ctr_fall_on_few_clicks_is_noise() -> None:
    baseline = sums(spend=2_800, impressions=6_000, clicks=90, days=28)
    recent = sums(spend=700, impressions=1_500, clicks=12)
    facts = client_facts(entity("campaign:1", recent=recent, baseline=baseline))
    assert findings(facts) == []


def test_performance_skips_stopped_and_silent_campaigns() -> None:
    paused = steady("campaign:1", recent_factor=Decimal("0.3"), lag=Decimal(1), status="PAUSED")
    silent = steady("campaign:2", recent_factor=Decimal("0.3"), lag=Decimal(1),
                    last_day=AS_OF - dt.timedelta(days=3))
    facts = client_facts(paused, silent, steady("campaign:3", lag=Decimal(1)))
    assert [f for f in findings(facts) if f.type == "performance"] == []


# budget: pacing


def test_pacing_flags_overspend_mid_month_with_a_cut_bounded_by_the_limit() -> None:
    # 18 days: 250,000 spent, 15,000 a day → 430,000 projected against 300,000.
    facts = client_facts(month=month_to_date(spent=250_000, last_7_days=105_000, budget=300_000))
    [finding] = findings(facts)
    assert (finding.rule, finding.entity_ref, finding.direction) == ("budget.pacing", None, "over")
    assert finding.budget_change_pct == Decimal(-30)
    assert "43% over" in finding.claim and "INR 430,000.00" in finding.claim
    assert "the most one step allows" in finding.action and "72%" in finding.action
    values = {item.metric: item.value for item in finding.evidence}
    assert values == {"spent": Decimal("250000.00"), "budget": Decimal("300000.00"),
                      "projected": Decimal("430000.00"), "daily_run_rate": Decimal("15000.00")}
    assert all(item.window == "month" and item.entity_ref is None for item in finding.evidence)
    assert (finding.since, finding.until) == (dt.date(2026, 11, 1), AS_OF)


def test_pacing_says_one_day_to_go_on_the_months_last_day() -> None:
    month = month_to_date(spent=290_000, last_7_days=140_000, budget=250_000,
                          through=dt.date(2026, 11, 29))
    [finding] = findings(client_facts(month=month))
    assert "spent 1 Nov–29 Nov, 1 day to go)" in finding.claim, finding.claim


def test_pacing_cut_lands_on_budget_when_the_limit_allows() -> None:
    # 12 days left: 300,000 − 180,000 = 120,000 → 10,000 a day against 13,500: −26 %.
    facts = client_facts(month=month_to_date(spent=180_000, last_7_days=94_500, budget=300_000))
    [finding] = findings(facts)
    assert finding.direction == "over" and finding.budget_change_pct == Decimal(-26)
    assert "to land on the month's budget" in finding.action


def test_pacing_flags_underspend_with_a_bounded_raise() -> None:
    facts = client_facts(month=month_to_date(spent=100_000, last_7_days=35_000, budget=300_000))
    [finding] = findings(facts)
    assert finding.direction == "under" and finding.budget_change_pct == Decimal(30)


def test_pacing_within_ten_percent_is_no_finding() -> None:
    # 180,000 + 12 × 10,500 = 306,000: 2 % over.
    month = month_to_date(spent=180_000, last_7_days=73_500, budget=300_000)
    assert findings(client_facts(month=month)) == []


def test_pacing_without_a_budget_is_no_finding() -> None:
    assert findings(client_facts(month=None)) == []


def test_pacing_early_in_the_month_waits_unless_the_run_rate_is_far_off() -> None:
    through = dt.date(2026, 12, 2)
    # 2 days: 15 % over at the run rate: too early to tell.
    mild = month_to_date(spent=44_500, last_7_days=155_800, budget=600_000, through=through)
    assert findings(client_facts(month=mild, as_of=through)) == []
    # 2 days at a run rate 55 % over the budget's daily share: flagged already.
    far = month_to_date(spent=30_000, last_7_days=105_000, budget=300_000, through=through)
    [finding] = findings(client_facts(month=far, as_of=through))
    assert finding.direction == "over"


def test_pacing_the_day_after_a_month_closed_holds_the_run_rate_against_the_next_month() -> None:
    closed = dt.date(2026, 11, 30)
    # 15,000 a day: 465,000 in December's 31 days against 300,000.
    month = month_to_date(spent=450_000, last_7_days=105_000, budget=300_000, through=closed)
    [finding] = findings(client_facts(month=month, as_of=closed))
    assert finding.direction == "over" and "in December" in finding.claim
    assert "INR 450,000.00 spent in November" in finding.claim
    assert finding.budget_change_pct == Decimal(-30)
    steady_rate = month_to_date(spent=300_000, last_7_days=68_000, budget=300_000, through=closed)
    assert findings(client_facts(month=steady_rate, as_of=closed)) == []


@pytest.mark.parametrize("bound", [Decimal(5), Decimal(20), Decimal(50)])
def test_pacing_change_never_exceeds_the_limit(bound: Decimal) -> None:
    for spent, last_7_days in ((250_000, 105_000), (100_000, 35_000), (200_000, 110_000), (120_000, 56_000)):
        for finding in findings(client_facts(month=month_to_date(spent=spent, last_7_days=last_7_days,
                                                                 budget=300_000)), bound):
            assert finding.budget_change_pct is not None
            assert -bound <= finding.budget_change_pct <= bound


def test_pacing_when_the_budget_is_spent_says_so() -> None:
    month = month_to_date(spent=320_000, last_7_days=105_000, budget=300_000)
    [finding] = findings(client_facts(month=month))
    assert finding.direction == "over" and "already spent" in finding.action


# the client's results in the findings' words

LEADS = ResultTerms("lead", "Leads", "Cost per lead")


def _judged_on(facts: ClientFacts, terms: ResultTerms) -> ClientFacts:
    for item in facts.entities.values():
        item.result = terms
    return facts


def test_results_words_name_the_clients_result_in_claim_action_and_reallocation() -> None:
    found = findings(_judged_on(account_with(Decimal("0.5")), LEADS))

    [cpa] = [finding for finding in found if finding.rule == "performance.cpa"]
    assert cpa.claim.startswith("Diwali Sale (Meta): Cost per lead rose ")
    assert "once late leads are allowed for" in cpa.claim
    assert "until its cost per lead recovers" in cpa.action
    assert cpa.figures["result"] == {"key": "lead", "label": "Leads", "cost_label": "Cost per lead"}
    [shift] = [finding for finding in found if finding.rule == "budget.reallocation"]
    assert shift.claim.startswith("Diwali Sale (Meta)'s cost per lead of INR ")
    assert shift.action.endswith("at a steady cost per lead.")
    assert not [finding for finding in found if "CPA" in finding.claim + finding.action]


def test_results_words_no_results_at_all_says_none_of_the_result() -> None:
    facts = _judged_on(account_with(Decimal(0)), LEADS)
    [cpa] = [finding for finding in findings(facts) if finding.rule == "performance.cpa"]
    assert ": no leads over " in cpa.claim


def test_results_words_a_custom_conversion_keeps_its_own_name() -> None:
    terms = ResultTerms("Booked appointment", "Booked appointment", "Cost per Booked appointment")
    found = findings(_judged_on(account_with(Decimal("0.5")), terms))
    [cpa] = [finding for finding in found if finding.rule == "performance.cpa"]
    assert ": Cost per Booked appointment rose " in cpa.claim
    assert "late Booked appointment are allowed for" in cpa.claim
    assert "until its cost per Booked appointment recovers" in cpa.action


# budget: reallocation


@pytest.mark.parametrize("bound", [Decimal(10), Decimal(30)])
def test_reallocation_moves_a_bounded_share_from_a_worsened_campaign(bound: Decimal) -> None:
    facts = account_with(Decimal("0.5"))
    found = findings(facts, bound)
    [shift] = [finding for finding in found if finding.rule == "budget.reallocation"]
    assert (shift.entity_ref, shift.direction) == ("campaign:1", "shift")
    assert shift.budget_change_pct == -bound
    assert shift.figures["recipient_ref"] in {"campaign:2", "campaign:3"}
    assert f"Move {bound}% of Diwali Sale's daily spend" in shift.action
    assert_evidence_is_the_facts(facts, found)


def test_reallocation_needs_a_recipient_with_room() -> None:
    # The only other campaign missed days this week: no room to grow.
    gappy = steady("campaign:2", lag=LAG)
    gappy.recent.days = 5
    facts = client_facts(steady("campaign:1", recent_factor=Decimal("0.5"), lag=LAG), gappy,
                         steady("campaign:3", lag=LAG, status="PAUSED"))
    assert [f for f in findings(facts) if f.rule == "budget.reallocation"] == []


def test_reallocation_needs_volume_on_both_sides() -> None:
    # The recipient's 10 conversions a week cannot show its CPA is lower.
    facts = client_facts(steady("campaign:1", recent_factor=Decimal("0.5"), lag=LAG),
                         steady("campaign:2", lag=LAG), steady("campaign:3", lag=LAG),
                         steady("campaign:4", lag=LAG, daily_spend=600, cpa=300))
    facts.entities["campaign:2"].status = facts.entities["campaign:3"].status = "PAUSED"
    assert facts.entities["campaign:4"].recent.conversions < 20
    found = findings(facts)
    assert ("performance.cpa", "campaign:1", "worse") in rules(found)  # a donor there is
    assert [f for f in found if f.rule == "budget.reallocation"] == []


def test_reallocation_not_between_accounts() -> None:
    facts = client_facts(steady("campaign:1", recent_factor=Decimal("0.3"), lag=Decimal(1)),
                         steady("campaign:2", lag=Decimal(1), account="acc-google", platform="google"))
    assert [f for f in findings(facts) if f.rule == "budget.reallocation"] == []


# creative and audience


def _ad(ref: str, *, recent_clicks: int, recent_reach: int, platform: str = "meta",
        parent: str = "adset:11") -> EntityFacts:
    return entity(ref, parent=parent, platform=platform, name="Static Image 2",
                  recent=sums(spend=14_000, impressions=70_000, clicks=recent_clicks, reach=recent_reach),
                  baseline=sums(spend=56_000, impressions=280_000, clicks=4_200,
                                reach=0 if platform == "google" else 215_000, days=28))


def test_creative_fatigue_flags_a_meta_ad_whose_ctr_falls_as_frequency_climbs() -> None:
    facts = client_facts(_ad("ad:1101", recent_clicks=630, recent_reach=23_000))
    found = findings(facts)
    assert rules(found) == [("creative.fatigue", "ad:1101", "worse")]
    assert "frequency rose from 1.30 to 3.04" in found[0].claim
    assert "fresh creative" in found[0].action
    assert_evidence_is_the_facts(facts, found)


def test_creative_fatigue_needs_frequency_so_never_on_google() -> None:
    facts = client_facts(_ad("ad:1101", recent_clicks=630, recent_reach=0, platform="google"))
    assert [f for f in findings(facts) if f.type == "creative"] == []


def test_creative_fatigue_needs_the_ctr_to_fall() -> None:
    facts = client_facts(_ad("ad:1101", recent_clicks=1_050, recent_reach=23_000))
    assert [f for f in findings(facts) if f.type == "creative"] == []


def test_creative_fatigue_on_few_clicks_is_noise() -> None:
    ad = entity("ad:1101", parent="adset:11", name="Static Image 2",
                recent=sums(spend=700, impressions=3_000, clicks=9, reach=1_000),
                baseline=sums(spend=2_800, impressions=20_000, clicks=100, reach=15_000, days=28))
    assert findings(client_facts(ad)) == []  # CTR −40 % and frequency ×2.3, on 9 clicks against 15


def test_audience_saturation_of_a_tiny_audience_is_no_finding() -> None:
    adset = entity("adset:11", parent="campaign:1", name="Broad",
                   recent=sums(spend=140, impressions=700, clicks=10, reach=260),
                   baseline=sums(spend=560, impressions=2_800, clicks=42, reach=1_750, days=28))
    assert findings(client_facts(adset)) == []


def test_audience_saturation_flags_an_ad_set_whose_frequency_climbs_on_flat_reach() -> None:
    adset = entity("adset:11", parent="campaign:1", name="Broad",
                   recent=sums(spend=14_000, impressions=70_000, clicks=1_050, reach=26_000),
                   baseline=sums(spend=56_000, impressions=280_000, clicks=4_200, reach=175_000, days=28))
    facts = client_facts(adset)
    found = findings(facts)
    assert rules(found) == [("audience.saturation", "adset:11", "worse")]
    assert_evidence_is_the_facts(facts, found)


def test_audience_saturation_is_left_to_the_fatigue_of_its_ad() -> None:
    adset = entity("adset:11", parent="campaign:1", name="Broad",
                   recent=sums(spend=14_000, impressions=70_000, clicks=630, reach=26_000),
                   baseline=sums(spend=56_000, impressions=280_000, clicks=4_200, reach=175_000, days=28))
    facts = client_facts(adset, _ad("ad:1101", recent_clicks=630, recent_reach=23_000))
    assert [f.rule for f in findings(facts)] == ["creative.fatigue"]


def test_audience_delivery_drop_flags_a_running_campaign_reaching_far_fewer() -> None:
    campaign = entity("campaign:1", platform="google",
                      recent=sums(spend=14_000, impressions=15_000, clicks=225),
                      baseline=sums(spend=280_000, impressions=300_000, clicks=4_500, days=28))
    facts = client_facts(campaign)
    found = [f for f in findings(facts) if f.type == "audience"]
    assert rules(found) == [("audience.delivery_drop", "campaign:1", "under")]
    assert "2,142 impressions a day" in found[0].claim
    assert_evidence_is_the_facts(facts, found)


def test_audience_delivery_drop_not_for_a_paused_campaign() -> None:
    campaign = entity("campaign:1", platform="google", status="PAUSED",
                      recent=sums(spend=14_000, impressions=15_000, clicks=225, days=2),
                      baseline=sums(spend=280_000, impressions=300_000, clicks=4_500, days=28))
    assert findings(client_facts(campaign)) == []


def test_audience_delivery_drop_on_a_small_baseline_is_no_finding() -> None:
    campaign = entity("campaign:1", platform="google",
                      recent=sums(spend=140, impressions=50, clicks=1),
                      baseline=sums(spend=2_800, impressions=900, clicks=12, days=28))
    assert findings(client_facts(campaign)) == []


# the whole


def test_heuristic_findings_are_sorted_by_impact() -> None:
    facts = account_with(Decimal("0.5"))
    facts.month = month_to_date(spent=250_000, last_7_days=105_000, budget=300_000)
    facts.entities["ad:1101"] = _ad("ad:1101", recent_clicks=630, recent_reach=23_000)
    found = findings(facts)
    assert {f.type for f in found} == {"performance", "budget", "creative"}
    scores = [finding.impact_score for finding in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= score <= 100 for score in scores)
    assert_evidence_is_the_facts(facts, found)


def test_heuristic_findings_with_no_data_are_none() -> None:
    facts = client_facts()
    facts.as_of = None
    assert findings(facts) == []
