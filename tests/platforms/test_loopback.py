"""The loopback receiver and pasted redirects; `Chromium`, the real browser the login tests drive."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS

from datadrip.core.errors import ExitCode, LoginCancelledError, LoginError, LoginTimeoutError, UsageError
from datadrip.platforms.oauth.loopback import DONE_TEXT, FAILED_TEXT, LoopbackReceiver, parse_pasted

STATE = "expected-state-123"


def need_chromium() -> None:
    """The browser tests' rule (tests/sandbox/test_consent_browser.py): fail in CI, else skip."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("no chromium here: apt-get install chromium (CI installs it)")


class Chromium:
    """`open_url` for `login`: a headless Chromium, in its own thread, opens the consent page and
    presses `button`; the redirect then goes to DataDrip's loopback listener, as in real life."""

    def __init__(self, button: str) -> None:
        need_chromium()
        self.button = button
        self.opened: list[str] = []
        self.final_url = ""
        self.final_text = ""
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        self._thread = threading.Thread(target=self._drive, args=(url,), daemon=True)
        self._thread.start()
        return True

    def _drive(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page()
                    page.goto(url)
                    page.get_by_role("button", name=self.button).click()
                    page.wait_for_url(lambda landed: "state=" in landed, timeout=20_000)
                    page.wait_for_load_state()
                    self.final_url = page.url
                    self.final_text = page.inner_text("body")
                finally:
                    browser.close()
        except BaseException as exc:  # handed to the test by join()
            self._error = exc

    def join(self) -> None:
        assert self._thread is not None, "the login never opened the browser"
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[LoopbackReceiver]:
    with LoopbackReceiver(0, "/callback", state=STATE, platform="Meta") as listening:
        yield listening


def callback(receiver: LoopbackReceiver, path: str = "/callback", **query: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{receiver.port}{path}", params=query, timeout=5)


# --- the listener -------------------------------------------------------------------------------

def test_loopback_returns_the_code_and_shows_the_close_page(receiver: LoopbackReceiver) -> None:
    page = callback(receiver, code="AQ-code", state=STATE)

    assert page.status_code == 200
    assert DONE_TEXT in page.text
    assert page.headers["content-type"].startswith("text/html")
    got = receiver.wait(timeout=5)
    assert (got.code, got.state) == ("AQ-code", STATE)


def test_loopback_ignores_favicon_and_other_paths_with_404(receiver: LoopbackReceiver) -> None:
    assert callback(receiver, "/favicon.ico").status_code == 404
    assert callback(receiver, "/other", code="x", state=STATE).status_code == 404

    callback(receiver, code="the-real-one", state=STATE)

    assert receiver.wait(timeout=5).code == "the-real-one"


@pytest.mark.parametrize("query", [{"code": "stolen", "state": "forged"}, {"code": "stolen"},
                                   {"error": "access_denied", "state": "forged"}])
def test_loopback_wrong_or_missing_state_is_rejected(receiver: LoopbackReceiver,
                                                     query: dict[str, str]) -> None:
    page = callback(receiver, **query)

    assert page.status_code == 400
    assert FAILED_TEXT in page.text
    with pytest.raises(LoginError, match="wrong state") as caught:
        receiver.wait(timeout=5)
    assert type(caught.value) is LoginError
    assert caught.value.exit_code == ExitCode.FAILED


def test_loopback_meta_cancel_is_a_clear_cancelled_error(receiver: LoopbackReceiver) -> None:
    callback(receiver, error="access_denied", error_code="200", error_description="Permissions error",
             error_reason="user_denied", state=STATE)

    with pytest.raises(LoginCancelledError, match="login was cancelled") as caught:
        receiver.wait(timeout=5)
    assert caught.value.exit_code == ExitCode.FAILED
    assert "Allow" in (caught.value.hint or "")


def test_loopback_google_cancel_is_a_clear_cancelled_error() -> None:
    with LoopbackReceiver(0, "/", state=STATE, platform="Google") as receiver:
        callback(receiver, "/", error="access_denied", state=STATE)
        with pytest.raises(LoginCancelledError, match="Google login was cancelled"):
            receiver.wait(timeout=5)


def test_loopback_other_errors_name_the_error(receiver: LoopbackReceiver) -> None:
    callback(receiver, error="invalid_scope", error_description="Bad scope", state=STATE)

    with pytest.raises(LoginError, match=r"Meta refused the login: invalid_scope \(Bad scope\)"):
        receiver.wait(timeout=5)


def test_loopback_busy_port_is_a_usage_error_naming_the_port() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            LoopbackReceiver(port, "/callback", state=STATE, platform="Meta",
                             busy_hint="set [meta] redirect_port")
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.hint == "set [meta] redirect_port"


def test_loopback_timeout_ends_cleanly_and_frees_the_port() -> None:
    port = free_port()
    receiver = LoopbackReceiver(port, "/callback", state=STATE, platform="Meta")
    started = time.monotonic()

    with pytest.raises(LoginTimeoutError, match="within 0.3 seconds") as caught:
        receiver.wait(timeout=0.3)

    assert time.monotonic() - started < 3
    assert caught.value.exit_code == ExitCode.FAILED
    assert "login_timeout_seconds" in (caught.value.hint or "")
    with socket.socket() as again:  # no SO_REUSEADDR: the port must really be free
        again.bind(("127.0.0.1", port))
        again.listen()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/callback", timeout=2)


def test_loopback_listens_on_127_0_0_1_only(receiver: LoopbackReceiver) -> None:
    # Linux routes all of 127/8 to lo: a listener on every interface would answer 127.0.0.2.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{receiver.port}/callback", timeout=2)
    assert callback(receiver, "/favicon.ico").status_code == 404


def test_loopback_first_redirect_wins(receiver: LoopbackReceiver) -> None:
    callback(receiver, code="first", state=STATE)
    callback(receiver, code="second", state=STATE)

    assert receiver.wait(timeout=5).code == "first"


# --- what a person pastes with --no-browser -----------------------------------------------------

def test_pasted_full_url_gives_the_code_after_checking_state() -> None:
    pasted = f"  http://localhost:8765/callback?code=AQ-xyz&state={STATE}#_=_\n"

    got = parse_pasted(pasted, expected_state=STATE, platform="Meta")

    assert got.code == "AQ-xyz"


def test_pasted_url_with_the_wrong_state_is_rejected() -> None:
    with pytest.raises(LoginError, match="wrong state"):
        parse_pasted("http://127.0.0.1:5000/?code=4/0A&state=other", expected_state=STATE,
                     platform="Google")


def test_pasted_cancel_url_is_a_cancelled_error() -> None:
    with pytest.raises(LoginCancelledError):
        parse_pasted(f"http://127.0.0.1:5000/?error=access_denied&state={STATE}",
                     expected_state=STATE, platform="Google")


@pytest.mark.parametrize(("pasted", "code"), [("4/0AbCdEf-gh_ij", "4/0AbCdEf-gh_ij"),
                                              ("4%2F0AbCdEf-gh_ij", "4/0AbCdEf-gh_ij"),
                                              ("AQBx12345678#_=_", "AQBx12345678")])
def test_pasted_bare_code_is_accepted(pasted: str, code: str) -> None:
    assert parse_pasted(pasted + "\n", expected_state=STATE, platform="Google").code == code


@pytest.mark.parametrize("pasted", ["", "   \n", "not a code at all", "<script>"])
def test_pasted_nothing_or_junk_is_a_usage_error(pasted: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_pasted(pasted, expected_state=STATE, platform="Google")
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_redirect_repr_hides_the_code() -> None:
    got = parse_pasted(f"http://127.0.0.1:1/?code=SECRETCODE1&state={STATE}", expected_state=STATE,
                       platform="Google")
    assert "SECRETCODE1" not in repr(got)


def sandbox_tokens(sandbox: Any, platform: str) -> list[Any]:
    """Tokens the sandbox issued during a test (the ready-made ones excluded)."""
    ready = set(vars(sandbox.app.state.credentials).values())
    return [t for t in sandbox.app.state.tokens.values()
            if t.platform == platform and t.value not in ready]
