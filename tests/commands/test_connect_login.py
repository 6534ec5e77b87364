"""`datadrip connect meta|google CLIENT` as a real process that logs in for real.

A headless Chromium, started by `webbrowser` through $BROWSER (browser_consent.py), presses Allow
or Cancel on the sandbox's consent page and lands on DataDrip's loopback listener; --no-browser
reads the pasted address from stdin; on a terminal the accounts are picked from a numbered list.
The sandbox runs in this process; the CLI reaches it over HTTP. Every run is checked for leaked
tokens and secrets (the `cli` fixture), and failed logins must leave nothing stored.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from platforms.test_loopback import need_chromium, sandbox_tokens
from support import META_REDIRECT_PORT, assert_bad_input, consent, query_of
from test_connect import CLIENT, SYSTEM_TOKEN, accounts_in, stored_logins

from datadrip.platforms.oauth.loopback import DONE_TEXT, FAILED_TEXT

SCRIPT = Path(__file__).with_name("browser_consent.py")
TIMEOUT = 60.0  # seconds any one run may take before the test fails instead of hanging
META_PORT = META_REDIRECT_PORT  # the one the sandbox's Meta app lists (http://localhost:8765/callback)
ACCOUNT = {"meta": "act_1010000001", "google": "2020000002"}
BOTH = pytest.mark.parametrize("platform", ["meta", "google"])
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Finished:
    """What one `datadrip` process did."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)


