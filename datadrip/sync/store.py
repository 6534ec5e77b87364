"""Saving what connectors stream: entities and daily metrics upserted in bulk, one transaction per
chunk, with the level's cursor moved in the same transaction, and the sync_run bookkeeping.

Rows go in with INSERT … ON CONFLICT DO UPDATE, built once with SQLAlchemy Core and run as one
driver-level executemany of plain tuples per chunk (never one ORM object per row, nor SQLAlchemy's
per-row parameter processing, which cost as much as SQLite itself), sorted by day and entity: the
order of metric_daily's key, so the table is written in order. A chunk replaces the account's rows
for its days at its level: rows the platform no longer reports (an entity-day that dropped to zero)
are deleted, so a re-sync never leaves a stale number behind and never doubles one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from datadrip.core.enums import SyncStatus
from datadrip.core.money import conversions_to_millionths
from datadrip.db.engine import WRITE
from datadrip.db.models import (
    ConversionAction,
    Entity,
    EntityChange,
    MetricBreakdownDaily,
    MetricDaily,
    MetricPeriodReach,
    SyncCursor,
    SyncRun,
)
from datadrip.platforms.base import (
    ActionCount,
    BreakdownRow,
    ConversionActionInfo,
    DateWindow,
    EntityRecord,
    EntitySettings,
    MetricRow,
    PeriodReach,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PARENT_LEVEL = {"adset": "campaign", "ad": "adset"}
INTERRUPTED = "interrupted: the sync stopped before this account finished (the saved chunks are kept)"

_metrics = MetricDaily.__table__  # type: ignore[attr-defined]
_entities = Entity.__table__  # type: ignore[attr-defined]
_breakdowns = MetricBreakdownDaily.__table__  # type: ignore[attr-defined]
_catalogue = ConversionAction.__table__  # type: ignore[attr-defined]
_changes = EntityChange.__table__  # type: ignore[attr-defined]
_reach = MetricPeriodReach.__table__  # type: ignore[attr-defined]
# EntitySettings' fields, each kept in the entity column of the same name.
SETTING_FIELDS = tuple(EntitySettings.__dataclass_fields__)
_cursors = SyncCursor.__table__  # type: ignore[attr-defined]
_runs = SyncRun.__table__  # type: ignore[attr-defined]
METRIC_COLUMNS = ("account_id", "level", "date", "entity_id", "spend_micros", "impressions", "clicks",
                  "conversions_millionths", "conversion_value_micros", "reach", "synced_at",
                  "link_clicks", "interactions", "all_conversions_millionths",
                  "all_conversion_value_micros", "result_indicator", "results_millionths",
                  "attribution_setting", "actions_kept", "search_impression_share_millionths",
                  "search_budget_lost_share_millionths", "search_rank_lost_share_millionths",
                  "actions")
METRIC_KEY = ("account_id", "level", "date", "entity_id")
BREAKDOWN_COLUMNS = ("account_id", "dimension", "date", "entity_id", "value", "spend_micros",
                     "impressions", "clicks", "conversions_millionths", "conversion_value_micros",
                     "reach", "synced_at")
BREAKDOWN_KEY = ("account_id", "dimension", "date", "entity_id", "value")
_INT64 = range(-2 ** 63, 2 ** 63)
_KEPT = 10_000
_JSON_KEYS: dict[str, str] = {}  # action id → its JSON string
# (action id, exact count, value micros) → the action's JSON in metric_daily.actions
_WRITTEN: dict[tuple[str, Decimal, int | None], str] = {}
_COUNTED: dict[Decimal, int] = {}  # an exact count or share → its millionths
# metric_daily's nullable columns, by their place in METRIC_COLUMNS: a chunk binds those its rows fill.
_OPTIONAL_INDEXES = tuple(METRIC_COLUMNS.index(name) for name in (
    "reach", "link_clicks", "interactions", "all_conversions_millionths",
    "all_conversion_value_micros", "result_indicator", "results_millionths", "attribution_setting",
    "search_impression_share_millionths", "search_budget_lost_share_millionths",
    "search_rank_lost_share_millionths", "actions"))
_BY_DAY_ENTITY = itemgetter(2, 3)  # (date, entity_id) in a METRIC_COLUMNS tuple: the key's order


def _kept(emptied: tuple[int, ...]) -> list[int]:
    return [index for index in range(len(METRIC_COLUMNS)) if index not in emptied]


def _count_millionths(count: Decimal) -> int:
    """conversions_to_millionths, each distinct count converted once (up to _KEPT of them):
    a chunk's counts are mostly small whole numbers that repeat."""
    found = _COUNTED.get(count)
    if found is None:
        found = conversions_to_millionths(count)
        if len(_COUNTED) < _KEPT:
            _COUNTED[count] = found
    return found


