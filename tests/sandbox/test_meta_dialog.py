"""Facebook Login in the sandbox: the consent dialog, code exchanges, token errors, debug_token."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from datadrip.sandbox.state import Credentials
from sandbox.meta_support import GRAPH, INR, TOKEN

CREDENTIALS = Credentials()
APP_ID, SECRET = CREDENTIALS.meta_app_id, CREDENTIALS.meta_app_secret
REDIRECT = CREDENTIALS.meta_redirect_uris[0]
DIALOG = "/meta/www/v26.0/dialog/oauth"
VERIFIER = "dD9kSXx2bQ1P0rH3oJ-ek~N4VZ6aU_qG.8wLcyTfE5sm7ji"


class _Form(HTMLParser):
    """The dialog's form as a browser sees it: action, hidden inputs, submit buttons by text."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input":
            self.fields[found["name"]] = found.get("value", "")
        elif tag == "button":
            self._button = (found["name"], found["value"])

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button
            self._button = None


def _press(http: httpx.Client, dialog: httpx.Response, button: str) -> httpx.Response:
    """Click a dialog button by its text, as a browser would submit the form."""
    form = _Form()
    form.feed(dialog.text)
    name, value = form.buttons[button]
    return http.post(urljoin(str(dialog.url), form.action), data={**form.fields, name: value})


def _open_dialog(http: httpx.Client, **extra: str) -> httpx.Response:
    params = {"client_id": APP_ID, "redirect_uri": REDIRECT, "state": "st-42", "response_type": "code",
              "scope": "ads_read,business_management", **extra}
    return http.get(DIALOG, params=params)


def _code(http: httpx.Client, **extra: str) -> str:
    redirect = _press(http, _open_dialog(http, **extra), "Allow")
    assert redirect.status_code == 302
    return parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]


def _exchange(http: httpx.Client, code: str, **extra: str) -> httpx.Response:
    params = {"client_id": APP_ID, "redirect_uri": REDIRECT, "client_secret": SECRET, "code": code, **extra}
    return http.get(f"{GRAPH}/oauth/access_token", params=params)


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    return error


def _me(http: httpx.Client, token: str) -> httpx.Response:
    return http.get(f"{GRAPH}/me/adaccounts", params={"access_token": token})


def test_dialog_shows_allow_and_cancel_buttons(sandbox_http: httpx.Client) -> None:
    page = _open_dialog(sandbox_http)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    form = _Form()
    form.feed(page.text)
    assert set(form.buttons) == {"Allow", "Cancel"}
    assert form.fields["state"] == "st-42" and form.fields["redirect_uri"] == REDIRECT


def test_dialog_allow_redirects_with_code_and_state(sandbox_http: httpx.Client) -> None:
    redirect = _press(sandbox_http, _open_dialog(sandbox_http), "Allow")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-42"] and query["code"][0]


def test_dialog_cancel_redirects_with_access_denied(sandbox_http: httpx.Client) -> None:
    redirect = _press(sandbox_http, _open_dialog(sandbox_http), "Cancel")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == (
        f"{REDIRECT}?error=access_denied&error_code=200&error_description=Permissions+error"
        "&error_reason=user_denied&state=st-42")


@pytest.mark.parametrize("params", [
    {"redirect_uri": "http://localhost:8766/callback"}, {"redirect_uri": REDIRECT + "/"},
    {"client_id": "999"}])
def test_dialog_refuses_unknown_app_or_redirect_without_redirecting(sandbox_http: httpx.Client,
                                                                     params: dict[str, str]) -> None:
    page = _open_dialog(sandbox_http, **params)
    assert page.status_code == 400 and "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")


def test_exchange_gives_a_short_lived_token_that_works(sandbox_http: httpx.Client) -> None:
    response = _exchange(sandbox_http, _code(sandbox_http))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["access_token"].startswith("EAAB") and body["token_type"] == "bearer"
    assert body["expires_in"] == 3599
    assert _me(sandbox_http, body["access_token"]).status_code == 200


def test_exchange_code_is_single_use(sandbox_http: httpx.Client) -> None:
    code = _code(sandbox_http)
    assert _exchange(sandbox_http, code).status_code == 200
    error = _error(_exchange(sandbox_http, code))
    assert (error["code"], error["message"]) == (100, "This authorization code has been used.")


def test_exchange_code_expires_after_ten_minutes(sandbox_http: httpx.Client, sandbox: Any) -> None:
    code = _code(sandbox_http)
    sandbox.app.state.clock.advance(dt.timedelta(minutes=10, seconds=1))
    error = _error(_exchange(sandbox_http, code))
    assert (error["code"], error["message"]) == (100, "This authorization code has expired.")


def test_exchange_redirect_uri_must_equal_the_dialogs(sandbox_http: httpx.Client) -> None:
    other = CREDENTIALS.meta_redirect_uris[1]
    error = _error(_exchange(sandbox_http, _code(sandbox_http), redirect_uri=other))
    assert error["code"] == 100 and "redirect_uri is identical" in error["message"]


def test_exchange_wrong_secret_fails_with_code_1(sandbox_http: httpx.Client) -> None:
    error = _error(_exchange(sandbox_http, _code(sandbox_http), client_secret="wrong"))
    assert (error["code"], error["message"]) == (1, "Error validating client secret.")


