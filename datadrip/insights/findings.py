"""A suggestion before it is stored: what was found, the numbers it rests on, what to do about it.

Both engines produce `Finding`s: the heuristics directly, the model's answers once guardrails have
vetted them. A finding's fingerprint is its identity across both engines: the client, its type,
its entity and its period (the month, for the client's month-to-date budget; the rolling last 7
days against the 28 before, for an entity), never the rule or the engine that found it, nor the
day's numbers. So tomorrow's run of the same finding, by either engine, updates the open insight
instead of adding a second one, and a dismissed or applied one stays closed until its facts change
materially (see identity.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

HEURISTIC, LLM = "heuristic", "llm"
ROLLING = "rolling"  # an entity's period: the last 7 days against the 28 before, moving daily


def identity(client_id: str, kind: str, entity_ref: str | None, period: str) -> str:
    """One finding's identity whichever engine found it (the migration 0011 computes the same)."""
    key = "\x1f".join((client_id, kind, entity_ref or "", period))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Evidence:
    """One number a finding rests on, exactly as the workbook gives it (see facts.shown_figures)."""

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
    direction: str  # "worse" | "better" | "over" | "under" | "shift" | "increase" | "decrease" | "advice"
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

    @property
    def period(self) -> str:
        """A client-wide finding is about its month (budget pacing); an entity's finding about the
        rolling comparison, whichever days it rests on today."""
        return f"month:{self.since:%Y-%m}" if self.entity_ref is None else ROLLING

    def fingerprint(self, client_id: str) -> str:
        return identity(client_id, self.type, self.entity_ref, self.period)

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
