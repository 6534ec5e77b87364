"""The heuristics on the sandbox's planted stories, on several days and seeds: each story found, nothing else.

Seed 7 is the demo itself (`run_demo`); other seeds are the demo's steps against a sandbox of that
seed. The test process's clock is pinned to PINNED_TODAY, so the sandbox's first day and the
agency's today are the same whatever the date the suite runs on; test_heuristics_sweep.py (`make
test-slow`) runs the same checks over a year of first days and lists every day one fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import PINNED_TODAY

from datadrip.insights.facts import shown_figures
from insights.sandbox_stories import (
    BOUND,
    Analysed,
    analyse,
    build,
    false_findings,
    fatigue_days,
    missed_cpa_story,
    missed_fatigue_story,
    missed_overspend_story,
)


@pytest.fixture(scope="module", params=[7, 11, 23], ids=lambda seed: f"seed{seed}")
def analysed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Analysed]:
    seed: int = request.param
    home = build(tmp_path_factory.mktemp(f"sandbox-{seed}") / "home", seed, PINNED_TODAY)
    yield analyse(home, seed, PINNED_TODAY)


def test_sandbox_world_starts_on_the_pinned_day(analysed: Analysed) -> None:
    assert analysed.epoch == PINNED_TODAY
    assert (PINNED_TODAY, "Masala Mornings") in analysed.runs  # the agency's today is the pinned day


def test_sandbox_cpa_story_is_a_worse_performance_finding(analysed: Analysed) -> None:
    missed = missed_cpa_story(analysed)
    assert missed == [], "\n".join(missed)


def test_sandbox_fatigue_story_is_a_creative_fatigue_finding(analysed: Analysed) -> None:
    assert len(fatigue_days(analysed)) >= 2
    missed = missed_fatigue_story(analysed)
    assert missed == [], "\n".join(missed)


def test_sandbox_overspend_story_is_a_pacing_over_finding(analysed: Analysed) -> None:
    missed = missed_overspend_story(analysed)
    assert missed == [], "\n".join(missed)


def test_sandbox_stable_accounts_have_no_findings(analysed: Analysed) -> None:
    wrong = false_findings(analysed)
    assert wrong == [], "\n".join(wrong)


def test_sandbox_findings_rest_on_the_facts(analysed: Analysed) -> None:
    for facts, found in analysed.runs.values():
        assert [f.impact_score for f in found] == sorted((f.impact_score for f in found), reverse=True)
        for finding in found:
            assert 0 <= finding.impact_score <= 100
            if finding.budget_change_pct is not None:
                assert -BOUND <= finding.budget_change_pct <= BOUND
            for item in finding.evidence:
                if item.entity_ref is not None:
                    subject = facts.entities[item.entity_ref]
                    shown = shown_figures(subject.window(item.window), subject.currency)
                    assert shown[item.metric] == item.value

