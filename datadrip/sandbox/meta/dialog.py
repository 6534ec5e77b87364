"""Facebook Login for the sandbox: the consent dialog, code and long-lived exchanges, debug_token.

The dialog is a plain HTML form that posts back to itself, so a person, httpx or a headless
browser can press "Allow" or "Cancel" by the button's text.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from datadrip.sandbox.meta.common import UNPARSEABLE, graph_error, token_error, token_problem
from datadrip.sandbox.state import CodeGrant, SandboxContext, Token
from datadrip.sandbox.web import Request, Response, Router

CODE_LIFETIME = dt.timedelta(minutes=10)
LONG_LIVED = dt.timedelta(days=60)  # expires_in 5184000
DATA_ACCESS = dt.timedelta(days=90)
USED_CODES = "meta_used_codes"
DIALOG_FIELDS = ("client_id", "redirect_uri", "state", "response_type", "scope", "code_challenge",
                 "code_challenge_method")
APPLICATION = "DataDrip Sandbox"


def register(router: Router, sandbox: SandboxContext) -> None:
    pattern = r"/meta/www/(?P<version>v\d+\.\d+)/dialog/oauth"
    router.add("GET", pattern, lambda request, _: _dialog(request, sandbox))
    router.add("POST", pattern, lambda request, _: _decide(request, sandbox))


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n", status)


def _refusal(params: dict[str, str], sandbox: SandboxContext) -> Response | None:
    """The error page Facebook shows instead of redirecting (bad app id, unlisted redirect URI)."""
    credentials = sandbox.state.credentials
    if params.get("client_id") != credentials.meta_app_id:
        return _page("Error", "<h1>Invalid App ID</h1><p>The provided app ID does not look like a "
                     "valid app ID.</p>", 400)
    if params.get("redirect_uri") not in credentials.meta_redirect_uris:
        return _page("Error", "<h1>URL blocked</h1><p>This redirect failed because the redirect URI "
                     "is not whitelisted in the app's Client OAuth Settings. Make sure Client and "
                     "Web OAuth Login are on and add all your app domains as Valid OAuth Redirect "
                     "URIs.</p>", 400)
    if params.get("response_type", "code") != "code":
        return _page("Error", "<h1>Error</h1><p>response_type must be code.</p>", 400)
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") not in (
            "S256", "plain"):
        return _page("Error", "<h1>Error</h1><p>code_challenge_method must be S256 or plain.</p>", 400)
    return None


def _dialog(request: Request, sandbox: SandboxContext) -> Response:
    params = request.query
    refusal = _refusal(params, sandbox)
    if refusal is not None:
        return refusal
    hidden = "\n".join(f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
                       for name in DIALOG_FIELDS if name in params)
    scopes = ", ".join(html.escape(s) for s in _scopes(params)) or "public_profile"
    return _page("Log in with Facebook", f"""<h1>{APPLICATION} is requesting access</h1>
