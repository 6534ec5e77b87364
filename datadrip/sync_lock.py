"""One sync at a time per workbook: an advisory lock on a file beside it (or, for a server
workbook, in the data folder), held by the process and released by the OS however it ends."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from datadrip.errors import DataDripError


class SyncLockedError(DataDripError):
    """Another sync (or the daemon) is working on the same workbook."""


def lock_path(workbook_target: str, data_dir: Path) -> Path:
    """`workbook.db.sync-lock` beside a SQLite file; a per-URL file in the data folder otherwise."""
    if "://" not in workbook_target:
        return Path(workbook_target).with_name(Path(workbook_target).name + ".sync-lock")
    digest = hashlib.sha256(workbook_target.encode()).hexdigest()[:16]
    return data_dir / f"sync-{digest}.lock"


@contextmanager
def sync_lock(path: Path, *, wait: bool, on_wait: Callable[[str], None] = lambda _text: None,
              poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the lock for the block. Taken: SyncLockedError naming the holder, or wait for it."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise SyncLockedError(
                        f"another sync is already running on this workbook{holder}",
                        hint="Let it finish, or run again with --wait to start when it is done.") \
                        from None
                if not announced:
                    on_wait(f"waiting for the other sync{holder} to finish")
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


def _holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f" (process {text})" if text.isdigit() else ""
