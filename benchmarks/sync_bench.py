"""How fast a sync saves and fetches, and how much memory it needs, beside the sync issue's targets.

0. Parsing alone (no network). --rows synthetic Meta insights rows as Graph writes them (strings,
   8 action types with the purchase variants' values, Results) read by the connector's parse_row;
   rows per CPU second (time.process_time). The results issue allows 1.5× the CPU per row.
1. Storage alone (no network). --rows synthetic ad-level MetricRows (1,000 ads × rows/1,000 days,
   the same values every run, each with 8 action types) go into fresh migrated workbooks:
     datadrip   AccountWriter.write_chunk, --chunk-days days per chunk, as a sync saves them
     re-sync    the same rows saved again the same way: every row conflicts and is updated
     raw        plain sqlite3: one executemany of ready-made tuples with the same upsert (every
                column the writer fills, the actions' JSON included), in one
                transaction, into an identical workbook (same schema and indexes; WAL,
                synchronous=NORMAL, foreign keys on), then again (the re-sync). Twice over: the
                rows in the order they come (day by day), and sorted by day and entity (as the
                writer sorts each chunk: metric_daily's key order). "of raw" compares with the
                faster order: the ceiling.
   Targets: datadrip >= 150,000 rows/s and >= 50 % of raw. Each row carries its 8 actions in its
   own `actions` column (metric_action_daily is a view of them).
2. End to end over HTTP. `datadrip sandbox serve --large` runs in its own process, so its CPU and
   memory are not DataDrip's. Meta account act_1010000099 "Mega Retail" (800 ads, 730 days of
   history) is connected with the sandbox's system-user token, then `datadrip sync --level ad
   --since <--e2e-days back>` runs as a subprocess in a temporary DATADRIP_HOME. The account holds
   fewer than a million ad-level rows, so that sync is repeated, each pass into a fresh
   DATADRIP_HOME (a new workbook, every row new) against a fresh sandbox (whose emulated Meta
   usage would otherwise pace the next pass), until --e2e-rows rows are saved. Each pass
   prints its rows, wall time, rows/s, requests, CPU seconds of the sync and of the sandbox, and
   the sync process's peak RSS (wait4, from a small launcher: see LAUNCHER); then the total.
   Target: peak RSS < 250 MB.
3. Profile. One smaller sync (--profile-days at ad level) in this process under cProfile (the
   account's worker thread, which does all the fetching and saving). Its wall time is split by
   where each function's own time went: pauses (sleeps and Event.waits: report-run polls, usage
   pacing), waiting on the sandbox (socket), httpx, JSON parsing, our connector parsing, storage,
   the sync loop, imports, other; with the top functions of each group by own time (and their
   cumulative time).

    python benchmarks/sync_bench.py [--rows 300000] [--chunk-days 14] [--e2e-rows 1000000]
                                    [--e2e-days 730] [--profile-days 60] [--top 3]
                                    [--skip-parse] [--skip-storage] [--skip-e2e] [--skip-profile]
                                    [--quick]

--quick: 20,000 storage rows, one 3-day end-to-end pass and a 2-day profile (the smoke test).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from datadrip.platforms.base import ActionCount, DateWindow, EntityRecord, MetricRow
from datadrip.sync.store import METRIC_COLUMNS, METRIC_KEY

ACCOUNT = "act_1010000099"  # the sandbox's large Meta account
ACCOUNT_TIMEZONE = "America/New_York"
HISTORY_DAYS = 730
ENTITIES = 1_000
FIRST_DAY = dt.date(2025, 1, 1)
STORAGE_TARGET = 150_000  # rows/s
RAW_SHARE_TARGET = 0.5
RSS_TARGET_MB = 250


def _raw_upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key))


PURCHASES = ("omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase", "onsite_web_purchase")


def synthetic_actions(clicks: int, conversions: int) -> list[tuple[str, int, int | None]]:
    """8 action types of an ad-day as Meta reports them: (type, count, value micros or None)."""
    found: list[tuple[str, int, int | None]] = [
        ("link_click", clicks * 9 // 10, None), ("landing_page_view", clicks * 7 // 10, None),
        ("post_engagement", clicks + clicks // 8, None), ("page_engagement", clicks + clicks // 6, None),
        ("add_to_cart", conversions * 4, None)]
    found += [(kind, conversions, conversions * 41_500_000) for kind in PURCHASES[:3]]
    return found


# --- 0. parsing ----------------------------------------------------------------------------------

def graph_rows(count: int) -> list[dict[str, Any]]:
    """`count` ad rows as Graph writes them: every number a string, 8 action types, Results."""
    rows = []
    for _, row in zip(range(count), synthetic_rows(count)[1], strict=False):
        actions = synthetic_actions(row.clicks, int(row.conversions))
        rows.append({
            "campaign_id": "1", "campaign_name": "C", "adset_id": "11", "adset_name": "S",
            "ad_id": row.entity_id, "ad_name": f"Ad {row.entity_id}",
            "spend": f"{row.spend_micros // 1_000_000}.{row.spend_micros % 1_000_000 // 10_000:02d}",
            "impressions": str(row.impressions), "clicks": str(row.clicks), "reach": str(row.reach),
            "actions": [{"action_type": kind, "value": str(n)} for kind, n, _ in actions],
            "action_values": [{"action_type": kind, "value": str(v // 1_000_000)}
                              for kind, _, v in actions if v is not None],
            "results": [{"indicator": "actions:offsite_conversion.fb_pixel_purchase",
                         "values": [{"value": str(int(row.conversions)),
                                     "attribution_windows": ["default"]}]}],
            "attribution_setting": "7d_click_1d_view",
            "date_start": row.date.isoformat(), "date_stop": row.date.isoformat()})
    return rows


def parsing(count: int) -> None:
    from datadrip.platforms.meta.insights import parse_row

    rows = graph_rows(count)
    start = time.process_time()
    for item in rows:
        parse_row(item, "ad")
    cpu = time.process_time() - start
    print(f"parsing: {len(rows):,} Meta ad rows with 8 action types, {cpu:.2f} CPU s, "
          f"{len(rows) / cpu:,.0f} rows per CPU second")


# --- 1. storage ----------------------------------------------------------------------------------

def synthetic_rows(count: int) -> tuple[list[EntityRecord], list[MetricRow], DateWindow]:
    """`count` ad-level rows: ENTITIES ads × count/ENTITIES days, day by day, plausible numbers."""
    days = max(1, -(-count // ENTITIES))
    ads = [EntityRecord("ad", f"2385{n:08}", f"Ad {n}") for n in range(ENTITIES)]
    rows = []
    for offset in range(days):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for n, ad in enumerate(ads):
            if len(rows) == count:
                break
            seed = (n * 7919 + offset * 104_729) % 1_000_003
            impressions = 500 + seed % 20_000
            clicks = impressions * (1 + seed % 40) // 1_000
            conversions = clicks // 25
            actions = tuple(ActionCount(kind, Decimal(n), value)
                            for kind, n, value in synthetic_actions(clicks, conversions))
            rows.append(MetricRow("ad", ad.external_id, day, spend_micros=impressions * 9_130,
                                  impressions=impressions, clicks=clicks,
                                  conversions=Decimal(conversions),
                                  conversion_value_micros=conversions * 41_500_000,
                                  reach=impressions * 4 // 5, link_clicks=clicks * 9 // 10,
                                  attribution_setting="7d_click_1d_view", actions=actions))
    return ads, rows, DateWindow(FIRST_DAY, FIRST_DAY + dt.timedelta(days=days - 1))


def new_workbook(path: Path) -> str:
    """A migrated workbook with one agency, client and Meta account; returns the account's id."""
    from datadrip.db.engine import open_workbook, session_scope
    from datadrip.db.models import AdAccount, Agency, Client

    engine = open_workbook(str(path))
    try:
        with session_scope(engine, write=True) as session:
            agency = Agency(name="Bench Agency")
            session.add(agency)
            session.flush()
            client = Client(agency_id=agency.id, name="Mega Retail", currency="USD")
            session.add(client)
            session.flush()
            account = AdAccount(client_id=client.id, platform="meta", external_id=ACCOUNT,
                                name="Mega Retail", currency="USD", timezone=ACCOUNT_TIMEZONE)
            session.add(account)
            session.flush()
            return str(account.id)
    finally:
        engine.dispose()


