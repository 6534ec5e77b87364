"""The sandbox's Google OAuth server over real HTTP: consent page, PKCE code grant, refresh, revoke."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

CLIENT = {"client_id": "sandbox-client.apps.googleusercontent.com",
          "client_secret": "sandbox-google-client-secret"}
REDIRECT = "http://127.0.0.1:8765/callback"
ADWORDS = "https://www.googleapis.com/auth/adwords"
LIST = "/google/ads/v26/customers:listAccessibleCustomers"


class _Form(HTMLParser):
    """The consent page's form: its action, hidden inputs and the buttons' (name, value, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []
        self._button: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.action = found.get("action") or ""
        elif tag == "input" and found.get("type") == "hidden":
            self.fields[found.get("name") or ""] = found.get("value") or ""
        elif tag == "button":
            self._button = found

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons.append((self._button.get("name") or "", self._button.get("value") or "",
                                 data.strip()))
            self._button = None


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def consent(http: httpx.Client, choice: str, *, verifier: str | None = None,
            method: str = "S256", **extra: str) -> httpx.Response:
    """Open the consent page, then press the button labelled `choice` (Allow or Cancel)."""
    params = {"client_id": CLIENT["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
              "scope": ADWORDS, "state": "st-123", "access_type": "offline", "prompt": "consent",
              **extra}
    if verifier is not None:
        params.update(code_challenge=challenge(verifier) if method == "S256" else verifier,
                      code_challenge_method=method)
    page = http.get("/google/oauth/auth", params=params)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    form = _Form()
    form.feed(page.text)
    name, value = next((n, v) for n, v, text in form.buttons if text == choice)
    return http.post(form.action, data={**form.fields, name: value}, follow_redirects=False)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["st-123"] and query["scope"] == [ADWORDS]
    assert list(query)[:2] == ["state", "code"]
    return query["code"][0]


def exchange(http: httpx.Client, code: str, verifier: str | None, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT,
            **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    return http.post("/google/oauth/token", data=data)


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("/google/oauth/token",
                     data={"grant_type": "refresh_token", "refresh_token": token, **CLIENT})


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    return body


def test_oauth_consent_allow_then_pkce_exchange_gives_tokens(sandbox: Any,
                                                             sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(96)
    code = code_from(consent(sandbox_http, "Allow", verifier=verifier))
    response = exchange(sandbox_http, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["access_token", "expires_in", "refresh_token", "scope", "token_type"]
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    assert body["expires_in"] == sandbox.app.config.access_token_seconds
    assert (body["scope"], body["token_type"]) == (ADWORDS, "Bearer")
    api = sandbox_http.get(LIST, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert api.status_code == 200


def test_oauth_plain_challenge_is_accepted(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_from(consent(sandbox_http, "Allow", verifier=verifier, method="plain"))
    assert exchange(sandbox_http, code, verifier).status_code == 200


def test_oauth_s256_is_checked_against_the_real_hash(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_from(consent(sandbox_http, "Allow", verifier=verifier))
    # The challenge itself is not the verifier: S256 must be computed, not compared as text.
    assert oauth_error(exchange(sandbox_http, code, challenge(verifier)), 400,
                       "invalid_grant")["error_description"] == "Invalid code verifier."
    assert exchange(sandbox_http, code, verifier).status_code == 200


def test_oauth_wrong_or_missing_verifier_is_invalid_grant(sandbox_http: httpx.Client) -> None:
    code = code_from(consent(sandbox_http, "Allow", verifier=secrets.token_urlsafe(48)))
    wrong = oauth_error(exchange(sandbox_http, code, secrets.token_urlsafe(48)), 400, "invalid_grant")
    assert wrong["error_description"] == "Invalid code verifier."
    missing = oauth_error(exchange(sandbox_http, code, None), 400, "invalid_grant")
    assert missing["error_description"] == "Missing code verifier."


def test_oauth_code_is_single_use_and_unknown_codes_fail(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_from(consent(sandbox_http, "Allow", verifier=verifier))
    assert exchange(sandbox_http, code, verifier).status_code == 200
    oauth_error(exchange(sandbox_http, code, verifier), 400, "invalid_grant")
    unknown = oauth_error(exchange(sandbox_http, "4/0Anope", verifier), 400, "invalid_grant")
    assert unknown["error_description"] == "Malformed auth code."


def test_oauth_redirect_uri_must_match_the_auth_request(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_from(consent(sandbox_http, "Allow", verifier=verifier))
    response = exchange(sandbox_http, code, verifier, redirect_uri="http://127.0.0.1:9999/callback")
    oauth_error(response, 400, "redirect_uri_mismatch")


def test_oauth_wrong_client_and_missing_parameters(sandbox_http: httpx.Client) -> None:
    bad_secret = sandbox_http.post("/google/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token",
        "client_id": CLIENT["client_id"], "client_secret": "wrong"})
    assert oauth_error(bad_secret, 401, "invalid_client")["error_description"] == "Unauthorized"
    unknown = sandbox_http.post("/google/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token",
        "client_id": "other.apps.googleusercontent.com", "client_secret": "x"})
    assert oauth_error(unknown, 401, "invalid_client")["error_description"] == \
        "The OAuth client was not found."
    no_code = sandbox_http.post("/google/oauth/token", data={
        "grant_type": "authorization_code", "redirect_uri": REDIRECT, **CLIENT})
    assert oauth_error(no_code, 400, "invalid_request")["error_description"] == \
        "Missing required parameter: code"
    oauth_error(sandbox_http.post("/google/oauth/token", data=CLIENT), 400, "unsupported_grant_type")


def test_oauth_refresh_grant_has_no_refresh_token(sandbox: Any, sandbox_http: httpx.Client) -> None:
    response = refresh(sandbox_http, "1//sandbox-refresh-token")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["access_token", "expires_in", "scope", "token_type"]
    assert body["expires_in"] == sandbox.app.config.access_token_seconds
    unknown = oauth_error(refresh(sandbox_http, "1//unknown"), 400, "invalid_grant")
    assert unknown["error_description"] == "Token has been expired or revoked."


def test_oauth_access_token_expires_but_the_ready_made_one_does_not(
        sandbox: Any, sandbox_http: httpx.Client) -> None:
    fresh = refresh(sandbox_http, "1//sandbox-refresh-token").json()["access_token"]
    assert sandbox_http.get(LIST, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    sandbox.app.state.clock.advance(dt.timedelta(seconds=sandbox.app.config.access_token_seconds + 1))
    expired = sandbox_http.get(LIST, headers={"Authorization": f"Bearer {fresh}"})
    assert expired.status_code == 401 and expired.json()["error"]["status"] == "UNAUTHENTICATED"
    ready = sandbox_http.get(LIST, headers={"Authorization": "Bearer ya29.sandbox-access-token"})
    assert ready.status_code == 200
    sandbox.app.state.clock.advance(dt.timedelta(days=400))
    assert refresh(sandbox_http, "1//sandbox-refresh-token").status_code == 200


def test_oauth_revoking_a_refresh_token_kills_its_access_tokens(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    tokens = exchange(sandbox_http, code_from(consent(sandbox_http, "Allow", verifier=verifier)),
                      verifier).json()
    other = refresh(sandbox_http, tokens["refresh_token"]).json()["access_token"]
    assert sandbox_http.post("/google/oauth/revoke", data={"token": tokens["refresh_token"]}
                             ).status_code == 200
    for access in (tokens["access_token"], other):
        assert sandbox_http.get(LIST, headers={"Authorization": f"Bearer {access}"}).status_code == 401
    oauth_error(refresh(sandbox_http, tokens["refresh_token"]), 400, "invalid_grant")
    assert sandbox_http.get(LIST, headers={"Authorization": "Bearer ya29.sandbox-access-token"}
                            ).status_code == 200


def test_oauth_revoke_takes_the_token_in_the_query_string(sandbox_http: httpx.Client) -> None:
    access = refresh(sandbox_http, "1//sandbox-refresh-token").json()["access_token"]
    assert sandbox_http.post("/google/oauth/revoke", params={"token": access}).status_code == 200
    assert sandbox_http.get(LIST, headers={"Authorization": f"Bearer {access}"}).status_code == 401
    oauth_error(sandbox_http.post("/google/oauth/revoke", data={"token": "ya29.nope"}), 400,
                "invalid_token")


def test_oauth_cancel_redirects_with_access_denied(sandbox_http: httpx.Client) -> None:
    response = consent(sandbox_http, "Cancel", verifier=secrets.token_urlsafe(48))
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert parse_qs(location.query) == {"error": ["access_denied"], "state": ["st-123"]}


@pytest.mark.parametrize("redirect", ["http://localhost:51234", "http://[::1]:8080/cb",
                                      "http://127.0.0.1:1/"])
def test_oauth_any_loopback_port_is_accepted(sandbox_http: httpx.Client, redirect: str) -> None:
    page = sandbox_http.get("/google/oauth/auth", params={
        "client_id": CLIENT["client_id"], "redirect_uri": redirect, "response_type": "code",
        "scope": ADWORDS})
    assert page.status_code == 200 and ">Allow</button>" in page.text


@pytest.mark.parametrize(("redirect", "client_id", "status", "text"), [
    ("https://evil.example/cb", CLIENT["client_id"], 400, "Error 400: invalid_request"),
    ("http://127.0.0.1/cb", CLIENT["client_id"], 400, "Error 400: invalid_request"),
    ("urn:ietf:wg:oauth:2.0:oob", CLIENT["client_id"], 400, "out-of-band (OOB) flow has been blocked"),
    (REDIRECT, "other.apps.googleusercontent.com", 401, "Error 401: invalid_client"),
])
def test_oauth_bad_requests_show_an_error_page_without_redirect(
        sandbox_http: httpx.Client, redirect: str, client_id: str, status: int, text: str) -> None:
    page = sandbox_http.get("/google/oauth/auth", params={
        "client_id": client_id, "redirect_uri": redirect, "response_type": "code", "scope": ADWORDS},
        follow_redirects=False)
    assert page.status_code == status and "location" not in page.headers
    assert text in page.text and "<form" not in page.text


@pytest.mark.parametrize(("kind", "status", "error"), [
    ("rate_limit", 429, "rate_limit_exceeded"), ("server_error", 500, "internal_failure"),
    ("unavailable", 503, "temporarily_unavailable"), ("expired_token", 400, "invalid_grant"),
])
def test_oauth_faults_at_the_token_endpoint_use_oauth_shapes(sandbox_http: httpx.Client, kind: str,
                                                             status: int, error: str) -> None:
    response = sandbox_http.post("/google/oauth/token", headers={"X-Sandbox-Fault": kind}, data={
        "grant_type": "refresh_token", "refresh_token": "1//sandbox-refresh-token", **CLIENT})
    oauth_error(response, status, error)
    assert refresh(sandbox_http, "1//sandbox-refresh-token").status_code == 200


def test_oauth_revoked_token_fault_revokes_the_refresh_token(sandbox_http: httpx.Client) -> None:
    verifier = secrets.token_urlsafe(48)
    tokens = exchange(sandbox_http, code_from(consent(sandbox_http, "Allow", verifier=verifier)),
                      verifier).json()
    faulted = sandbox_http.post("/google/oauth/token", headers={"X-Sandbox-Fault": "revoked_token"},
                                data={"grant_type": "refresh_token",
                                      "refresh_token": tokens["refresh_token"], **CLIENT})
    oauth_error(faulted, 400, "invalid_grant")
    oauth_error(refresh(sandbox_http, tokens["refresh_token"]), 400, "invalid_grant")