class Running:
    """`python -m datadrip ARGS…` started with pipes and no terminal, read as it goes."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], printed: list[str]) -> None:
        self._printed = printed
        self._started = time.monotonic()
        self._out: list[str] = []
        self._err: list[str] = []
        self._new_line = threading.Condition()
        self.process = subprocess.Popen([sys.executable, "-m", "datadrip", *args], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                         for pipe, into in ((self.process.stdout, self._out),
                                            (self.process.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe: Any, into: list[str]) -> None:
        for line in pipe:
            with self._new_line:
                into.append(line)
                self._new_line.notify_all()

    def stderr_line(self, wanted: Callable[[str], bool]) -> str:
        """The first stderr line (so far or to come) that is `wanted`."""
        deadline = time.monotonic() + TIMEOUT
        with self._new_line:
            while True:
                found = next((line for line in self._err if wanted(line)), None)
                if found is not None:
                    return found.rstrip("\n")
                if not self._readers[1].is_alive():
                    pytest.fail(f"datadrip closed stderr without that line:\n{''.join(self._err)}")
                if time.monotonic() > deadline:
                    self.kill()
                    pytest.fail(f"no such line within {TIMEOUT:g} s; stderr:\n{''.join(self._err)}")
                self._new_line.wait(timeout=0.5)

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def finish(self, timeout: float = TIMEOUT) -> Finished:
        """Close stdin and wait for the process to exit on its own."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"datadrip did not exit within {timeout:g} s; stderr:\n{''.join(self._err)}")
        for reader in self._readers:
            reader.join(timeout=10)
        run = Finished(code, "".join(self._out), "".join(self._err), time.monotonic() - self._started)
        self._printed.append(run.stdout + run.stderr)
        return run

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Terminal:
    """`python -m datadrip ARGS…` on a pseudo-terminal (its controlling terminal), as a person runs it."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], printed: list[str]) -> None:
        self._printed = printed
        self._screen = b""
        self._changed = threading.Condition()
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datadrip", *args], env={**env, "TERM": "xterm"},
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))  # getpass opens /dev/tty
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: every holder of the terminal has gone
                chunk = b""
            with self._changed:
                self._screen += chunk
                self._changed.notify_all()
            if not chunk:
                return

    @property
    def screen(self) -> str:
        """Everything shown so far, as plain text."""
        return ANSI.sub("", self._screen.decode(errors="replace")).replace("\r\n", "\n")

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while text not in self.screen:
                if time.monotonic() > deadline or not self._reader.is_alive():
                    self.kill()
                    pytest.fail(f"{text!r} never appeared; the terminal shows:\n{self.screen}")
                self._changed.wait(timeout=0.5)

    def wait_for_hidden_input(self) -> None:
        """Until the terminal stops echoing (so what is typed next is not shown)."""
        deadline = time.monotonic() + TIMEOUT
        while termios.tcgetattr(self.master)[3] & termios.ECHO:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the terminal kept echoing; it shows:\n{self.screen}")
            time.sleep(0.02)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> int:
        try:
            code = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"datadrip did not exit; the terminal shows:\n{self.screen}")
        self._reader.join(timeout=10)
        os.close(self.master)
        self._printed.append(self.screen)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Cli:
    """Starts `datadrip` processes with the test's environment; remembers all they printed."""

    def __init__(self, dd: Callable[..., Any], sandbox: Any) -> None:
        self.sandbox = sandbox
        self.printed: list[str] = []
        self._dd = dd
        self._started: list[Running | Terminal] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        return {**base, **(extra or {})}

    def start(self, *args: str, env: dict[str, str] | None = None) -> Running:
        running = Running(args, self.env(env), self.printed)
        self._started.append(running)
        return running

    def run(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Finished:
        running = self.start(*args, env=env)
        running.send(stdin)
        return running.finish()

    def terminal(self, *args: str, env: dict[str, str] | None = None) -> Terminal:
        terminal = Terminal(args, self.env(env), self.printed)
        self._started.append(terminal)
        return terminal

    def in_process(self, *args: str) -> Any:
        run = self._dd(*args)
        self.printed.append(run.stdout + run.stderr)
        return run

    def stop_all(self) -> None:
        for started in self._started:
            started.kill()


class Browser:
    """What $BROWSER runs: browser_consent.py pressing `button` in Chromium ("none": only noting
    the address, like a browser nobody looks at). Chromium runs in the background, as a real
    browser does; the bare note-taker returns at once."""

    def __init__(self, folder: Path, button: str) -> None:
        self.result = folder / f"browser-{button.lower()}.json"
        background = "" if button == "none" else " &"
        self.env = {"BROWSER": f"{shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))} --result "
                               f"{shlex.quote(str(self.result))} --button {button} %s{background}"}

    @property
    def opened(self) -> bool:
        return self.result.exists()

    def outcome(self) -> dict[str, Any]:
        """What the browser saw, once it has finished (it may outlive the CLI by a moment)."""
        deadline = time.monotonic() + TIMEOUT
        while not self.result.exists():
            assert time.monotonic() < deadline, f"the browser never finished: {self._log()}"
            time.sleep(0.1)
        seen = dict(json.loads(self.result.read_text()))
        assert "error" not in seen, f"{seen['error']}\n{self._log()}"
        return seen

    def _log(self) -> str:
        log = Path(f"{self.result}.log")
        return log.read_text() if log.exists() else "(no log)"


# --- fixtures and checks -------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_browser_of_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a test's own $BROWSER may open anything."""
    monkeypatch.delenv("BROWSER", raising=False)


@pytest.fixture
def cli(connectable: dict[str, Any], dd: Callable[..., Any], sandbox: Any, home: Path,
        meta_redirect_port: int) -> Iterator[Cli]:
    """The CLI as real processes; a Meta login binds the app's redirect port (META_PORT), hence
    `meta_redirect_port`. Afterwards, whatever the test did: no token the sandbox issued
    (nor the app secret, the client secret or the ready-made tokens) was printed by any run, or
    sits in plain bytes in any file under DATADRIP_HOME (the secret file is encrypted)."""
    runner = Cli(dd, sandbox)
    yield runner
    runner.stop_all()
    ready = vars(sandbox.app.state.credentials)
    secrets = [t.value for platform in ("meta", "google") for t in sandbox_tokens(sandbox, platform)]
    secrets += [ready["meta_system_user_token"], ready["google_refresh_token"],
                ready["google_access_token"], connectable["meta"]["app_secret"],
                connectable["google"]["client_secret"]]
    for printed in runner.printed:
        leaked = [secret for secret in secrets if secret in printed]
        assert not leaked, f"printed {leaked}:\n{printed}"
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], f"{path} holds a secret in clear"


def connect(platform: str, *extra: str) -> tuple[str, ...]:
    return ("connect", platform, CLIENT, "--account", ACCOUNT[platform], "--json", *extra)


def assert_failed(run: Finished, exit_code: int, *needles: str) -> str:
    """The exit code, nothing on stdout, exactly one `error: …` line (naming the needles)."""
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    for needle in needles:
        assert needle in errors[0], run.stderr
    return errors[0]


def assert_nothing_stored(workbook_path: Path) -> None:
    assert accounts_in(workbook_path) == []
    assert stored_logins() == {}


