"""What the sandbox remembers between requests: its clock, tokens, codes, report runs, e-mails and
the chat requests its OpenAI endpoint received (with the answers scripted for the next ones)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from datadrip.sandbox.data import World
from datadrip.sandbox.web import Router


@dataclass(frozen=True)
class Credentials:
    """Ready-made credentials that `sandbox serve` prints and the tests use. Not secrets."""

    meta_app_id: str = "1234567890123456"
    meta_app_secret: str = "sandbox-meta-app-secret"
    meta_system_user_token: str = "EAAB-sandbox-system-user-token"  # never expires
    meta_redirect_uris: tuple[str, ...] = ("http://localhost:8765/callback",
                                           "http://127.0.0.1:8765/callback")
    google_client_id: str = "sandbox-client.apps.googleusercontent.com"
    google_client_secret: str = "sandbox-google-client-secret"
    google_refresh_token: str = "1//sandbox-refresh-token"
    google_access_token: str = "ya29.sandbox-access-token"
    resend_api_key: str = "re_sandbox_resend_api_key"
    sendgrid_api_key: str = "SG.sandbox-sendgrid.api-key"
    openai_api_key: str = "sk-sandbox-openai-key-0001"


class Clock:
    """The sandbox's idea of now: real time, or a pinned moment, shifted by `advance()`."""

    def __init__(self, pinned: dt.datetime | None = None) -> None:
        self._pinned = pinned
        self._offset = dt.timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            base = self._pinned or dt.datetime.now(dt.UTC)
            return base + self._offset

    def today_in(self, timezone: str) -> dt.date:
        """Today in an ad account's time zone: its calendar day."""
        return self.now().astimezone(ZoneInfo(timezone)).date()

    def advance(self, delta: dt.timedelta) -> None:
        with self._lock:
            self._offset += delta


@dataclass
class Token:
    """An issued token. `expires_at` None never expires (system users, refresh tokens)."""

    value: str
    platform: str  # "meta" | "google"
    kind: str  # meta: "USER" | "SYSTEM_USER"; google: "access" | "refresh"
    expires_at: dt.datetime | None
    issued_at: dt.datetime
    scopes: tuple[str, ...] = ()
    user_id: str = "10000000000001"
    revoked: bool = False


@dataclass
class CodeGrant:
    """An authorization code waiting to be exchanged (once)."""

    code: str
    platform: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: dt.datetime

    def verifies(self, verifier: str) -> bool:
        """RFC 7636: does the verifier match the challenge sent with the consent request?"""
        if self.code_challenge_method == "S256":
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        else:
            expected = verifier
        return hmac.compare_digest(expected, self.code_challenge or "")


@dataclass
class ReportRun:
    """A Meta asynchronous insights job: it completes after a few polls."""

    id: str
    account_id: str
    params: dict[str, str]
    created_at: dt.datetime
    polls: int = 0
    polls_to_complete: int = 2
    failed: bool = False


@dataclass
class SentEmail:
    """A message Resend or SendGrid accepted: the request body as sent, and what identifies it."""

    provider: str  # "resend" | "sendgrid"
    id: str  # Resend's id, SendGrid's X-Message-Id
    payload: dict[str, Any]
    received_at: dt.datetime
    idempotency_key: str | None = None
    body_hash: str = ""
    replays: int = 0  # repeats of the same Idempotency-Key answered without sending again


@dataclass
class ChatRequest:
    """A request the OpenAI endpoint received, as sent but for its Authorization header."""

    method: str
    path: str
    body: Any  # the JSON body; None when there was none or it was not JSON
    headers: dict[str, str]  # lower-case names, without "authorization"
    received_at: dt.datetime
    status: int = 0  # the status answered; 0 while the answer is still being made
    answer: str | None = None  # the scripted answer served ("good" by default), or "fault:KIND"
    total_tokens: int = 0  # of an answered chat completion: what the rate-limit headers count


@dataclass
class State:
    clock: Clock
    credentials: Credentials = field(default_factory=Credentials)
    tokens: dict[str, Token] = field(default_factory=dict)
    codes: dict[str, CodeGrant] = field(default_factory=dict)
    report_runs: dict[str, ReportRun] = field(default_factory=dict)
    emails: list[SentEmail] = field(default_factory=list)
    openai_requests: list[ChatRequest] = field(default_factory=list)
    openai_script: list[str] = field(default_factory=list)  # FIFO: answers for the next completions
    lock: threading.RLock = field(default_factory=threading.RLock)
    extra: dict[str, Any] = field(default_factory=dict)

    def issue(self, platform: str, kind: str, *, lifetime: dt.timedelta | None,
              prefix: str, scopes: tuple[str, ...] = (), value: str | None = None) -> Token:
        now = self.clock.now()
        token = Token(value or prefix + secrets.token_urlsafe(24), platform, kind,
                      None if lifetime is None else now + lifetime, now, scopes)
        with self.lock:
            self.tokens[token.value] = token
        return token

    def token(self, value: str | None, platform: str) -> Token | None:
        """The token if it exists for the platform (expired or not: callers check)."""
        if not value:
            return None
        with self.lock:
            token = self.tokens.get(value)
        return token if token is not None and token.platform == platform else None

    def is_live(self, token: Token) -> bool:
        return not token.revoked and (token.expires_at is None or token.expires_at > self.clock.now())


class SandboxSettings(Protocol):
    """What the emulations read of the sandbox's settings (app.SandboxConfig has them)."""

    @property
    def access_token_seconds(self) -> int: ...

    @property
    def async_polls(self) -> int: ...


class SandboxContext(Protocol):
    """What a platform emulation uses of the sandbox that mounts it (app.Sandbox): the emulations
    import state, web and data, never the app."""

    state: State
    world: World
    router: Router

    @property
    def config(self) -> SandboxSettings: ...
