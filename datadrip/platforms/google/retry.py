"""Google Ads' retry rules: which answers are worth another try, and the waits Google asks for."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from datadrip.platforms.http import Retryable, longest_wait, response_json, retry_after

if TYPE_CHECKING:
    import httpx

GOOGLE_RETRY_STATUSES = frozenset({500, 502, 503, 504})
GOOGLE_RETRY_CODES = frozenset({"RESOURCE_TEMPORARILY_EXHAUSTED", "TRANSIENT_ERROR", "INTERNAL_ERROR",
                                "DEADLINE_EXCEEDED"})


def google_errors(body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The google.rpc.Status and its GoogleAdsFailure errors, from a unary body or searchStream's
    array-wrapped one; empty when the body is neither."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    status = body.get("error") if isinstance(body, dict) else None
    if not isinstance(status, dict):
        return {}, []
    errors: list[dict[str, Any]] = []
    for detail in status.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errors"), list):
            errors.extend(e for e in detail["errors"] if isinstance(e, dict))
    return status, errors


def google_error_codes(errors: list[dict[str, Any]]) -> list[str]:
    """["quotaError.RESOURCE_EXHAUSTED", …] from GoogleAdsFailure errors."""
    codes: list[str] = []
    for error in errors:
        code = error.get("errorCode")
        if isinstance(code, dict):
            codes.extend(f"{category}.{value}" for category, value in code.items())
    return codes


def google_retryable(response: httpx.Response) -> Retryable | None:
    """Google Ads: 429 RESOURCE_TEMPORARILY_EXHAUSTED (or RESOURCE_EXHAUSTED with a retryDelay),
    HTTP 500/502/503/504, and internalError TRANSIENT_ERROR / INTERNAL_ERROR / DEADLINE_EXCEEDED."""
    status, errors = google_errors(response_json(response))
    codes = google_error_codes(errors)
    names = {code.partition(".")[2] for code in codes}
    delays = [google_duration(((e.get("details") or {}).get("quotaErrorDetails") or {})
                              .get("retryDelay")) for e in errors if isinstance(e.get("details"), dict)]
    told = longest_wait(retry_after(response.headers), *delays)
    label = f"HTTP {response.status_code}" + (f" {codes[0]}" if codes else
                                              f" {status['status']}" if status.get("status") else "")
    if response.status_code == 429:
        # RESOURCE_EXHAUSTED without a delay is the daily quota: retrying soon won't help.
        if "quotaError.RESOURCE_EXHAUSTED" in codes and told is None:
            return None
        return Retryable(label, told)
    if response.status_code in GOOGLE_RETRY_STATUSES or names & GOOGLE_RETRY_CODES:
        return Retryable(label, told)
    return None


def google_duration(value: Any) -> float | None:
    """A protobuf Duration in its JSON form ("30s", "1.5s") in seconds."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)s", value.strip()) if isinstance(value, str) else None
    return float(found.group(1)) if found else None
