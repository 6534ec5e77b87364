"""Faults on request, so tests can prove recovery: by configuration, or per request by header.

A rule names a kind and when it fires: on the n-th matching request (and the `times - 1` after
it), or at a rate (deterministic from the seed). The header `X-Sandbox-Fault: KIND` makes the one
request that carries it fail. Platforms: "meta", "google", the e-mail APIs "resend" and
"sendgrid", and "openai" (the chat endpoint); the answers are each platform's own. Kinds:

- rate_limit: Meta 80000 with usage headers at 100% and the rule's `regain` seconds to regain
  access (300 by default; estimated_time_to_regain_access in whole minutes, reset_time_duration
  in seconds); Google 429 RESOURCE_EXHAUSTED + retryDelay; Resend 429 rate_limit_exceeded with
  retry-after and ratelimit-*; SendGrid 429 "too many requests" with X-RateLimit-Reset (a Unix
  time); OpenAI 429 type "requests", code rate_limit_exceeded, with retry-after: 1 and
  x-ratelimit-* (remaining 0)
- server_error: 500 (Meta code 1 "unknown error"; Google INTERNAL; Resend internal_server_error;
  SendGrid's errors list; OpenAI type "server_error"). Kinds an e-mail API or OpenAI has no answer
  for (reduce_data, job_failed, high_usage) get this one there
- unavailable: 503 (Meta code 2 "temporarily unavailable", transient; Google UNAVAILABLE; Resend
  application_error; SendGrid "Service Unavailable"; OpenAI "The server is overloaded or not ready yet.")
- reduce_data: Meta's "Please reduce the amount of data…" (code 1, HTTP 500)
- expired_token: Meta 190/463; Google 401 UNAUTHENTICATED; Resend 403 invalid_api_key (an API key
  does not expire: a dead one looks wrong); SendGrid 401 "The provided authorization grant…";
  OpenAI 401 invalid_api_key "Incorrect API key provided: …" (its keys do not expire either)
- revoked_token: the request's token is revoked (Meta 190/460, Google 401 / invalid_grant), that
  token alone (Google: its grant, the refresh token and its access tokens) until POST
  /_sandbox/grants/restore brings it back; Resend and SendGrid and OpenAI as for expired_token
- permission: Meta 200 (403); Google 403 USER_PERMISSION_DENIED; Resend 403 validation_error
  "The {domain} domain is not verified…"; SendGrid 403 "access forbidden"; OpenAI 403 model_not_found
  "Project `proj_sandbox` does not have access to model `{model}`"
- slow: the answer comes after `delay` seconds (the request is handled after the wait: an e-mail
  API stores the message even though the client may have given up)
- truncated: the body is cut short (the connection closes mid-body)
- malformed: the body is not valid JSON
- bad_actions, bad_results (Meta only): the usual insights answer, but every row's `actions` items
  lose their `value` (bad_actions), or every row's `results` is a number, not a list (bad_results)
- no_reach, bad_reach (Meta only): the usual insights answer, but every row over more than one
  day (a period's reach) lacks `reach` (as when Meta withholds it), or has it as words
- bad_share (Google only): the usual searchStream answer, but every row's
  metrics.searchImpressionShare is 1.5 (a share above 1)
- job_failed (Meta only): the report run that this request starts (POST act_…/insights) or polls
  (GET /{report_run_id}) ends as "Job Failed" and stays so; other requests are answered as usual.
  A rule with path "/insights$" fails the next run started, "/[0-9]{6,}$" the next run polled.
- high_usage (Meta only): the usual answer, with usage headers at 90 % (call_count, acc_id_util_pct
  …) but access not yet limited: what a client's usage pacing reacts to
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

KINDS = ("rate_limit", "server_error", "unavailable", "reduce_data", "expired_token",
         "revoked_token", "permission", "slow", "truncated", "malformed", "job_failed", "high_usage",
         "bad_actions", "bad_results", "no_reach", "bad_reach", "bad_share")
HEADER = "x-sandbox-fault"


@dataclass(frozen=True)
class FaultRule:
    kind: str
    platform: str | None = None  # "meta" | "google" | "resend" | "sendgrid" | None for all
    path: str | None = None  # a regular expression searched in the request path
    nth: int | None = None  # 1-based: fire on the n-th matching request …
    times: int = 1  # … and on the next times - 1 as well
    rate: float | None = None  # or fire on this share of matching requests
    delay: float = 2.0  # for "slow"
    regain: float = 300.0  # for Meta's "rate_limit": seconds until access is regained

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.nth is None and self.rate is None:
            raise ValueError("a fault rule needs nth or rate")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        known = {"kind", "platform", "path", "nth", "times", "rate", "delay", "regain"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultPlan:
    """The rules in force and how many matching requests each has seen."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 7) -> None:
        self._rules: list[FaultRule] = list(rules)
        self._seen: dict[int, int] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._seen.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, platform: str, path: str, header: str | None) -> FaultRule | None:
        """The fault this request gets, if any. Counts the request against every rule it matches."""
        if header:
            kind, _, rest = header.partition(";")
            delay = re.search(r"delay=([0-9.]+)", rest)
            return FaultRule(kind.strip(), nth=1, delay=float(delay.group(1)) if delay else 2.0)
        chosen = None
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.platform not in (None, platform):
                    continue
                if rule.path is not None and not re.search(rule.path, path):
                    continue
                count = self._seen[index] = self._seen.get(index, 0) + 1
                fires = (rule.nth is not None and rule.nth <= count < rule.nth + rule.times) or \
                    (rule.rate is not None and self._random.random() < rule.rate)
                if fires and chosen is None:
                    chosen = rule
        return chosen
