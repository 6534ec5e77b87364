"""Insights: one identity per finding across both engines. Each insight's fingerprint is recomputed
from its client, type, entity and period (no longer its rule and direction), so a suggestion
dismissed or applied before the upgrade stays closed when the other engine finds it again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _payload(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return data if isinstance(data, dict) else {}


def _identity(row: Any) -> str:
    """As datadrip.insights.findings.identity computes it (copied: a migration never changes)."""
    payload = _payload(row.payload)
    ref = str((payload.get("entity") or {}).get("ref") or "")
    since = str(row.window_since or (payload.get("window") or {}).get("since") or "")
    period = f"month:{since[:7]}" if not ref else "rolling"
    return _hash(row.client_id, row.type, ref, period)


def _fingerprint_0008(row: Any) -> str:
    payload = _payload(row.payload)
    ref = str((payload.get("entity") or {}).get("ref") or "")
    return _hash(row.client_id, row.type, str(payload.get("rule") or ""), ref,
                 str(payload.get("direction") or ""))


def _rekey(compute: Any) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, client_id, type, payload, window_since FROM insight")).all()
    for row in rows:
        connection.execute(sa.text("UPDATE insight SET fingerprint = :fingerprint WHERE id = :id"),
                           {"fingerprint": compute(row), "id": row.id})


def upgrade() -> None:
    _rekey(_identity)


def downgrade() -> None:
    _rekey(_fingerprint_0008)
