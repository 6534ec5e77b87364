"""One sync at a time per workbook, released however the process ends: for a SQLite workbook an
advisory lock on a file beside it; for a PostgreSQL workbook, which several machines may share,
a PostgreSQL advisory lock held by a session of the sync (other servers: a file in the data
folder, which guards one machine only)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from datadrip.core.errors import DataDripError
from datadrip.core.private_files import make_folder

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# pg_advisory_lock's key: "DDsync" as a 64-bit number, the same for every DataDrip.
PG_LOCK_KEY = int.from_bytes(b"DDsync\0\0", "big") >> 1


class SyncLockedError(DataDripError):
    """Another sync (or the daemon) is working on the same workbook."""


def lock_path(workbook_target: str, data_dir: Path) -> Path:
    """`workbook.db.sync-lock` beside a SQLite file; a per-URL file in the data folder otherwise."""
    if "://" not in workbook_target:
        return Path(workbook_target).with_name(Path(workbook_target).name + ".sync-lock")
    digest = hashlib.sha256(workbook_target.encode()).hexdigest()[:16]
    return data_dir / f"sync-{digest}.lock"


@contextmanager
def pid_lock(path: Path, refuse: Callable[[str], DataDripError], *, wait: bool = False,
             on_wait: Callable[[str], None] = lambda _text: None,
             poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold an flock on `path` for the block, with our pid written in it. Taken: raise
    `refuse(pid)` (the holder's pid, or "" when unknown), or with `wait`, wait for it."""
    import fcntl

    make_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise refuse(_pid(fd)) from None
                if not announced:
                    on_wait(_pid(fd))
                    announced = True
                time.sleep(poll_seconds)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def pg_session_lock(engine: Engine, key: int, refuse: Callable[[], DataDripError], *,
                    wait: bool = False, on_wait: Callable[[], None] = lambda: None,
                    poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock `key` for the block (every machine sharing the server sees
    it). Taken: raise `refuse()`, or with `wait`, wait for it."""
    with engine.connect() as conn:
        announced = False
        while not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
            conn.rollback()
            if not wait:
                raise refuse()
            if not announced:
                on_wait()
                announced = True
            time.sleep(poll_seconds)
        conn.commit()  # the lock belongs to the session, not to a transaction
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
            conn.commit()


def _sync_taken(who: str) -> SyncLockedError:
    return SyncLockedError(f"another sync is already running on this workbook{who}",
                           hint="Let it finish, or run again with --wait to start when it is done.")


@contextmanager
def sync_lock(path: Path, *, wait: bool, on_wait: Callable[[str], None] = lambda _text: None,
              poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the lock for the block. Taken: SyncLockedError naming the holder, or wait for it."""
    with pid_lock(path, lambda pid: _sync_taken(holder(pid)), wait=wait, poll_seconds=poll_seconds,
                  on_wait=lambda pid: on_wait(f"waiting for the other sync{holder(pid)} to finish")):
        yield


@contextmanager
def workbook_lock(engine: Engine, path: Path, *, wait: bool,
                  on_wait: Callable[[str], None] = lambda _text: None,
                  poll_seconds: float = 0.5) -> Iterator[None]:
    """The sync lock that fits the workbook: PostgreSQL's own, else the file lock at `path`."""
    if engine.dialect.name != "postgresql":
        with sync_lock(path, wait=wait, on_wait=on_wait, poll_seconds=poll_seconds):
            yield
        return
    with pg_session_lock(engine, PG_LOCK_KEY,
                         lambda: _sync_taken(" (from this or another machine)"), wait=wait,
                         on_wait=lambda: on_wait("waiting for the other sync to finish"),
                         poll_seconds=poll_seconds):
        yield


def _pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else ""


def holder(pid: str) -> str:
    """" (process 1234)", or nothing when the holder is unknown."""
    return f" (process {pid})" if pid else ""
