"""Who is sending a report right now: a lock that the sending process holds for the whole send,
so that a sender which dies (even by SIGKILL) lets go at once and the next `report send` takes
over, while a live one is never doubled.

- A SQLite workbook (and any workbook on one machine): an flock on a small file per report in a
  folder beside the workbook (`workbook.db.send-locks/`); the file holds the sender's pid.
- A PostgreSQL workbook, which several machines may share: a session advisory lock on a
  connection the sender keeps open for the send. The server drops it the moment that connection
  ends: a killed process's socket is closed by its kernel at once; a machine that drops off the
  network is noticed by TCP keepalive (set `keepalives_idle` in the URL to notice it sooner). A
  pid from another machine could not be checked, which is why the lock lives in the server.
- Other servers (MySQL): a file in the data folder, which guards this machine only.

The report row's `sending_since` says a send began; the lock says whether its sender still lives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datadrip.core.config import Loaded
from datadrip.db.engine import open_workbook
from datadrip.workbook.accounts import shell_quoted

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

TAKE_PATIENCE = 1.0  # seconds a sender waits for a lock that a passing look may hold
POLL_SECONDS = 0.05


def report_key(client_id: str, kind: str, since: dt.date, until: dt.date) -> str:
    """One report's identity (the workbook's unique key), as a short hex name."""
    text = f"{client_id}\0{kind}\0{since.isoformat()}\0{until.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pg_key(key: str) -> int:
    """pg_advisory_lock's bigint for a report: its key with the top bit off (always positive)."""
    return int(key[:16], 16) >> 1


def lock_folder(loaded: Loaded) -> Path:
    """`<workbook>.send-locks` beside a SQLite file; a per-URL folder in the data folder otherwise."""
    from sqlalchemy.engine import make_url

    target = loaded.workbook_target
    database: str | None = target
    if "://" in target:
        url = make_url(target)
        database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        path = Path(database)
        return path.with_name(path.name + ".send-locks")
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    return loaded.paths.data_dir / f"send-locks-{digest}"


def _is_postgres(target: str) -> bool:
    return target.startswith(("postgresql:", "postgresql+", "postgres:"))


class SendLocks:
    """The send locks of one workbook, as this process takes them: one report at a time."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.postgres = _is_postgres(loaded.workbook_target)
        self.folder = None if self.postgres else lock_folder(loaded)
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._held: tuple[str, int | None] | None = None  # (key, the file's descriptor)

    # --- taking and letting go -------------------------------------------------------------------

    def take(self, key: str, *, patience: float = TAKE_PATIENCE) -> bool:
        """Take the report's lock: False when a live sender holds it. A holder that lets go
        within `patience` seconds (a `status` looking at it, a send just ending) is waited for."""
        deadline = time.monotonic() + patience
        while not self._try(key):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def _try(self, key: str) -> bool:
        assert self._held is None, "one send at a time"
        if self.postgres:
            taken = bool(self._pg().exec_driver_sql(
                f"SELECT pg_try_advisory_lock({_pg_key(key)})").scalar())
            self._pg().commit()  # the lock belongs to the session, not to a transaction
            if taken:
                self._held = (key, None)
            return taken
        fd = _flock(self._path(key))
        if fd is None:
            return False
        self._held = (key, fd)
        return True

    def release(self) -> None:
        """Let go of the lock held, if any."""
        if self._held is None:
            return
        key, fd = self._held
        self._held = None
        if fd is None:
            self._pg().exec_driver_sql(f"SELECT pg_advisory_unlock({_pg_key(key)})")
            self._pg().commit()
            return
        with contextlib.suppress(OSError):
            os.unlink(self._path(key))  # while still held: nobody can take this file after us
        os.close(fd)

    def in_flight(self, key: str) -> bool:
        """Does a live sender (another one) hold the report's lock now?"""
        if self._held is not None and self._held[0] == key:
            return False
        if self.folder is not None and not self._path(key).exists():
            return False  # nobody has sent it since its last sender let go
        if not self.take(key, patience=0):
            return True
        self.release()
        return False

    def holder(self, key: str) -> str:
        """" (process 1234)" for the live sender of a report on this machine, else ""."""
        if self.folder is None:
            return ""
        try:
            text = self._path(key).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return ""
        return f" (process {text})" if text.isdigit() else ""

    def close(self) -> None:
        self.release()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- where the locks live --------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.lock"

    def _pg(self) -> Connection:
        if self._connection is None:
            self._engine = open_workbook(self.loaded.workbook_target)
            self._connection = self._engine.connect()
        return self._connection


@contextlib.contextmanager
def send_locks(loaded: Loaded) -> Iterator[SendLocks]:
    """The workbook's send locks for a run; whatever is still held is let go at the end."""
    locks = SendLocks(loaded)
    try:
        yield locks
    finally:
        locks.close()


def _flock(path: Path) -> int | None:
    """An flock on `path` (created if missing) with our pid written in it, or None when another
    process holds it. A file its holder unlinked while we waited is not the lock any more: retry."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _same_file(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        now: Any = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return bool((now.st_dev, now.st_ino) == (held.st_dev, held.st_ino))


def resend_command(client: str, kind: str, since: dt.date, until: dt.date, *, force: bool = True) -> str:
    """The `report send …` that sends this one report (again, with `--force`)."""
    return (f"datadrip report send {shell_quoted(client)} --kind {kind} --since {since.isoformat()} "
            f"--until {until.isoformat()}" + (" --force" if force else ""))