<p>Sandbox User will share: {scopes}.</p>
<form method="post" action="{html.escape(request.path)}">
{hidden}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form>""")


def _scopes(params: dict[str, str]) -> tuple[str, ...]:
    return tuple(s.strip() for s in params.get("scope", "").replace(" ", ",").split(",") if s.strip())


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _decide(request: Request, sandbox: SandboxContext) -> Response:
    params = request.form()
    refusal = _refusal(params, sandbox)
    if refusal is not None:
        return refusal
    state = {"state": params["state"]} if "state" in params else {}
    redirect_uri = params["redirect_uri"]
    if params.get("decision") != "allow":
        return Response.redirect(_with_query(redirect_uri, {
            "error": "access_denied", "error_code": "200", "error_description": "Permissions error",
            "error_reason": "user_denied", **state}))
    challenge = params.get("code_challenge") or None
    grant = CodeGrant("AQ" + secrets.token_urlsafe(48), "meta", params["client_id"], redirect_uri,
                      _scopes(params) or ("public_profile",), challenge,
                      (params.get("code_challenge_method") or "plain") if challenge else None,
                      sandbox.state.clock.now() + CODE_LIFETIME)
    with sandbox.state.lock:
        sandbox.state.codes[grant.code] = grant
    return Response.redirect(_with_query(redirect_uri, {"code": grant.code, **state}))


def _code_error(message: str) -> Response:
    # Code errors echo the message in WWW-Authenticate with "invalid_code".
    return graph_error(message, 100, headers=[(
        "WWW-Authenticate", f'OAuth "Facebook Platform" "invalid_code" "{message}"')])


def _token_body(sandbox: SandboxContext, token: Token) -> Response:
    assert token.expires_at is not None
    seconds = int((token.expires_at - sandbox.state.clock.now()).total_seconds())
    return Response.json({"access_token": token.value, "token_type": "bearer", "expires_in": seconds})


def exchange(request: Request, sandbox: SandboxContext) -> Response:
    """`oauth/access_token`: a code for a short-lived token, or a short for a 60-day token."""
    params = request.form() if request.method == "POST" else request.query
    credentials = sandbox.state.credentials
    if params.get("client_id") != credentials.meta_app_id:
        return graph_error("Error validating application. Invalid application ID.", 101)
    if params.get("client_secret") != credentials.meta_app_secret:
        return graph_error("Error validating client secret.", 1)
    if params.get("grant_type") == "fb_exchange_token":
        value = params.get("fb_exchange_token")
        if not value:
            return graph_error("(#100) The parameter fb_exchange_token is required", 100)
        short = sandbox.state.token(value, "meta")
        problem = token_problem(short, value, sandbox)
        if problem is not None or short is None:
            return problem or token_error(UNPARSEABLE, None)
        long_lived = sandbox.state.issue("meta", "USER", lifetime=LONG_LIVED, prefix="EAAB",
                                         scopes=short.scopes)
        return _token_body(sandbox, long_lived)
    code = params.get("code")
    if not code:
        return graph_error("(#100) The parameter code is required", 100)
    with sandbox.state.lock:
        grant = sandbox.state.codes.get(code)
        used = code in sandbox.state.extra.get(USED_CODES, set())
    if used:
        return _code_error("This authorization code has been used.")
    if grant is None or grant.platform != "meta":
        return _code_error("Invalid verification code format.")
    if grant.expires_at <= sandbox.state.clock.now():
        return _code_error("This authorization code has expired.")
    if params.get("redirect_uri") != grant.redirect_uri:
        return _code_error("Error validating verification code. Please make sure your redirect_uri "
                           "is identical to the one you used in the OAuth dialog request")
    if grant.code_challenge is not None and not grant.verifies(params.get("code_verifier", "")):
        return _code_error("Invalid code verifier.")
    with sandbox.state.lock:
        if sandbox.state.codes.pop(code, None) is None:  # another request won the race
            return _code_error("This authorization code has been used.")
        sandbox.state.extra.setdefault(USED_CODES, set()).add(code)
    token = sandbox.state.issue("meta", "USER", prefix="EAAB", scopes=grant.scopes,
                                lifetime=dt.timedelta(seconds=sandbox.config.access_token_seconds))
    return _token_body(sandbox, token)


def debug_token(request: Request, sandbox: SandboxContext) -> Response:
    """Inspect a token with the app token `{app_id}|{app_secret}` (or a live token of the app)."""
    credentials = sandbox.state.credentials
    inspector = request.query.get("access_token") or request.bearer()
    app_token = f"{credentials.meta_app_id}|{credentials.meta_app_secret}"
    if not inspector:
        return graph_error("An access token is required to request this resource.", 104)
    if inspector != app_token:
        known = sandbox.state.token(inspector, "meta")
        problem = token_problem(known, inspector, sandbox)
        if problem is not None:
            return problem
    value = request.query.get("input_token")
    if not value:
        return graph_error("(#100) The parameter input_token is required", 100)
    token = sandbox.state.token(value, "meta")
    if token is None:
        return Response.json({"data": {"error": {"code": 190, "message": UNPARSEABLE},
                                       "is_valid": False, "scopes": []}})
    data: dict[str, Any] = {
        "app_id": credentials.meta_app_id, "type": token.kind, "application": APPLICATION,
        "data_access_expires_at": int((token.issued_at + DATA_ACCESS).timestamp()),
        "expires_at": 0 if token.expires_at is None else int(token.expires_at.timestamp()),
        "is_valid": sandbox.state.is_live(token), "issued_at": int(token.issued_at.timestamp()),
        "scopes": list(token.scopes), "user_id": token.user_id,
    }
    if not data["is_valid"]:
        problem = token_problem(token, value, sandbox)
        assert problem is not None  # not live means expired or revoked
        error = problem_error(problem)
        data["error"] = {"code": 190, "message": error["message"], "subcode": error["error_subcode"]}
    return Response.json({"data": data})


def problem_error(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.body)["error"]
    return body
