"""How fast the sandbox makes and serves ad-level daily rows, so it is never a sync's bottleneck.

Two figures for the large account (40 campaigns × 5 ad sets × 4 ads, two years of days):
  generated  rows/s of `World.rows` alone (no HTTP)
  served     rows/s through HTTP: a Meta async report run, read page by page via `paging.next`

    python benchmarks/sandbox_rows.py [--days 730] [--limit 5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import httpx

from datadrip.sandbox.app import SandboxConfig
from datadrip.sandbox.data import World, default_accounts, large_account
from datadrip.sandbox.server import SandboxServer

TODAY = dt.date(2026, 11, 26)
FIELDS = "campaign_id,adset_id,ad_id,ad_name,spend,impressions,clicks,reach,actions,action_values"


def generated(days: int) -> tuple[int, float]:
    world = World(seed=7, accounts=default_accounts() + (large_account(),), epoch=TODAY)
    start = time.perf_counter()
    count = sum(1 for _ in world.rows(large_account().id, "ad",
                                      TODAY - dt.timedelta(days=days - 1), TODAY, TODAY))
    return count, time.perf_counter() - start


def served(days: int, limit: int) -> tuple[int, float]:
    config = SandboxConfig(seed=7, today=TODAY, large_account=True, async_polls=1)
    with SandboxServer(config) as server, httpx.Client(timeout=120) as http:
        description = server.app.describe(server.base_url)["meta"]
        graph = f"{description['graph_url']}/{description['api_version']}"
        token = description["access_token"]
        window = {"since": str(TODAY - dt.timedelta(days=days - 1)), "until": str(TODAY)}
        start = time.perf_counter()
        run = http.post(f"{graph}/{large_account().act_id}/insights", params={
            "access_token": token, "level": "ad", "time_increment": "1", "fields": FIELDS,
            "time_range": json.dumps(window)}).json()["report_run_id"]
        while http.get(f"{graph}/{run}", params={"access_token": token}).json()[
                "async_status"] != "Job Completed":
            time.sleep(0.05)
        url: str | None = f"{graph}/{run}/insights?access_token={token}&limit={limit}"
        count = 0
        while url:
            page = http.get(url).json()
            count += len(page["data"])
            url = page.get("paging", {}).get("next")
        return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--limit", type=int, default=5000, help="rows per page")
    args = parser.parse_args()
    for label, (count, seconds) in (("generated", generated(args.days)),
                                    ("served (HTTP)", served(args.days, args.limit))):
        print(f"{label:<14} {count:>9,} rows in {seconds:6.2f} s = {count / seconds:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
