"""The benchmark scripts still run and print their figures (the values are not checked: timing
depends on the machine)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[\d,.]+"


def test_sync_bench_quick_prints_every_figure_line() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sync_bench.py"), "--quick"],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(rf"^parsing: {NUMBER} Meta ad rows with 8 action types, {NUMBER} CPU s, "
                     rf"{NUMBER} rows per CPU second$", out, re.M)
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


@pytest.mark.parametrize("hide_duckdb", [False, True], ids=["duckdb-if-installed", "without-duckdb"])
def test_analytics_bench_quick_prints_every_figure_line(hide_duckdb: bool) -> None:
    script = ROOT / "benchmarks" / "analytics_bench.py"
    # Without DuckDB (not a test dependency) the SQLite figures must still come, and exit 0.
    hide = "sys.modules['duckdb'] = None; " if hide_duckdb else ""
    command = [sys.executable, "-c", f"import runpy, sys; {hide}sys.argv = [{str(script)!r}, '--quick']; "
               f"runpy.run_path({str(script)!r}, run_name='__main__')"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(rf"^workbook: generated in {NUMBER} s: 5 clients × 4 campaigns × 60 days", out, re.M)
    assert re.search(rf"^  metric_daily: {NUMBER} campaign rows \+ {NUMBER} ad rows = {NUMBER} rows",
                     out, re.M)
    labels = {"a": r"a\. client dashboard, 30 days", "b": r"b\. agency dashboard, 30 days",
              "b2": r"b2\. agency breakdown by client, 30 days", "c": r"c\. client daily series, 60 days"}
    targets = {"a": "< 50 ms", "b": "< 1,000 ms", "c": "< 100 ms"}
    for key, label in labels.items():
        target = rf"{targets[key]}: (met|MISSED)" if key in targets else r"\(b's per-client lines"
        assert re.search(rf"^  {label} .* {NUMBER} +{NUMBER} +\d+  {target}", out, re.M), key
    with_duckdb = not hide_duckdb and importlib.util.find_spec("duckdb") is not None
    if with_duckdb:
        for key, label in labels.items():
            target = r"within 2×: (met|MISSED)" if key in targets else r"\(no target\)"
            assert re.search(rf"^  {label} .* {NUMBER} +{NUMBER}× +{NUMBER}×  {target}$", out, re.M), key
        assert re.search(r"same results as SQLite: yes \(", out), out
    else:
        assert "duckdb: not installed, so no comparison" in out
    assert re.search(rf"^whole run: {NUMBER} s$", out, re.M)


def test_report_bench_quick_prints_every_figure_line() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report_bench.py"), "--quick"],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(rf"^workbook: 5 clients, {NUMBER} metric rows, made in {NUMBER} s$", out, re.M)
    assert re.search(rf"^first report \(imports included\): {NUMBER} ms$", out, re.M)
    for stage in ("numbers", "charts", "html file", "e-mail html", "text", "total"):
        assert re.search(rf"^  {stage} +{NUMBER} +{NUMBER} +{NUMBER}$", out, re.M), stage
    assert re.search(rf"^all 5 reports: {NUMBER} s; target: < 100 ms a report \((met|MISSED)\)$", out, re.M)


def test_insights_bench_quick_prints_every_figure_line() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "insights_bench.py"), "--quick"],
                          capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(rf"^sync: Mega Retail \(act_1010000099\), every level, 14 days: {NUMBER} rows in "
                     rf"{NUMBER} s$", out, re.M)
    assert re.search(rf"^facts: {NUMBER} entities \(\d+ campaigns, \d+ ad sets, \d+ ads\), as of "
                     rf"\d{{4}}-\d\d-\d\d; \d+ findings$", out, re.M)
    assert re.search(r"^median of 2 runs after a warm-up \(ms\):$", out, re.M)
    for label in (r"a\. client_facts", r"b\. heuristic_findings", r"c\. build_messages"):
        assert re.search(rf"^  {label} +{NUMBER}$", out, re.M), label
    assert re.search(rf"^  a \+ b +{NUMBER}  target: < 500 ms: (met|MISSED)$", out, re.M)
    assert re.search(rf"^  d\. generate_insights, heuristic +{NUMBER}  target: < 1,000 ms: (met|MISSED)$",
                     out, re.M)
    for label in ("cache miss", "cache hit"):
        assert re.search(rf"^  e\. generate_insights, llm, {label} +{NUMBER}  \(", out, re.M), label
    assert re.search(rf"^prompt: {NUMBER} characters, about {NUMBER} tokens \(\d+ entities at most\); "
                     r"target: < 12,000 tokens: (met|MISSED)$", out, re.M)
    assert re.search(r"^findings by rule:$", out, re.M)
