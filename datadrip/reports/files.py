"""Report files: written whole or not at all, and opened in the person's browser."""

from __future__ import annotations

import datetime as dt
import errno
import re
from pathlib import Path

from datadrip.core.errors import DataDripError, UsageError
from datadrip.core.private_files import make_folder, write_atomically


def write_file(path: Path, text: str, *, own_folder: bool = False) -> Path:
    """Write `text` to `path` whole or not at all (an existing file is replaced only once the new
    one is complete; a device or pipe such as /dev/stdout is written to, never replaced).

    The folder must exist, unless it is one of DataDrip's own (`own_folder`): then it is made,
    private."""
    path = path.expanduser()
    folder = path.parent
    if any(part.is_file() for part in (folder, *folder.parents)):
        raise UsageError(f"cannot write {path}: {_first_file(folder)} is a file, not a folder",
                         hint="Choose a path in a folder.")
    if not own_folder and not folder.is_dir():
        raise UsageError(f"cannot write {path}: there is no folder {folder}",
                         hint=f"Create it first (mkdir -p '{folder}'), or choose a path in a "
                              f"folder that exists.")
    try:
        if own_folder:
            make_folder(folder)
        write_atomically(path, text.encode("utf-8"))
    except IsADirectoryError:
        raise UsageError(f"cannot write {path}: it is a folder",
                         hint="Name a file, e.g. report.html.") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno in _NOT_YOURS:
            raise UsageError(f"cannot write {path}: {reason}",
                             hint="Choose a folder you can write to.") from None
        # A full disk or a failing device: the path was fine, the write failed.
        raise DataDripError(f"cannot write {path}: {reason}",
                            hint="Free some space, or write somewhere else.") from None
    return path


_NOT_YOURS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EINVAL, errno.ENOTDIR,
              errno.ENAMETOOLONG, errno.ELOOP}


def _first_file(folder: Path) -> Path:
    return next(part for part in (*reversed(folder.parents), folder) if part.is_file())


def report_path(data_dir: Path, client: str, kind: str, since: dt.date, until: dt.date) -> Path:
    """Where a report's HTML file goes to be opened: <data folder>/reports/masala-mornings-daily-
    2026-11-23.html (one day) or …-2026-11-16-2026-11-22.html."""
    slug = re.sub(r"[^a-z0-9]+", "-", client.lower()).strip("-") or "client"
    days = f"{since}" if since == until else f"{since}-{until}"
    return data_dir / "reports" / f"{slug}-{kind}-{days}.html"


def open_in_browser(path: Path) -> None:
    """Show a file in the default browser ($BROWSER is honoured)."""
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        raise DataDripError(f"no browser could be opened for {path}",
                            hint=f"Open the file yourself: {path}")