def datadrip_pass(path: Path, account_id: str, ads: list[EntityRecord], rows: list[MetricRow],
                  window: DateWindow, chunk_days: int) -> float:
    """Seconds to save `rows` with AccountWriter.write_chunk, chunk by chunk, as a sync does."""
    from datadrip.db.engine import open_workbook
    from datadrip.sync.store import AccountWriter

    by_day: dict[dt.date, list[MetricRow]] = defaultdict(list)
    for row in rows:
        by_day[row.date].append(row)
    chunks = []
    for chunk in window.chunks(chunk_days):
        days = (chunk.since + dt.timedelta(days=n) for n in range(chunk.days))
        chunks.append((chunk, [row for day in days for row in by_day[day]]))
    engine = open_workbook(str(path))
    try:
        start, cpu = time.perf_counter(), time.process_time()
        writer = AccountWriter(engine, account_id)
        for chunk, chunk_rows in chunks:  # entities are announced with the first chunk, as a connector does
            writer.write_chunk("ad", chunk, ads, chunk_rows)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        print(f"  (write_chunk: {len(rows):,} rows, {cpu:.2f} CPU s, {len(rows) / cpu:,.0f} rows per "
              "CPU second)")
        return seconds
    finally:
        engine.dispose()


def raw_pass(path: Path, upsert: str, params: list[tuple[Any, ...]]) -> float:
    """Seconds for one sqlite3 executemany of `params` with the same upsert, in one transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(upsert, params)
        connection.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        connection.close()


def raw_params(source: Path, target: Path, account_id: str,
               rows: list[MetricRow]) -> tuple[str, list[tuple[Any, ...]]]:
    """Copy the entities DataDrip made into the raw workbook (same ids: the foreign keys hold) and
    turn the rows into the tuples the writer binds (ISO dates, naive UTC timestamps, millionths),
    with the upsert of the columns some row fills (the writer binds no column that every row of
    a chunk leaves empty), the row's actions included (one JSON object)."""
    connection = sqlite3.connect(target, isolation_level=None)
    try:
        connection.execute("ATTACH DATABASE ? AS source", (str(source),))
        connection.execute("INSERT INTO entity SELECT * FROM source.entity")
        ids = dict(connection.execute("SELECT external_id, id FROM entity WHERE level = 'ad'"))
        connection.execute("DETACH DATABASE source")
    finally:
        connection.close()
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    metrics = []
    for row in rows:
        day, entity = row.date.isoformat(), ids[row.entity_id]
        values = {"account_id": account_id, "level": "ad", "date": day, "entity_id": entity,
                  "spend_micros": row.spend_micros, "impressions": row.impressions,
                  "clicks": row.clicks, "conversions_millionths": int(row.conversions * 1_000_000),
                  "conversion_value_micros": row.conversion_value_micros, "reach": row.reach,
                  "synced_at": stamp, "link_clicks": row.link_clicks,
                  "attribution_setting": row.attribution_setting, "actions_kept": 1,
                  "actions": json.dumps({action.action: [int(action.count * 1_000_000),
                                                         action.value_micros]
                                         for action in row.actions}, separators=(",", ":"))}
        metrics.append(tuple(values.get(name) for name in METRIC_COLUMNS))
    filled = [i for i, name in enumerate(METRIC_COLUMNS)
              if name in METRIC_KEY or any(row[i] is not None for row in metrics)]
    columns = tuple(METRIC_COLUMNS[i] for i in filled)
    return (_raw_upsert("metric_daily", columns, METRIC_KEY),
            [tuple(row[i] for i in filled) for row in metrics])


