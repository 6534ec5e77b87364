"""When a closed finding may come back, and what a suggestion asks of an entity's budget.

A dismissed or applied finding stays closed, whichever engine finds it again, until its facts
change materially: a figure it rested on moved by a factor of MATERIAL_CHANGE or more either way
(the heuristics' own bar for a change big enough to matter), a figure it rested on can no longer
be computed, or its direction flipped (worse to better, over to under, a budget raise to a cut).
The figures it rested on are the evidence it carried when it was closed, compared with the same
figures (entity, metric, window) today.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from datadrip.insights.facts import BASELINE, RECENT, ClientFacts, shown_figures
from datadrip.insights.findings import Finding
from datadrip.insights.guardrails import month_figures

MATERIAL_CHANGE = Decimal("1.25")  # ×1.25 or ÷1.25: the heuristics' minimum effect (docs/insights.md)
# Month-to-date spend grows every day by itself: a closed pacing finding is judged by the projection.
NOT_COMPARED = {("month", "spent")}
OPPOSITE_DIRECTIONS = {frozenset(("worse", "better")), frozenset(("over", "under")),
                       frozenset(("increase", "decrease"))}

RAISE, LOWER, PAUSE = "raise", "lower", "pause"
CUTS = (LOWER, PAUSE)
_PAUSE = re.compile(r"(?i)\b(?:pause|stop|switch off|turn off)\b")
_LOWER = re.compile(r"(?i)\b(?:lower|cut|reduce|decrease|trim)\b")
_RAISE = re.compile(r"(?i)\b(?:raise|increase|lift|boost|scale up)\b|\bmore budget\b")
_MONEY = re.compile(r"(?i)\b(?:budgets?|spend|spending|bids?)\b")  # "reduce the frequency" is no cut

Key = tuple[str | None, str, str]  # (entity ref or None for the client, metric, window)
Figures = Mapping[Key, Decimal | int | None]


def known_figures(facts: ClientFacts | None, findings: list[Finding]) -> dict[Key, Decimal | int | None]:
    """Today's figures: every entity's in both windows, the month to date, and those the findings quote
    (the workbook's own values; the facts win where both have one)."""
    figures: dict[Key, Decimal | int | None] = {
        (item.entity_ref, item.metric, item.window): item.value for finding in findings
        for item in finding.evidence}
    if facts is None:
        return figures
    for entity in facts.entities.values():
        for window in (RECENT, BASELINE):
            for metric, value in shown_figures(entity.window(window), entity.currency).items():
                figures[(entity.ref, metric, window)] = value
    for metric, value in month_figures(facts).items():
        figures[(None, metric, "month")] = value
    return figures


def material_change(closed: dict[str, Any], finding: Finding, figures: Figures) -> str | None:
    """Why a closed insight's finding, found again, is news; None while its facts are the same."""
    before, now = str(closed.get("direction") or ""), finding.direction
    if frozenset((before, now)) in OPPOSITE_DIRECTIONS:
        return f"its direction flipped ({before} → {now})"
    ref = finding.entity_ref
    was, wants = stances(closed).get(ref or ""), stances(finding.payload()).get(ref or "")
    if was is not None and wants is not None and opposed(was, wants):
        return f"it now proposes to {wants} the budget where it proposed to {was} it"
    for item in closed.get("evidence") or []:
        key: Key = (item.get("entity_ref"), str(item.get("metric")), str(item.get("window")))
        if (key[2], key[1]) in NOT_COMPARED or key not in figures or item.get("value") is None:
            continue
        then, today = Decimal(str(item["value"])), figures[key]
        where = key[0] or "the client"
        if today is None:
            return f"{key[1]} ({key[2]}) of {where} can no longer be computed (it was {_text(then)})"
        if _moved(then, Decimal(today)):
            return f"{key[1]} ({key[2]}) of {where} moved from {_text(then)} to {_text(Decimal(today))}"
    return None


def _moved(then: Decimal, today: Decimal) -> bool:
    if then == today:
        return False
    if then <= 0 or today <= 0:  # from or to nothing, or a change of sign
        return True
    return max(today / then, then / today) >= MATERIAL_CHANGE


def stances(payload: dict[str, Any]) -> dict[str, str]:
    """What a suggestion asks of each entity's budget: raise, lower or pause (entity refs; "" is the
    client as a whole). Its budget change decides; without one, the words of its action."""
    entity = payload.get("entity") or {}
    ref, name = str(entity.get("ref") or ""), str(entity.get("name") or "")
    found: dict[str, str] = {}
    pct = payload.get("budget_change_pct")
    action = str(payload.get("suggested_action") or "")
    if name:
        action = action.replace(name, " ")  # a campaign called "Stop Smoking" asks nothing
    if pct is not None and Decimal(str(pct)) != 0:
        found[ref] = RAISE if Decimal(str(pct)) > 0 else LOWER
    elif _PAUSE.search(action):
        found[ref] = PAUSE
    elif _MONEY.search(action) and _LOWER.search(action):
        found[ref] = LOWER
    elif _MONEY.search(action) and _RAISE.search(action):
        found[ref] = RAISE
    recipient = (payload.get("figures") or {}).get("recipient_ref")
    if isinstance(recipient, str) and found.get(ref) in CUTS:  # a reallocation feeds its recipient
        found[recipient] = RAISE
    return found


def opposed(one: str, other: str) -> bool:
    return {one, other} in ({RAISE, LOWER}, {RAISE, PAUSE})


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


__all__ = ["MATERIAL_CHANGE", "PAUSE", "RAISE", "known_figures", "material_change", "opposed", "stances"]
