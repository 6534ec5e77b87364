"""What every command needs from the root options: the settings and a session on the workbook."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datadrip.core.errors import ConfirmationRequiredError

if TYPE_CHECKING:
    from datadrip.core.config import Loaded
    from datadrip.workbook.session import Workbook


@dataclass
class Invocation:
    config_path: Path | None = None
    debug: bool = False


def settings(ctx: typer.Context) -> Loaded:
    from datadrip.platforms.registry import load_settings

    invocation = ctx.find_object(Invocation) or Invocation()
    return load_settings(invocation.config_path)


@contextmanager
def workbook(ctx: typer.Context, *, write: bool = False) -> Iterator[Workbook]:
    """A session on the workbook, committed when the command's work succeeds."""
    from datadrip.workbook.session import open_session

    with open_session(settings(ctx), write=write) as wb:
        yield wb


def confirm_removal(what: str, counts: dict[str, int], *, yes: bool) -> None:
    """Ask before removing something that has data; without a terminal, insist on --yes."""
    goes = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
    if not goes or yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationRequiredError(f"{what} has {goes}; removing it removes them too",
                                        hint="Add --yes to remove it with everything listed.")
    if not typer.confirm(f"Remove {what} with {goes}?", default=False, err=True):
        raise typer.Exit(1)
