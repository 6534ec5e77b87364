"""Acme Ads' API, as the fixture plug-in (tests/fixtures/acme_platform) talks to it: a tiny HTTP
server on 127.0.0.1 that a test starts, with one API token, two ad accounts and a report whose
numbers are a pure function of the ad and the day, so a test can total them on its own.

Each ad has one row a day; an ad set's and a campaign's rows are the sums of their ads' rows (as
a platform reports them), so every level adds up to the same account total.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The plug-in that talks to this API: the fixture distribution datadrip-acme.
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "acme_platform"
TOKEN = "acme-live-7f3a9c1e5b"
VERSION = "v1"
PAGE_SIZE = 10  # rows per report page: a two-week chunk takes several pages
ACCOUNTS = [
    {"id": "acme-123", "name": "Coyote Supplies EU", "currency": "EUR", "timezone": "UTC",
     "status": "active"},
    {"id": "acme-456", "name": "Roadrunner Outlet", "currency": "EUR", "timezone": "UTC",
     "status": "active"},
]


@dataclass(frozen=True)
class Ad:
    id: str
    name: str
    adset: tuple[str, str]  # id, name
    campaign: tuple[str, str]
    seed: int


ADS = [
    Ad("a-111", "Rocket skates, video", ("g-11", "Desert commuters"), ("c-1", "Spring Sale"), 1),
    Ad("a-112", "Rocket skates, still", ("g-11", "Desert commuters"), ("c-1", "Spring Sale"), 2),
    Ad("a-121", "Giant magnet", ("g-12", "Canyon hobbyists"), ("c-1", "Spring Sale"), 3),
    Ad("a-211", "Acme brand film", ("g-21", "Everyone"), ("c-2", "Brand"), 4),
]


def ad_day(ad: Ad, day: dt.date) -> dict[str, Any]:
    """One ad's numbers on one day (conversions in halves: exact decimals, never floats)."""
    n = day.toordinal() * (5 + ad.seed) + ad.seed * 13
    impressions = 800 + n % 900
    conversions = Decimal(n % 7) / 2
    return {"spend_micros": 3_000_000 + (n % 41) * 250_000 + ad.seed * 10_000,
            "impressions": impressions, "clicks": impressions // 40 + ad.seed,
            "conversions": conversions,
            "conversion_value_micros": int(conversions * 24_990_000)}


def report(account_id: str, level: str, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    """The account's rows at a level over the window, each with its entity (id, name, parent)."""
    if account_id != ACCOUNTS[0]["id"]:
        return []  # the other account spends nothing
    rows: dict[tuple[str, dt.date], dict[str, Any]] = {}
    day = since
    while day <= until:
        for ad in ADS:
            entity = {"ad": (ad.id, ad.name, ad.adset[0]), "adset": (*ad.adset, ad.campaign[0]),
                      "campaign": (*ad.campaign, None)}[level]
            row = rows.setdefault((entity[0], day), {
                "entity": entity, "date": day, "spend_micros": 0, "impressions": 0, "clicks": 0,
                "conversions": Decimal(0), "conversion_value_micros": 0})
            for key, value in ad_day(ad, day).items():
                row[key] += value
        day += dt.timedelta(days=1)
    return [rows[key] for key in sorted(rows, key=lambda key: (key[1], key[0]))]


def totals(since: dt.date, until: dt.date) -> dict[str, Any]:
    """Account acme-123's totals over the window, summed from the ads' own rows."""
    sums: dict[str, Any] = {"spend_micros": 0, "impressions": 0, "clicks": 0,
                            "conversions": Decimal(0), "conversion_value_micros": 0}
    day = since
    while day <= until:
        for ad in ADS:
            for key, value in ad_day(ad, day).items():
                sums[key] += value
        day += dt.timedelta(days=1)
    return sums


class AcmeApi:
    """The server in a background thread. `requests` records (path, Authorization header) of
    every request it answered; `faults` holds (status, Retry-After seconds) answers to give the
    next requests instead, first one first."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.faults: list[tuple[int, int | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                api.requests.append((urlsplit(self.path).path, self.headers.get("Authorization")))
                headers = {}
                if api.faults:
                    status, after = api.faults.pop(0)
                    body: dict[str, Any] = {"error": {"message": "slow down"}}
                    if after is not None:
                        headers["Retry-After"] = str(after)
                else:
                    status, body = api.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="acme-api",
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, target: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {TOKEN}":
            return 401, {"error": {"message": "invalid or revoked API token"}}
        parts = urlsplit(target)
        path = parts.path.strip("/").split("/")
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if path[:1] != [VERSION]:
            return 404, {"error": {"message": f"no API version {path[0]!r}"}}
        if path[1:] == ["me"]:
            return 200, {"id": "u-42", "name": "Wile E.", "token_expires_at": None}
        if path[1:] == ["accounts"]:
            return 200, {"accounts": ACCOUNTS}
        if len(path) == 4 and path[1] == "accounts" and path[3] == "report":
            return self._report(path[2], query)
        return 404, {"error": {"message": "no such endpoint"}}

    def _report(self, account_id: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if account_id not in {a["id"] for a in ACCOUNTS}:
            return 404, {"error": {"message": "no such account"}}
        level = query.get("level", "")
        if level not in ("campaign", "adset", "ad"):
            return 400, {"error": {"message": "level must be campaign, adset or ad"}}
        rows = report(account_id, level, dt.date.fromisoformat(query["since"]),
                      dt.date.fromisoformat(query["until"]))
        start = int(query.get("page", "0"))
        page = rows[start:start + PAGE_SIZE]
        entities = {row["entity"][0]: row["entity"] for row in page}
        return 200, {
            "entities": [{"id": i, "name": name, "parent_id": parent, "status": "active"}
                         for i, name, parent in entities.values()],
            "rows": [{"entity_id": row["entity"][0], "date": row["date"].isoformat(),
                      "spend_micros": row["spend_micros"], "impressions": row["impressions"],
                      "clicks": row["clicks"], "conversions": str(row["conversions"]),
                      "conversion_value_micros": row["conversion_value_micros"]} for row in page],
            "next_page": str(start + PAGE_SIZE) if start + PAGE_SIZE < len(rows) else None}

    def __enter__(self) -> AcmeApi:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
