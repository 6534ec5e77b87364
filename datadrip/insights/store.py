"""Insights in the workbook: saved without duplicates, moved through their lifecycle, audited.

A finding is saved as a new `pending` insight unless its identity (client, type, entity, period:
findings.identity, the same for both engines) is already open — then the open one takes the new
numbers — or was dismissed or applied and its facts have not changed materially since
(identity.material_change). Suggestions that would leave one entity's budget both raised and cut
are resolved to one (conflicts.resolve): the one set aside is named, with the reason, in the kept one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.core import validate
from datadrip.core.enums import InsightStatus
from datadrip.core.errors import ConflictError
from datadrip.db.models import Client, Insight, utcnow
from datadrip.db.queries import find_by_id_prefix
from datadrip.insights.conflicts import FRESH_DAYS, NEW, Candidate, Decision, record, resolve
from datadrip.insights.findings import Finding
from datadrip.insights.identity import Figures, material_change
from datadrip.workbook import audit
from datadrip.workbook.session import Workbook

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
    suppressed: list[tuple[Finding, Insight]] = field(default_factory=list)  # closed, facts the same
    set_aside: list[str] = field(default_factory=list)  # contradicting suggestions, one sentence each


def save_findings(wb: Workbook, client: Client, findings: list[Finding], figures: Figures) -> Saved:
    """Save one run's findings; `figures` are today's (identity.known_figures), against which a
    closed insight's evidence is compared."""
    saved = Saved()
    opened = list(wb.session.execute(
        sa.select(Insight).where(col(Insight.client_id) == client.id, col(Insight.status).in_(OPEN))
        .order_by(col(Insight.created_at))).scalars())
    current = {row.id: Candidate(dict(row.payload or {}), row.impact_score, row.status, row.source,
                                 row.type, row) for row in opened}
    by_identity = {row.fingerprint: current[row.id] for row in opened}  # the newest open one wins
    new: list[Candidate] = []
    for finding in _one_per_identity(findings, client.id):
        fingerprint = finding.fingerprint(client.id)
        known = by_identity.get(fingerprint)
        if known is not None:
            known.finding, known.payload, known.impact = finding, finding.payload(), finding.impact_score
            continue
        closed = wb.session.execute(
            sa.select(Insight).where(col(Insight.client_id) == client.id,
                                     col(Insight.fingerprint) == fingerprint, col(Insight.status).in_(CLOSED))
            .order_by(col(Insight.resolved_at).desc(), col(Insight.created_at).desc()).limit(1)).scalar()
        if closed is not None:
            why = material_change(closed.payload or {}, finding, figures)
            if why is None:
                saved.suppressed.append((finding, closed))
                continue
            finding.notes.append(f"Suggested again after it was {closed.status} on "
                                 f"{_day(closed.resolved_at or closed.created_at)}: {why}")
        new.append(Candidate(finding.payload(), finding.impact_score, NEW, finding.source, finding.type,
                             finding=finding))
    latest = max((finding.until for finding in findings), default=None)
    for candidate in current.values():
        until = candidate.row.window_until if candidate.row is not None else None
        candidate.stale = (candidate.finding is None and latest is not None and until is not None
                           and until < latest - dt.timedelta(days=FRESH_DAYS))
    decisions = resolve([*current.values(), *new])
    losers = {id(decision.loser) for decision in decisions}
    for candidate in current.values():
        if id(candidate) not in losers and candidate.finding is not None and candidate.row is not None:
            _refresh(wb, candidate.row, candidate.finding, saved)
    for candidate in new:
        if id(candidate) not in losers and candidate.finding is not None:
            candidate.row = _create(wb, client, candidate.finding, saved)
    for decision in decisions:
        _set_aside(wb, client, decision, saved)
    return saved


def _one_per_identity(findings: list[Finding], client_id: str) -> list[Finding]:
    """The most impactful finding of each identity; the others' claims become its notes."""
    kept: dict[str, Finding] = {}
    for finding in sorted(findings, key=lambda finding: -finding.impact_score):
        first = kept.setdefault(finding.fingerprint(client_id), finding)
        if first is not finding:
            first.notes.append(f"Also found: {finding.claim}")
    return list(kept.values())


def _create(wb: Workbook, client: Client, finding: Finding, saved: Saved) -> Insight:
    row = Insight(client_id=client.id, type=finding.type, source=finding.source,
                  payload=finding.payload(), impact_score=finding.impact_score,
                  fingerprint=finding.fingerprint(client.id), window_since=finding.since,
                  window_until=finding.until)
    wb.session.add(row)
    wb.session.flush()
    audit.record(wb.session, wb.actor, "insight.create", "insight", row.id, client=client.name,
                 type=row.type, source=row.source, claim=finding.claim)
    saved.created.append(row)
    return row


def _refresh(wb: Workbook, row: Insight, finding: Finding, saved: Saved) -> None:
    payload = finding.payload()
    before = row.payload or {}
    if before.get("set_aside"):
        payload["set_aside"] = before["set_aside"]
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


def _set_aside(wb: Workbook, client: Client, decision: Decision, saved: Saved) -> None:
    """The loser named in the keeper (once: the same one found again replaces its entry); an open
    insight that loses is closed as dismissed, with the reason as its note."""
    keeper, loser = decision.keeper.row, decision.loser
    assert keeper is not None  # kept candidates are open insights or were just created
    entry = record(loser, decision.reason)
    payload = dict(keeper.payload or {})
    same = (entry["type"], entry["entity"], entry["source"])
    earlier = [item for item in payload.get("set_aside") or []
               if (item.get("type"), item.get("entity"), item.get("source")) != same]
    if [*earlier, entry] != (payload.get("set_aside") or []):
        payload["set_aside"] = [*earlier, entry]
        keeper.payload, keeper.updated_at = payload, utcnow()
        wb.session.add(keeper)
    saved.set_aside.append(f"{'an open' if loser.row is not None else 'a new'} {entry['type']} suggestion "
                           f"from the {_engine(loser.source)} was set aside in favour of insight "
                           f"{keeper.id[:8]}: {decision.reason}.")
    if loser.row is None:
        audit.record(wb.session, wb.actor, "insight.set_aside", "insight", keeper.id, client=client.name,
                     set_aside=entry["claim"], source=loser.source, reason=decision.reason)
        return
    row = loser.row
    before = row.status
    row.status, row.resolved_at, row.updated_at = InsightStatus.DISMISSED.value, utcnow(), utcnow()
    row.note = f"Set aside by DataDrip in favour of insight {keeper.id[:8]}: {decision.reason}."[:NOTE_MAX]
    wb.session.add(row)
    audit.record(wb.session, wb.actor, "insight.set_aside", "insight", row.id, client=client.name,
                 status=[before, row.status], kept=keeper.id, reason=decision.reason)


def _engine(source: str) -> str:
    return "model" if source == "llm" else "heuristics"


def _day(moment: dt.datetime) -> str:
    return moment.date().isoformat()


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
        "notes": payload.get("notes", []), "set_aside": payload.get("set_aside", []),
        # The result its conversions and cpa count ({"key", "label", "cost_label"}), if any.
        "result": (payload.get("figures") or {}).get("result"),
        "created_at": _utc(insight.created_at),
        "updated_at": _utc(insight.updated_at), "resolved_at": _utc(insight.resolved_at),
        "note": insight.note,
    }


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment
