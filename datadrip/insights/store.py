"""Insights in the workbook: saved without duplicates, moved through their lifecycle, audited.

A finding is saved as a new `pending` insight unless its fingerprint (rule, entity, direction) is
already open — then the open one takes the new numbers — or was dismissed or applied for the same
evidence: a finding whose window starts on or before the last day the earlier one looked at rests
on the same days, and is not suggested again. A week later its evidence is new, and it may be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip import audit, validate
from datadrip.db.models import Client, Insight, utcnow
from datadrip.db.queries import find_by_id_prefix
from datadrip.enums import InsightStatus
from datadrip.errors import ConflictError
from datadrip.insights.findings import Finding
from datadrip.workbook import Workbook

OPEN = (InsightStatus.PENDING.value, InsightStatus.IN_PROGRESS.value)
CLOSED = (InsightStatus.APPLIED.value, InsightStatus.DISMISSED.value)
# Where each verb may take an insight from; applied and dismissed are final.
MOVES = {
    InsightStatus.IN_PROGRESS: (InsightStatus.PENDING,),
    InsightStatus.APPLIED: (InsightStatus.PENDING, InsightStatus.IN_PROGRESS),
    InsightStatus.DISMISSED: (InsightStatus.PENDING, InsightStatus.IN_PROGRESS),
}
VERBS = {InsightStatus.IN_PROGRESS: "start", InsightStatus.APPLIED: "apply",
         InsightStatus.DISMISSED: "dismiss"}
NOTE_MAX = 2000


@dataclass
class Saved:
    """What saving a run's findings did for one client."""

    created: list[Insight] = field(default_factory=list)
    refreshed: list[Insight] = field(default_factory=list)
    unchanged: list[Insight] = field(default_factory=list)
    suppressed: list[tuple[Finding, Insight]] = field(default_factory=list)  # dismissed/applied before


def save_findings(wb: Workbook, client: Client, findings: list[Finding]) -> Saved:
    saved = Saved()
    for finding in findings:
        fingerprint = finding.fingerprint(client.id)
        earlier = list(wb.session.execute(
            sa.select(Insight).where(col(Insight.client_id) == client.id,
                                     col(Insight.fingerprint) == fingerprint)
            .order_by(col(Insight.created_at).desc())).scalars())
        open_one = next((row for row in earlier if row.status in OPEN), None)
        if open_one is not None:
            _refresh(wb, open_one, finding, saved)
            continue
        closed = next((row for row in earlier if row.status in CLOSED and row.window_until is not None
                       and finding.since <= row.window_until), None)
        if closed is not None:
            saved.suppressed.append((finding, closed))
            continue
        row = Insight(client_id=client.id, type=finding.type, source=finding.source,
                      payload=finding.payload(), impact_score=finding.impact_score,
                      fingerprint=fingerprint, window_since=finding.since, window_until=finding.until)
        wb.session.add(row)
        wb.session.flush()
        audit.record(wb.session, wb.actor, "insight.create", "insight", row.id, client=client.name,
                     type=row.type, source=row.source, claim=finding.claim)
        saved.created.append(row)
    return saved


def _refresh(wb: Workbook, row: Insight, finding: Finding, saved: Saved) -> None:
    payload = finding.payload()
    before = row.payload or {}
    if (before.get("claim"), before.get("evidence"), row.impact_score, row.window_until, row.source) == \
            (payload["claim"], payload["evidence"], finding.impact_score, finding.until, finding.source):
        saved.unchanged.append(row)
        return
    row.payload, row.impact_score, row.source = payload, finding.impact_score, finding.source
    row.window_since, row.window_until, row.updated_at = finding.since, finding.until, utcnow()
    wb.session.add(row)
    audit.record(wb.session, wb.actor, "insight.refresh", "insight", row.id, claim=finding.claim,
                 impact_score=finding.impact_score)
    saved.refreshed.append(row)


def move(wb: Workbook, ref: str, to: InsightStatus, note: str | None) -> tuple[Insight, Client, str]:
    """Start, apply or dismiss an insight; the note is kept as feedback. Returns the old status."""
    insight, client = find_insight(wb.session, ref)
    before = insight.status
    if InsightStatus(before) not in MOVES[to]:
        verb = VERBS[to]
        hint = ("It is closed; generate insights again for new suggestions." if before in CLOSED
                else "Start it only while it is pending.")
        raise ConflictError(f"insight {insight.id[:8]} is {before.replace('_', ' ')}: cannot {verb} it",
                            hint=hint)
    insight.status = to.value
    if note is not None and note.strip():
        insight.note = validate.plain_text(note, what="note").strip()[:NOTE_MAX]
    if to in (InsightStatus.APPLIED, InsightStatus.DISMISSED):
        insight.resolved_at = utcnow()
    insight.updated_at = utcnow()
    wb.session.add(insight)
    audit.record(wb.session, wb.actor, f"insight.{VERBS[to]}", "insight", insight.id,
                 client=client.name, status=[before, to.value], note=insight.note)
    return insight, client, before


def find_insight(session: Session, ref: str) -> tuple[Insight, Client]:
    """An insight by its id, or an unambiguous start of it (6 characters at least)."""
    return find_by_id_prefix(session, Insight, ref, noun="insight", listing="datadrip insight list")


def list_insights(session: Session, client_ids: list[str], statuses: list[str],
                  limit: int | None) -> list[tuple[Insight, Client]]:
    """The most impactful first, then the newest."""
    query = (sa.select(Insight, Client).join(Client, col(Client.id) == col(Insight.client_id))
             .where(col(Insight.client_id).in_(client_ids))
             .order_by(col(Client.name), col(Insight.impact_score).desc(), col(Insight.created_at).desc()))
    if statuses:
        query = query.where(col(Insight.status).in_(statuses))
    if limit is not None:
        query = query.limit(limit)
    return [(row[0], row[1]) for row in session.execute(query).all()]


def insight_record(insight: Insight, client: Client) -> dict[str, Any]:
    """An insight for --json and tables: stable snake_case keys."""
    payload = insight.payload or {}
    entity = payload.get("entity") or {}
    return {
        "id": insight.id, "client": client.name, "type": insight.type, "source": insight.source,
        "status": insight.status, "impact_score": insight.impact_score,
        "entity": entity.get("ref"), "entity_name": entity.get("name"),
        "claim": payload.get("claim", ""), "action": payload.get("suggested_action", ""),
        "rule": payload.get("rule"), "window": payload.get("window"),
        "evidence": payload.get("evidence", []), "budget_change_pct": payload.get("budget_change_pct"),
        "notes": payload.get("notes", []), "created_at": _utc(insight.created_at),
        "updated_at": _utc(insight.updated_at), "resolved_at": _utc(insight.resolved_at),
        "note": insight.note,
    }


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment
