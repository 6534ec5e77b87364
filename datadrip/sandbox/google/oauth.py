"""Google's OAuth 2.0 server for a desktop client: consent page (loopback + PKCE), token, revoke."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import html
import re
import secrets
from urllib.parse import urlencode, urlsplit

from datadrip.sandbox.state import CodeGrant, SandboxContext, Token
from datadrip.sandbox.web import Request, Response, Router

ADWORDS = "https://www.googleapis.com/auth/adwords"
OOB = "urn:ietf:wg:oauth:2.0:oob"
CODE_SECONDS = 600
PARENTS = "google_token_parents"  # state.extra key: access token → the refresh token it came from
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1
EXPIRED = "Token has been expired or revoked."


def register(router: Router, sandbox: SandboxContext) -> None:
    install_credentials(sandbox)
    router.add("GET", r"/google/oauth/auth", lambda request, _: consent_page(request, sandbox))
    router.add("POST", r"/google/oauth/auth", lambda request, _: decide(request, sandbox))
    router.add("POST", r"/google/oauth/token", lambda request, _: token(request, sandbox))
    router.add("POST", r"/google/oauth/revoke", lambda request, _: revoke(request, sandbox))


def install_credentials(sandbox: SandboxContext) -> None:
    """The ready-made refresh and access tokens; neither expires (humans curl with them)."""
    c, state = sandbox.state.credentials, sandbox.state
    state.issue("google", "refresh", lifetime=None, prefix="", scopes=(ADWORDS,),
                value=c.google_refresh_token)
    state.issue("google", "access", lifetime=None, prefix="", scopes=(ADWORDS,),
                value=c.google_access_token)
    parents(sandbox)[c.google_access_token] = c.google_refresh_token


def parents(sandbox: SandboxContext) -> dict[str, str]:
    links: dict[str, str] = sandbox.state.extra.setdefault(PARENTS, {})
    return links


def revoke_grant(sandbox: SandboxContext, value: str) -> bool:
    """Revoke a token and the grant it belongs to (refresh token and all its access tokens)."""
    state = sandbox.state
    found = state.token(value, "google")
    if found is None or not state.is_live(found):
        return False
    with state.lock:
        refresh = value if found.kind == "refresh" else parents(sandbox).get(value)
        found.revoked = True
        for access, parent in parents(sandbox).items():
            if refresh is not None and parent == refresh:
                state.tokens[access].revoked = True
        if refresh is not None and refresh in state.tokens:
            state.tokens[refresh].revoked = True
    return True


def grant_of(sandbox: SandboxContext, value: str) -> list[str]:
    """Every token of the grant `value` belongs to: its refresh token and that one's access tokens."""
    refresh = value if (token := sandbox.state.token(value, "google")) is not None and \
        token.kind == "refresh" else parents(sandbox).get(value)
    if refresh is None:
        return [value]
    return [refresh, *(access for access, parent in parents(sandbox).items() if parent == refresh)]


# --- consent ---------------------------------------------------------------------------------

def _error_page(code: str, detail: str, status: int = 400) -> Response:
    text = (f"<!DOCTYPE html><html><head><title>Error {status}: {html.escape(code)}</title></head>"
            f"<body><h1>Access blocked: Authorization Error</h1>"
            f"<p>Error {status}: {html.escape(code)}</p><p>{html.escape(detail)}</p></body></html>")
    return Response.html(text, status)


