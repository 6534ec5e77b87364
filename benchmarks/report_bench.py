"""How long building a client's daily report takes, for 200 clients, beside the reports issue's
target (under 100 ms a report on our machines).

1. A workbook (the real migrated schema) of one agency (INR) and --clients clients, each with a
   Meta and a Google account (INR), --campaigns campaigns per account, --days days of
   campaign-level rows ending on the report's day, a succeeded sync per account and a monthly
   budget (so every report has pacing). The numbers are the same every run.
2. Through DataDrip's own services, one session, every client's daily report as `report send`
   builds it, without sending: the numbers (build_content), the charts (matplotlib, Agg), the
   HTML file (data URIs), the e-mail's HTML (cid: images) and its plain text, each stage timed.
   The first report pays for the imports (matplotlib, jinja2, babel's locale data): it is shown
   apart and left out of the per-report figures.

    python benchmarks/report_bench.py [--clients 200] [--campaigns 8] [--days 60] [--quick]

--quick: 5 clients (the smoke test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

DAY = dt.date(2026, 11, 23)  # the reports' day (a daily report: "yesterday")
TARGET_MS = 100.0
STAGES = ("numbers", "charts", "html file", "e-mail html", "text")


def stable_id(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:32]


def generate(path: Path, clients: int, campaigns: int, days: int) -> None:
    from datadrip.db.engine import open_workbook

    open_workbook(str(path)).dispose()  # creates and migrates the schema
    stamp = "2026-11-24 01:00:00.000000"
    agency = stable_id("agency")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO agency (id, name, timezone, currency, locale, plan, settings, "
                   "created_at, updated_at) VALUES (?, 'Bench Agency', 'Asia/Kolkata', 'INR', 'en_IN',"
                   " 'scale', '{\"colour\": \"#E4572E\"}', ?, ?)", (agency, stamp, stamp))
        for c in range(clients):
            client = stable_id("client", c)
            db.execute("INSERT INTO client (id, agency_id, name, report_recipients, currency, "
                       "monthly_budget_micros, conversion_actions, active, created_at, updated_at) "
                       "VALUES (?, ?, ?, '[\"owner@client.example\"]', 'INR', ?, '[]', 1, ?, ?)",
                       (client, agency, f"Client {c:03d}", 900_000 * 1_000_000, stamp, stamp))
            for platform in ("meta", "google"):
                account = stable_id("account", c, platform)
                db.execute("INSERT INTO ad_account (id, client_id, platform, external_id, name, currency,"
                           " timezone, status, created_at) VALUES (?, ?, ?, ?, ?, 'INR', 'Asia/Kolkata',"
                           " 'active', ?)", (account, client, platform, f"{platform}-{c}",
                                              f"Client {c:03d} {platform}", stamp))
                db.execute("INSERT INTO sync_run (id, account_id, started_at, finished_at, status, rows,"
                           " requests, warnings) VALUES (?, ?, ?, ?, 'succeeded', 0, 1, '[]')",
                           (stable_id("run", account), account, stamp, stamp))
                db.execute("INSERT INTO sync_cursor (account_id, level, synced_through, updated_at) "
                           "VALUES (?, 'campaign', ?, ?)", (account, DAY.isoformat(), stamp))
                entities = [(stable_id("entity", account, n), f"Campaign {n}") for n in range(campaigns)]
                db.executemany("INSERT INTO entity (id, account_id, level, external_id, name, status, "
                               "updated_at) VALUES (?, ?, 'campaign', ?, ?, 'ACTIVE', ?)",
                               [(entity, account, str(n), name, stamp)
                                for n, (entity, name) in enumerate(entities)])
                rows = []
                for d in range(days):
                    day = (DAY - dt.timedelta(days=days - 1 - d)).isoformat()
                    for n, (entity, _) in enumerate(entities):
                        spend = 1_000 + (c * 37 + d * 11 + n * 101) % 4_000
                        clicks = 20 + (c + d + n) % 80
                        rows.append((account, "campaign", day, entity, spend * 1_000_000, clicks * 40,
                                     clicks, (c + d * n) % 9 * 1_000_000, spend * 3_000_000, stamp))
                db.executemany("INSERT INTO metric_daily (account_id, level, date, entity_id, "
                               "spend_micros, impressions, clicks, conversions_millionths, "
                               "conversion_value_micros, synced_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def measure(path: Path) -> tuple[dict[str, float], list[dict[str, float]]]:
    from sqlmodel import Session, select

    from datadrip.core.enums import ReportKind
    from datadrip.core.periods import Period
    from datadrip.db.engine import open_workbook
    from datadrip.db.models import Agency, Client
    from datadrip.reports.build import build_content
    from datadrip.reports.charts import draw_charts
    from datadrip.reports.content import ReportPlan
    from datadrip.reports.render import images_for, render
    from datadrip.workbook.fx import RateBook

    engine = open_workbook(str(path))
    timings = []
    with Session(engine) as session:
        agency = session.exec(select(Agency)).one()
        clients = list(session.exec(select(Client).order_by(Client.name)))
        plan = ReportPlan(ReportKind.DAILY, Period(DAY, DAY, "yesterday"))
        for client in clients:
            stage: dict[str, float] = {}
            start = time.perf_counter()
            content = build_content(session, agency, client, plan, rates=RateBook.load(session))
            record = content.record()
            stage["numbers"] = time.perf_counter() - start
            mark = time.perf_counter()
            images = images_for(record, draw_charts(record))
            stage["charts"] = time.perf_counter() - mark
            for name, fmt, embed in (("html file", "html", True), ("e-mail html", "html", False),
                                     ("text", "txt", True)):
                mark = time.perf_counter()
                render(record, fmt, images=images, embed=embed)
                stage[name] = time.perf_counter() - mark
            stage["total"] = time.perf_counter() - start
            timings.append({key: value * 1000 for key, value in stage.items()})
    engine.dispose()
    return timings[0], timings[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="5 clients: the smoke test")
    args = parser.parse_args()
    clients = 5 if args.quick else args.clients
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        generate(path, clients, args.campaigns, args.days)
        rows = clients * 2 * args.campaigns * args.days
        print(f"workbook: {clients} clients, {rows:,} metric rows, made in "
              f"{time.perf_counter() - started:.1f} s")
        first, rest = measure(path)
    print(f"first report (imports included): {first['total']:.0f} ms")
    print(f"per report, {len(rest)} reports:        mean   median      p95")
    for name in (*STAGES, "total"):
        values = sorted(timing[name] for timing in rest)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"  {name:<28} {statistics.mean(values):7.1f} {statistics.median(values):8.1f} {p95:8.1f}")
    mean = statistics.mean(timing["total"] for timing in rest)
    verdict = "met" if mean < TARGET_MS else "MISSED"
    print(f"all {len(rest) + 1} reports: {(first['total'] + sum(t['total'] for t in rest)) / 1000:.1f} s; "
          f"target: < {TARGET_MS:.0f} ms a report ({verdict})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