def _actions_json(actions: Sequence[ActionCount]) -> str:
    """A row's actions as metric_daily.actions: {action: [count millionths, value micros or
    null]}, the last numbers of an action named twice kept. A number beyond 64 bits fails the
    chunk, as it would in an integer column.

    Written by hand rather than by json: a Meta ad-day has a dozen actions or more, and the same
    action with the same count and value comes again and again (small counts, no value), so
    each one's JSON is made once (up to _KEPT of them)."""
    parts: dict[str, str] = {}
    written = _WRITTEN
    for action in actions:
        numbers = (action.action, action.count, action.value_micros)
        text = written.get(numbers)
        if text is None:
            text = _action_json(action)
            if len(written) < _KEPT:
                written[numbers] = text
        parts[action.action] = text
    return "{" + ",".join(parts.values()) + "}"


def _action_json(action: ActionCount) -> str:
    """`"<action>":[count millionths,value micros or null]`, each action id's JSON string made
    once (up to _KEPT)."""
    key = _JSON_KEYS.get(action.action)
    if key is None:
        key = json.dumps(action.action, ensure_ascii=False)
        if len(_JSON_KEYS) < _KEPT:
            _JSON_KEYS[action.action] = key
    count = conversions_to_millionths(action.count)
    if count not in _INT64:
        raise OverflowError(f"action {action.action!r}: {count} does not fit a 64-bit integer")
    value = action.value_micros
    if value is None:
        return f"{key}:[{count},null]"
    if value in _INT64:
        return f"{key}:[{count},{value}]"
    raise OverflowError(f"action {action.action!r}: {value} does not fit a 64-bit integer")


