"""Meta's retry rules: which Graph API answers are worth another try, how long its usage headers
say to wait, and the pacing that slows a busy sync down before Meta stops it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datadrip.platforms.http import Retryable, longest_wait, response_json, retry_after

if TYPE_CHECKING:
    import httpx

# Meta: dlt's retry list plus the business-use-case family (reference §5).
META_RETRY_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, *range(80000, 80015)})
META_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})

# Meta's "Please reduce the amount of data you're asking for" (code 1, HTTP 500): asking the same
# again gets the same answer, so it is not retried; callers ask for less (a smaller page, a report
# run) instead.
META_REDUCE_DATA = "reduce the amount of data"

# Pacing by Meta's usage headers: from USAGE_PACE_FROM percent on, a pause before the next call of
# USAGE_PACE_FIRST seconds that doubles every USAGE_PACE_DOUBLING points (10 s at 75 %, 80 s at
# 90 %, 320 s at 100 %), so a busy sync slows down before Meta stops it. Peers: Airbyte pauses 2
# minutes from 85 % and 10 minutes from 95 %.
USAGE_PACE_FROM = 75.0
USAGE_PACE_FIRST = 10.0
USAGE_PACE_DOUBLING = 5.0


def meta_retryable(response: httpx.Response) -> Retryable | None:
    """Meta: HTTP 5xx, codes 1, 2, 4, 17, 32, 341, 613, 80000–80014, or `is_transient`; never
    code 1 about the client secret (a wrong secret stays wrong) nor "reduce the amount of data"
    (the same request gets the same answer: the caller asks for less)."""
    body = response_json(response)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    if code == 1 and is_meta_reduce_data(error):
        return None
    message = str(error.get("message", ""))
    if code == 1 and "client secret" in message.lower():
        return None
    wait = longest_wait(retry_after(response.headers), meta_throttle_wait(response.headers))
    known = isinstance(code, int) and not isinstance(code, bool)
    label = f"HTTP {response.status_code}" + (f", Meta error {code}" if known else "")
    if known and code in META_THROTTLE_CODES:
        usage = meta_usage(response.headers)
        return Retryable(f"{label}: rate limited" + (f", {usage.describe()}" if usage.percent else ""),
                         wait)
    if (known and code in META_RETRY_CODES) or error.get("is_transient") is True \
            or response.status_code >= 500:
        return Retryable(label, wait)
    return None


def is_meta_reduce_data(error: Mapping[str, Any]) -> bool:
    """Is this Graph error object Meta's "Please reduce the amount of data…" (code 1)?"""
    return error.get("code") == 1 and META_REDUCE_DATA in str(error.get("message", "")).lower()


@dataclass(frozen=True)
class MetaUsage:
    """What Meta's usage headers say: the highest utilisation in percent (0 when none is given),
    which usage that is ("ad account usage", "ads insights usage" …), and how many seconds until
    access is regained (0 when not limited)."""

    percent: float = 0.0
    regain_seconds: float = 0.0
    what: str = ""

    def describe(self) -> str:
        """"ad account usage 100%": the highest utilisation, in words."""
        return f"{self.what or 'usage'} {self.percent:g}%"


def meta_usage(headers: Mapping[str, str]) -> MetaUsage:
    """Read X-Business-Use-Case-Usage, X-Ad-Account-Usage, X-App-Usage and
    x-fb-ads-insights-throttle (JSON; every key optional; a header that is not JSON is ignored).
    Of equal percentages the ad account's names the usage, then the business use case's."""
    percents: list[tuple[float, str]] = []
    regain: list[float] = []
    account = _json_header(headers.get("x-ad-account-usage"))
    if isinstance(account, dict):
        account_pct = _numbers(account, "acc_id_util_pct")
        percents += [(pct, "ad account usage") for pct in account_pct]
        # reset_time_duration counts down even while usage is low: it is a wait only at the limit.
        if any(pct >= 100 for pct in account_pct):
            regain += _numbers(account, "reset_time_duration")
    business = _json_header(headers.get("x-business-use-case-usage"))
    for entries in business.values() if isinstance(business, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            use = entry.get("type")
            what = f"{use.replace('_', ' ')} usage" if isinstance(use, str) and \
                re.fullmatch(r"[a-z_]{1,40}", use) else "business use case usage"
            percents += [(pct, what) for pct in _numbers(entry, "call_count", "total_cputime",
                                                          "total_time")]
            regain += [minutes * 60 for minutes in _numbers(entry, "estimated_time_to_regain_access")]
    app = _json_header(headers.get("x-app-usage"))
    if isinstance(app, dict):
        percents += [(pct, "app usage") for pct in _numbers(app, "call_count", "total_cputime",
                                                             "total_time")]
    throttle = _json_header(headers.get("x-fb-ads-insights-throttle"))
    if isinstance(throttle, dict):
        percents += [(pct, "insights usage") for pct in _numbers(throttle, "app_id_util_pct",
                                                                 "acc_id_util_pct")]
    top = max((pct for pct, _ in percents), default=0.0)
    what = next((name for pct, name in percents if pct == top), "")
    return MetaUsage(top, max(regain, default=0.0), what)


def usage_pace(percent: float) -> float:
    """Seconds to pause before the next call at this utilisation: 0 below USAGE_PACE_FROM, then
    USAGE_PACE_FIRST doubling every USAGE_PACE_DOUBLING points."""
    if percent < USAGE_PACE_FROM:
        return 0.0
    return float(USAGE_PACE_FIRST * 2.0 ** ((min(percent, 100.0) - USAGE_PACE_FROM) / USAGE_PACE_DOUBLING))


def meta_usage_pause(headers: Mapping[str, str]) -> float:
    """Seconds to pause before the next Meta call after an answer with these headers: the usage
    pace, or the time until access is regained when that is longer; 0 when all is well."""
    usage = meta_usage(headers)
    return max(usage_pace(usage.percent), usage.regain_seconds)


def _numbers(values: Mapping[str, Any], *keys: str) -> list[float]:
    return [number for key in keys if (number := _number(values.get(key))) is not None]


def meta_throttle_wait(headers: Mapping[str, str]) -> float | None:
    """How long Meta's usage headers say access is withheld: the largest
    `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, or
    `reset_time_duration` (seconds) in X-Ad-Account-Usage. None when they say nothing."""
    waits: list[float] = []
    business = _json_header(headers.get("x-business-use-case-usage"))
    if isinstance(business, dict):
        for entries in business.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = _number(entry.get("estimated_time_to_regain_access")) \
                    if isinstance(entry, dict) else None
                if minutes is not None:
                    waits.append(minutes * 60)
    account = _json_header(headers.get("x-ad-account-usage"))
    reset = _number(account.get("reset_time_duration")) if isinstance(account, dict) else None
    if reset is not None:
        waits.append(reset)
    longest = max(waits, default=0.0)
    return longest if longest > 0 else None


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
