"""A demo workbook (the sandbox's accounts synced for 90 days) copied into each test's home, and
the test's settings pointed at the running sandbox's OpenAI-compatible endpoint."""

from __future__ import annotations

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
