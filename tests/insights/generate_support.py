"""A demo workbook (the sandbox's accounts synced for 90 days) copied into each test's home, and
the test's settings pointed at the running sandbox's OpenAI-compatible endpoint."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest


def demo_copy(source: Path, home: Path) -> Path:
    shutil.copytree(source, home)
    return home


def point_at_model(sandbox: Any, monkeypatch: pytest.MonkeyPatch, *,
                   key: str | None = None) -> dict[str, Any]:
    """[ai] base_url at the sandbox and its key in OPENAI_API_KEY (as a user would export it)."""
    described: dict[str, Any] = sandbox.app.describe(sandbox.base_url)["openai"]
    monkeypatch.setenv("DATADRIP_AI_BASE_URL", described["base_url"])
    monkeypatch.setenv("OPENAI_API_KEY", key or described["api_key"])
    return described


def chat_requests(sandbox: Any) -> list[Any]:
    return [request for request in sandbox.app.openai_requests()
            if request.path.endswith("/chat/completions")]


def pinned_workbook(home: Path, today: dt.date, *, days: int = 70) -> Path:
    """The demo's agency, clients and accounts synced from a sandbox whose clock is pinned to
    `today`, through that day: the same workbook whatever the real date."""
    from datadrip import demo
    from datadrip.core.config import CONFIG_FILENAME, example_text
    from datadrip.platforms.registry import load_settings
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer
    from datadrip.sync.run import SyncRequest, sync_accounts

    demo._reset(home)
    with SandboxServer(SandboxConfig(seed=7, today=today)) as server:
        description = server.app.describe(server.base_url)
        (home / CONFIG_FILENAME).write_text(demo._sandbox_config(example_text(), description),
                                            encoding="utf-8")
        demo._fill(home)
        loaded = load_settings(home / CONFIG_FILENAME, env={"DATADRIP_HOME": str(home)})
        demo._connect(loaded, description)
        outcome = sync_accounts(loaded, SyncRequest(since=today - dt.timedelta(days=days),
                                                    until=today), None)
        assert not outcome.failed, outcome.failed
    return home
