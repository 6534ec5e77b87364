"""Statuses are enums (core/enums.py), compared as enum members; their text is what --json shows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from datadrip.core import exact_json
from datadrip.core.enums import (
    AccountStatus,
    AccountSyncStatus,
    ClientRunStatus,
    HealthState,
    InsightStatus,
    JobStatus,
    ReportStatus,
    SendStatus,
    SyncStatus,
)

PACKAGE = Path(__file__).resolve().parents[1] / "datadrip"
# The sandbox speaks the remote APIs' own words, not DataDrip's statuses.
NOT_YET = {"sandbox"}
NOT_YET_FUNCTIONS: set[tuple[str, str]] = set()
STATUS_NAMES = {"status", "state", "worst", "account_status", "run_status", "last_status"}


@pytest.mark.parametrize(("enum", "texts"), [
    (AccountStatus, ["active", "needs_reauth", "disabled"]),
    (SyncStatus, ["running", "succeeded", "partial", "failed"]),
    (JobStatus, ["running", "succeeded", "partial", "failed", "abandoned"]),
    (ReportStatus, ["built", "sent", "failed", "skipped", "uncertain"]),
    (InsightStatus, ["pending", "in_progress", "applied", "dismissed"]),
    (AccountSyncStatus, ["planned", "running", "succeeded", "failed", "skipped"]),
    (SendStatus, ["sent", "skipped", "failed", "would_send"]),
    (HealthState, ["needs_login", "failing", "stale", "never_synced", "waiting", "disabled",
                   "platform_not_installed", "ok"]),
    (ClientRunStatus, ["ok", "failed"]),
])
def test_status_enums_keep_the_text_json_shows(enum: type, texts: list[str]) -> None:
    assert [member.value for member in enum] == texts
    assert exact_json.loads(exact_json.dumps({member: member for member in enum})) == {t: t for t in texts}


def _status_literal_comparisons(tree: ast.AST, relative: str) -> list[str]:
    """Where a status-named value is compared with a word in quotes ("failed", not "25006")."""
    skipped: set[int] = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and (relative, function.name) in NOT_YET_FUNCTIONS:
            skipped.update(id(node) for node in ast.walk(function))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or id(node) in skipped:
            continue
        sides = [node.left, *node.comparators]
        named = [side for side in sides if isinstance(side, ast.Name | ast.Attribute)
                 and (side.id if isinstance(side, ast.Name) else side.attr) in STATUS_NAMES]
        values = [item for side in sides
                  for item in (side.elts if isinstance(side, ast.Tuple | ast.Set | ast.List) else [side])]
        words = [value for value in values if isinstance(value, ast.Constant)
                 and isinstance(value.value, str) and re.fullmatch(r"[a-z_]+", value.value)]
        if named and words:
            found.append(f"{relative}:{node.lineno}")
    return found


def test_statuses_are_compared_as_enum_members_not_as_strings() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if any(relative == owned or relative.startswith(owned + "/") for owned in NOT_YET):
            continue
        found += _status_literal_comparisons(ast.parse(path.read_text()), relative)
    assert found == []
