"""A platform's emulation in the sandbox: the optional part of a platform plug-in, registered in
the `datadrip.sandbox` entry-point group (Meta's and Google's here, a third party's in its own
package) and mounted by `datadrip sandbox serve` beside the e-mail providers and OpenAI.

An emulation serves the platform's API (and its login) under its own URL prefix, answers the
sandbox's injected faults in the platform's own error shapes, and describes itself: the settings
that point DataDrip at it, the secrets of its test app, the token `connect NAME --token-stdin`
takes and the accounts that token reaches. The demo and the tests read only that description.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datadrip.sandbox.state import SandboxContext
    from datadrip.sandbox.web import Request, Response, Router

GROUP = "datadrip.sandbox"


class Emulation(Protocol):
    name: str  # the platform plug-in's name: "meta"
    prefix: str  # the URL path it serves, e.g. "/meta/": faults aimed at the platform match it

    def register(self, router: Router, sandbox: SandboxContext) -> None:
        """Add its routes (and any token that exists from the start)."""
        ...

    def fault_response(self, kind: str, request: Request, sandbox: SandboxContext, *,
                       regain: float) -> Response:
        """The platform's own answer for an injected fault of `kind` (rate_limit, server_error,
        unavailable, expired_token, revoked_token, permission, …); a rate limit lifts after
        `regain` seconds where the platform says so."""
        ...

    def describe(self, sandbox: SandboxContext, base_url: str) -> dict[str, Any]:
        """What `sandbox serve --json` prints under its name: any keys of its own, and `connect`:
        {"settings": the [name] keys that point DataDrip here, "secrets": secret name → value,
        "token": what `datadrip connect NAME --token-stdin` reads, "account_ids": the accounts with
        metrics that token reaches, in a stable order}."""
        ...

    def grant_of(self, sandbox: SandboxContext, token: str) -> list[str]:
        """Every token of the grant `token` belongs to (what restoring a revoked grant revives)."""
        ...

    def restored(self, sandbox: SandboxContext, token: str) -> None:
        """A revoked token works again: forget whatever the emulation kept of the revocation."""
        ...


@functools.cache
def emulations() -> tuple[Emulation, ...]:
    """The installed emulations, by name (one per platform)."""
    from importlib.metadata import entry_points

    found: dict[str, Emulation] = {}
    for entry in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        if entry.name not in found:
            found[entry.name] = entry.load()
    return tuple(found[name] for name in sorted(found))