def _is_loopback(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1") and \
        port is not None and not parts.query and not parts.fragment


def _check_auth_request(params: dict[str, str], sandbox: SandboxContext) -> Response | None:
    """The error page Google shows instead of the consent screen, or None when all is well."""
    if not params.get("client_id"):
        return _error_page("invalid_request", "Missing required parameter: client_id")
    if params["client_id"] != sandbox.state.credentials.google_client_id:
        return _error_page("invalid_client", "The OAuth client was not found.", 401)
    redirect = params.get("redirect_uri", "")
    if redirect == OOB:
        return _error_page("invalid_request", "The out-of-band (OOB) flow has been blocked in order "
                           "to keep users secure. Follow the Out-Of-Band (OOB) flow migration guide "
                           "linked in the developer docs below to migrate your app to an "
                           "alternative method.")
    if not redirect:
        return _error_page("invalid_request", "Missing required parameter: redirect_uri")
    if not _is_loopback(redirect):
        return _error_page("invalid_request", "You can't sign in to this app because it doesn't "
                           "comply with Google's OAuth 2.0 policy. Invalid redirect_uri: "
                           f"{redirect}")
    if params.get("response_type") != "code":
        return _error_page("unsupported_response_type",
                           f"Invalid response_type: {params.get('response_type', '')}")
    if not params.get("scope"):
        return _error_page("invalid_request", "Missing required parameter: scope")
    method = params.get("code_challenge_method")
    if params.get("code_challenge") and method not in (None, "S256", "plain"):
        return _error_page("invalid_request", f"Invalid code_challenge_method: {method}")
    return None


def consent_page(request: Request, sandbox: SandboxContext) -> Response:
    params = request.query
    problem = _check_auth_request(params, sandbox)
    if problem is not None:
        return problem
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in params.items())
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params["scope"].split())
    text = ("<!DOCTYPE html><html><head><title>Sign in - Google Accounts</title></head><body>"
            "<h1>DataDrip Sandbox wants access to your Google Account</h1>"
            f"<p>{html.escape(params.get('login_hint', 'sandbox.user@example.com'))}</p>"
            f"<p>This will allow the app to:</p><ul>{scopes}</ul>"
            f'<form method="POST" action="{html.escape(request.path)}">{hidden}'
            '<button type="submit" name="decision" value="deny">Cancel</button> '
            '<button type="submit" name="decision" value="allow">Allow</button>'
            "</form></body></html>")
    return Response.html(text)


def decide(request: Request, sandbox: SandboxContext) -> Response:
    params = request.form()
    decision = params.pop("decision", "")
    problem = _check_auth_request(params, sandbox)
    if problem is not None:
        return problem
    redirect, state = params["redirect_uri"], params.get("state")
    if decision != "allow":
        query = {"error": "access_denied", **({"state": state} if state is not None else {})}
        return Response.redirect(f"{redirect}?{urlencode(query)}")
    code = "4/0A" + secrets.token_urlsafe(40)
    challenge = params.get("code_challenge") or None
    grant = CodeGrant(code, "google", params["client_id"], redirect, tuple(params["scope"].split()),
                      challenge, (params.get("code_challenge_method") or "plain") if challenge
                      else None, sandbox.state.clock.now() + dt.timedelta(seconds=CODE_SECONDS))
    with sandbox.state.lock:
        sandbox.state.codes[code] = grant
    query = {**({"state": state} if state is not None else {}), "code": code,
             "scope": " ".join(grant.scopes)}
    return Response.redirect(f"{redirect}?{urlencode(query)}")


# --- token endpoint --------------------------------------------------------------------------

