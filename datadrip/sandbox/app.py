"""The sandbox as one WSGI application: the platforms' emulations (plug-ins, see emulation.py: Meta
and Google Ads with their OAuth servers are built in), e-mail APIs, OpenAI, faults.

URL layout on one server (each is a setting of DataDrip's, so a config just points there):
  {base}/meta/graph     Meta Graph API            ([meta] graph_url; then /{version}/…)
  {base}/meta/www       Meta login dialog         ([meta] dialog_url; then /{version}/dialog/oauth)
  {base}/google/ads     Google Ads REST API       ([google] api_url; then /{version}/customers…)
  {base}/google/oauth   Google OAuth              (auth_url …/auth, token_url …/token, …/revoke)
  {base}/email/resend   Resend                    ([email] resend_url; then /emails)
  {base}/email/sendgrid SendGrid                  ([email] sendgrid_url; then /v3/mail/send)
  {base}/openai/v1      OpenAI chat completions   ([ai] base_url; then /chat/completions, /models)
  {base}/_sandbox       the sandbox's own controls: faults, clock, description (JSON), e-mails sent,
                        OpenAI requests received and answers scripted (/_sandbox/openai/…), and
                        POST /_sandbox/grants/restore ({"token": …}, or {} for all): a revoked
                        grant works again (what a fresh login would give, with the same tokens)
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from datadrip.sandbox import email
from datadrip.sandbox.data import (
    World,
    default_accounts,
    extra_accounts,
    large_account,
    story_accounts,
    yen_account,
)
from datadrip.sandbox.emulation import Emulation, emulations
from datadrip.sandbox.faults import HEADER, FaultPlan, FaultRule
from datadrip.sandbox.openai import chat as openai_chat
from datadrip.sandbox.state import ChatRequest, Clock, State
from datadrip.sandbox.web import STATUS_TEXT, Request, Response, Router

# The services emulated beside the platforms (whose emulations are plug-ins: emulation.py).
SERVICE_PREFIXES = {"/email/resend/": "resend", "/email/sendgrid/": "sendgrid", "/openai/": "openai"}
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 7
    today: dt.date | None = None  # pin the clock (noon UTC of that day); None: real time
    access_token_seconds: int = 3599  # lifetime of Google access and Meta short-lived tokens
    large_account: bool = False  # add a 40-campaign, two-year Meta account (benchmarks)
    yen_account: bool = False  # add a Meta account in yen (budgets in whole units)
    # Add the accounts of the planted stories (data.story_accounts: a shop, a lead-generation
    # client, the yen budget, an archived and a removed campaign with spend). `sandbox serve` and
    # the demo do; tests add what they need.
    story_accounts: bool = False
    extra_clients: int = 0  # add a Meta and a Google account for each of this many more clients
    async_polls: int = 2  # polls before a Meta report run completes
    faults: tuple[FaultRule, ...] = field(default_factory=tuple)


class Sandbox:
    """The WSGI application. `sandbox.faults`, `sandbox.state.clock` and `sandbox.openai_script()`
    are the test controls."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        pinned = None
        if self.config.today is not None:
            pinned = dt.datetime.combine(self.config.today, dt.time(12), tzinfo=dt.UTC)
        self.state = State(Clock(pinned))
        accounts = default_accounts() + extra_accounts(self.config.extra_clients) + \
            ((large_account(),) if self.config.large_account else ()) + \
            (story_accounts() if self.config.story_accounts else ()) + \
            ((yen_account(),) if self.config.yen_account and not self.config.story_accounts
             else ())
        self.world = World(self.config.seed, accounts, epoch=self.state.clock.now().date())
        self.faults = FaultPlan(self.config.faults, seed=self.config.seed)
        self.router = Router()
        self.emulations: dict[str, Emulation] = {e.name: e for e in emulations()}
        self._prefixes = {**{e.prefix: e.name for e in self.emulations.values()}, **SERVICE_PREFIXES}
        self._fault_responders = {"resend": email.resend_fault, "sendgrid": email.sendgrid_fault,
                                  "openai": openai_chat.openai_fault}
        for emulation in self.emulations.values():
            emulation.register(self.router, self)
        email.register(self.router, self)
        openai_chat.register(self.router, self)
        self.router.add("GET", r"/_sandbox", lambda request, _: Response.json(
            self.describe(request.base_url)))
        self.router.add("POST", r"/_sandbox/faults", self._add_fault)
        self.router.add("DELETE", r"/_sandbox/faults", self._clear_faults)
        self.router.add("POST", r"/_sandbox/clock", self._advance_clock)
        self.router.add("POST", r"/_sandbox/grants/restore", self._restore_grants)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        response = self.handle(request)
        body = response.body
        headers = [*response.headers, ("Content-Length", str(len(body)))]
        if response.truncate_to is not None:
            body = body[:response.truncate_to]  # Content-Length promises more than arrives
        start_response(f"{response.status} {STATUS_TEXT.get(response.status, 'Status')}", headers)
        return [body]

    def handle(self, request: Request) -> Response:
        platform = next((name for prefix, name in self._prefixes.items()
                         if request.path.startswith(prefix)), None)
        rule = None
        if platform is not None:
            rule = self.faults.pick(platform, request.path, request.headers.get(HEADER))
        if rule is not None and platform is not None and rule.kind not in (
                "slow", "truncated", "malformed"):
            if platform in self.emulations:
                return self.emulations[platform].fault_response(rule.kind, request, self,
                                                                regain=rule.regain)
            return self._fault_responders[platform](rule.kind, request, self)
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay)
        response = self.router.dispatch(request)
        if response is None:
            response = Response.json({"error": {"message": f"no such path: {request.path}",
                                                "code": 404}}, 404)
        if rule is not None and rule.kind == "truncated":
            response.truncate_to = max(0, len(response.body) // 2)
        elif rule is not None and rule.kind == "malformed":
            response.body = b'{"data":[{"spend":"12.3' + b"\x00<html>502 Bad Gateway</html>"
        return response

    def describe(self, base_url: str) -> dict[str, Any]:
        """Base URLs and ready-made credentials: what `datadrip sandbox serve` prints."""
        c = self.state.credentials
        return {
            "base_url": base_url,
            "platforms": sorted(self.emulations),
            **{name: e.describe(self, base_url) for name, e in self.emulations.items()},
            "email": {"resend_url": f"{base_url}/email/resend",
                      "sendgrid_url": f"{base_url}/email/sendgrid",
                      "resend_api_key": c.resend_api_key, "sendgrid_api_key": c.sendgrid_api_key},
            "openai": {"base_url": f"{base_url}/openai/v1", "api_key": c.openai_api_key,
                       "model": "gpt-4o-mini"},
            "stories": [vars(story) for story in self.world.stories],
        }

    def openai_script(self, answers: list[str]) -> None:
        """Answer the next chat completions with these, in order (openai_chat.ANSWERS; "slow:2.5");
        the good answer once they are used up. Replaces what was queued; ValueError on an unknown name."""
        openai_chat.set_script(self, answers)

    def openai_requests(self) -> list[ChatRequest]:
        """Every request the OpenAI endpoint received, oldest first, without its Authorization header."""
        return openai_chat.requests(self)

    def restore_grants(self, token: str | None = None) -> list[str]:
        """Undo a revocation (a revoked_token fault, an app removed, a Google revoke): the grant
        `token` belongs to (Google: its refresh token and every access token from it; Meta: the
        token), or every revoked one. Returns the tokens made live again; KeyError: no such token."""
        state = self.state
        with state.lock:
            if token is None:
                chosen = [value for value, found in state.tokens.items() if found.revoked]
            elif token not in state.tokens:
                raise KeyError(token)
            else:
                chosen = self.emulations[state.tokens[token].platform].grant_of(self, token)
            restored = [value for value in chosen if value in state.tokens and state.tokens[value].revoked]
            for value in restored:
                state.tokens[value].revoked = False
                self.emulations[state.tokens[value].platform].restored(self, value)
        return restored

    def _restore_grants(self, request: Request, _: Any) -> Response:
        try:
            body = request.json() or {}
            token = body.get("token")
            if token is not None and not isinstance(token, str):
                raise TypeError("token must be a string")
        except (ValueError, TypeError, AttributeError) as exc:
            return Response.json({"error": str(exc)}, 400)
        try:
            restored = self.restore_grants(token)
        except KeyError:
            return Response.json({"error": "no such token"}, 404)
        return Response.json({"restored": len(restored)})

    def _add_fault(self, request: Request, _: Any) -> Response:
        try:
            rule = FaultRule.from_dict(request.json())
        except (ValueError, TypeError) as exc:
            return Response.json({"error": str(exc)}, 400)
        self.faults.add(rule)
        return Response.json({"added": vars(rule)})

    def _clear_faults(self, request: Request, _: Any) -> Response:
        self.faults.clear()
        return Response.json({"cleared": True})

    def _advance_clock(self, request: Request, _: Any) -> Response:
        try:
            body = request.json() or {}
            delta = dt.timedelta(days=float(body.get("days", 0)),
                                 seconds=float(body.get("seconds", 0)))
        except (ValueError, TypeError, AttributeError) as exc:
            return Response.json({"error": str(exc)}, 400)
        self.state.clock.advance(delta)
        return Response.json({"now": self.state.clock.now().isoformat()})

