"""Shared fixtures: a fresh DATADRIP_HOME per test, the CLI in-process and as a real process,
the real workbook file, and a real PostgreSQL database where a server is available."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import META_REDIRECT_PORT, PINNED_TODAY, POSTGRES_ENV, Run, pinned_clock, sandbox_settings
from typer.testing import CliRunner

from datadrip.cli import app

# A shell starts a background job (`make test &`, a CI runner's) with SIGINT ignored, and every
# process the tests start would inherit that, so a test's Ctrl-C (SIGINT) would not reach them. As
# in a terminal: the default handler here, which the processes started from here reset to SIGINT's
# default (and Python to KeyboardInterrupt).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

__all__ = ["POSTGRES_ENV", "Run"]  # other test modules have imported them from here


# --- running on several workers (pytest-xdist, `make test`) ----------------------------------------

META_REDIRECT_GROUP = "meta-redirect-port"


@pytest.fixture
def meta_redirect_port() -> Iterator[int]:
    """The Meta app's fixed redirect port. A test that binds it (a Meta login in a browser, or a
    test holding the port busy) asks for this fixture, directly or through another fixture: it
    holds an exclusive lock on a file named after the port for the whole test, so one such test
    at a time binds it, whichever worker (or suite) runs it. The xdist group below keeps them on
    one worker too, so they do not wait on each other."""
    path = Path(tempfile.gettempdir()) / f"datadrip-tests-port-{META_REDIRECT_PORT}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield META_REDIRECT_PORT
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Which tests must share a worker under `--dist loadgroup` (pyproject's addopts):

    - every test that uses `meta_redirect_port`: one group, so the fixed port is never bound
      twice at once;
    - the tests of a module that share a module- (or class-, package-) scoped fixture, such as one
      sync or demo for the whole module: one group per module, so the expensive fixture is
      built once, on one worker, instead of once on each;
    - every other test runs wherever a worker is free.

    Runs before xdist turns the marks into work units; without xdist the marks change nothing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        fixtures = getattr(item, "fixturenames", ())
        if "meta_redirect_port" in fixtures:
            item.add_marker(pytest.mark.xdist_group(META_REDIRECT_GROUP))
        elif _shares_a_fixture_beyond_one_test(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def _shares_a_fixture_beyond_one_test(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(definitions[-1].scope in ("class", "module", "package")
               for definitions in info.name2fixturedefs.values() if definitions)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DATADRIP_HOME and working folder, and none of the caller's env."""
    for var in list(os.environ):
        if (var.startswith("DATADRIP_") and var != POSTGRES_ENV) or var == "OPENAI_API_KEY":
            monkeypatch.delenv(var)
    folder = tmp_path / "home"
    monkeypatch.setenv("DATADRIP_HOME", str(folder))
    monkeypatch.setenv("DATADRIP_USER_EMAIL", "tester@agency.example")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


