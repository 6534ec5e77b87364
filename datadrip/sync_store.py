"""Saving what connectors stream: entities and daily metrics upserted in bulk, one transaction per
chunk, with the level's cursor moved in the same transaction, and the sync_run bookkeeping.

Rows go in with INSERT … ON CONFLICT DO UPDATE through SQLAlchemy Core's executemany (never one ORM
object per row). A chunk replaces the account's rows for its days at its level: rows the platform
no longer reports (an entity-day that dropped to zero) are deleted, so a re-sync never leaves a
stale number behind and never doubles one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datadrip.connectors.base import DateWindow, EntityRecord, MetricRow
from datadrip.db.engine import WRITE
from datadrip.db.models import Entity, MetricDaily, SyncCursor, SyncRun
from datadrip.enums import SyncStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PARENT_LEVEL = {"adset": "campaign", "ad": "adset"}
INTERRUPTED = "interrupted: the sync stopped before this account finished (the saved chunks are kept)"

_metrics = MetricDaily.__table__  # type: ignore[attr-defined]
_entities = Entity.__table__  # type: ignore[attr-defined]
_cursors = SyncCursor.__table__  # type: ignore[attr-defined]
_runs = SyncRun.__table__  # type: ignore[attr-defined]


def _insert(engine_or_conn: Engine | sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT that knows ON CONFLICT (SQLite and PostgreSQL)."""
    if engine_or_conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@dataclass
class _Known:
    id: str
    name: str
    parent_id: str | None
    status: str


