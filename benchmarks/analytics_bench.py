"""How fast the dashboards read a big workbook, beside the analytics issue's targets and DuckDB.

1. A workbook (the real migrated schema, from open_workbook) of one agency (INR), --clients
   clients with one Meta account each (every tenth, from the second, in USD: the client's
   currency is its account's, so the agency's figures blend them with dated USD→INR rates from
   fx_rate), --campaigns campaigns each and --days days of campaign-level rows ending 2025-12-31,
   plus ad-level rows for --ad-clients clients × --ads ads, and one succeeded sync_run per
   account and day (a daily schedule's history: the agency dashboard reads it). The numbers are
   the same every run. Agency, clients, accounts and entities go in through SQLModel; metric_daily
   and sync_run through plain sqlite3 executemany in key order, one transaction per account.
   --keep PATH keeps the workbook there and reuses it next time (generation takes a while).
2. Through DataDrip's own code, one engine and a fresh session per run, the median of --repeat
   runs after one warm-up, for a 30-day period ending on the last day:
     a. client_dashboard for the first client (INR, with ad-level rows beside its campaigns)
     b. agency_dashboard for the agency (its own scope included): per-client totals, then the
        blended total; b2 is breakdown(agency scope, "client"), what b's per-client lines cost
        as one GROUP BY (no target of its own)
     c. breakdown(first client, every day, "day"): the two-year daily series
   Targets: a < 50 ms, b < 1 s, c < 100 ms. "sql ms" replays the SELECTs the warm-up issued
   (caught with a cursor event) through plain sqlite3: the database's share of the time.
3. DuckDB (the bench extra), in memory: the same tables copied in through CSV files, written by
   the sqlite3 shell where there is one (DuckDB cannot read SQLite offline: its sqlite extension
   is downloaded on first use), no indexes, rows in metric_daily's key order; the same SELECTs
   with the same parameters, timed the same way. Target: DataDrip within 2× of DuckDB. The
   aggregates' results are checked to be the same.

    python benchmarks/analytics_bench.py [--clients 200] [--campaigns 40] [--days 730]
                                         [--ad-clients 3] [--ads 200] [--repeat 5] [--keep PATH]
                                         [--quick]

--quick: 5 clients × 4 campaigns × 60 days, ad level for 1 client × 10 ads (the smoke test).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LAST_DAY = dt.date(2025, 12, 31)
PERIOD_DAYS = 30
USD_INR = ("83.10", "0.07")  # the first month's rate, and how much it rises each month
STAMP = "2026-01-01 05:30:00.000000"  # metric_daily.synced_at, as SQLAlchemy writes naive UTC
TARGETS_MS = {"a": 50.0, "b": 1000.0, "c": 100.0}
RATIO_TARGET = 2.0
TABLES = ("agency", "client", "ad_account", "entity", "fx_rate", "sync_run", "metric_daily")


@dataclass(frozen=True)
class Shape:
    clients: int
    campaigns: int
    days: int
    ad_clients: int
    ads: int

    @property
    def first_day(self) -> dt.date:
        return LAST_DAY - dt.timedelta(days=self.days - 1)


def stable_id(*parts: object) -> str:
    """A uuid-hex-like id that is the same every run (so is the workbook)."""
    return hashlib.md5(" ".join(map(str, parts)).encode()).hexdigest()


def is_usd(client: int) -> bool:
    return client % 10 == 1


# --- 1. the workbook -----------------------------------------------------------------------------

def generate(path: Path, shape: Shape) -> None:
    from datadrip.db.engine import open_workbook, session_scope
    from datadrip.db.models import AdAccount, Agency, Client, Entity, FxRate

    engine = open_workbook(str(path))
    plan: list[tuple[str, int, list[tuple[int, str]], list[tuple[int, str]]]] = []
    try:
        with session_scope(engine, write=True) as session:
            agency = Agency(id=stable_id("agency"), name="Bench Agency", currency="INR",
                            settings={"analytics_bench": asdict(shape)})
            session.add(agency)
            session.flush()  # no ORM relationships: parents are flushed before their children
            for n in range(shape.clients):
                currency = "USD" if is_usd(n) else "INR"
                client = Client(id=stable_id("client", n), agency_id=agency.id, name=f"Client {n:03}",
                                currency=currency)
                account = AdAccount(id=stable_id("account", n), client_id=client.id, platform="meta",
                                    external_id=f"act_{1_000_000 + n}", name=f"Client {n:03} Meta",
                                    currency=currency, timezone="Asia/Kolkata")
                campaigns = [(n * 1_000 + k, stable_id("campaign", n, k)) for k in range(shape.campaigns)]
                ads: list[tuple[int, str]] = []
                for parent in (client, account):
                    session.add(parent)
                    session.flush()
                for k, (_, campaign_id) in enumerate(campaigns):
                    session.add(Entity(id=campaign_id, account_id=account.id, level="campaign",
                                       external_id=f"{account.external_id}{k:04}", name=f"Campaign {k}"))
                if n < shape.ad_clients:
                    for a in range(shape.ads):
                        parent = campaigns[a % len(campaigns)][1]
                        adset_id = stable_id("adset", n, a % len(campaigns))
                        if a < len(campaigns):
                            session.add(Entity(id=adset_id, account_id=account.id, level="adset",
                                               external_id=f"{account.external_id}9{a:04}",
                                               name=f"Ad set {a}", parent_id=parent))
                        ads.append((n * 1_000 + 500 + a, stable_id("ad", n, a)))
                        session.add(Entity(id=ads[-1][1], account_id=account.id, level="ad",
                                           external_id=f"{account.external_id}8{a:04}", name=f"Ad {a}",
                                           parent_id=adset_id))
                plan.append((account.id, n, sorted(campaigns, key=lambda e: e[1]),
                             sorted(ads, key=lambda e: e[1])))
                session.flush()
            month = shape.first_day.replace(day=1)
            for m in range(shape.days // 28 + 2):  # a dated rate each month
                rate = f"{float(USD_INR[0]) + m * float(USD_INR[1]):.2f}"
                session.add(FxRate(id=stable_id("fx", m), base="USD", quote="INR", rate=rate,
                                   valid_from=month))
                month = (month + dt.timedelta(days=32)).replace(day=1)
    finally:
        engine.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = OFF")  # a throwaway file: no need to survive a crash
        connection.execute("PRAGMA cache_size = -262144")
        for account_id, n, campaigns, ads in sorted(plan):  # account by account, in key order
            connection.execute("BEGIN")
            if ads:  # 'ad' sorts before 'campaign'
                connection.executemany(INSERT_METRIC, metric_rows(account_id, "ad", ads, shape, n))
            connection.executemany(INSERT_METRIC, metric_rows(account_id, "campaign", campaigns, shape, n))
            connection.executemany(INSERT_RUN, sync_runs(account_id, shape))
            connection.execute("COMMIT")
    finally:
        connection.close()


# By name: a migration appends its columns, so the table's order is not the model's.
INSERT_METRIC = ("INSERT INTO metric_daily (account_id, level, date, entity_id, spend_micros, "
                 "impressions, clicks, conversions_millionths, conversion_value_micros, reach, "
                 "synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_RUN = ("INSERT INTO sync_run (id, account_id, started_at, finished_at, status, window_start, "
              "window_end, rows, error, levels, requests, warnings) "
              "VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?, NULL, 'campaign', ?, '[]')")


def metric_rows(account_id: str, level: str, entities: list[tuple[int, str]], shape: Shape,
                client: int) -> Iterator[tuple[Any, ...]]:
    """One row per day and entity, day by day, entities in id order: the table's key order."""
    price, order_value = (2_400, 38_000_000) if is_usd(client) else (190_000, 2_900_000_000)
    if level == "ad":
        price //= 4
    for offset in range(shape.days):
        day = (shape.first_day + dt.timedelta(days=offset)).isoformat()
        for salt, entity_id in entities:
            seed = (salt * 7_919 + offset * 104_729) % 1_000_003
            impressions = 400 + seed % 9_000 if level == "campaign" else 50 + seed % 900
            clicks = impressions * (4 + seed % 37) // 1_000
            conversions = clicks // 18
            yield (account_id, level, day, entity_id, impressions * price, impressions, clicks,
                   conversions * 1_000_000, conversions * order_value, impressions * 3 // 4, STAMP)


def sync_runs(account_id: str, shape: Shape) -> Iterator[tuple[Any, ...]]:
    for offset in range(shape.days):
        day = shape.first_day + dt.timedelta(days=offset + 1)
        started = dt.datetime.combine(day, dt.time(0, 30))
        yield (stable_id("run", account_id, offset), account_id, f"{started:%Y-%m-%d %H:%M:%S.%f}",
               f"{started + dt.timedelta(seconds=41):%Y-%m-%d %H:%M:%S.%f}",
               (day - dt.timedelta(days=3)).isoformat(), (day - dt.timedelta(days=1)).isoformat(),
               shape.campaigns * 3, 2)


def workbook(path: Path, shape: Shape) -> None:
    """Generate the workbook at `path`, or reuse the one there if it has the same shape."""
    size = (f"{shape.clients} clients × {shape.campaigns} campaigns × {shape.days} days "
            f"({shape.first_day}..{LAST_DAY}), {sum(map(is_usd, range(shape.clients)))} of "
            f"{shape.clients} accounts in USD, ad level for {shape.ad_clients} client(s) × {shape.ads} ads")
    if path.exists():
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            found = connection.execute("SELECT settings FROM agency WHERE name = 'Bench Agency'").fetchone()
        made = json.loads(found[0]).get("analytics_bench") if found else None
        if made != asdict(shape):
            raise SystemExit(f"error: {path} was not generated with these sizes ({made}); "
                             "give the same sizes or another --keep path")
        print(f"workbook: reused {path}: {size}")
    else:
        start = time.perf_counter()
        generate(path, shape)
        seconds = time.perf_counter() - start
        print(f"workbook: generated in {seconds:.1f} s: {size}")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        counts = dict(connection.execute("SELECT level, COUNT(*) FROM metric_daily GROUP BY level"))
        runs = connection.execute("SELECT COUNT(*) FROM sync_run").fetchone()[0]
    total = sum(counts.values())
    megabytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    print(f"  metric_daily: {counts.get('campaign', 0):,} campaign rows + {counts.get('ad', 0):,} ad rows "
          f"= {total:,} rows; sync_run: {runs:,} rows; {megabytes:,.0f} MB")


# --- 2. DataDrip on SQLite -----------------------------------------------------------------------

@dataclass
class Measured:
    key: str
    label: str
    ms: float
    sql_ms: float
    statements: list[tuple[str, tuple[Any, ...]]]


def median_ms(run: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def replay(execute: Callable[[str, Sequence[Any]], Any],
           statements: list[tuple[str, tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
    return [execute(sql, params).fetchall() for sql, params in statements]


def measure_datadrip(path: Path, shape: Shape, repeat: int) -> list[Measured]:
    import sqlalchemy as sa

    from datadrip.analytics.dashboard import agency_dashboard, client_dashboard
    from datadrip.analytics.totals import agency_scope, breakdown, client_scope
    from datadrip.core.periods import Period
    from datadrip.db.engine import open_workbook, session_scope
    from datadrip.db.models import Agency, Client

    engine = open_workbook(str(path))
    caught: list[tuple[str, tuple[Any, ...]]] | None = None

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if caught is not None and statement.lstrip().upper().startswith("SELECT"):
            caught.append((statement, tuple(parameters or ())))

    sa.event.listen(engine, "before_cursor_execute", catch)
    with session_scope(engine) as session:
        agency = session.execute(sa.select(Agency)).scalar_one()
        first = session.execute(sa.select(Client).where(Client.name == "Client 000")).scalar_one()
    scope = client_scope(agency, first)
    period = Period(LAST_DAY - dt.timedelta(days=PERIOD_DAYS - 1), LAST_DAY, "last-30-days")
    everything = Period(shape.first_day, LAST_DAY, "custom")
    now = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(6), dt.UTC)
    work: list[tuple[str, str, Callable[[Any], object]]] = [
        ("a", f"a. client dashboard, {PERIOD_DAYS} days ({first.name}, {first.currency})",
         lambda s: client_dashboard(s, scope, period)),
        ("b", f"b. agency dashboard, {PERIOD_DAYS} days ({shape.clients} clients, INR)",
         lambda s: agency_dashboard(s, agency_scope(s, agency), period, now=now)),
        ("b2", f"b2. agency breakdown by client, {PERIOD_DAYS} days",
         lambda s: breakdown(s, agency_scope(s, agency), period, "client")),
        ("c", f"c. client daily series, {shape.days} days ({first.name})",
         lambda s: breakdown(s, scope, everything, "day")),
    ]
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    raw.execute("PRAGMA cache_size = -65536")  # as DataDrip's connections
    measured = []
    try:
        for key, label, call in work:
            def run(call: Callable[[Any], object] = call) -> None:
                with session_scope(engine) as session:
                    call(session)
            caught = []
            run()  # the warm-up, which also catches the SELECTs it issues
            statements, caught = caught, None
            replay(raw.execute, statements)
            measured.append(Measured(key, label, median_ms(run, repeat),
                                     median_ms(lambda s=statements: replay(raw.execute, s), repeat),
                                     statements))
    finally:
        raw.close()
        engine.dispose()
    print(f"sqlite {sqlite3.sqlite_version} through DataDrip (one engine, a fresh session per run), "
          f"median of {repeat} runs after one warm-up, period {period}:")
    print(f"  {'query':<52} {'ms':>8} {'sql ms':>8} {'selects':>7}  target")
    for done in measured:
        target = TARGETS_MS.get(done.key)
        verdict = f"< {target:,.0f} ms: {'met' if done.ms < target else 'MISSED'}" if target \
            else "(b's per-client lines as one query; no target)"
        print(f"  {done.label:<52} {done.ms:>8.1f} {done.sql_ms:>8.1f} {len(done.statements):>7}  {verdict}")
    print("  (sql ms: the same SELECTs replayed through plain sqlite3, without DataDrip's Python)")
    return measured


# --- 3. DuckDB -----------------------------------------------------------------------------------

def duck_type(declared: str) -> str:
    name = declared.upper().split("(")[0]
    return {"BIGINT": "BIGINT", "INTEGER": "BIGINT", "FLOAT": "DOUBLE", "REAL": "DOUBLE",
            "DATE": "DATE", "DATETIME": "TIMESTAMP", "BOOLEAN": "BOOLEAN"}.get(name, "VARCHAR")


def export_csv(path: Path, table: str, file: Path) -> None:
    """The table as CSV, NULL as \\N: by the sqlite3 shell where there is one (four times faster
    than Python's csv module over millions of rows), else by Python."""
    select = f'SELECT * FROM "{table}"'  # metric_daily: in its key order
    shell = shutil.which("sqlite3")
    with file.open("w", newline="") as out:
        if shell is not None:
            subprocess.run([shell, "-readonly", "-csv", "-nullvalue", r"\N", str(path), select],
                           stdout=out, check=True)
            return
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
            csv.writer(out).writerows(tuple(r"\N" if value is None else value for value in row)
                                      for row in source.execute(select))


def copy_to_duckdb(duckdb: Any, path: Path, folder: Path) -> Any:
    """An in-memory DuckDB with TABLES copied from the workbook, column types mapped, via CSV."""
    target = duckdb.connect()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        tables = {table: [(row[1], row[2]) for row in source.execute(f'PRAGMA table_info("{table}")')]
                  for table in TABLES}
    for table, columns in tables.items():
        ddl = ", ".join(f'"{name}" {duck_type(declared)}' for name, declared in columns)
        target.execute(f'CREATE TABLE "{table}" ({ddl})')
        file = folder / f"{table}.csv"
        export_csv(path, table, file)
        target.execute(f"""COPY "{table}" FROM '{file}' (FORMAT csv, HEADER false, NULLSTR '\\N')""")
        file.unlink()
    return target


def normal(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Rows comparable across the two databases: dates as text, float sums to 6 places, sorted."""
    def cell(value: Any) -> str:
        return f"{value:.6f}" if isinstance(value, float) else str(value)
    return sorted(tuple(cell(value) for value in row) for row in rows)


def measure_duckdb(path: Path, measured: list[Measured], repeat: int) -> None:
    try:
        import duckdb
    except ImportError:
        print("duckdb: not installed, so no comparison with it (pip install -e '.[bench]'); "
              "the SQLite figures above stand alone")
        return
    with tempfile.TemporaryDirectory(prefix="datadrip-bench-duckdb-") as name:
        start = time.perf_counter()
        connection = copy_to_duckdb(duckdb, path, Path(name))
        seconds = time.perf_counter() - start
    via = " through the sqlite3 shell's CSV" if shutil.which("sqlite3") else " through CSV"
    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT COUNT(*) FROM metric_daily").fetchone()[0]
        print(f"duckdb {duckdb.__version__} in memory, the same {len(TABLES)} tables copied in "
              f"({rows:,} metric_daily rows in {seconds:.1f} s{via}), the same SELECTs, median of {repeat} "
              "runs after one warm-up:")
        print(f"  {'query':<52} {'ms':>8} {'ours/duckdb':>11} {'sql/duckdb':>10}  target")
        compared = differ = 0
        for done in measured:
            theirs = replay(connection.execute, done.statements)  # the warm-up
            ours = replay(check.execute, done.statements)
            for (sql, _), mine, other in zip(done.statements, ours, theirs, strict=True):
                if "metric_daily" in sql:
                    compared += 1
                    differ += normal(mine) != normal(other)
            ms = median_ms(lambda s=done.statements: replay(connection.execute, s), repeat)
            ratio = done.ms / ms
            verdict = f"within {RATIO_TARGET:.0f}×: {'met' if ratio <= RATIO_TARGET else 'MISSED'}" \
                if done.key in TARGETS_MS else "(no target)"
            print(f"  {done.label:<52} {ms:>8.1f} {ratio:>10.2f}× {done.sql_ms / ms:>9.2f}×  {verdict}")
        print(f"  (ours: DataDrip's ms above; sql: the plain sqlite3 replay) same results as SQLite: "
              f"{'yes' if not differ else 'NO'} ({compared - differ} of {compared} aggregate SELECTs alike)")
    finally:
        check.close()
        connection.close()


# --- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--campaigns", type=int, default=40, help="campaigns per client")
    parser.add_argument("--days", type=int, default=730, help="days of history, ending 2025-12-31")
    parser.add_argument("--ad-clients", type=int, default=3, help="clients that also have ad-level rows")
    parser.add_argument("--ads", type=int, default=200, help="ads per such client")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument("--keep", type=Path, help="keep the workbook here; reuse it if it exists")
    parser.add_argument("--quick", action="store_true", help="a tiny workbook (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.campaigns, args.days, args.ad_clients, args.ads = 5, 4, 60, 1, 10
    if args.days < 2 * PERIOD_DAYS or args.clients < 1 or not 0 < args.campaigns <= 500:
        parser.error(f"need --days >= {2 * PERIOD_DAYS}, --clients > 0 and 0 < --campaigns <= 500")
    shape = Shape(args.clients, args.campaigns, args.days, min(args.ad_clients, args.clients), args.ads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="datadrip-bench-") as name:
        path = args.keep.resolve() if args.keep else Path(name) / "workbook.db"
        workbook(path, shape)
        measured = measure_datadrip(path, shape, args.repeat)
        measure_duckdb(path, measured, args.repeat)
    print(f"whole run: {time.perf_counter() - started:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
