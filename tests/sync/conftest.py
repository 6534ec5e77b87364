"""Sync scenarios: the sandbox on the real clock (a sync plans from today in each account's time
zone), every sandbox account connected, and helpers that add up what the workbook holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sync_support import connect_everything


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """Overrides the pinned sandbox: sync plans from the real today, so the sandbox lives there too."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7)) as server:
        yield server


@pytest.fixture
def connected(connectable: dict[str, Any], dd: Callable[..., Any]) -> dict[str, Any]:
    """Masala Mornings: Meta INR + Google INR (through the manager); Peak Trail Outfitters:
    Meta USD + Google USD (direct) and Meta EUR, so three currencies and time zones sync."""
    connect_everything(dd)
    return connectable