def assert_connected(cli: Cli, run: Finished, platform: str, workbook_path: Path) -> dict[str, Any]:
    """Exit 0, the JSON names the account, `account list` shows it, the login the sandbox issued
    is in the secret file and the account points at it. Returns the connected account's record."""
    assert run.exit_code == 0, run.stderr
    assert "Warning" not in run.stderr  # nothing but DataDrip's own messages
    outcome = run.json()
    assert (outcome["client"], outcome["platform"], outcome["login"]) == (CLIENT, platform, "browser")
    [record] = outcome["accounts"]
    assert (record["account_id"], record["status"], record["relogin"]) == (
        ACCOUNT[platform], "active", False)
    listed = cli.in_process("account", "list", "--json")
    assert [(r["platform"], r["account_id"]) for r in listed.json()] == [(platform, ACCOUNT[platform])]
    [(ref, login)] = stored_logins().items()
    kept = "USER" if platform == "meta" else "refresh"  # Meta's long-lived token; Google's refresh
    assert [t.value for t in sandbox_tokens(cli.sandbox, platform) if t.kind == kept and t.value in login]
    assert [row[2] for row in accounts_in(workbook_path)] == [ref]
    return dict(record)


def about_60_days_ahead(text: str | None) -> bool:
    assert text is not None
    expires = dt.datetime.fromisoformat(text)
    expires = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
    return abs(expires - (dt.datetime.now(dt.UTC) + dt.timedelta(days=60))) < dt.timedelta(minutes=5)