def storage(count: int, chunk_days: int, folder: Path) -> None:
    ads, rows, window = synthetic_rows(count)
    ours, raw, raw_sorted = folder / "datadrip.db", folder / "raw.db", folder / "raw-sorted.db"
    account_id = new_workbook(ours)
    for path in (raw, raw_sorted):
        new_workbook(path)
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("UPDATE ad_account SET id = ?", (account_id,))  # so the same rows fit
        connection.close()
    first = datadrip_pass(ours, account_id, ads, rows, window, chunk_days)
    again = datadrip_pass(ours, account_id, ads, rows, window, chunk_days)
    stored = sqlite3.connect(ours).execute("SELECT COUNT(*) FROM metric_daily").fetchone()[0]
    if stored != len(rows):
        raise SystemExit(f"error: the workbook holds {stored:,} rows, not {len(rows):,}")
    upsert, params = raw_params(ours, raw, account_id, rows)
    raw_params(ours, raw_sorted, account_id, [])
    raw_first, raw_again = raw_pass(raw, upsert, params), raw_pass(raw, upsert, params)
    params.sort(key=lambda values: (values[2], values[3]))
    sorted_first = raw_pass(raw_sorted, upsert, params)
    sorted_again = raw_pass(raw_sorted, upsert, params)
    best_first, best_again = min(raw_first, sorted_first), min(raw_again, sorted_again)

    print(f"storage: {len(rows):,} ad-level rows ({ENTITIES:,} ads × {window.days} days), "
          f"{chunk_days}-day chunks")
    print(f"  {'pass':<44} {'seconds':>8} {'rows/s':>9} {'of raw':>7}  target")
    verdict = "met" if len(rows) / first >= STORAGE_TARGET and best_first / first >= RAW_SHARE_TARGET \
        else "MISSED"
    for label, seconds, best, target in (
            ("datadrip write_chunk", first, best_first,
             f">= {STORAGE_TARGET:,} rows/s and >= {RAW_SHARE_TARGET:.0%} of raw: {verdict}"),
            ("datadrip re-sync (every row conflicts)", again, best_again, ""),
            ("raw sqlite3, rows as they come (day by day)", raw_first, best_first, ""),
            ("raw sqlite3 re-sync", raw_again, best_again, ""),
            ("raw sqlite3, sorted by day and entity", sorted_first, best_first, ""),
            ("raw sqlite3 sorted re-sync", sorted_again, best_again, "")):
        line = f"  {label:<44} {seconds:>8.2f} {len(rows) / seconds:>9,.0f} {best / seconds:>6.0%}  {target}"
        print(line.rstrip())
    print("  (of raw: against the faster raw order of the same pass)")


