"""The benchmark scripts still run and print their figures (the values are not checked: timing
depends on the machine)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[\d,.]+"


def test_sync_bench_quick_prints_every_figure_line() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sync_bench.py"), "--quick"],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("datadrip write_chunk", r"datadrip re-sync \(every row conflicts\)",
                  r"raw sqlite3, rows as they come \(day by day\)", "raw sqlite3 re-sync",
                  "raw sqlite3, sorted by day and entity", "raw sqlite3 sorted re-sync"):
        assert re.search(rf"^  {label} +{NUMBER} +{NUMBER} +\d+%", out, re.M), label
    assert ">= 150,000 rows/s and >= 50% of raw: " in out
    assert re.search(rf"^  1 +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +\S+ +{NUMBER}$", out, re.M)
    assert re.search(rf"^  total +{NUMBER} +{NUMBER} +{NUMBER} .* target: peak RSS < 250 MB (met|MISSED)$",
                     out, re.M)
    assert re.search(rf"^profile: .* {NUMBER} rows in {NUMBER} s", out, re.M)
    for group in ("pauses", "waiting on the sandbox", "httpx", "JSON parsing", "our connector parsing",
                  "storage", "sync loop", "imports on first use", "other", "worker total"):
        assert re.search(rf"^  {group}.* {NUMBER} +\d+%$|^  {group}.* {NUMBER}$", out, re.M), group
