"""`datadrip sql`: one query on a read-only connection to the workbook, which it cannot change.

Three locks, each enough on its own for a plain write: no statement that is not a query is
accepted (its first word: a word that begins no statement at all is left to the database, whose
parser refuses it with its own message); SQLite opens the file read-only (`mode=ro`,
`query_only`) with an authorizer that denies every action but reading; PostgreSQL runs it as one
prepared statement (so never two) in a READ ONLY transaction that is rolled back. A query runs at
most `[sql] timeout_seconds`: SQLite's progress handler, PostgreSQL's statement_timeout."""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from datadrip.core.errors import DataDripError, UsageError, WorkbookError
from datadrip.db.engine import current_revision, ensure_current, open_workbook, workbook_url

VIEWS = ("daily_metrics", "campaign_daily", "adset_daily", "ad_daily", "account_daily",
         "action_daily", "conversion_actions")
VIEWS_HINT = ("Query the views " + ", ".join(VIEWS) + "; their columns: "
              "datadrip sql 'SELECT * FROM daily_metrics LIMIT 0' --format csv (docs/sql.md).")
QUERY_WORDS = {"sqlite": ("SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"),
               "postgresql": ("SELECT", "WITH", "VALUES", "EXPLAIN", "TABLE")}
# The words that begin every other statement each database knows: refused before anything runs.
# Any other first word begins no statement, so the database's parser refuses it (a typo gets the
# database's own message).
STATEMENT_WORDS = {
    "sqlite": frozenset({"ALTER", "ANALYZE", "ATTACH", "BEGIN", "COMMIT", "CREATE", "DELETE",
                         "DETACH", "DROP", "END", "INSERT", "REINDEX", "RELEASE", "REPLACE",
                         "ROLLBACK", "SAVEPOINT", "UPDATE", "UPSERT", "VACUUM"}),
    "postgresql": frozenset({"ABORT", "ALTER", "ANALYSE", "ANALYZE", "BEGIN", "CALL", "CHECKPOINT",
                             "CLOSE", "CLUSTER", "COMMENT", "COMMIT", "COPY", "CREATE", "DEALLOCATE",
                             "DECLARE", "DELETE", "DISCARD", "DO", "DROP", "END", "EXECUTE", "FETCH",
                             "GRANT", "IMPORT", "INSERT", "LISTEN", "LOAD", "LOCK", "MERGE", "MOVE",
                             "NOTIFY", "PREPARE", "REASSIGN", "REFRESH", "REINDEX", "RELEASE",
                             "RESET", "REVOKE", "ROLLBACK", "SAVEPOINT", "SECURITY", "SET", "SHOW",
                             "START", "TRUNCATE", "UNLISTEN", "UPDATE", "VACUUM"})}
READ_ONLY_HINT = ("Write a query: SELECT, WITH … SELECT, VALUES or EXPLAIN (on SQLite also a "
                  "PRAGMA that reads); the workbook changes only through DataDrip's commands.")
ONE_STATEMENT_HINT = "Leave out the ';' and what follows it: run each statement on its own."
BUSY_TIMEOUT_S = 15.0
# SQLite calls the progress handler every this many virtual-machine steps (well under 1 ms).
PROGRESS_STEPS = 10_000
# A double holds 15 significant decimal digits exactly; the sqlite3 shell prints floats so too.
FLOAT_DIGITS = 15

# SQLite pragmas that only report. Those that take a table or index name, and those that report
# only when called without a value (with one, they change a setting).
_PRAGMAS_WITH_NAME = {"table_info", "table_xinfo", "table_list", "index_list", "index_info",
                      "index_xinfo", "foreign_key_list", "foreign_key_check", "integrity_check",
                      "quick_check"}
_PRAGMAS_WITHOUT_VALUE = {"database_list", "collation_list", "function_list", "module_list",
                          "pragma_list", "compile_options", "user_version", "schema_version",
                          "application_id", "page_count", "page_size", "freelist_count",
                          "encoding", "journal_mode", "foreign_keys", "query_only",
                          "data_version"}
_READING = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
            sqlite3.SQLITE_RECURSIVE}
_ACTIONS = {sqlite3.SQLITE_INSERT: "INSERT into {0}", sqlite3.SQLITE_UPDATE: "UPDATE of {0}",
            sqlite3.SQLITE_DELETE: "DELETE from {0}", sqlite3.SQLITE_ATTACH: "ATTACH",
            sqlite3.SQLITE_DETACH: "DETACH", sqlite3.SQLITE_TRANSACTION: "a transaction",
            sqlite3.SQLITE_SAVEPOINT: "a savepoint", sqlite3.SQLITE_ANALYZE: "ANALYZE",
            sqlite3.SQLITE_REINDEX: "REINDEX", sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE {1}"}
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$)|\()*", re.DOTALL)


