"""The planted stories over a year of the sandbox's first days (slow: `make test-slow`, not CI).

For each of DATADRIP_SWEEP_DAYS consecutive first days from DATADRIP_SWEEP_START (by default 366
days from 1 June 2027: every month's end, 29 February 2028 and the DST changes of both 2027 and
2028 in the sandbox accounts' zones), a sandbox of each seed in DATADRIP_SWEEP_SEEDS is synced
into a workbook with the test process's clock pinned to that day, and the checks of
test_heuristics_sandbox.py run on it. The test lists every day on which a story was missed or a
false finding appeared, and fails if there is any.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from insights.sandbox_stories import (
    analyse,
    build,
    false_findings,
    missed_cpa_story,
    missed_fatigue_story,
    missed_overspend_story,
)

START = dt.date.fromisoformat(os.environ.get("DATADRIP_SWEEP_START", "2027-06-01"))
DAYS = int(os.environ.get("DATADRIP_SWEEP_DAYS", "366"))
SEEDS = [int(seed) for seed in os.environ.get("DATADRIP_SWEEP_SEEDS", "7,11,23").split(",")]
CHECKS = {"cpa story missed": missed_cpa_story, "fatigue story missed": missed_fatigue_story,
          "overspend story missed": missed_overspend_story, "false findings": false_findings}


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: f"seed{seed}")
def test_sweep_planted_stories_found_on_every_first_day(seed: int, tmp_path: Path) -> None:
    problems: dict[str, dict[dt.date, list[str]]] = {name: {} for name in CHECKS}
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        folder = tmp_path / day.isoformat()
        analysed = analyse(build(folder / "home", seed, day, demo=False), seed, day)
        for name, check in CHECKS.items():
            lines = check(analysed)
            if lines:
                problems[name][day] = lines
        shutil.rmtree(folder)
    summary = [f"seed {seed}, {DAYS} first days from {START}:"]
    summary += [f"  {name}: {len(days)} days {', '.join(str(day) for day in days)}"
                for name, days in problems.items()]
    print("\n".join(summary))
    details = [line for days in problems.values() for lines in days.values() for line in lines]
    assert not details, "\n".join(summary + details)
