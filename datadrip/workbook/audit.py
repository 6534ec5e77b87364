"""The audit log: every change to the workbook, written in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from datadrip.core.errors import UsageError
from datadrip.db.models import AuditLog


def record(session: Session, actor: str, action: str, entity: str, entity_id: str,
           **details: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, entity=entity, entity_id=entity_id,
                         details=details))


def list_entries(session: Session, *, since: dt.datetime | None = None,
                 limit: int | None = None) -> list[AuditLog]:
    query = select(AuditLog).order_by(col(AuditLog.at), col(AuditLog.id))
    if since is not None:
        query = query.where(col(AuditLog.at) >= since)
    rows = list(session.exec(query))
    return rows[-limit:] if limit else rows


def entry_record(entry: AuditLog) -> dict[str, Any]:
    return {"at": entry.at, "actor": entry.actor, "action": entry.action,
            "entity": entry.entity, "entity_id": entry.entity_id, "details": entry.details}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields that differ."""
    return {key: [before.get(key), value] for key, value in after.items()
            if before.get(key) != value}


def parse_since(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """'2026-11-01', '2026-11-01T09:30', or a span back from now: '90m', '24h', '7d', '2w'."""
    import re

    now = now or dt.datetime.now(dt.UTC)
    span = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if span:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[span.group(2)]
        return now - dt.timedelta(**{unit: int(span.group(1))})
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since {text!r} is neither a date nor a span",
                         hint="Use 2026-11-01, 2026-11-01T09:30, or 24h / 7d / 2w.") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