class AccountWriter:
    """Writes one account's chunks. Entity ids are cached, so a row costs one dict lookup."""

    def __init__(self, engine: Engine, account_id: str) -> None:
        self._engine = engine.execution_options(**{WRITE: True})
        self._account_id = account_id
        self._known: dict[tuple[str, str], _Known] = {}
        with engine.connect() as conn:
            for row in conn.execute(sa.select(_entities.c.id, _entities.c.level, _entities.c.external_id,
                                              _entities.c.name, _entities.c.parent_id, _entities.c.status)
                                    .where(_entities.c.account_id == account_id)):
                self._known[(row.level, row.external_id)] = _Known(row.id, row.name, row.parent_id,
                                                                   row.status)
        self._upsert_metrics = self._metric_statement()

    def write_chunk(self, level: str, window: DateWindow, entities: Sequence[EntityRecord],
                    rows: Sequence[MetricRow], *, now: dt.datetime | None = None) -> int:
        """Save one chunk whole, or nothing of it: entities, rows, stale rows gone, cursor moved."""
        stamp = now or dt.datetime.now(dt.UTC)  # marks this chunk's rows; the rest of its days go
        with self._engine.begin() as conn:
            added, changed = self._entity_changes(entities, stamp)
            if added:
                conn.execute(_entities.insert(), added)
            for change in changed:
                conn.execute(_entities.update().where(_entities.c.id == change.pop("_id")), change)
            params = [self._params(row, level, stamp, conn) for row in rows]
            if params:
                conn.execute(self._upsert_metrics, params)
            conn.execute(_metrics.delete().where(
                _metrics.c.account_id == self._account_id, _metrics.c.level == level,
                _metrics.c.date.between(window.since, window.until), _metrics.c.synced_at != stamp))
            self._advance(conn, level, window.until, stamp)
        return len(params)

    def _metric_statement(self) -> Any:
        statement = _insert(self._engine, _metrics)
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=["account_id", "level", "entity_id", "date"],
            set_={name: excluded[name] for name in ("spend_micros", "impressions", "clicks",
                                                    "conversions", "conversion_value_micros",
                                                    "reach", "synced_at")})

    def _params(self, row: MetricRow, level: str, stamp: dt.datetime,
                conn: sa.Connection) -> dict[str, Any]:
        known = self._known.get((level, row.entity_id))
        if known is None:  # a row for an entity the connector never announced: keep it, named by id
            known = self._add_unannounced(conn, level, row.entity_id, stamp)
        return {"account_id": self._account_id, "level": level, "entity_id": known.id,
                "date": row.date, "spend_micros": row.spend_micros, "impressions": row.impressions,
                "clicks": row.clicks, "conversions": float(row.conversions),
                "conversion_value_micros": row.conversion_value_micros, "reach": row.reach,
                "synced_at": stamp}

    def _add_unannounced(self, conn: sa.Connection, level: str, external_id: str,
                         stamp: dt.datetime) -> _Known:
        known = _Known(uuid.uuid4().hex, external_id, None, "")
        conn.execute(_entities.insert(), [{"id": known.id, "account_id": self._account_id,
                                           "level": level, "external_id": external_id,
                                           "name": external_id, "parent_id": None, "status": "",
                                           "updated_at": stamp}])
        self._known[(level, external_id)] = known
        return known

    def _entity_changes(self, records: Iterable[EntityRecord],
                        stamp: dt.datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        added: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for record in records:  # parents come before their children in a connector's stream
            parent_level = PARENT_LEVEL.get(record.level)
            parent = self._known.get((parent_level, record.parent_id)) \
                if parent_level and record.parent_id else None
            parent_id = parent.id if parent else None
            key = (record.level, record.external_id)
            known = self._known.get(key)
            if known is None:
                known = _Known(uuid.uuid4().hex, record.name, parent_id, record.status)
                self._known[key] = known
                added.append({"id": known.id, "account_id": self._account_id, "level": record.level,
                              "external_id": record.external_id, "name": record.name,
                              "parent_id": parent_id, "status": record.status, "updated_at": stamp})
            elif (known.name, known.parent_id, known.status) != (record.name, parent_id or known.parent_id,
                                                                  record.status or known.status):
                known.name, known.parent_id = record.name, parent_id or known.parent_id
                known.status = record.status or known.status
                changed.append({"_id": known.id, "name": known.name, "parent_id": known.parent_id,
                                "status": known.status, "updated_at": stamp})
        return added, changed

    def _advance(self, conn: sa.Connection, level: str, through: dt.date, stamp: dt.datetime) -> None:
        # Never backwards: re-reading an old window (--since) keeps a later cursor.
        current = conn.execute(sa.select(_cursors.c.synced_through).where(
            _cursors.c.account_id == self._account_id, _cursors.c.level == level)).scalar()
        if current is None:
            conn.execute(_cursors.insert(), [{"account_id": self._account_id, "level": level,
                                              "synced_through": through, "updated_at": stamp}])
        elif through > current:
            conn.execute(_cursors.update().where(_cursors.c.account_id == self._account_id,
                                                 _cursors.c.level == level),
                         {"synced_through": through, "updated_at": stamp})


def cursors(engine: Engine, account_id: str) -> dict[str, dt.date]:
    """Each level's last synced day for an account."""
    with engine.connect() as conn:
        return {row.level: row.synced_through for row in conn.execute(
            sa.select(_cursors.c.level, _cursors.c.synced_through)
            .where(_cursors.c.account_id == account_id))}


def start_run(engine: Engine, account_id: str, window: DateWindow | None, levels: Sequence[str]) -> str:
    run_id = uuid.uuid4().hex
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(_runs.insert(), [{
            "id": run_id, "account_id": account_id, "started_at": dt.datetime.now(dt.UTC),
            "status": SyncStatus.RUNNING.value, "levels": ",".join(levels),
            "window_start": window.since if window else None,
            "window_end": window.until if window else None, "rows": 0, "requests": 0, "warnings": []}])
    return run_id


def finish_run(engine: Engine, run_id: str, *, status: str, rows: int, requests: int,
               warnings: Sequence[str], error: str | None) -> dt.datetime:
    finished = dt.datetime.now(dt.UTC)
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(_runs.update().where(_runs.c.id == run_id),
                     {"finished_at": finished, "status": status, "rows": rows, "requests": requests,
                      "warnings": list(warnings), "error": error})
    return finished


def close_interrupted_runs(engine: Engine) -> int:
    """Runs left "running" by a sync that was killed: whoever holds the sync lock may close them."""
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        result = conn.execute(_runs.update().where(_runs.c.status == SyncStatus.RUNNING.value),
                              {"status": SyncStatus.FAILED.value, "error": INTERRUPTED,
                               "finished_at": dt.datetime.now(dt.UTC)})
        return int(result.rowcount or 0)
