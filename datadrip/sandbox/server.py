"""Serving the sandbox on 127.0.0.1: in a thread for tests, in the foreground for a person."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from datadrip.sandbox.app import Sandbox, SandboxConfig

HOST = "127.0.0.1"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass


class SandboxServer:
    """The sandbox on a loopback port (0 picks a free one) in a background thread.

        with SandboxServer(SandboxConfig(seed=7)) as server:
            httpx.get(f"{server.base_url}/_sandbox")
    """

    def __init__(self, config: SandboxConfig | None = None, *, port: int = 0) -> None:
        self.app = Sandbox(config)
        self._server = make_server(HOST, port, self.app, server_class=_ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