# --- 2. end to end -------------------------------------------------------------------------------

@dataclass
class Pass:
    rows: int
    seconds: float
    requests: int
    cpu: float
    sandbox_cpu: float | None
    peak_rss_mb: float


def datadrip_command() -> list[str]:
    return [sys.executable, "-m", "datadrip"]


@contextmanager
def sandbox_process() -> Iterator[tuple[dict[str, Any], int]]:
    """`datadrip sandbox serve --large` in its own process: (its description, its pid)."""
    process = subprocess.Popen([*datadrip_command(), "sandbox", "serve", "--large", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("error: the sandbox did not start")
        yield json.loads(line), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def sandbox_env(description: dict[str, Any], home: Path, chunk_days: int) -> dict[str, str]:
    meta = description["meta"]
    env = {name: value for name, value in os.environ.items() if not name.startswith("DATADRIP_")}
    env.update({"DATADRIP_HOME": str(home), "DATADRIP_META_GRAPH_URL": meta["graph_url"],
                "DATADRIP_META_DIALOG_URL": meta["dialog_url"], "DATADRIP_META_APP_ID": meta["app_id"],
                "DATADRIP_META_APP_SECRET": meta["app_secret"], "DATADRIP_SECRETS_BACKEND": "file",
                "DATADRIP_USER_EMAIL": "bench@agency.example",
                "DATADRIP_SYNC_CHUNK_DAYS": str(chunk_days)})
    return env


def connect(env: dict[str, str], token: str) -> None:
    """One agency, client 'Mega Retail' and its Meta account, through the CLI as a user would."""
    for args, stdin in ((["agency", "add", "Bench Agency"], None),
                        (["client", "add", "Mega Retail"], None),
                        (["connect", "meta", "Mega Retail", "--token-stdin", "--account", ACCOUNT], token)):
        done = subprocess.run([*datadrip_command(), *args], env=env, input=stdin, text=True,
                              capture_output=True)
        if done.returncode:
            raise SystemExit(f"error: datadrip {' '.join(args[:2])} failed: {done.stderr.strip()}")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def since(days: int) -> dt.date:
    return dt.datetime.now(ZoneInfo(ACCOUNT_TIMEZONE)).date() - dt.timedelta(days=days - 1)


# Runs a command and writes its exit code, peak RSS (KiB on Linux) and CPU seconds to a file. The
# sync runs under this small launcher because Linux counts in a process's ru_maxrss the memory of
# the process it was forked from, up to its exec: forked from this script, which holds the storage
# rows, the sync would be charged for them.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
"""


def sync_pass(env: dict[str, str], days: int, folder: Path, sandbox_pid: int) -> Pass:
    """`datadrip sync --level ad` as a subprocess, timed, with its peak RSS and CPU (wait4)."""
    command = [*datadrip_command(), "sync", "--level", "ad", "--since", since(days).isoformat(), "--json"]
    measured = folder / "sync.rusage"
    sandbox_before = cpu_seconds(sandbox_pid)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(measured), *command], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    sandbox_after = cpu_seconds(sandbox_pid)
    exit_code, max_rss_kib, cpu = measured.read_text().split()
    if done.returncode or int(exit_code):
        raise SystemExit(f"error: datadrip sync exited {exit_code}: {done.stderr.strip()}")
    rows = int(json.loads(done.stdout)["rows"])
    workbook = Path(env["DATADRIP_HOME"]) / "workbook.db"
    with sqlite3.connect(workbook) as connection:
        requests = connection.execute("SELECT COALESCE(SUM(requests), 0) FROM sync_run").fetchone()[0]
    sandbox_cpu = None if sandbox_before is None or sandbox_after is None else sandbox_after - sandbox_before
    return Pass(rows=rows, seconds=seconds, requests=int(requests), cpu=float(cpu),
                sandbox_cpu=sandbox_cpu, peak_rss_mb=int(max_rss_kib) / 1024)  # Linux: KiB


def end_to_end(target_rows: int, days: int, chunk_days: int, folder: Path) -> None:
    print(f"end to end: datadrip sync --level ad --since {since(days)} ({days} days) of {ACCOUNT} "
          f"over HTTP from `datadrip sandbox serve --large` (its own process), {chunk_days}-day "
          "chunks; each pass a fresh workbook and a fresh sandbox")
    print(f"  {'pass':<6} {'rows':>10} {'seconds':>8} {'rows/s':>8} {'requests':>8} "
          f"{'sync cpu s':>10} {'sandbox cpu s':>13} {'peak RSS MB':>11}")
    passes: list[Pass] = []
    while not passes or sum(p.rows for p in passes) < target_rows:
        # A fresh sandbox per pass: its Meta usage counts the last hour's calls, and a second
        # pass on the same one would be paced by its usage headers, not measured.
        with sandbox_process() as (description, sandbox_pid):
            home = folder / f"e2e-{len(passes) + 1}"
            env = sandbox_env(description, home, chunk_days)
            connect(env, description["meta"]["access_token"])
            done = sync_pass(env, days, folder, sandbox_pid)
        passes.append(done)
        sandbox = f"{done.sandbox_cpu:.1f}" if done.sandbox_cpu is not None else "n/a"
        rate = done.rows / done.seconds
        print(f"  {len(passes):<6} {done.rows:>10,} {done.seconds:>8.1f} {rate:>8,.0f} "
              f"{done.requests:>8,} {done.cpu:>10.1f} {sandbox:>13} {done.peak_rss_mb:>11.1f}")
        shutil.rmtree(home)
        if done.rows == 0:
            raise SystemExit("error: the sync saved no rows")
    rows, seconds = sum(p.rows for p in passes), sum(p.seconds for p in passes)
    peak = max(p.peak_rss_mb for p in passes)
    verdict = "met" if peak < RSS_TARGET_MB else "MISSED"
    print(f"  {'total':<6} {rows:>10,} {seconds:>8.1f} {rows / seconds:>8,.0f} "
          f"{sum(p.requests for p in passes):>8,} {sum(p.cpu for p in passes):>10.1f} {'':>13} "
          f"{peak:>11.1f}  target: peak RSS < {RSS_TARGET_MB} MB {verdict}")


# --- 3. profile ----------------------------------------------------------------------------------

GROUPS = ("pauses (report-run polls, usage pacing)", "waiting on the sandbox (socket)",
          "httpx / httpcore / tenacity", "JSON parsing", "our connector parsing",
          "storage (sync_store, SQLAlchemy, sqlite3)", "sync loop (datadrip/sync/run.py)",
          "imports on first use", "other")
SOCKET_CALLS = ("recv", "send", "connect", "select", "poll", "accept")
HTTP_PARTS = ("/httpx/", "/httpcore/", "/h11/", "/anyio/", "/tenacity/", "/idna/", "/certifi/",
              "/socket.py", "/ssl.py", "/selectors.py", "/http/", "/urllib/", "/email/")
STORAGE_PARTS = ("datadrip/sync/store.py", "datadrip/db/", "/sqlalchemy/", "/sqlite3/")

Key = tuple[str, int, str]


def group_of(key: Key) -> str | None:
    """The group of a Python function, or of a builtin that says what it is; None: its caller's."""
    path, _, name = key
    if path == "~":
        if "sleep" in name:
            return GROUPS[0]
        if any(call in name for call in SOCKET_CALLS) and ("socket" in name or "select" in name):
            return GROUPS[1]
        return None
    if path.endswith("/threading.py"):  # the sync's interruptible sleep is an Event.wait
        return GROUPS[0]
    if any(part in path for part in HTTP_PARTS):
        return GROUPS[2]
    if "/json/" in path:
        return GROUPS[3]
    if "datadrip/platforms/" in path:
        return GROUPS[4]
    if any(part in path for part in STORAGE_PARTS):
        return GROUPS[5]
    if path.endswith("datadrip/sync/run.py"):
        return GROUPS[6]
    if "importlib" in path:
        return GROUPS[7]
    return GROUPS[8]


def assigned(stats: dict[Key, Any]) -> dict[Key, dict[str, float]]:
    """Each function's share of groups: its own group, or for a builtin that does not say (Decimal,
    re, sqlite3, the JSON scanner …) its callers' groups, in proportion to its time under each."""
    found: dict[Key, dict[str, float]] = {}

    def shares(key: Key, depth: int = 0) -> dict[str, float]:
        if key in found:
            return found[key]
        group = group_of(key)
        callers = stats[key][4] if key in stats else {}
        spent = sum(entry[2] for entry in callers.values())
        result: dict[str, float] = defaultdict(float)
        if group is not None or depth > 5 or not spent:
            result[group or GROUPS[-1]] = 1.0
        else:
            for caller, entry in callers.items():
                for name, part in shares(caller, depth + 1).items():
                    result[name] += part * entry[2] / spent
        found[key] = result
        return result

    for key in stats:
        shares(key)
    return found


def profiled_sync(env: dict[str, str], token: str, days: int) -> tuple[pstats.Stats, float, int]:
    """A sync of `days` at ad level in this process; the account's worker thread is profiled."""
    import datadrip.sync.run as sync_module
    from datadrip.platforms.registry import load_settings

    connect(env, token)
    profile = cProfile.Profile()
    original: Callable[..., None] = sync_module._sync_one

    def profiled(*args: Any, **kwargs: Any) -> None:
        # cProfile sees only the thread that enables it: the account's own worker, here.
        profile.enable()
        try:
            original(*args, **kwargs)
        finally:
            profile.disable()

    sync_module._sync_one = profiled
    try:
        start = time.perf_counter()
        outcome = sync_module.sync_accounts(load_settings(env=env), sync_module.SyncRequest(
            levels=("ad",), since=since(days)))
        seconds = time.perf_counter() - start
    finally:
        sync_module._sync_one = original
    if outcome.failed:
        raise SystemExit(f"error: the profiled sync failed: {outcome.failed[0].error}")
    return pstats.Stats(profile), seconds, outcome.rows


def profile_run(days: int, chunk_days: int, top: int, folder: Path) -> None:
    saved = dict(os.environ)
    with sandbox_process() as (description, _):
        env = sandbox_env(description, folder / "profile", chunk_days)
        os.environ.update(env)  # the secret store reads the environment, not only the settings
        try:
            stats, seconds, rows = profiled_sync(env, description["meta"]["access_token"], days)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    raw: dict[Key, Any] = stats.stats  # type: ignore[attr-defined]
    groups = assigned(raw)
    worker = sum(entry[2] for entry in raw.values())
    print(f"profile: datadrip sync --level ad --since {since(days)} ({days} days) in-process under "
          f"cProfile: {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s; "
          f"profiling slows our code)")
    print(f"  {'where the account worker spent its time (own time)':<52} {'seconds':>8} {'share':>6}")
    for group in GROUPS:
        own = sum(entry[2] * groups[key].get(group, 0.0) for key, entry in raw.items())
        print(f"  {group:<52} {own:>8.2f} {own / worker:>6.0%}")
    print(f"  {'worker total (its wall time)':<52} {worker:>8.2f}")
    print(f"  top {top} functions of each group by own time (own s, cumulative s):")
    for group in GROUPS:
        members = sorted(((entry[2] * groups[key].get(group, 0.0), entry[3], key)
                          for key, entry in raw.items() if groups[key].get(group)), reverse=True)[:top]
        for own, cumulative, (path, line, name) in members:
            if own >= 0.005:
                where = f"{Path(path).name}:{line}" if path != "~" else "builtin"
                print(f"    {group.split(' (')[0]:<30} {own:>7.2f} {cumulative:>7.2f}  {name} ({where})")


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="storage rows (1,000 ads × days)")
    parser.add_argument("--chunk-days", type=int, default=14, help="days per saved chunk ([sync] chunk_days)")
    parser.add_argument("--e2e-rows", type=int, default=1_000_000,
                        help="end to end: sync passes until this many rows are saved")
    parser.add_argument("--e2e-days", type=int, default=HISTORY_DAYS, help="end to end: days per pass")
    parser.add_argument("--profile-days", type=int, default=60, help="days of the profiled sync")
    parser.add_argument("--top", type=int, default=3, help="functions shown per profile group")
    parser.add_argument("--skip-parse", action="store_true")
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a small run of every part (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.e2e_rows, args.e2e_days, args.profile_days = 20_000, 1, 3, 2
    with tempfile.TemporaryDirectory(prefix="datadrip-bench-") as name:
        folder = Path(name)
        if not args.skip_parse:
            parsing(args.rows)
        if not args.skip_storage:
            storage(args.rows, args.chunk_days, folder)
        if not args.skip_e2e:
            end_to_end(args.e2e_rows, args.e2e_days, args.chunk_days, folder)
        if not args.skip_profile:
            profile_run(args.profile_days, args.chunk_days, args.top, folder)


if __name__ == "__main__":
    main()