def _insert(engine_or_conn: Engine | sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT that knows ON CONFLICT (SQLite and PostgreSQL)."""
    if engine_or_conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


class _Upsert:
    """An upsert of `columns` into `table` on `key`, compiled once for the engine's dialect and
    run through the driver.

    The driver gets plain tuples (or dicts, for drivers with named parameters). Of the columns,
    only `date` (SQLite stores text), `synced_at` (a UTCDateTime) and booleans need the dialect's
    conversion, done by the caller through `day`, `stamp` and `flag`; conversions go in as
    integer millionths, converted by the caller from the connector's exact Decimal. A column
    that comes to need another conversion stops the writer rather than go in wrong."""

    def __init__(self, engine: Engine, table: sa.Table, columns: Sequence[str],
                 key: Sequence[str], emptied: Sequence[str] = ()) -> None:
        dialect = engine.dialect
        # Only `columns` are bound, in their order: the table may have more (nullable) columns.
        # `emptied` columns are not bound: a new row leaves them NULL and an update sets them so.
        statement = _insert(engine, table).values({name: sa.bindparam(name) for name in columns})
        statement = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={**{name: statement.excluded[name] for name in columns if name not in key},
                  **{name: sa.null() for name in emptied}})
        compiled = statement.compile(dialect=dialect)
        self._sql = str(compiled)
        self._columns = tuple(columns)
        self._positional = compiled.positiontup is not None
        if self._positional and list(compiled.positiontup or ()) != list(columns):
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        convert = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                   for name in columns}
        needing = {name for name, function in convert.items() if function is not None}
        flags = {name for name in columns if isinstance(table.c[name].type, sa.Boolean)}
        if not needing <= {"date", "synced_at"} | flags:
            raise RuntimeError(f"columns {sorted(needing)} of {table.name} need conversion by "
                               "the dialect")
        self._day: Callable[[Any], Any] | None = convert["date"]
        self._stamp: Callable[[Any], Any] | None = convert["synced_at"]
        self._flag: Callable[[Any], Any] | None = next(
            (convert[name] for name in flags if convert[name] is not None), None)

    def day(self, value: dt.date) -> Any:
        return self._day(value) if self._day else value

    def stamp(self, value: dt.datetime) -> Any:
        return self._stamp(value) if self._stamp else value

    def flag(self, value: bool) -> Any:
        return self._flag(value) if self._flag else value

    def run(self, conn: sa.Connection, params: list[tuple[Any, ...]]) -> None:
        if self._positional:
            conn.exec_driver_sql(self._sql, params)
        else:
            conn.exec_driver_sql(self._sql, [dict(zip(self._columns, row, strict=True))
                                             for row in params])


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
        self._upsert = _Upsert(self._engine, _metrics, METRIC_COLUMNS, METRIC_KEY)
        self._upserts: dict[tuple[int, ...], _Upsert] = {(): self._upsert}  # by the emptied columns
        self._breakdown_upsert: _Upsert | None = None  # made on the first breakdown chunk

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
            params = self._params(rows, level, stamp, conn)
            if params:
                self._save_rows(params, conn)
            conn.execute(_metrics.delete().where(
                _metrics.c.account_id == self._account_id, _metrics.c.level == level,
                _metrics.c.date.between(window.since, window.until), _metrics.c.synced_at != stamp))
            self._advance(conn, level, window.until, stamp)
        return len(params)

    def _params(self, rows: Sequence[MetricRow], level: str, stamp: dt.datetime,
                conn: sa.Connection) -> list[tuple[Any, ...]]:
        """The chunk's rows as METRIC_COLUMNS tuples, values as the driver takes them, sorted in
        metric_daily's key order. A row's actions go in its own `actions` column as one JSON
        object, {action: [count millionths, value micros or null]} (None when it has none): the
        view metric_action_daily shows them a row each."""
        account_id, known_ids, upsert = self._account_id, self._known, self._upsert
        synced_at = upsert.stamp(stamp)
        kept, not_kept = upsert.flag(True), upsert.flag(False)
        # Counts and 0–1 shares in millionths, rounded half to even; None stays None.
        millionths = _count_millionths
        days: dict[dt.date, Any] = {}  # a chunk has a few distinct days: convert each once
        params = []
        for row in rows:
            known = known_ids.get((level, row.entity_id))
            if known is None:  # a row for an entity the connector never announced: keep it, named by id
                known = self._add_unannounced(conn, level, row.entity_id, stamp)
            day = days.get(row.date)
            if day is None:
                day = days[row.date] = upsert.day(row.date)
            actions = row.actions
            params.append((account_id, level, day, known.id, row.spend_micros, row.impressions,
                           row.clicks, millionths(row.conversions),
                           row.conversion_value_micros, row.reach, synced_at, row.link_clicks,
                           row.interactions,
                           None if (count := row.all_conversions) is None else millionths(count),
                           row.all_conversion_value_micros, row.result_indicator,
                           None if (count := row.results) is None else millionths(count),
                           row.attribution_setting, not_kept if actions is None else kept,
                           None if (share := row.search_impression_share) is None
                           else millionths(share),
                           None if (share := row.search_budget_lost_share) is None
                           else millionths(share),
                           None if (share := row.search_rank_lost_share) is None
                           else millionths(share),
                           _actions_json(actions) if actions else None))
        params.sort(key=_BY_DAY_ENTITY)  # stable: of two rows for one entity-day the later still wins
        return params

    def _save_rows(self, params: list[tuple[Any, ...]], conn: sa.Connection) -> None:
        """Upsert the chunk's METRIC_COLUMNS tuples, binding only the optional columns some row
        fills: a Meta row has no Google shares, a Google row no Results, and each column bound
        costs the driver as much whether it is NULL or not."""
        emptied = tuple(index for index in _OPTIONAL_INDEXES
                        if all(row[index] is None for row in params))
        upsert = self._upserts.get(emptied)
        if upsert is None:
            upsert = self._upserts[emptied] = _Upsert(
                self._engine, _metrics, [METRIC_COLUMNS[i] for i in _kept(emptied)], METRIC_KEY,
                [METRIC_COLUMNS[i] for i in emptied])
        if emptied:
            params = list(map(itemgetter(*_kept(emptied)), params))
        upsert.run(conn, params)

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

    def write_entity_settings(self, level: str, records: Sequence[EntityRecord], *,
                              changed_on: dt.date, now: dt.datetime | None = None) -> int:
        """Keep how each entity of `level` is set up, whole or not at all; returns how many
        entity_change rows were written.

        Each setting that differs from what the last read of it saw becomes an entity_change row
        (its old and new value as text, `changed_on` the account's day of this sync). The first
        read of an entity's settings is no change. Entities are added or renamed as in a chunk; a
        re-read with nothing changed writes nothing."""
        stamp = now or dt.datetime.now(dt.UTC)
        with_settings = [record for record in records
                         if record.level == level and record.settings is not None]
        with self._engine.begin() as conn:
            added, changed = self._entity_changes(records, stamp)
            if added:
                conn.execute(_entities.insert(), added)
            for change in changed:
                conn.execute(_entities.update().where(_entities.c.id == change.pop("_id")), change)
            stored = {row.id: row for row in conn.execute(
                sa.select(_entities.c.id, _entities.c.settings_synced_at,
                          *(_entities.c[name] for name in SETTING_FIELDS))
                .where(_entities.c.account_id == self._account_id, _entities.c.level == level))}
            history: list[dict[str, Any]] = []
            for record in with_settings:
                entity_id = self._known[(level, record.external_id)].id
                assert record.settings is not None
                new = {name: getattr(record.settings, name) for name in SETTING_FIELDS}
                old = stored[entity_id]
                differing = [name for name in SETTING_FIELDS if getattr(old, name) != new[name]]
                if old.settings_synced_at is not None and not differing:
                    continue
                if old.settings_synced_at is not None:
                    history += [{"id": uuid.uuid4().hex, "account_id": self._account_id,
                                 "entity_id": entity_id, "changed_on": changed_on, "field": name,
                                 "old_value": _as_text(getattr(old, name)),
                                 "new_value": _as_text(new[name]), "seen_at": stamp}
                                for name in differing]
                conn.execute(_entities.update().where(_entities.c.id == entity_id),
                             {**new, "settings_synced_at": stamp})
            if history:
                conn.execute(_changes.insert(), history)
        return len(history)

    def write_breakdowns(self, dimension: str, window: DateWindow, rows: Sequence[BreakdownRow], *,
                         now: dt.datetime | None = None) -> int:
        """Save one chunk of `dimension`'s campaign rows whole, or nothing of it: the account's
        rows of that dimension on the window's days that the chunk no longer has are removed, so
        a re-sync changes nothing and leaves nothing stale. A campaign the workbook does not know
        yet is added, named by its id."""
        stamp = now or dt.datetime.now(dt.UTC)
        if self._breakdown_upsert is None:
            self._breakdown_upsert = _Upsert(self._engine, _breakdowns, BREAKDOWN_COLUMNS,
                                             BREAKDOWN_KEY)
        upsert, millionths = self._breakdown_upsert, conversions_to_millionths
        synced_at = upsert.stamp(stamp)
        with self._engine.begin() as conn:
            params: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            days: dict[dt.date, Any] = {}
            for row in rows:
                if row.dimension != dimension:
                    raise ValueError(f"a {row.dimension} row in a {dimension} chunk")
                known = self._known.get(("campaign", row.entity_id))
                if known is None:
                    known = self._add_unannounced(conn, "campaign", row.entity_id, stamp)
                day = days.get(row.date)
                if day is None:
                    day = days[row.date] = upsert.day(row.date)
                conversions = row.conversions
                key = (row.date, known.id, row.value)  # of two rows for one key the later wins
                params[key] = (self._account_id, dimension, day, known.id, row.value,
                               row.spend_micros, row.impressions, row.clicks,
                               None if conversions is None else millionths(conversions),
                               row.conversion_value_micros, row.reach, synced_at)
            ordered = [params[key] for key in sorted(params)]
            if ordered:
                upsert.run(conn, ordered)
            conn.execute(_breakdowns.delete().where(
                _breakdowns.c.account_id == self._account_id, _breakdowns.c.dimension == dimension,
                _breakdowns.c.date.between(window.since, window.until),
                _breakdowns.c.synced_at != stamp))
        return len(ordered)

    def write_period_reach(self, periods: Sequence[DateWindow], levels: Sequence[str],
                           records: Sequence[PeriodReach], *, now: dt.datetime | None = None) -> int:
        """Keep the account's reach over each of `periods` at each of `levels`, whole or not at
        all: the account's rows of exactly those ranges and levels are replaced by `records` (an
        entity the platform no longer reports for a range loses its row: n/a, not a stale
        number). Level "account" keeps the account's own id; the others the entity's id in the
        workbook (an entity not known yet is added, named by its id)."""
        stamp = now or dt.datetime.now(dt.UTC)
        ranges = {(window.since, window.until) for window in periods}
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        with self._engine.begin() as conn:
            for record in records:
                if (record.since, record.until) not in ranges or record.level not in levels:
                    raise ValueError(f"a reach record of {record.level} over {record.since}.."
                                     f"{record.until}, which was not asked for")
                if record.level == "account":
                    entity_id = self._account_id
                else:
                    known = self._known.get((record.level, record.entity_id))
                    if known is None:
                        known = self._add_unannounced(conn, record.level, record.entity_id, stamp)
                    entity_id = known.id
                key = (record.level, entity_id, record.since, record.until)
                rows[key] = {"account_id": self._account_id, "level": record.level,
                             "entity_id": entity_id, "date_from": record.since,
                             "date_to": record.until, "reach": record.reach, "synced_at": stamp}
            for since, until in sorted(ranges):
                conn.execute(_reach.delete().where(
                    _reach.c.account_id == self._account_id, _reach.c.level.in_(list(levels)),
                    _reach.c.date_from == since, _reach.c.date_to == until))
            if rows:
                conn.execute(_reach.insert(), [rows[key] for key in sorted(rows)])
        return len(rows)

    def write_catalogue(self, entries: Sequence[ConversionActionInfo], *,
                        now: dt.datetime | None = None) -> None:
        """Keep the account's catalogue of conversion actions as the platform names them now.
        An action no longer listed stays (its rows still need a name)."""
        stamp = now or dt.datetime.now(dt.UTC)
        unique = {entry.action: entry for entry in entries}
        if not unique:
            return
        statement = _insert(self._engine, _catalogue)
        columns = ("name", "kind", "category", "primary", "included_in_conversions", "status",
                   "updated_at")
        statement = statement.on_conflict_do_update(
            index_elements=["account_id", "action"],
            set_={name: statement.excluded[name] for name in columns})
        with self._engine.begin() as conn:
            conn.execute(statement, [
                {"account_id": self._account_id, "action": entry.action, "name": entry.name,
                 "kind": entry.kind, "category": entry.category, "primary": entry.primary,
                 "included_in_conversions": entry.included_in_conversions,
                 "status": entry.status, "updated_at": stamp}
                for entry in sorted(unique.values(), key=lambda entry: entry.action)])

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


def _as_text(value: Any) -> str | None:
    """A setting as entity_change keeps it: budgets as their integer micros, days ISO."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def cursors(engine: Engine, account_id: str) -> dict[str, dt.date]:
    """Each level's last synced day for an account."""
    with engine.connect() as conn:
        return {row.level: row.synced_through for row in conn.execute(
            sa.select(_cursors.c.level, _cursors.c.synced_through)
            .where(_cursors.c.account_id == account_id))}


def first_days(engine: Engine, account_id: str) -> dict[str, dt.date]:
    """Each level's first day held in the workbook for an account (where its history starts)."""
    with engine.connect() as conn:
        return {row.level: row.first for row in conn.execute(
            sa.select(_metrics.c.level, sa.func.min(_metrics.c.date).label("first"))
            .where(_metrics.c.account_id == account_id).group_by(_metrics.c.level))}


def start_run(engine: Engine, account_id: str, window: DateWindow | None, levels: Sequence[str]) -> str:
    run_id = uuid.uuid4().hex
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(_runs.insert(), [{
            "id": run_id, "account_id": account_id, "started_at": dt.datetime.now(dt.UTC),
            "status": SyncStatus.RUNNING.value, "levels": ",".join(levels),
            "window_start": window.since if window else None,
            "window_end": window.until if window else None, "rows": 0, "requests": 0, "warnings": []}])
    return run_id


def unfinished_since(engine: Engine, account_id: str) -> dt.date | None:
    """The earliest window start of the account's runs since its last successful one that did
    not succeed (failed, interrupted, or killed and left running), None when there are none.
    Such a run may have moved the cursors past days whose breakdowns it never reached (they come
    after every level's chunks), so the next run owes them."""
    succeeded = SyncStatus.SUCCEEDED.value
    last_good = (sa.select(sa.func.max(_runs.c.started_at))
                 .where(_runs.c.account_id == account_id, _runs.c.status == succeeded)
                 .scalar_subquery())
    query = sa.select(sa.func.min(_runs.c.window_start)).where(
        _runs.c.account_id == account_id, _runs.c.status != succeeded,
        sa.or_(last_good.is_(None), _runs.c.started_at > last_good))
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return found


def note_wait(engine: Engine, run_id: str, wait: dict[str, Any]) -> None:
    """Keep a run's latest wait (sync.WaitNotice.record()) for `datadrip status`."""
    with engine.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(_runs.update().where(_runs.c.id == run_id), {"wait": wait})


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
