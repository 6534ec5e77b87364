"""The outbox provider: each report e-mail as an .eml file in a folder; nothing leaves the machine."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from datadrip.core.private_files import make_folder, write_atomically
from datadrip.reports.delivery.base import PermanentError
from datadrip.reports.delivery.mail import OutgoingEmail, build_mime

SLUG_LENGTH = 40


class OutboxProvider:
    """Writes `<folder>/<YYYYMMDD-HHMMSS>-<slug>-<hash>.eml`. The name comes from the message
    alone (its Date, first recipient or subject, and Message-ID), so a retry rewrites the same
    file instead of adding a second one."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: OutgoingEmail,
             handover: Callable[[], None] = lambda: None) -> tuple[str | None, tuple[str, ...]]:
        raw = build_mime(message).as_bytes()
        path = self.folder / eml_name(message)
        try:
            make_folder(self.folder)
            handover()
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
