"""A suggestion before it is stored: what was found, the numbers it rests on, what to do about it.

Both engines produce `Finding`s: the heuristics directly, the model's answers once guardrails have
vetted them. A finding's fingerprint names *what* was found (rule, entity, direction), not the
day's exact numbers, so tomorrow's run of the same finding updates the open insight instead of
adding a second one, and a dismissed finding stays dismissed while its evidence is the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

HEURISTIC, LLM = "heuristic", "llm"


@dataclass(frozen=True)
class Evidence:
    """One number a finding rests on, exactly as the workbook gives it (see facts.Sums.metrics)."""

    entity_ref: str | None  # None: the whole client (month-to-date spend, budget)
    metric: str
    window: str  # "recent" | "baseline" | "month"
    value: Decimal | int

    def record(self) -> dict[str, Any]:
        return {"entity_ref": self.entity_ref, "metric": self.metric, "window": self.window,
                "value": self.value}


@dataclass
class Finding:
    type: str  # InsightType value
    rule: str  # e.g. "performance.cpa", "budget.pacing", "creative.fatigue"; "llm" for the model's
    entity_ref: str | None
    entity_name: str | None
    direction: str  # "worse" | "better" | "over" | "under" | "shift" …: part of the identity
    claim: str
    action: str
    impact_score: int
    since: dt.date  # the window of the evidence (the recent window, or the month so far)
    until: dt.date
    evidence: list[Evidence] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)  # test statistics, expected counts …
    budget_change_pct: Decimal | None = None
    source: str = HEURISTIC
    notes: list[str] = field(default_factory=list)  # what guardrails changed, and why

    def __post_init__(self) -> None:
        self.impact_score = max(0, min(100, int(self.impact_score)))
        # Reports print the claim and the action one after the other: each is a sentence.
        self.claim, self.action = (_sentence(text) for text in (self.claim, self.action))

    def fingerprint(self, client_id: str) -> str:
        key = "\x1f".join((client_id, self.type, self.rule, self.entity_ref or "", self.direction))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def payload(self) -> dict[str, Any]:
        return {
            "claim": self.claim, "suggested_action": self.action, "rule": self.rule,
            "entity": None if self.entity_ref is None else {"ref": self.entity_ref, "name": self.entity_name},
            "direction": self.direction,
            "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "evidence": [item.record() for item in self.evidence],
            "figures": self.figures,
            "budget_change_pct": self.budget_change_pct,
            "notes": self.notes,
        }


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?", "…")) else f"{text}."
