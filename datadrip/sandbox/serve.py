"""`datadrip sandbox serve`: the sandbox in the foreground until told to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from datadrip.core.errors import UsageError
from datadrip.sandbox.app import Sandbox, SandboxConfig
from datadrip.sandbox.server import HOST, SandboxServer


def serve_until(stop: threading.Event, config: SandboxConfig, *, port: int,
                on_ready: Callable[[dict[str, Any]], None]) -> None:
    """Serve on 127.0.0.1:port (0: a free one), call `on_ready` with the description, and return
    once `stop` is set (a signal handler sets it)."""
    try:
        server = SandboxServer(config, port=port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                         hint="Pick another --port, or 0 for any free one.") from None
    with server:
        on_ready(server.app.describe(server.base_url))
        while not stop.wait(0.2):
            pass


def describe_at(config: SandboxConfig, port: int) -> dict[str, Any]:
    """What a sandbox serving on 127.0.0.1:port would describe, without serving it."""
    return Sandbox(config).describe(f"http://{HOST}:{port}")


def config_snippet(description: dict[str, Any]) -> str:
    """The datadrip.toml lines (and environment secrets) that point DataDrip at this sandbox."""
    meta, google = description["meta"], description["google"]
    port = description["base_url"].rsplit(":", 1)[-1]
    return "\n".join([
        "# DataDrip sandbox: paste into datadrip.toml",
        f"# It must be serving at {description['base_url']}: datadrip sandbox serve --port {port}",
        "[meta]",
        f'graph_url = "{meta["graph_url"]}"',
        f'dialog_url = "{meta["dialog_url"]}"',
        f'api_version = "{meta["api_version"]}"',
        "",
        "[google]",
        f'api_url = "{google["api_url"]}"',
        f'auth_url = "{google["auth_url"]}"',
        f'token_url = "{google["token_url"]}"',
        f'api_version = "{google["api_version"]}"',
        "",
        "# Sandbox credentials (not secrets; they work only here):",
        f"#   Meta app id {meta['app_id']}, system-user token {meta['access_token']}",
        f"#   Google client id {google['client_id']}, refresh token {google['refresh_token']}",
        f"# export DATADRIP_META_APP_SECRET={meta['app_secret']}",
        f"# export DATADRIP_GOOGLE_CLIENT_SECRET={google['client_secret']}",
        "",
    ])
