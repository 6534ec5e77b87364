"""A unit of work on the workbook: one session, committed whole or not at all, and who is acting."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlmodel import Session

from datadrip.core.config import Loaded
from datadrip.db.engine import ensure_current, open_workbook, session_scope, workbook_url


@dataclass(frozen=True)
class Workbook:
    session: Session
    actor: str


def actor_name(loaded: Loaded) -> str:
    if loaded.settings.user.email:
        return loaded.settings.user.email
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def open_session(loaded: Loaded, *, write: bool = False) -> Iterator[Workbook]:
    """Open (creating and migrating on first use) the workbook for one command's work."""
    engine = open_workbook(loaded.workbook_target,
                           busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
    try:
        with session_scope(engine, write=write) as session:
            yield Workbook(session, actor_name(loaded))
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Upgrade:
    workbook: str
    before: str | None
    after: str


def upgrade_workbook(loaded: Loaded) -> Upgrade:
    """Create the workbook if needed and bring its schema to the newest revision."""
    target = loaded.workbook_target
    engine = open_workbook(target, migrate=False,
                           busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
    try:
        url = workbook_url(target)
        where = url.database if url.get_backend_name() == "sqlite" else \
            url.render_as_string(hide_password=True)
        before, after = ensure_current(engine, where=f"workbook {where}")
    finally:
        engine.dispose()
    return Upgrade(str(where), before, after)
