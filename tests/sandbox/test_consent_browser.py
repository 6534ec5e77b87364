"""The consent pages as a person meets them: a real headless Chromium presses Allow or Cancel."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from browser_support import headless_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from headless_chromium()


def press(browser: Any, url: str, button: str, redirect_prefix: str) -> dict[str, str]:
    """Open the consent page, press the button, and return the query of the redirect it sends
    the browser to (captured before it leaves, as DataDrip's loopback listener would get it)."""
    page = browser.new_page()
    landed: list[str] = []

    def catch(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="You can close this tab.")

    page.route(f"{redirect_prefix}**", catch)
    try:
        page.goto(url)
        page.get_by_role("button", name=button).click()
        page.wait_for_url(f"{redirect_prefix}**")
        assert "You can close this tab." in page.content()
    finally:
        page.close()
    assert len(landed) == 1
    return {key: values[0] for key, values in parse_qs(urlsplit(landed[0]).query).items()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def test_consent_google_allow_gives_a_code_that_exchanges_with_pkce(sandbox: Any, browser: Any) -> None:
    described = sandbox.app.describe(sandbox.base_url)["google"]
    redirect = "http://127.0.0.1:53117/"
    verifier, challenge = pkce()
    url = described["auth_url"] + "?" + urlencode({
        "client_id": described["client_id"], "redirect_uri": redirect, "response_type": "code",
        "scope": "https://www.googleapis.com/auth/adwords", "state": "s-123",
        "code_challenge": challenge, "code_challenge_method": "S256", "access_type": "offline"})

    returned = press(browser, url, "Allow", redirect)

    assert returned["state"] == "s-123"
    token = httpx.post(described["token_url"], data={
        "grant_type": "authorization_code", "code": returned["code"], "redirect_uri": redirect,
        "client_id": described["client_id"], "client_secret": described["client_secret"],
        "code_verifier": verifier})
    assert token.status_code == 200, token.text
    assert set(token.json()) >= {"access_token", "refresh_token", "expires_in", "token_type"}


def test_consent_google_cancel_returns_access_denied(sandbox: Any, browser: Any) -> None:
    described = sandbox.app.describe(sandbox.base_url)["google"]
    redirect = "http://127.0.0.1:53118/"
    _, challenge = pkce()
    url = described["auth_url"] + "?" + urlencode({
        "client_id": described["client_id"], "redirect_uri": redirect, "response_type": "code",
        "scope": "https://www.googleapis.com/auth/adwords", "state": "s-456",
        "code_challenge": challenge, "code_challenge_method": "S256"})

    assert press(browser, url, "Cancel", redirect) == {"error": "access_denied", "state": "s-456"}


def test_consent_meta_allow_gives_a_code_that_exchanges_for_a_token(sandbox: Any, browser: Any) -> None:
    described = sandbox.app.describe(sandbox.base_url)["meta"]
    redirect = described["redirect_uris"][0]
    url = f"{described['dialog_url']}/v26.0/dialog/oauth?" + urlencode({
        "client_id": described["app_id"], "redirect_uri": redirect, "state": "m-1",
        "response_type": "code", "scope": "ads_read,business_management"})

    returned = press(browser, url, "Allow", redirect)

    assert returned["state"] == "m-1"
    token = httpx.get(f"{described['graph_url']}/v26.0/oauth/access_token", params={
        "client_id": described["app_id"], "client_secret": described["app_secret"],
        "redirect_uri": redirect, "code": returned["code"]})
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "bearer"


def test_consent_meta_cancel_returns_the_error_parameters(sandbox: Any, browser: Any) -> None:
    described = sandbox.app.describe(sandbox.base_url)["meta"]
    redirect = described["redirect_uris"][0]
    url = f"{described['dialog_url']}/v26.0/dialog/oauth?" + urlencode({
        "client_id": described["app_id"], "redirect_uri": redirect, "state": "m-2",
        "response_type": "code", "scope": "ads_read"})

    assert press(browser, url, "Cancel", redirect) == {
        "error": "access_denied", "error_code": "200", "error_description": "Permissions error",
        "error_reason": "user_denied", "state": "m-2"}
