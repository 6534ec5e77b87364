"""The outbox provider: each report e-mail as an .eml file in a folder; nothing leaves the machine."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from datadrip.reports.deliver import PermanentError
from datadrip.reports.mail import OutgoingEmail, build_mime

SLUG_LENGTH = 40


class OutboxProvider:
    """Writes `<folder>/<YYYYMMDD-HHMMSS>-<slug>-<hash>.eml`. The name comes from the message
    alone (its Date, first recipient or subject, and Message-ID), so a retry rewrites the same
    file instead of adding a second one."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: OutgoingEmail) -> tuple[str | None, tuple[str, ...]]:
        raw = build_mime(message).as_bytes()
        path = self.folder / eml_name(message)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, raw)
        except OSError as exc:
            # A full disk or a read-only folder does not fix itself between attempts.
            raise PermanentError(f"cannot write the report e-mail to the outbox {self.folder}: "
                                 f"{exc.strerror or type(exc).__name__}",
                                 hint="Check [email] outbox_dir (or the data folder): it must be a "
                                      "folder you can write to.") from None
        return str(path), ()


def eml_name(message: OutgoingEmail) -> str:
    """`20261126-090000-owner-masala-example-1a2b3c4d.eml`."""
    stamp = message.date.strftime("%Y%m%d-%H%M%S")
    slug = slugify(message.to[0] if message.to else message.subject) or "report"
    digest = hashlib.sha256(message.message_id.encode()).hexdigest()[:8]
    return f"{stamp}-{slug}-{digest}.eml"


def slugify(text: str) -> str:
    """Lower-case ASCII letters and digits joined by single dashes (accents dropped), at most
    SLUG_LENGTH characters: safe in a file name on every system."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_LENGTH].strip("-")


def write_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file next to `path`, flush it to disk, then rename it over `path`: a
    reader sees the whole file or none, and a crash leaves no half-written .eml."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".eml.part")
    renamed = False
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        renamed = True
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
