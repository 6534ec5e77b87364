"""Suggestions that contradict each other about one entity's budget, resolved to one with the reason.

A raise and a cut (lower or pause) of the same campaign, ad set or ad cannot both be followed. The
cut is kept: spending less can be undone the next day, money spent cannot. Two exceptions, in this
order: a suggestion the agency has started (in progress) is its own decision and is never set aside
by a finding; and an open suggestion not found again for over a week (no longer in the reports)
gives way to one found now. The one set aside is named, with the reason, in the kept suggestion
(`insight show`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datadrip.core.enums import InsightStatus
from datadrip.db.models import Insight
from datadrip.insights.findings import Finding
from datadrip.insights.identity import CUTS, RAISE, stances

IN_PROGRESS = InsightStatus.IN_PROGRESS.value
NEW = "new"
FRESH_DAYS = 7  # as the reports' INSIGHT_FRESH_DAYS: an older open one is no longer shown to clients


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
    stale: bool = False  # open, not found again for over FRESH_DAYS: the reports no longer show it


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
        side = _side(raisers, cutters)
        if side is None:
            continue  # both are the agency's own decisions
        keepers, losers, why = side
        keeper = max(keepers, key=lambda c: (c.status == IN_PROGRESS, not c.stale, c.impact))
        for loser in losers:
            decisions.append(Decision(loser, keeper, _reason(ref, keeper, loser, _asks(asked, keeper),
                                                             _asks(asked, loser), why)))
            lost.add(id(loser))
    return decisions


def _asks(asked: list[tuple[Candidate, dict[str, str]]], candidate: Candidate) -> dict[str, str]:
    return next(wanted for c, wanted in asked if c is candidate)


def _side(raisers: list[Candidate], cutters: list[Candidate]) -> tuple[list[Candidate], list[Candidate],
                                                                       str] | None:
    """(keepers, losers, why): the agency's started one, else the one found now, else the cut."""
    raising_started = any(c.status == IN_PROGRESS for c in raisers)
    cutting_started = any(c.status == IN_PROGRESS for c in cutters)
    if raising_started and cutting_started:
        return None
    if raising_started or cutting_started:
        return (raisers, cutters, STARTED) if raising_started else (cutters, raisers, STARTED)
    if all(c.stale for c in cutters) and not all(c.stale for c in raisers):
        return raisers, cutters, STALE
    return cutters, raisers, CAUTIOUS


STARTED, STALE, CAUTIOUS = "started", "stale", "cautious"


def _reason(ref: str, keeper: Candidate, loser: Candidate, kept_asks: dict[str, str],
            lost_asks: dict[str, str], why: str) -> str:
    name = _name(ref, keeper) or _name(ref, loser) or ref
    asked = (f"it asked to {lost_asks[ref]} the budget of {name}, which this suggestion asks to "
             f"{kept_asks[ref]}")
    if why == STARTED:
        return f"{asked}: the agency is acting on this one (in progress), so the other was set aside"
    if why == STALE:
        return (f"{asked}: it had not been found again for over {FRESH_DAYS} days, and this one rests on "
                "newer numbers")
    return (f"{asked}: both cannot be followed, and the cautious one is kept (spending less can be "
            "undone, money spent cannot)")


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