def listen_on(port: int) -> socket.socket:
    """A listener on 127.0.0.1:`port`, as DataDrip's own would bind it (SO_REUSEADDR, so that
    connections the last login closed, still in TIME_WAIT, do not count; a listener does)."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
    except OSError:
        holder.close()
        raise
    return holder


def port_is_free(port: int) -> bool:
    try:
        listen_on(port).close()
    except OSError:
        return False
    return True


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query_of(url), **changes})))


# --- logging in in a real browser ----------------------------------------------------------------

@BOTH
def test_connect_allow_in_the_browser_connects_the_account_and_exits_on_its_own(
        cli: Cli, platform: str, tmp_path: Path, workbook_path: Path) -> None:
    need_chromium()
    if platform == "meta":
        assert port_is_free(META_PORT), "something else holds the Meta redirect port"
    browser = Browser(tmp_path, "Allow")

    run = cli.run(*connect(platform), env=browser.env)

    record = assert_connected(cli, run, platform, workbook_path)
    seen = browser.outcome()
    assert DONE_TEXT in seen["text"]
    name = "Meta" if platform == "meta" else "Google"
    assert f"Opened your browser to log in to {name}" in run.stderr
    assert seen["opened"] in run.stderr  # the address is shown too, in case nothing opened
    redirect = urlsplit(query_of(seen["opened"])["redirect_uri"])
    if platform == "meta":
        assert (redirect.hostname, redirect.port) == ("localhost", META_PORT)
        assert about_60_days_ahead(record["token_expires_at"])
        assert port_is_free(META_PORT)
    else:
        assert redirect.hostname == "127.0.0.1"
        assert record["token_expires_at"] is None  # a refresh token does not expire


@BOTH
def test_connect_cancel_in_the_browser_fails_with_one_error_and_stores_nothing(
        cli: Cli, platform: str, tmp_path: Path, workbook_path: Path) -> None:
    need_chromium()
    browser = Browser(tmp_path, "Cancel")

    run = cli.run(*connect(platform), env=browser.env)

    name = "Meta" if platform == "meta" else "Google"
    assert_failed(run, 1, f"the {name} login was cancelled in the browser", "nothing was stored")
    assert "Hint: Run the login again and press Allow." in run.stderr
    assert FAILED_TEXT in browser.outcome()["text"]
    assert_nothing_stored(workbook_path)


# --- --no-browser: the redirected address (or the code) pasted back ------------------------------

def consent_url(running: Running) -> str:
    """The login address the CLI prints, indented on its own line."""
    return running.stderr_line(lambda line: line.startswith("  http")).strip()


@BOTH
def test_connect_no_browser_with_the_pasted_redirected_address(
        cli: Cli, platform: str, tmp_path: Path, workbook_path: Path) -> None:
    browser = Browser(tmp_path, "none")
    running = cli.start(*connect(platform, "--no-browser"), env=browser.env)

    landed = consent(consent_url(running))
    running.send(landed + "\n")
    run = running.finish()

    assert_connected(cli, run, platform, workbook_path)
    assert "Open this address in a browser" in run.stderr
    assert not browser.opened


def test_connect_no_browser_with_the_bare_code_pasted(cli: Cli, workbook_path: Path) -> None:
    running = cli.start(*connect("google", "--no-browser"))

    code = query_of(consent(consent_url(running)))["code"]
    running.send(code + "\n")

    assert_connected(cli, running.finish(), "google", workbook_path)


@pytest.mark.parametrize("paste, exit_code, needle", [
    (lambda landed: with_query(landed, state="forged-state"), 1, "carried the wrong state"),
    (lambda landed: "not a code at all", 2, "neither a redirected address nor an authorization code"),
    (lambda landed: "", 2, "nothing was pasted"),
], ids=["forged-state", "junk", "nothing"])
def test_connect_no_browser_refuses_a_bad_paste_and_stores_nothing(
        cli: Cli, workbook_path: Path, paste: Callable[[str], str], exit_code: int,
        needle: str) -> None:
    running = cli.start(*connect("meta", "--no-browser"))

    running.send(paste(consent(consent_url(running))) + "\n")

    assert_failed(running.finish(), exit_code, needle)
    assert_nothing_stored(workbook_path)


# --- the listener's port and patience ------------------------------------------------------------

def test_connect_meta_with_the_redirect_port_busy_fails_before_any_browser_opens(
        cli: Cli, tmp_path: Path, workbook_path: Path) -> None:
    browser = Browser(tmp_path, "none")
    with listen_on(META_PORT):
        run = cli.run(*connect("meta"), env=browser.env)

    error = assert_bad_input(run, f"port {META_PORT}", "already in use")
    assert f"Hint: Stop what uses port {META_PORT}, or set [meta] redirect_port" in run.stderr, error
    assert not browser.opened
    assert_nothing_stored(workbook_path)


@BOTH
def test_connect_nobody_answering_the_consent_page_times_out_and_frees_the_port(
        cli: Cli, platform: str, tmp_path: Path, workbook_path: Path) -> None:
    browser = Browser(tmp_path, "none")

    run = cli.run(*connect(platform), env={**browser.env, "DATADRIP_AUTH_LOGIN_TIMEOUT_SECONDS": "1"})

    name = "Meta" if platform == "meta" else "Google"
    assert_failed(run, 1, f"no answer from the {name} consent page within 1 seconds",
                  "nothing was stored")
    assert "login_timeout_seconds" in run.stderr
    assert run.seconds < 15
    assert browser.opened
    port = urlsplit(query_of(browser.outcome()["opened"])["redirect_uri"]).port
    assert port is not None and port_is_free(port)
    assert_nothing_stored(workbook_path)


# --- choosing the accounts on a terminal ---------------------------------------------------------

def paste_token_on_the_terminal(cli: Cli) -> Terminal:
    terminal = cli.terminal("connect", "meta", CLIENT, "--token-stdin")
    terminal.wait_for("Paste the token:")
    terminal.wait_for_hidden_input()
    terminal.type(SYSTEM_TOKEN + "\n")
    terminal.wait_for("Connect which? Numbers like 1,3, or 'all':")
    return terminal


def test_connect_on_a_terminal_picks_accounts_from_the_numbered_list(cli: Cli,
                                                                     workbook_path: Path) -> None:
    terminal = paste_token_on_the_terminal(cli)
    listed = [line.split()[:2] for line in terminal.screen.splitlines()
              if re.match(r"\s+\d+\s+act_", line)]
    assert listed == [["1", "act_1010000001"], ["2", "act_1010000002"], ["3", "act_1010000003"]]

    terminal.type("1,3\n")

    assert terminal.finish() == 0, terminal.screen
    assert "Connected act_1010000001" in terminal.screen
    assert "Connected act_1010000003" in terminal.screen
    assert [row[0] for row in accounts_in(workbook_path)] == ["act_1010000001", "act_1010000003"]
    assert len(stored_logins()) == 1


def test_connect_on_a_terminal_refuses_a_number_not_in_the_list(cli: Cli, workbook_path: Path) -> None:
    terminal = paste_token_on_the_terminal(cli)

    terminal.type("9\n")

    assert terminal.finish() == 2, terminal.screen
    assert "error: '9' is not a choice between 1 and 3; nothing was stored" in terminal.screen
    assert_nothing_stored(workbook_path)

