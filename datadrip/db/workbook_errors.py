"""SQLite's errors about the workbook file itself, said in our words: busy (held by another
process, named where the system lets us see it) or damaged (checked with PRAGMA integrity_check)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from datadrip.core.errors import DataDripError, WorkbookBusyError, WorkbookDamagedError

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_MAX_HOLDERS = 3


def explain_sqlite_error(exc: BaseException, path: Path, waited_seconds: float) -> DataDripError | None:
    """A DataDripError for a busy or damaged workbook; None for any other error."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    if code in _BUSY:
        return busy_error(path, waited_seconds)
    if code in _DAMAGED:
        return damaged_error(path, str(exc))
    return None


def busy_error(path: Path, waited_seconds: float) -> WorkbookBusyError:
    who = holders(path)
    return WorkbookBusyError(
        f"the workbook {path} is busy (held by {'; '.join(who) or 'another program'}): gave up "
        f"after waiting {waited_seconds:g} s",
        hint="Try again once that is done, or wait longer: [workbook] busy_timeout_seconds "
             "(DATADRIP_WORKBOOK_BUSY_TIMEOUT_SECONDS). Nothing was changed.")


def damaged_error(path: Path, reason: str) -> WorkbookDamagedError:
    return WorkbookDamagedError(
        f"the workbook {path} is damaged ({reason})",
        hint=f"Check it with: sqlite3 '{path}' 'PRAGMA integrity_check'. Restore it from your "
             f"backup (sqlite3's .recover may save what is left). DataDrip left it untouched.")


def holders(path: Path) -> list[str]:
    """Who holds the workbook, as far as this system shows: the sync that holds its lock, and the
    other processes that have the file open (Linux's /proc; only our own user's, unless root)."""
    found: dict[int, str] = {}
    syncing = _sync_holder(path)
    if syncing:
        found[syncing] = f"a DataDrip sync (process {syncing})"
    for pid in _processes_with_open(path):
        found.setdefault(pid, f"process {pid} ({_command(pid)})")
    return list(found.values())[:_MAX_HOLDERS]


def _sync_holder(path: Path) -> int | None:
    try:
        text = path.with_name(path.name + ".sync-lock").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit() or int(text) == os.getpid():
        return None
    try:
        os.kill(int(text), 0)  # the lock's file is emptied on release: a pid in it is a holder,
    except ProcessLookupError:  # unless that process died without releasing it
        return None
    except PermissionError:
        pass
    return int(text)


def _processes_with_open(path: Path) -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    wanted = {str(path), f"{path}-wal"}
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # not ours to look at, or gone meanwhile
            continue
    return sorted(pids)


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = [Path(word).name if n == 0 else word
             for n, word in enumerate(raw.decode("utf-8", "replace").split("\0")) if word]
    text = " ".join(" ".join(words).split()) or "?"
    return text if len(text) <= 60 else text[:57] + "..."
