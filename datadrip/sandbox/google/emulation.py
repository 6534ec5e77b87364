"""Google Ads' REST API and Google's OAuth server in the sandbox: the `datadrip.sandbox` entry
point `google`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datadrip.sandbox.google import ads, oauth

if TYPE_CHECKING:
    from datadrip.sandbox.state import SandboxContext
    from datadrip.sandbox.web import Request, Response, Router

API_VERSION = "v26"


class GoogleEmulation:
    name = "google"
    prefix = "/google/"

    def register(self, router: Router, sandbox: SandboxContext) -> None:
        ads.register(router, sandbox)

    def fault_response(self, kind: str, request: Request, sandbox: SandboxContext, *,
                       regain: float) -> Response:
        return ads.fault_response(kind, request, sandbox)

    def describe(self, sandbox: SandboxContext, base_url: str) -> dict[str, Any]:
        c = sandbox.state.credentials
        accounts = sandbox.world.of_platform(self.name)
        settings = {"api_url": f"{base_url}/google/ads", "auth_url": f"{base_url}/google/oauth/auth",
                    "token_url": f"{base_url}/google/oauth/token",
                    "revoke_url": f"{base_url}/google/oauth/revoke", "api_version": API_VERSION,
                    "client_id": c.google_client_id}
        return {**settings, "client_secret": c.google_client_secret,
                "access_token": c.google_access_token, "refresh_token": c.google_refresh_token,
                "customer_ids": [a.id for a in accounts],
                "connect": {"settings": settings,
                            "secrets": {"google.client_secret": c.google_client_secret},
                            "token": c.google_refresh_token,
                            "account_ids": [a.id for a in accounts
                                            if not a.manager and a.status == "active"]}}

    def grant_of(self, sandbox: SandboxContext, token: str) -> list[str]:
        return oauth.grant_of(sandbox, token)

    def restored(self, sandbox: SandboxContext, token: str) -> None:
        """Google keeps nothing of a revocation beyond the tokens' own flag."""


emulation = GoogleEmulation()