@dataclass(frozen=True)
class QueryResult:
    """Column names (unique: a repeated name gets _2, _3) and rows in the order of the query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        """One dict per row, values ready for JSON, CSV or a table (see `plain_value`)."""
        return [dict(zip(self.columns, (plain_value(v) for v in row), strict=True))
                for row in self.rows]


class QueryTimeoutError(DataDripError):
    """A query ran longer than [sql] timeout_seconds and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the query was stopped after {seconds:g} s ([sql] timeout_seconds)",
                         hint="Narrow it (a date range, a LIMIT; a recursive WITH needs a condition "
                              "that ends it), or raise [sql] timeout_seconds.")
        self.seconds = seconds


def run_query(target: str, statement: str, *, timeout_seconds: float = 30.0) -> QueryResult:
    """Run one query on the workbook at `target` (a path or a URL) without changing it, for at
    most `timeout_seconds` (QueryTimeoutError after that).

    Like every command, an older workbook is first brought to the current schema; a missing or
    empty one is an error (nothing is created); one from a newer DataDrip is refused."""
    statement = _trimmed(statement)
    url = workbook_url(target)
    backend = url.get_backend_name()
    if backend not in QUERY_WORDS:
        raise UsageError(f"datadrip sql works on SQLite and PostgreSQL workbooks, not {backend}")
    require_query(statement, backend)
    if backend == "sqlite":
        path = _existing_file(url.database)
        _ensure_schema(str(path), where=f"workbook {path}")
        with sqlite_read_only(path) as connection:
            return _run_sqlite(connection, statement, timeout_seconds)
    if url.get_driver_name() != "psycopg":
        raise UsageError(f"datadrip sql needs the psycopg driver, not {url.get_driver_name()}",
                         hint="Write [workbook] url as postgresql+psycopg://user@host/db.")
    where = f"workbook {url.render_as_string(hide_password=True)}"
    _ensure_schema(target, where=where)
    return _run_postgres(target, statement, timeout_seconds, where=where)


def require_query(statement: str, backend: str) -> None:
    """Refuse, before anything is opened, a statement that does not start like a query."""
    if not statement:
        raise UsageError("no SQL statement given",
                         hint="datadrip sql \"SELECT * FROM campaign_daily LIMIT 10\"")
    start = _LEADING.match(statement)
    rest = statement[start.end() if start else 0:]
    if not rest:
        raise UsageError("no SQL statement given",
                         hint="datadrip sql \"SELECT * FROM campaign_daily LIMIT 10\"")
    word = re.match(r"[A-Za-z_]+", rest)
    first = word.group().upper() if word else ""
    if first in STATEMENT_WORDS[backend]:
        raise UsageError(f"datadrip sql only reads the workbook: {first} statements are refused",
                         hint=READ_ONLY_HINT)


@contextmanager
def sqlite_read_only(path: Path) -> Iterator[ReadOnlyConnection]:
    """A connection to the SQLite file that can only read it, whatever is run on it."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                     factory=ReadOnlyConnection)
    except sqlite3.Error as exc:
        raise WorkbookError(f"cannot open workbook {path}: {exc}") from None
    try:
        connection.execute("PRAGMA query_only = ON")
        _declare_pragma_tables(connection)
        connection.set_authorizer(connection.authorizer)
        yield connection
    finally:
        connection.close()


def _declare_pragma_tables(connection: sqlite3.Connection) -> None:
    """Declare the reporting pragmas' tables (pragma_database_list, pragma_table_info…) before the
    authorizer is set: on a table's first use in a connection, SQLite checks its declaration as an
    UPDATE of sqlite_master, which the authorizer would refuse. LIMIT 0 runs nothing."""
    for name in sorted(_PRAGMAS_WITH_NAME | _PRAGMAS_WITHOUT_VALUE):
        connection.execute(f"SELECT * FROM pragma_{name} LIMIT 0")


class _Authorizer:
    """SQLite's authorizer: reading is allowed, every other action is denied (and remembered)."""

    def __init__(self) -> None:
        self.denied: list[str] = []

    def __call__(self, action: int, arg1: str | None, arg2: str | None, _db: str | None,
                 _trigger: str | None) -> int:
        if action in _READING or (action == sqlite3.SQLITE_PRAGMA and _reads(arg1, arg2)):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            self.denied.append(f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else ""))
        else:
            self.denied.append(_ACTIONS.get(action, "changing the schema").format(arg1, arg2))
        return sqlite3.SQLITE_DENY


