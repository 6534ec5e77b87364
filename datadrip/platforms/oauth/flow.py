"""The browser login both platforms share: state, PKCE (S256), consent URL, redirect, exchange."""

from __future__ import annotations

import secrets
import socket
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from datadrip.platforms.oauth.loopback import HOST, LoopbackReceiver, Redirect, parse_pasted

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


@dataclass(frozen=True)
class Pkce:
    """An RFC 7636 pair: the verifier stays here, the S256 challenge goes to the consent page."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"


def new_pkce() -> Pkce:
    """A 64-character verifier (RFC 7636 allows 43–128 of A-Za-z0-9-._~) and its S256 challenge."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = str(generate_token(64))
    return Pkce(verifier, str(create_s256_code_challenge(verifier)))


class LoginPlatform(Protocol[T_co]):
    """What `login` needs from a platform: where the redirect comes back, the consent URL, and
    the code exchange that yields the platform's tokens."""

    name: str  # "Meta", "Google": for messages
    callback_path: str  # the redirect URI's path
    redirect_port: int  # 0: any free port
    busy_hint: str | None  # what to do when a fixed port is taken

    def redirect_uri(self, port: int) -> str: ...

    def authorization_url(self, *, redirect_uri: str, state: str, pkce: Pkce) -> str: ...

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> T_co: ...


def login(platform: LoginPlatform[T], *, timeout: float,
          open_url: Callable[[str], object] = webbrowser.open,
          no_browser_input: Callable[[], str] | None = None,
          on_url: Callable[[str, bool], None] | None = None) -> T:
    """Log in through the browser and return the platform's tokens (nothing is stored here).

    With a browser: listen on 127.0.0.1 first (a busy port fails before anything opens), call
    `open_url(url)` (webbrowser.open honours $BROWSER; a falsy answer means it could not open),
    then `on_url(url, opened)` so the caller can print the address, and wait up to `timeout`
    seconds for the redirect. With `no_browser_input`: no listener; `on_url(url, False)`, then
    the pasted redirected address (its state is checked) or bare code is read from it.
    """
    state = secrets.token_urlsafe(32)
    pkce = new_pkce()
    if no_browser_input is not None:
        redirect_uri = platform.redirect_uri(platform.redirect_port or _free_port())
        url = platform.authorization_url(redirect_uri=redirect_uri, state=state, pkce=pkce)
        if on_url is not None:
            on_url(url, False)
        redirect: Redirect = parse_pasted(no_browser_input(), expected_state=state,
                                          platform=platform.name)
    else:
        with LoopbackReceiver(platform.redirect_port, platform.callback_path, state=state,
                              platform=platform.name, busy_hint=platform.busy_hint) as receiver:
            redirect_uri = platform.redirect_uri(receiver.port)
            url = platform.authorization_url(redirect_uri=redirect_uri, state=state, pkce=pkce)
            try:
                opened = bool(open_url(url))
            except webbrowser.Error:
                opened = False
            if on_url is not None:
                on_url(url, opened)
            redirect = receiver.wait(timeout)
    return platform.exchange_code(redirect.code, redirect_uri=redirect_uri,
                                  code_verifier=pkce.verifier)


def _free_port() -> int:
    """A port for a redirect nobody will listen on (--no-browser: the person pastes it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
