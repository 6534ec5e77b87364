"""The RFC 8252 loopback receiver: one OAuth redirect on 127.0.0.1, and pasted redirects.

The listener binds 127.0.0.1 only (never all interfaces), answers one redirect to its path
with a plain page, ignores every other path with 404, and stops. Nothing is printed: errors are
DataDripErrors. Exit codes: a busy port is bad usage (2, the port is a setting); a cancel, a
wrong `state` and a timeout are a failed login (1), after which nothing was stored.
"""

from __future__ import annotations

import errno
import hmac
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from datadrip.core.errors import DataDripError, LoginCancelledError, LoginError, LoginTimeoutError, UsageError

HOST = "127.0.0.1"
DONE_TEXT = "You can close this tab and return to the terminal."
FAILED_TEXT = "The login did not finish. Return to the terminal to see why."
# What an authorization code can look like once pasted alone (Google's hold "/", Meta's "#_=_").
_BARE_CODE = re.compile(r"[A-Za-z0-9\-._~/+=%#]{8,2048}")


@dataclass(frozen=True)
class Redirect:
    """A successful redirect: the authorization code and what else came with it (scope…)."""

    code: str = field(repr=False)
    state: str | None
    params: dict[str, str] = field(repr=False)


def check_redirect(params: dict[str, str], expected_state: str, platform: str) -> Redirect:
    """The code from a redirect's query, or the error it means. `state` is checked first, so a
    forged redirect is rejected even when it claims to be a cancel."""
    got = params.get("state")
    if got is None or not hmac.compare_digest(got.encode(), expected_state.encode()):
        raise LoginError(f"the {platform} login redirect carried the wrong state, so it was "
                         "rejected (it did not come from this login); nothing was stored",
                         hint="Start the login again and finish it in the browser it opens.")
    error = params.get("error")
    if error == "access_denied":
        raise LoginCancelledError(f"the {platform} login was cancelled in the browser; nothing "
                                  "was stored", hint="Run the login again and press Allow.")
    if error:
        detail = params.get("error_description") or params.get("error_reason") or ""
        raise LoginError(f"{platform} refused the login: {error}" + (f" ({detail})" if detail else ""),
                         hint="Check the app or OAuth client settings, then log in again.")
    code = params.get("code")
    if not code:
        raise LoginError(f"the {platform} login redirect carried no authorization code")
    return Redirect(code, got, params)


def parse_pasted(text: str, *, expected_state: str, platform: str) -> Redirect:
    """What a person pasted with --no-browser: the full redirected URL (its state is checked)
    or the bare code (no state to check; PKCE still binds the code to this login)."""
    pasted = text.strip()
    if not pasted:
        raise UsageError("nothing was pasted",
                         hint="Paste the whole address the browser ended on (it starts with "
                              "http://), or just the value of its code= parameter.")
    query = None
    if "://" in pasted:
        query = urlsplit(pasted).query
    elif pasted.startswith("?") or "code=" in pasted or "error=" in pasted:
        query = pasted.lstrip("?")
    if query is not None:
        return check_redirect(dict(parse_qsl(query)), expected_state, platform)
    if not _BARE_CODE.fullmatch(pasted):
        raise UsageError("what was pasted is neither a redirected address nor an authorization "
                         "code", hint="Paste the whole address the browser ended on.")
    return Redirect(unquote(pasted).removesuffix("#_=_"), None, {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: LoopbackReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a browser's idle preconnect must not hold a thread for ever
    server_version = "DataDrip"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        receiver = self.server.receiver
        parts = urlsplit(self.path)
        if parts.path != receiver.path:
            self._answer(404, "Not found", "Not found.")
            return
        outcome = receiver.judge(dict(parse_qsl(parts.query)))
        try:
            if isinstance(outcome, Redirect):
                self._answer(200, "Login finished", DONE_TEXT)
            else:
                self._answer(400, "Login failed", FAILED_TEXT)
        finally:  # the page goes out before the waiting login closes the listener
            receiver.settle(outcome)

    def _answer(self, status: int, title: str, text: str) -> None:
        body = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>DataDrip: {title}</title></head>\n<body><p>{text}</p></body></html>\n"
                ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the code is in this page's URL
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass  # services print nothing, and the request line holds the code


class LoopbackReceiver:
    """Listens on 127.0.0.1:`port` (0: any free port) for one redirect to `path`.

        with LoopbackReceiver(0, "/", state=state, platform="Google") as receiver:
            redirect_uri = f"http://127.0.0.1:{receiver.port}/"
            redirect = receiver.wait(timeout=300)

    The port is bound on construction, so a busy port fails before any browser opens.
    """

    def __init__(self, port: int, path: str, *, state: str, platform: str,
                 busy_hint: str | None = None) -> None:
        self.path = path
        self.platform = platform
        self._state = state
        self._outcome: Redirect | DataDripError | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        try:
            self._server = _Server((HOST, port), _Handler)
        except OSError as exc:
            raise _bind_failed(port, exc, busy_hint) from None
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.1}, name=f"datadrip-{platform.lower()}-login", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def judge(self, params: dict[str, str]) -> Redirect | DataDripError:
        """What one redirect means: its code, or the error it carries."""
        try:
            return check_redirect(params, self._state, self.platform)
        except DataDripError as exc:
            return exc

    def settle(self, outcome: Redirect | DataDripError) -> None:
        """Hand an outcome to `wait` (the first redirect wins)."""
        with self._lock:
            if self._outcome is None:
                self._outcome = outcome
                self._done.set()

    def wait(self, timeout: float) -> Redirect:
        """The redirect's code, or the error it carried; LoginTimeoutError after `timeout`
        seconds. The listener is closed (its port freed) either way."""
        try:
            if not self._done.wait(timeout):
                raise LoginTimeoutError(
                    f"no answer from the {self.platform} consent page within {timeout:g} seconds; "
                    "nothing was stored",
                    hint="Run the login again and finish it in the browser, or raise [auth] "
                         "login_timeout_seconds.")
            outcome = self._outcome
        finally:
            self.close()
        if isinstance(outcome, DataDripError):
            raise outcome
        assert outcome is not None
        return outcome

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _bind_failed(port: int, exc: OSError, busy_hint: str | None) -> UsageError:
    if exc.errno == errno.EADDRINUSE:
        what = f"port {port} on {HOST} is already in use, so the login cannot receive its redirect"
    else:
        what = f"cannot listen on {HOST}:{port} for the login redirect ({exc.strerror})"
    return UsageError(what, hint=busy_hint or f"Stop what uses port {port} and try again.")
