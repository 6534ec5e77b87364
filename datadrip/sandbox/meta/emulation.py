"""Meta's Graph API and login dialog in the sandbox: the `datadrip.sandbox` entry point `meta`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datadrip.sandbox.meta import graph

if TYPE_CHECKING:
    from datadrip.sandbox.state import SandboxContext
    from datadrip.sandbox.web import Request, Response, Router

API_VERSION = "v26.0"


class MetaEmulation:
    name = "meta"
    prefix = "/meta/"

    def register(self, router: Router, sandbox: SandboxContext) -> None:
        graph.register(router, sandbox)

    def fault_response(self, kind: str, request: Request, sandbox: SandboxContext, *,
                       regain: float) -> Response:
        return graph.fault_response(kind, request, sandbox, regain=regain)

    def describe(self, sandbox: SandboxContext, base_url: str) -> dict[str, Any]:
        c = sandbox.state.credentials
        accounts = sandbox.world.of_platform(self.name)
        settings = {"graph_url": f"{base_url}/meta/graph", "dialog_url": f"{base_url}/meta/www",
                    "api_version": API_VERSION, "app_id": c.meta_app_id}
        return {**settings, "app_secret": c.meta_app_secret,
                "access_token": c.meta_system_user_token,
                "redirect_uris": list(c.meta_redirect_uris),
                "ad_account_ids": [a.act_id for a in accounts],
                "connect": {"settings": settings, "secrets": {"meta.app_secret": c.meta_app_secret},
                            "token": c.meta_system_user_token,
                            "account_ids": [a.act_id for a in accounts if a.status == "active"]}}

    def grant_of(self, sandbox: SandboxContext, token: str) -> list[str]:
        return [token]  # a Meta token is its own grant

    def restored(self, sandbox: SandboxContext, token: str) -> None:
        graph.forget_revocation(sandbox, token)


emulation = MetaEmulation()