class ReadOnlyConnection(sqlite3.Connection):
    """A sqlite3 connection that keeps its authorizer, to say what it refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authorizer = _Authorizer()


def _reads(pragma: str | None, value: str | None) -> bool:
    name = (pragma or "").lower()
    return name in _PRAGMAS_WITH_NAME or (name in _PRAGMAS_WITHOUT_VALUE and value is None)


def _run_sqlite(connection: ReadOnlyConnection, statement: str, timeout_seconds: float) -> QueryResult:
    connection.authorizer.denied.clear()
    deadline = time.monotonic() + timeout_seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    try:
        cursor = connection.execute(statement)
        rows = cursor.fetchall()
    except sqlite3.ProgrammingError:  # the sqlite3 module's "one statement at a time"
        raise UsageError("datadrip sql runs one statement at a time",
                         hint=ONE_STATEMENT_HINT) from None
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_INTERRUPT \
                and time.monotonic() > deadline:
            raise QueryTimeoutError(timeout_seconds) from None
        raise _sqlite_error(exc, connection.authorizer.denied) from None
    finally:
        connection.set_progress_handler(None, 0)
    return QueryResult(unique_names([d[0] for d in cursor.description or ()]), rows)


def _sqlite_error(exc: sqlite3.Error, denied: Sequence[str]) -> DataDripError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    if denied or code in (sqlite3.SQLITE_AUTH, sqlite3.SQLITE_READONLY):
        own = [what for what in denied if "sqlite_" not in what]  # not SQLite's bookkeeping
        refused = (own or list(denied) or ["writing"])[0]
        return UsageError(f"datadrip sql only reads the workbook: {refused} is refused",
                          hint=READ_ONLY_HINT)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DataDripError(f"the workbook is busy: {exc}",
                             hint="Another DataDrip is changing it; try again in a moment.")
    if code in (sqlite3.SQLITE_ERROR, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_MISMATCH,
                sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT):
        return UsageError(f"the statement failed: {exc}", hint=VIEWS_HINT)
    return WorkbookError(f"cannot read the workbook: {exc}")


def _run_postgres(target: str, statement: str, timeout_seconds: float, *, where: str) -> QueryResult:
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(target, poolclass=NullPool)
    try:
        raw = engine.raw_connection()
    except sa.exc.DBAPIError as exc:
        raise WorkbookError(f"cannot open {where}: {_first_line(exc.orig or exc)}") from None
    try:
        connection = cast("psycopg.Connection[Any]", raw.driver_connection)  # the driver is checked
        connection.rollback()
        connection.read_only = True  # every transaction starts BEGIN READ ONLY
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            # For this transaction only (is_local): the rollback below forgets it.
            cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                           (f"{max(1, round(timeout_seconds * 1000))}ms",))
            try:
                # Prepared, so sent by the extended protocol, which refuses two statements.
                cursor.execute(statement, prepare=True)
                columns = unique_names([d.name for d in cursor.description or ()])
                rows = cursor.fetchall() if cursor.description else []
            except psycopg.Error as exc:
                if exc.sqlstate == "57014" and "statement timeout" in str(exc):  # query_canceled
                    raise QueryTimeoutError(timeout_seconds) from None
                raise _postgres_error(exc) from None
            finally:
                connection.rollback()
    finally:
        raw.close()
        engine.dispose()
    return QueryResult(columns, rows)


def _postgres_error(exc: Any) -> DataDripError:
    state = str(getattr(exc, "sqlstate", "") or "")
    message = _first_line(exc)
    if state == "25006":  # read_only_sql_transaction
        return UsageError(f"datadrip sql only reads the workbook: {message}", hint=READ_ONLY_HINT)
    if state == "42601" and "multiple commands" in message:
        return UsageError("datadrip sql runs one statement at a time", hint=ONE_STATEMENT_HINT)
    if state[:2] in {"08", "53", "57", "58", "XX", ""}:  # the connection or the server
        return DataDripError(f"the workbook's server failed: {message}")
    return UsageError(f"the statement failed: {message}", hint=VIEWS_HINT)


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names with a repeated one numbered (a, a_2, a_3), so that they can be keys."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


def plain_value(value: Any) -> Any:
    """A value as JSON, CSV and tables show it: numbers stay numbers (a float with the 15
    significant digits it holds, so 0.1 + 0.2 is 0.3), dates ISO text, bytes hexadecimal."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return Decimal(format(value, f".{FLOAT_DIGITS}g")) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain_value(item) for key, item in value.items()}
    return str(value)


def _trimmed(statement: str) -> str:
    """Without surrounding space and trailing semicolons (`SELECT 1;` is one statement)."""
    return statement.strip().rstrip(";").rstrip()


def _existing_file(database: str | None) -> Path:
    if database in (None, "", ":memory:"):
        raise UsageError("an in-memory workbook holds nothing to query",
                         hint="Point [workbook] url at the workbook file.")
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise WorkbookError(f"no workbook at {path}" if not path.exists() else
                            f"workbook {path} is not a file",
                            hint="Create one with 'datadrip init' and fill it with "
                                 "'datadrip sync', or point [workbook] url at yours.")
    return path


def _ensure_schema(target: str, *, where: str) -> None:
    """The workbook at the current schema, as every command does; an empty one is refused."""
    engine = open_workbook(target, migrate=False)
    try:
        if current_revision(engine, where=where) is None:
            raise WorkbookError(f"{where} is empty: there is nothing to query yet",
                                hint="Create it with 'datadrip init' (or 'datadrip db upgrade').")
        ensure_current(engine, where=where)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