def test_exchange_checks_the_s256_code_verifier(sandbox_http: httpx.Client) -> None:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
    code = _code(sandbox_http, code_challenge=challenge, code_challenge_method="S256")
    assert _error(_exchange(sandbox_http, code))["code"] == 100  # no verifier
    assert _error(_exchange(sandbox_http, code, code_verifier=VERIFIER[:-1]))["code"] == 100
    assert _exchange(sandbox_http, code, code_verifier=VERIFIER).status_code == 200


def test_exchange_checks_a_plain_code_verifier(sandbox_http: httpx.Client) -> None:
    code = _code(sandbox_http, code_challenge=VERIFIER, code_challenge_method="plain")
    assert _error(_exchange(sandbox_http, code, code_verifier="x" * 43))["code"] == 100
    assert _exchange(sandbox_http, code, code_verifier=VERIFIER).status_code == 200


def test_exchange_short_for_a_sixty_day_token(sandbox_http: httpx.Client, sandbox: Any) -> None:
    short = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    response = sandbox_http.get(f"{GRAPH}/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": SECRET,
        "fb_exchange_token": short})
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 5184000 and body["token_type"] == "bearer"
    sandbox.app.state.clock.advance(dt.timedelta(days=30))
    assert _me(sandbox_http, body["access_token"]).status_code == 200
    assert _error(_me(sandbox_http, short))["error_subcode"] == 463


def test_token_missing_needs_an_access_token(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/me/adaccounts")
    error = _error(response)
    assert (error["code"], error["message"]) == (104, "An access token is required to request this resource.")


def test_token_unparseable_fails_with_190(sandbox_http: httpx.Client) -> None:
    error = _error(_me(sandbox_http, "not-a-token"))
    assert error["code"] == 190 and "error_subcode" not in error
    assert error["message"] == "Invalid OAuth access token - Cannot parse access token"


def test_token_unknown_meta_token_fails_with_190_467(sandbox_http: httpx.Client) -> None:
    error = _error(_me(sandbox_http, "EAABnever-issued"))
    assert (error["code"], error["error_subcode"]) == (190, 467)


def test_token_expired_fails_with_190_463(sandbox_http: httpx.Client, sandbox: Any) -> None:
    token = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    sandbox.app.state.clock.advance(dt.timedelta(seconds=3600))
    response = _me(sandbox_http, token)
    error = _error(response)
    assert (error["code"], error["error_subcode"]) == (190, 463)
    # Issued at 04:00 PST, it lapsed at 04:59:59 PST on Thursday 26 November 2026.
    assert error["message"] == ("Error validating access token: Session has expired on Thursday, "
                                "26-Nov-26 04:59:59 PST.")
    assert "invalid_token" in response.headers["www-authenticate"]


def test_token_bearer_header_is_accepted(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(f"{GRAPH}/me/adaccounts", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_revoke_deletes_permissions_and_the_token_stops_working(sandbox_http: httpx.Client) -> None:
    token = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    response = sandbox_http.delete(f"{GRAPH}/me/permissions", params={"access_token": token})
    assert response.status_code == 200 and response.json() == {"success": True}
    error = _error(_me(sandbox_http, token))
    assert (error["code"], error["error_subcode"]) == (190, 458)
    assert error["message"] == ("Error validating access token: The user has not authorized application "
                                f"{APP_ID}.")
    assert _me(sandbox_http, TOKEN).status_code == 200  # other tokens live on


def _debug(http: httpx.Client, token: str) -> dict[str, Any]:
    response = http.get(f"{GRAPH}/debug_token",
                        params={"input_token": token, "access_token": f"{APP_ID}|{SECRET}"})
    assert response.status_code == 200
    data: dict[str, Any] = response.json()["data"]
    return data


def test_debug_token_describes_the_system_user_token(sandbox_http: httpx.Client) -> None:
    data = _debug(sandbox_http, TOKEN)
    assert data["type"] == "SYSTEM_USER" and data["expires_at"] == 0 and data["is_valid"] is True
    assert data["app_id"] == APP_ID and "ads_read" in data["scopes"]
    assert isinstance(data["issued_at"], int) and isinstance(data["data_access_expires_at"], int)


def test_debug_token_describes_user_tokens_and_their_end(sandbox_http: httpx.Client, sandbox: Any) -> None:
    token = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    data = _debug(sandbox_http, token)
    assert data["type"] == "USER" and data["is_valid"] is True
    assert data["expires_at"] - data["issued_at"] == 3599
    assert data["scopes"] == ["ads_read", "business_management"]
    sandbox.app.state.clock.advance(dt.timedelta(hours=2))
    expired = _debug(sandbox_http, token)
    assert expired["is_valid"] is False and expired["error"]["subcode"] == 463


def test_debug_token_marks_revoked_tokens_invalid(sandbox_http: httpx.Client) -> None:
    token = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    sandbox_http.delete(f"{GRAPH}/me/permissions", params={"access_token": token})
    assert _debug(sandbox_http, token)["is_valid"] is False


def test_token_works_on_insights_after_login(sandbox_http: httpx.Client) -> None:
    token = _exchange(sandbox_http, _code(sandbox_http)).json()["access_token"]
    response = sandbox_http.get(f"{GRAPH}/{INR}/insights",
                                params={"access_token": token, "date_preset": "yesterday"})
    assert response.status_code == 200 and response.json()["data"]
