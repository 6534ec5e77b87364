"""Helpers for the Meta sandbox tests: the ready-made token, insights calls, following `next`."""

from __future__ import annotations

import json
from typing import Any

import httpx

from datadrip.sandbox.state import Credentials

TOKEN = Credentials().meta_system_user_token
GRAPH = "/meta/graph/v26.0"
INR, USD, EUR = "act_1010000001", "act_1010000002", "act_1010000003"


def insights(http: httpx.Client, account: str = INR, **params: Any) -> httpx.Response:
    params.setdefault("access_token", TOKEN)
    for key in ("time_range", "action_attribution_windows", "filtering"):
        if isinstance(params.get(key), dict | list):
            params[key] = json.dumps(params[key])
    return http.get(f"{GRAPH}/{account}/insights", params=params)


def all_rows(http: httpx.Client, first: httpx.Response) -> tuple[list[dict[str, Any]], int]:
    """Every row from `first` on, following `paging.next` as given; and how many pages."""
    response, rows, pages = first, [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["data"])
        pages += 1
        link = body.get("paging", {}).get("next")
        if link is None:
            return rows, pages
        response = http.get(link)


def run_report(http: httpx.Client, account: str = INR, **params: Any) -> str:
    """Start an async report run, poll it to completion, and return its id."""
    data = {"access_token": TOKEN, **{k: json.dumps(v) if isinstance(v, dict | list) else str(v)
                                      for k, v in params.items()}}
    created = http.post(f"{GRAPH}/{account}/insights", data=data)
    assert created.status_code == 200, created.text
    run_id = str(created.json()["report_run_id"])
    for _ in range(10):
        status = http.get(f"{GRAPH}/{run_id}", params={"access_token": TOKEN}).json()
        if status["async_status"] == "Job Completed":
            return run_id
    raise AssertionError(f"report run {run_id} never completed")
