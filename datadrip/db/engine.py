"""Opening the workbook: a SQLite file (checked, 0600, WAL) or a server URL, migrated on first use."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from datadrip.core import exact_json
from datadrip.core.config import redact_url
from datadrip.core.errors import WorkbookError
from datadrip.core.private_files import make_folder
from datadrip.db import migrations
from datadrip.db.workbook_errors import explain_sqlite_error

SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID = 0x44447270  # "DDrp" in the header of workbooks DataDrip creates
BUSY_TIMEOUT_MS = 15_000
# Execution option that makes a SQLite transaction take the write lock up front (BEGIN IMMEDIATE),
# so a writer waits politely for another instead of failing half-way with "database is locked".
WRITE = "datadrip_write"


def workbook_url(target: str) -> sa.URL:
    """A SQLAlchemy URL from a URL or a plain file path."""
    if "://" not in target:
        return sa.URL.create("sqlite", database=str(Path(target).expanduser().resolve()))
    try:
        return sa.make_url(target)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise WorkbookError(f"[workbook] url {redact_url(target)!r} is not a database URL",
                            hint="Use a file path or a URL like "
                                 "postgresql+psycopg://user@host/db.") from None


def open_workbook(target: str, *, migrate: bool = True,
                  busy_timeout_seconds: float = BUSY_TIMEOUT_MS / 1000) -> Engine:
    """An engine on the workbook, created and migrated to the newest schema if needed.

    On SQLite, a write waits up to `busy_timeout_seconds` for another process's write to end, then
    fails with WorkbookBusyError; a damaged file fails with WorkbookDamagedError."""
    url = workbook_url(target)
    is_sqlite = url.get_backend_name() == "sqlite"
    if is_sqlite and url.database not in (None, "", ":memory:"):
        _prepare_sqlite_file(Path(url.database))
    try:
        engine = sa.create_engine(url, json_serializer=partial(exact_json.dumps, indent=None),
                                  json_deserializer=exact_json.loads)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise WorkbookError(f"no database driver for {url.drivername}: {exc}",
                            hint="For PostgreSQL: pip install 'datadrip[postgres]'.") from None
    if is_sqlite:
        _install_sqlite_behaviour(engine, Path(url.database or ":memory:"),
                                  round(busy_timeout_seconds * 1000))
    if migrate:
        ensure_current(engine, where=_describe(url))
    return engine


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session committed on success and rolled back on any error: nothing is half-written."""
    bind = engine.execution_options(**{WRITE: True}) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ensure_current(engine: Engine, *, where: str) -> tuple[str | None, str]:
    """Upgrade the schema to the newest revision. Returns (revision before, revision after)."""
    current = current_revision(engine, where=where)
    if current is not None and current not in migrations.REVISIONS:
        raise WorkbookError(
            f"{where} was written by a newer DataDrip (schema {current}); this one knows up to "
            f"{migrations.HEAD}", hint="Upgrade DataDrip: pip install --upgrade datadrip.")
    if current != migrations.HEAD:
        with engine.execution_options(**{WRITE: True}).begin() as connection:
            migrations.upgrade(connection)
    if engine.dialect.name == "sqlite":
        # Only now that the file is known to be a workbook: WAL is written into the file itself,
        # so a database that is refused above is never changed.
        raw = engine.raw_connection()  # outside any transaction, as SQLite requires here
        try:
            raw.cursor().execute("PRAGMA journal_mode = WAL").close()
        finally:
            raw.close()
    return current, migrations.HEAD


def current_revision(engine: Engine, *, where: str) -> str | None:
    """The schema revision of the workbook; None for an empty database."""
    try:
        with engine.connect() as conn:
            try:
                # The common case, one query: a workbook that has a version table.
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except sa.exc.DatabaseError:
                conn.rollback()
            if sa.inspect(conn).get_table_names():
                raise WorkbookError(f"{where} is a database, but not a DataDrip workbook",
                                    hint="Point [workbook] url at a new file or database.")
            return None
    except sa.exc.DatabaseError as exc:
        raise WorkbookError(f"cannot open {where}: {_first_line(exc)}") from None


def _prepare_sqlite_file(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite touches it; create a new one as 0600."""
    if path.is_dir():
        raise WorkbookError(f"workbook {path} is a folder, not a file")
    if path.exists():
        try:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise WorkbookError(f"cannot read workbook {path}: {exc.strerror}") from None
        if not header:
            # DataDrip never leaves an empty workbook (see below): this one was emptied or cut
            # short, and starting afresh in it would hide that its data is gone.
            raise WorkbookError(f"workbook {path} is empty (0 bytes): its data is gone",
                                hint="Restore it from your backup; or, to start a new workbook, "
                                     "move this file away. DataDrip left it untouched.")
        if header != SQLITE_MAGIC:
            raise WorkbookError(f"{path} is not a DataDrip workbook (not an SQLite file)",
                                hint="Point [workbook] url at another file, or move this one "
                                     "away; if it was your workbook, it is damaged: restore it "
                                     "from your backup. DataDrip left it untouched.")
        return
    try:
        make_folder(path.parent)
        _create_sqlite_file(path)
    except OSError as exc:
        raise WorkbookError(f"cannot create workbook {path}: {exc.strerror}") from None


def _create_sqlite_file(path: Path) -> None:
    """A new, empty SQLite database at `path` (0600), never an empty file: it is made beside it
    with its header written, then linked into place, so two first uses at once make one file."""
    import sqlite3

    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        os.close(os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600))
        connection = sqlite3.connect(temporary)
        try:
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # writes page 1
            connection.commit()
        finally:
            connection.close()
        with contextlib.suppress(FileExistsError):  # another DataDrip made it meanwhile: theirs
            os.link(temporary, path)
    except sqlite3.Error as exc:
        raise OSError(0, str(exc)) from None
    finally:
        temporary.unlink(missing_ok=True)


def _install_sqlite_behaviour(engine: Engine, path: Path, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # 64 MiB of page cache (the default is 2 MiB): a sync's chunk of rows and the pages it
        # touches stay in memory until the commit, instead of being spilled and read back.
        cursor.execute("PRAGMA cache_size = -65536")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        # Every caller of the workbook gets our words for a busy or damaged file, not SQLite's.
        explained = explain_sqlite_error(context.original_exception, path, busy_timeout_ms / 1000)
        if explained is not None:
            raise explained from None


def _describe(url: sa.URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"workbook {url.database}"
    return f"workbook {url.render_as_string(hide_password=True)}"


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0]
