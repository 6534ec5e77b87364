"""Suggestions that contradict each other about one entity's budget, resolved to one with the reason.

A raise and a cut (lower or pause) of the same campaign, ad set or ad cannot both be followed. The
cut is kept: spending less can be undone the next day, money spent cannot. One exception: a
suggestion the agency has started (in progress) is its own decision and is never set aside by a
finding; the contradicting one is then set aside instead. The one set aside is named, with the
reason, in the kept suggestion (`insight show`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datadrip.db.models import Insight
from datadrip.enums import InsightStatus
from datadrip.insights.findings import Finding
from datadrip.insights.identity import CUTS, RAISE, stances

IN_PROGRESS = InsightStatus.IN_PROGRESS.value
NEW = "new"


@dataclass(eq=False)
class Candidate:
    """A suggestion that would be open after this run: an open insight, or a finding to create."""

    payload: dict[str, Any]  # what it says after this run
    impact: int
    status: str  # "new", or the open insight's status
    source: str
    kind: str  # its type
    row: Insight | None = None  # None until a new one is created
    finding: Finding | None = None  # this run's finding (None: an open insight not found again)
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # what it was kept over, and why


@dataclass
class Decision:
    loser: Candidate
    keeper: Candidate
    reason: str


def resolve(candidates: list[Candidate]) -> list[Decision]:
    """For each entity asked to be both raised and cut, one side set aside, entity by entity."""
    asked = [(candidate, stances(candidate.payload)) for candidate in candidates]
    refs = sorted({ref for _, wanted in asked for ref in wanted if ref})
    lost: set[int] = set()
    decisions: list[Decision] = []
    for ref in refs:
        raisers = [c for c, wanted in asked if wanted.get(ref) == RAISE and id(c) not in lost]
        cutters = [c for c, wanted in asked if wanted.get(ref) in CUTS and id(c) not in lost]
        if not raisers or not cutters:
            continue
        raising_started = any(c.status == IN_PROGRESS for c in raisers)
        if raising_started and any(c.status == IN_PROGRESS for c in cutters):
            continue  # both are the agency's own decisions
        keepers, losers = (raisers, cutters) if raising_started else (cutters, raisers)
        keeper = max(keepers, key=lambda c: (c.status == IN_PROGRESS, c.impact))
        for loser in losers:
            reason = _reason(ref, keeper, loser, _asks(asked, keeper), _asks(asked, loser),
                             started=raising_started)
            decisions.append(Decision(loser, keeper, reason))
            lost.add(id(loser))
    return decisions


def _asks(asked: list[tuple[Candidate, dict[str, str]]], candidate: Candidate) -> dict[str, str]:
    return next(wanted for c, wanted in asked if c is candidate)


def _reason(ref: str, keeper: Candidate, loser: Candidate, kept_asks: dict[str, str],
            lost_asks: dict[str, str], *, started: bool) -> str:
    name = _name(ref, keeper) or _name(ref, loser) or ref
    if started:
        return (f"it asked to {lost_asks[ref]} the budget of {name}, which this suggestion, in progress, "
                f"raises: the agency is acting on this one, so the other was set aside")
    return (f"it asked to raise the budget of {name}, which this suggestion asks to {kept_asks[ref]}: "
            "both cannot be followed, and the cautious one is kept (spending less can be undone, "
            "money spent cannot)")


def _name(ref: str, candidate: Candidate) -> str | None:
    entity = candidate.payload.get("entity") or {}
    return str(entity.get("name")) if entity.get("ref") == ref and entity.get("name") else None


def record(loser: Candidate, reason: str) -> dict[str, Any]:
    """How the kept suggestion names the one it was kept over."""
    entity = loser.payload.get("entity") or {}
    return {"insight": None if loser.row is None else loser.row.id, "source": loser.source,
            "type": loser.kind,
            "entity": entity.get("ref"), "claim": loser.payload.get("claim", ""),
            "action": loser.payload.get("suggested_action", ""), "reason": reason}


__all__ = ["Candidate", "Decision", "record", "resolve"]