def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json({"error": error, "error_description": description}, status,
                         [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")])


def _client(request: Request, params: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from the body, or from HTTP Basic (client_secret_basic)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return params.get("client_id", ""), params.get("client_secret", "")


def token(request: Request, sandbox: SandboxContext) -> Response:
    params = request.form()
    grant_type = params.get("grant_type", "")
    if grant_type not in ("authorization_code", "refresh_token"):
        return oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    client_id, secret = _client(request, params)
    credentials = sandbox.state.credentials
    if not client_id:
        return oauth_error("invalid_request", "Could not determine client ID from request.")
    if client_id != credentials.google_client_id:
        return oauth_error("invalid_client", "The OAuth client was not found.", 401)
    if not hmac.compare_digest(secret, credentials.google_client_secret):
        return oauth_error("invalid_client", "Unauthorized", 401)
    if grant_type == "refresh_token":
        return _refresh(params, sandbox)
    return _exchange(params, sandbox)


def _exchange(params: dict[str, str], sandbox: SandboxContext) -> Response:
    for name in ("code", "redirect_uri"):
        if not params.get(name):
            return oauth_error("invalid_request", f"Missing required parameter: {name}")
    state = sandbox.state
    with state.lock:
        grant = state.codes.get(params["code"])
        if grant is None or grant.platform != "google":
            used = state.extra.get("google_used_codes", set())
            return oauth_error("invalid_grant", "Bad Request" if params["code"] in used
                               else "Malformed auth code.")
        if grant.expires_at <= state.clock.now():
            return oauth_error("invalid_grant", "Bad Request")
        if grant.redirect_uri != params["redirect_uri"]:
            return oauth_error("redirect_uri_mismatch", "Bad Request")
        if grant.code_challenge is not None:
            verifier = params.get("code_verifier", "")
            if not verifier:
                return oauth_error("invalid_grant", "Missing code verifier.")
            if not VERIFIER.fullmatch(verifier) or not grant.verifies(verifier):
                return oauth_error("invalid_grant", "Invalid code verifier.")
        del state.codes[grant.code]
        state.extra.setdefault("google_used_codes", set()).add(grant.code)
    refresh = state.issue("google", "refresh", lifetime=None, prefix="1//0g", scopes=grant.scopes)
    return _grant_response(sandbox, refresh, include_refresh=True)


def _refresh(params: dict[str, str], sandbox: SandboxContext) -> Response:
    value = params.get("refresh_token")
    if not value:
        return oauth_error("invalid_request", "Missing required parameter: refresh_token")
    found = sandbox.state.token(value, "google")
    if found is None or found.kind != "refresh" or not sandbox.state.is_live(found):
        return oauth_error("invalid_grant", EXPIRED)
    return _grant_response(sandbox, found, include_refresh=False)


def _grant_response(sandbox: SandboxContext, refresh: Token, *, include_refresh: bool) -> Response:
    seconds = sandbox.config.access_token_seconds
    access = sandbox.state.issue("google", "access", lifetime=dt.timedelta(seconds=seconds),
                                 prefix="ya29.a0", scopes=refresh.scopes)
    with sandbox.state.lock:
        parents(sandbox)[access.value] = refresh.value
    body: dict[str, object] = {"access_token": access.value, "expires_in": seconds}
    if include_refresh:
        body["refresh_token"] = refresh.value
    body.update({"scope": " ".join(refresh.scopes), "token_type": "Bearer"})
    return Response.json(body, 200, [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")])


def revoke(request: Request, sandbox: SandboxContext) -> Response:
    value = request.form().get("token", "")
    if not value:
        return oauth_error("invalid_request", "Bad Request")
    if not revoke_grant(sandbox, value):
        return oauth_error("invalid_token", "Token expired or revoked")
    return Response.json({}, 200)


def fault_response(kind: str, request: Request, sandbox: SandboxContext) -> Response:
    """A fault at the OAuth server: its own error shapes (HTML on the consent page)."""
    if request.path.endswith("/auth"):
        return _error_page("server_error", f"The sandbox injected a {kind} fault.",
                           429 if kind == "rate_limit" else 503 if kind == "unavailable" else 500)
    if kind == "rate_limit":
        return oauth_error("rate_limit_exceeded", "Rate limit exceeded.", 429)
    if kind == "unavailable":
        return oauth_error("temporarily_unavailable", "The service is currently unavailable.", 503)
    if kind in ("expired_token", "revoked_token"):
        value = request.form().get("refresh_token") or request.form().get("token")
        if kind == "revoked_token" and value:
            revoke_grant(sandbox, value)
        return oauth_error("invalid_grant", EXPIRED)
    if kind == "permission":
        return oauth_error("unauthorized_client", "Unauthorized", 401)
    return oauth_error("internal_failure", "Backend Error", 500)
