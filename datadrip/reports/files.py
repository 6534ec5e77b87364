"""Report files: written whole or not at all, and opened in the person's browser."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from datadrip.errors import DataDripError, UsageError
from datadrip.reports.deliver_outbox import write_atomically


def write_file(path: Path, text: str) -> Path:
    """Write `text` to `path` whole or not at all (an existing file is replaced only once the new
    one is complete)."""
    path = path.expanduser()
    folder = path.parent
    if any(part.is_file() for part in (folder, *folder.parents)):
        raise UsageError(f"cannot write {path}: {_first_file(folder)} is a file, not a folder",
                         hint="Choose a path in a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}",
                         hint="Choose a folder you can write to.") from None
    return path


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
