"""Helpers the test modules share: what a refused command looks like, what must not change."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_ENV = "DATADRIP_TEST_POSTGRES_URL"

# The Meta app's registered loopback redirect is http://localhost:8765/callback (the sandbox's app
# lists only that port, as a real app does), so a Meta login in a browser must bind 8765: tests
# that do ask for conftest's `meta_redirect_port` fixture, which runs them one at a time.
META_REDIRECT_PORT = 8765

# The day a test that reads "today" lives on, whatever the real date: mid-month, mid-week, far
# from a DST change. The sandbox pins its own clock to a day (SandboxConfig.today); the test
# process is pinned with `pinned_clock`, so what the demo's services and the sandbox in the same
# process read as "now" is this day.
PINNED_TODAY = dt.date(2026, 11, 18)
PINNED_HOUR_UTC = 6  # Kolkata's 11:30, New York's 01:00: the same day in the agency's zone and UTC


@contextmanager
def pinned_clock(day: dt.date = PINNED_TODAY, hour: int = PINNED_HOUR_UTC) -> Iterator[None]:
    """The test process's clock at `hour`:00 UTC of `day`, ticking on from there."""
    import time_machine

    with time_machine.travel(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC), tick=True):
        yield


@dataclass
class Run:
    """What one `datadrip` invocation did: exit code, stdout, stderr."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@contextmanager
def isolated_environment(base: Path) -> Iterator[Path]:
    """What the per-test `home` fixture gives, for a fixture shared by a module: none of the
    caller's DATADRIP_* environment (but the PostgreSQL URL), DATADRIP_HOME at BASE/home and the
    working folder BASE/work; all of it undone on leaving. Yields the home folder."""
    import pytest

    (base / "work").mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        for var in list(os.environ):
            if (var.startswith("DATADRIP_") and var != POSTGRES_ENV) or var == "OPENAI_API_KEY":
                patch.delenv(var)
        patch.setenv("DATADRIP_HOME", str(base / "home"))
        patch.setenv("DATADRIP_USER_EMAIL", "tester@agency.example")
        patch.chdir(base / "work")
        yield base / "home"


def sandbox_settings(described: dict[str, Any]) -> dict[str, str]:
    """The environment that points DataDrip's Meta and Google settings at a sandbox (its
    describe()): URLs, app ids and app secrets, as a user behind a proxy would set them."""
    meta, google = described["meta"], described["google"]
    return {**{f"DATADRIP_META_{key.upper()}": meta[key]
               for key in ("graph_url", "dialog_url", "app_id", "app_secret")},
            **{f"DATADRIP_GOOGLE_{key.upper()}": google[key]
               for key in ("api_url", "auth_url", "token_url", "revoke_url", "client_id",
                           "client_secret")}}


def assert_bad_input(run: Any, *needles: str) -> str:
    """Exit 2, nothing on stdout, one `error: …` line on stderr (naming the needles)."""
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stdout == ""
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr
    for needle in needles:
        assert needle in errors[0], run.stderr
    return errors[0]


def workbook_state(dd: Callable[..., Any]) -> tuple[Any, ...]:
    """Everything a failed command must leave as it was: the lists and the audit log."""
    runs = [dd("agency", "list", "--json"), dd("client", "list", "--json"),
            dd("user", "list", "--json"), dd("audit", "--json")]
    assert all(run.exit_code == 0 for run in runs), [run.stderr for run in runs]
    return tuple(run.json() for run in runs)


def revision_of(path: Path) -> str:
    """The schema revision recorded in a SQLite workbook (read without DataDrip)."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        connection.close()
    assert len(rows) == 1
    return str(rows[0][0])


def stored_logins() -> dict[str, str]:
    """The logins (login.*) in the encrypted secret file, decrypted as DataDrip reads them."""
    from datadrip.platforms.registry import load_settings
    from datadrip.secrets.file import FileStore

    store = FileStore(load_settings().paths.data_dir)
    return {name: value for name, value in store._read().items() if name.startswith("login.")}


def stored_token(ref: str | None = None) -> str:
    """The token of the one stored login (or of `ref`)."""
    from datadrip.platforms.tokens import StoredLogin

    logins = stored_logins()
    if ref is None:
        [ref] = logins
    return StoredLogin.loads(logins[ref], ref).token


def accounts_in(workbook_path: Path) -> list[tuple[Any, ...]]:
    """The ad_account rows, read without DataDrip."""
    connection = sqlite3.connect(workbook_path)
    try:
        return connection.execute(
            "SELECT external_id, platform, token_ref, login_customer_id, status FROM ad_account "
            "ORDER BY external_id").fetchall()
    finally:
        connection.close()


def query_of(url: str) -> dict[str, str]:
    """An address's query parameters (the first value of each)."""
    from urllib.parse import parse_qs, urlsplit

    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def consent(url: str, decision: str = "allow") -> str:
    """Answer the sandbox's consent page over HTTP, as the person's browser would on another
    machine, and return the address it redirects to."""
    from urllib.parse import urlsplit

    import httpx

    parts = urlsplit(url)
    answer = httpx.post(f"{parts.scheme}://{parts.netloc}{parts.path}",
                        data={**query_of(url), "decision": decision}, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return str(answer.headers["location"])


def drain_terminal(leader: int, process: subprocess.Popen[bytes]) -> bytes:
    """Everything a child wrote to its pseudo-terminal (`leader` is our end), once it exits."""
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks)