@pytest.fixture
def frozen_today() -> Iterator[dt.date]:
    """The test process's clock pinned to PINNED_TODAY (06:00 UTC, ticking on): what the services
    and an in-process sandbox read as today, whatever the real date."""
    with pinned_clock():
        yield PINNED_TODAY


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def dd(runner: CliRunner) -> Callable[..., Run]:
    """`datadrip ARGS…` in-process through Typer's CliRunner (stdout and stderr kept apart)."""

    def invoke(*args: str, input: str | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input)
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def dd_process(home: Path) -> Callable[..., Run]:
    """`datadrip ARGS…` as a real process: `python -m datadrip`, no terminal."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        done = subprocess.run([sys.executable, "-m", "datadrip", *args], input=input,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def dd_start(home: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`python -m datadrip ARGS…` started in the background, no terminal, with this test's
    DATADRIP_* environment (plus `env`); whatever still runs at the end of the test is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "datadrip", *args], text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, **(env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@pytest.fixture
def workbook_path(home: Path) -> Path:
    return home / "workbook.db"


@pytest.fixture
def agency(dd: Callable[..., Run]) -> dict[str, Any]:
    """One agency, 'Spice Route Media', added through the CLI."""
    run = dd("agency", "add", "Spice Route Media", "--json")
    assert run.exit_code == 0, run.stderr
    return dict(run.json())


@pytest.fixture
def give_client_data(home: Path) -> Callable[[str], None]:
    """Attach an ad account with a campaign, a day of metrics, a report and an insight to a
    client (by id), as later syncs and reports will: the data that removal must warn about."""

    def attach(client_id: str) -> None:
        from datadrip.db.models import AdAccount, Entity, Insight, MetricDaily, Report
        from datadrip.platforms.registry import load_settings
        from datadrip.workbook.session import open_session

        with open_session(load_settings(), write=True) as wb:
            account = AdAccount(client_id=client_id, platform="meta", external_id="act_1",
                                currency="INR", timezone="Asia/Kolkata")
            wb.session.add(account)
            wb.session.flush()
            campaign = Entity(account_id=account.id, level="campaign", external_id="c1",
                              name="Diwali")
            wb.session.add(campaign)
            wb.session.flush()
            wb.session.add(MetricDaily(account_id=account.id, level="campaign",
                                       entity_id=campaign.id, date=dt.date(2026, 11, 1),
                                       spend_micros=1_234_560_000, impressions=1000, clicks=25))
            wb.session.add(Report(client_id=client_id, kind="daily", period_start=dt.date(
                2026, 11, 1), period_end=dt.date(2026, 11, 1)))
            wb.session.add(Insight(client_id=client_id, type="budget", source="heuristic"))

    return attach


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV} to an admin URL (.ci/run does)")
    import sqlalchemy as sa

    name = f"datadrip_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is not reachable: {exc.orig}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin: Any, name: str) -> None:
    """DROP … WITH (FORCE) ends our own leftover connections, but fails when an autovacuum worker
    (another role's process) happens to be on the database; a plain DROP makes autovacuum let go,
    so try that, a few times, while the test's last connections close."""
    import sqlalchemy as sa

    plain = f'DROP DATABASE IF EXISTS "{name}"'
    statements = [f"{plain} WITH (FORCE)", *[plain] * 20]
    for attempt, statement in enumerate(statements):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(statement)
            return
        except (sa.exc.ProgrammingError, sa.exc.OperationalError):
            if attempt == len(statements) - 1:
                raise
            time.sleep(0.25)


SANDBOX_TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """The sandbox on 127.0.0.1 (a free port) in a thread, its clock pinned to SANDBOX_TODAY.

    `sandbox.base_url`, `sandbox.app.faults`, `sandbox.app.state.clock`, `sandbox.app.world`."""
    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    with SandboxServer(SandboxConfig(seed=7, today=SANDBOX_TODAY)) as server:
        yield server


@pytest.fixture
def sandbox_http(sandbox: Any) -> Iterator[Any]:
    """An httpx client whose relative URLs go to the running sandbox."""
    import httpx

    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def memory_keyring() -> Iterator[Any]:
    """A working OS keyring held in memory (the real one cannot run in CI), made keyring's
    current backend for the test; the one already in place comes back afterwards."""
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.passwords: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.passwords.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.passwords[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            if self.passwords.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    # keyring registers every backend class it sees; this one must only be used when set.
    KeyringBackend._classes.discard(MemoryKeyring)  # type: ignore[attr-defined]
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """keyring's own "no backend" stand-in, as on a headless server."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def connectable(sandbox: Any, monkeypatch: pytest.MonkeyPatch, agency: dict[str, Any],
                dd: Callable[..., Run]) -> dict[str, Any]:
    """Ready for `datadrip connect`: settings pointing at the sandbox (as a user behind a proxy
    would point them), app secrets from the environment, logins in the encrypted secret file,
    and two clients, 'Masala Mornings' and 'Peak Trail Outfitters'. Returns the sandbox's
    describe() (URLs and credentials)."""
    described: dict[str, Any] = sandbox.app.describe(sandbox.base_url)
    for name, value in sandbox_settings(described).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")
    for name in ("Masala Mornings", "Peak Trail Outfitters"):
        assert dd("client", "add", name).exit_code == 0
    return described
