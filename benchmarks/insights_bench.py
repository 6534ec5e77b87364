"""How long the insight engines take on a big client, beside the insights issue's targets.

1. A workbook made the way `datadrip demo` makes one, all through DataDrip's services: the
   sandbox with its large Meta account (act_1010000099 "Mega Retail": 40 campaigns × 5 ad sets ×
   4 ads, two years of history, USD) served on 127.0.0.1, a config pointing at it, an agency
   (USD) and a client "Mega Retail" (USD, a monthly budget) connected to that account alone with
   the sandbox's token on stdin, then a first sync of every level over the last --days days
   (`[sync] initial_days`). Its time and row count are printed as context. --keep PATH builds it
   in PATH and keeps it; run again with the same PATH, the workbook is reused without a sync.
2. Through DataDrip's own code, after one warm-up run, the median of --repeat runs (ms), each in
   a fresh session:
     a. client_facts: the client's entities summed over the recent and baseline windows (the one
        GROUP BY over metric_daily; 1,000+ entities)
     b. heuristic_findings on those facts
     c. build_messages: the model's prompt from the facts and findings, with its size in
        characters and estimated tokens
     d. generate_insights with the heuristic engine: facts, heuristics and saving
     e. generate_insights with the llm engine against the sandbox's OpenAI-compatible endpoint:
        the first call misses the answer cache (one figure), later ones hit it (the median)
   Targets: a + b < 500 ms; d < 1 s; the prompt < 12,000 tokens (llm.MAX_ENTITIES bounds it).
3. The heuristics' findings, counted by rule.

    python benchmarks/insights_bench.py [--days 90] [--repeat 5] [--keep PATH] [--quick]

--quick: 14 days and 2 runs (the smoke test).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datadrip.core.config import Loaded

ACCOUNT = "act_1010000099"  # the sandbox's large Meta account
CLIENT = "Mega Retail"
MONTHLY_BUDGET = "250000"
BOUND = Decimal(20)  # [ai] max_budget_change_pct's default
MAX_SUGGESTIONS = 5
FACTS_TARGET_MS = 500.0
GENERATE_TARGET_MS = 1000.0
PROMPT_TARGET_TOKENS = 12_000


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def write_config(home: Path, description: dict[str, Any], days: int) -> None:
    """The settings the demo writes (the sandbox's URLs, the file secret store), plus the sync's
    first window."""
    from datadrip.core.config import CONFIG_FILENAME

    meta = description["meta"]
    (home / CONFIG_FILENAME).write_text(
        "[meta]\n"
        f'graph_url = "{meta["graph_url"]}"\ndialog_url = "{meta["dialog_url"]}"\n'
        f'app_id = "{meta["app_id"]}"\n\n'
        f'[ai]\nbase_url = "{description["openai"]["base_url"]}"\n\n'
        f"[sync]\ninitial_days = {days}\n\n"
        '[secrets]\nbackend = "file"\n\n[user]\nemail = "bench"\n', encoding="utf-8")


def load(home: Path) -> Loaded:
    from datadrip.core.config import CONFIG_FILENAME
    from datadrip.platforms.registry import load_settings

    return load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})


def store_secrets(loaded: Loaded, description: dict[str, Any]) -> None:
    from datadrip.secrets.store import open_store

    store, _ = open_store(loaded, announce=False)
    store.set("meta.app_secret", description["meta"]["app_secret"])
    store.set("ai.api_key", description["openai"]["api_key"])


def build(loaded: Loaded, description: dict[str, Any]) -> tuple[float, int]:
    """The agency, the client, its connection and the first sync; (sync seconds, rows saved)."""
    from datadrip.core.errors import DataDripError, UsageError
    from datadrip.sync.run import SyncRequest, sync_accounts
    from datadrip.workbook.agencies import AgencyChanges, add_agency
    from datadrip.workbook.clients import ClientChanges, add_client
    from datadrip.workbook.connect import ConnectRequest, ConnectUi, connect_accounts
    from datadrip.workbook.session import Workbook, open_session

    with open_session(loaded, write=True) as opened:
        wb = Workbook(opened.session, "bench")
        agency = add_agency(wb, "Bench Agency", AgencyChanges(currency="USD"))
        add_client(wb, CLIENT, agency.id, ClientChanges(currency="USD", monthly_budget=MONTHLY_BUDGET))

    def no_person(*_args: Any) -> Any:
        raise UsageError("the benchmark connects without a person")  # a stdin token needs no browser

    connect_accounts(loaded, ConnectRequest(platform="meta", client_ref=CLIENT, accounts=[ACCOUNT],
                                            stdin_token=description["meta"]["access_token"]),
                     ConnectUi(on_url=no_person, read_pasted=no_person, choose=no_person))
    started = time.perf_counter()
    outcome = sync_accounts(loaded, SyncRequest(clients=[CLIENT]))
    seconds = time.perf_counter() - started
    if outcome.failed:
        raise DataDripError(f"the sync failed: {outcome.failed[0].error}", hint=outcome.failed[0].hint)
    return seconds, outcome.rows


def stored_rows(loaded: Loaded) -> int:
    import sqlalchemy as sa

    from datadrip.db.models import MetricDaily
    from datadrip.workbook.session import open_session

    with open_session(loaded) as wb:
        return int(wb.session.execute(sa.select(sa.func.count()).select_from(MetricDaily)).scalar_one())


def median_ms(run: Callable[[], float], repeat: int) -> float:
    """The median of `repeat` runs after a warm-up; `run` returns its own seconds."""
    run()
    return statistics.median(run() for _ in range(repeat)) * 1000


def engines(loaded: Loaded, repeat: int) -> None:
    from sqlmodel import Session

    from datadrip.analytics.totals import agency_today, resolve_scope
    from datadrip.db.engine import open_workbook
    from datadrip.insights.facts import client_facts
    from datadrip.insights.generate import GenerateRequest, generate_insights
    from datadrip.insights.heuristics.engine import heuristic_findings
    from datadrip.insights.llm import MAX_ENTITIES, build_messages
    from datadrip.insights.usage import estimated_tokens

    engine = open_workbook(loaded.workbook_target)
    parts: list[tuple[float, float, float]] = []
    try:
        for _ in range(repeat + 1):  # the first is the warm-up
            with Session(engine) as session:
                scope = resolve_scope(session, CLIENT, None)
                agency, client = scope.agency, scope.clients[0]
                today = agency_today(agency)
                started = time.perf_counter()
                facts = client_facts(session, agency, client, today)
                facts_done = time.perf_counter()
                findings = heuristic_findings(facts, max_budget_change_pct=BOUND)
                findings_done = time.perf_counter()
                messages = build_messages(facts, findings, [], max_suggestions=MAX_SUGGESTIONS,
                                          max_budget_change_pct=BOUND)
                parts.append((facts_done - started, findings_done - facts_done,
                              time.perf_counter() - findings_done))
    finally:
        engine.dispose()
    timed = parts[1:]
    facts_ms, findings_ms, prompt_ms = (statistics.median(part[n] for part in timed) * 1000
                                        for n in range(3))
    both_ms = statistics.median(a + b for a, b, _ in timed) * 1000
    levels = Counter(entity.level for entity in facts.entities.values())

    def generate(engine_name: str) -> Callable[[], float]:
        def run() -> float:
            started = time.perf_counter()
            generate_insights(loaded, GenerateRequest(client_ref=CLIENT, engine=engine_name))
            return time.perf_counter() - started
        return run

    heuristic_ms = median_ms(generate("heuristic"), repeat)
    started = time.perf_counter()
    first = generate_insights(loaded, GenerateRequest(client_ref=CLIENT, engine="llm")).runs[0]
    miss_ms = (time.perf_counter() - started) * 1000
    hit_ms = statistics.median(generate("llm")() for _ in range(repeat)) * 1000
    after = generate_insights(loaded, GenerateRequest(client_ref=CLIENT, engine="llm")).runs[0]

    characters = sum(len(message["content"]) for message in messages)
    tokens = estimated_tokens(messages)
    print(f"facts: {len(facts.entities):,} entities ({levels['campaign']} campaigns, "
          f"{levels['adset']} ad sets, {levels['ad']} ads), as of {facts.as_of}; "
          f"{len(findings)} findings")
    print(f"median of {repeat} runs after a warm-up (ms):")
    print(f"  a. client_facts                         {facts_ms:8.1f}")
    print(f"  b. heuristic_findings                   {findings_ms:8.1f}")
    print(f"  a + b                                   {both_ms:8.1f}  target: < {FACTS_TARGET_MS:.0f} ms: "
          f"{verdict(both_ms < FACTS_TARGET_MS)}")
    print(f"  c. build_messages                       {prompt_ms:8.1f}")
    print(f"  d. generate_insights, heuristic         {heuristic_ms:8.1f}  target: < "
          f"{GENERATE_TARGET_MS:,.0f} ms: {verdict(heuristic_ms < GENERATE_TARGET_MS)}")
    print(f"  e. generate_insights, llm, cache miss   {miss_ms:8.1f}  (one run: {first.engine}"
          f"{', cached' if first.cached else ''}, {first.found} suggestions)")
    print(f"  e. generate_insights, llm, cache hit    {hit_ms:8.1f}  ({after.engine}"
          f"{', cached' if after.cached else ', not cached'}, {after.found} suggestions)")
    print(f"prompt: {characters:,} characters, about {tokens:,} tokens ({MAX_ENTITIES} entities at "
          f"most); target: < {PROMPT_TARGET_TOKENS:,} tokens: {verdict(tokens < PROMPT_TARGET_TOKENS)}")
    print("findings by rule:")
    for rule, count in sorted(Counter(finding.rule for finding in findings).items()):
        print(f"  {rule:<38} {count:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="days synced (default 90; --quick: 14)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs (default 5; --quick: 2)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the workbook in this folder and keep it (reused when it exists)")
    parser.add_argument("--quick", action="store_true", help="14 days, 2 runs: the smoke test")
    args = parser.parse_args()
    days = args.days or (14 if args.quick else 90)
    repeat = args.repeat or (2 if args.quick else 5)

    from datadrip.core.config import WORKBOOK_FILENAME
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with tempfile.TemporaryDirectory() as folder, SandboxServer(SandboxConfig(large_account=True)) as server:
        home = args.keep or Path(folder)
        home.mkdir(parents=True, exist_ok=True)
        reuse = (home / WORKBOOK_FILENAME).exists()
        description = server.app.describe(server.base_url)
        write_config(home, description, days)
        loaded = load(home)
        store_secrets(loaded, description)
        if reuse:
            print(f"workbook: reused (--keep), {stored_rows(loaded):,} metric rows; no sync")
        else:
            seconds, rows = build(loaded, description)
            print(f"sync: {CLIENT} ({ACCOUNT}), every level, {days} days: {rows:,} rows in {seconds:.1f} s")
        engines(loaded, repeat)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
