"""The sandbox's Resend and SendGrid: keys, validation as the real APIs do it, idempotency, faults."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from datadrip.sandbox.server import SandboxServer

RESEND_KEY, SENDGRID_KEY = "re_sandbox_resend_api_key", "SG.sandbox-sendgrid.api-key"
RESEND, SENDGRID = "/email/resend/emails", "/email/sendgrid/v3/mail/send"
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def resend_body(**changes: Any) -> dict[str, Any]:
    body = {"from": "Spice Route Media <reports@spiceroute.example>", "to": ["owner@masala.example"],
            "subject": "Daily report", "html": '<img src="cid:trend@datadrip">', "text": "Spend 12",
            "attachments": [{"filename": "trend.png", "content": PIXEL, "content_type": "image/png",
                             "content_id": "trend@datadrip"}]}
    return {**body, **changes}


def sendgrid_body(**changes: Any) -> dict[str, Any]:
    body = {"personalizations": [{"to": [{"email": "owner@masala.example"}]}],
            "from": {"email": "reports@spiceroute.example", "name": "Spice Route Media"},
            "subject": "Daily report",
            "content": [{"type": "text/plain", "value": "Spend 12"},
                        {"type": "text/html", "value": '<img src="cid:trend@datadrip">'}],
            "attachments": [{"content": PIXEL, "type": "image/png", "filename": "trend.png",
                             "disposition": "inline", "content_id": "trend@datadrip"}],
            "headers": {"Message-ID": "<1.abc@spiceroute.example>"}}
    return {**body, **changes}


def resend(http: httpx.Client, body: Any, *, key: str | None = RESEND_KEY, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return http.post(RESEND, json=body, headers={**auth, **headers})


def sendgrid(http: httpx.Client, body: Any, *, key: str | None = SENDGRID_KEY,
             **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return http.post(SENDGRID, json=body, headers={**auth, **headers})


def stored(http: httpx.Client) -> list[dict[str, Any]]:
    return list(http.get("/_sandbox/emails").json())


# --- Resend -------------------------------------------------------------------------------------------

def test_resend_accepts_a_message_and_lists_it(sandbox_http: httpx.Client) -> None:
    answer = resend(sandbox_http, resend_body())

    assert answer.status_code == 200
    assert answer.headers["ratelimit-limit"] == "2"
    [email] = stored(sandbox_http)
    assert email["id"] == answer.json()["id"] and len(email["id"]) == 36
    assert (email["provider"], email["from"], email["to"], email["subject"]) == (
        "resend", "Spice Route Media <reports@spiceroute.example>", ["owner@masala.example"], "Daily report")
    assert email["has_html"] and email["has_text"]
    assert email["attachments"] == [{"filename": "trend.png", "content_id": "trend@datadrip",
                                     "content_type": "image/png", "size": 12}]


@pytest.mark.parametrize(("key", "status", "name"), [(None, 401, "missing_api_key"),
                                                     ("re_wrong", 403, "invalid_api_key")])
def test_resend_refuses_a_missing_or_wrong_key(sandbox_http: httpx.Client, key: str | None, status: int,
                                               name: str) -> None:
    answer = resend(sandbox_http, resend_body(), key=key)

    assert answer.status_code == status
    assert answer.json()["statusCode"] == status and answer.json()["name"] == name
    assert stored(sandbox_http) == []


@pytest.mark.parametrize(("change", "name", "message"), [
    ({"from": None}, "missing_required_field", "Missing `from` field."),
    ({"to": []}, "missing_required_field", "Missing `to` field."),
    ({"from": "Spice Route Media"}, "validation_error", "Invalid `from` field."),
    ({"from": "Spice\nBcc: x@y.example <reports@spiceroute.example>"}, "validation_error",
     "Invalid `from` field."),
    ({"to": ["owner@masala.example", "not-an-address"]}, "validation_error", "Invalid `to` field."),
    ({"to": [f"r{n}@masala.example" for n in range(51)]}, "validation_error", "Too many recipients"),
    ({"html": None, "text": None}, "validation_error", "Missing `html` or `text` field."),
    ({"reply_to": "priya"}, "validation_error", "Invalid `reply_to` field."),
    ({"attachments": [{"filename": "trend.png"}]}, "invalid_attachment",
     "Attachment must have either a `content` or `path`."),
    ({"attachments": [{"filename": "trend.png", "content": "not base64!"}]}, "invalid_attachment",
     "Base64"),
    ({"attachments": [{"filename": "t.png", "content": PIXEL, "content_id": "x" * 128}]}, "validation_error",
     "less than 128 characters"),
])
def test_resend_validates_the_body(sandbox_http: httpx.Client, change: dict[str, Any], name: str,
                                   message: str) -> None:
    answer = resend(sandbox_http, {k: v for k, v in resend_body(**change).items() if v is not None})

    assert answer.status_code == 422, answer.text
    assert answer.json()["name"] == name and message in answer.json()["message"]
    assert stored(sandbox_http) == []


def test_resend_takes_fifty_recipients_and_a_quoted_name(sandbox_http: httpx.Client) -> None:
    answer = resend(sandbox_http, resend_body(**{
        "from": '"Spice \\"Route\\", Media" <reports@spiceroute.example>',
        "to": [f"r{n}@masala.example" for n in range(50)]}))

    assert answer.status_code == 200, answer.text


def test_resend_same_idempotency_key_and_body_gives_the_same_id_and_sends_once(
        sandbox_http: httpx.Client) -> None:
    first = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "<1.abc@spiceroute.example>"})
    again = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "<1.abc@spiceroute.example>"})
    other = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "<2.abc@spiceroute.example>"})

    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    emails = stored(sandbox_http)
    assert [(e["idempotency_key"], e["replays"]) for e in emails] == [
        ("<1.abc@spiceroute.example>", 1), ("<2.abc@spiceroute.example>", 0)]


def test_resend_same_idempotency_key_with_another_body_is_a_conflict(sandbox_http: httpx.Client) -> None:
    resend(sandbox_http, resend_body(), **{"Idempotency-Key": "k1"})

    answer = resend(sandbox_http, resend_body(subject="Another"), **{"Idempotency-Key": "k1"})

    assert answer.status_code == 409
    assert answer.json() == {"statusCode": 409, "name": "invalid_idempotent_request",
                             "message": "Same idempotency key used with a different request payload."}
    assert len(stored(sandbox_http)) == 1


def test_resend_idempotency_key_expires_after_a_day(sandbox: SandboxServer,
                                                    sandbox_http: httpx.Client) -> None:
    first = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "k1"})
    sandbox_http.post("/_sandbox/clock", json={"days": 1, "seconds": 1})

    later = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "k1"})

    assert later.json()["id"] != first.json()["id"] and len(stored(sandbox_http)) == 2


def test_resend_refuses_an_overlong_idempotency_key(sandbox_http: httpx.Client) -> None:
    answer = resend(sandbox_http, resend_body(), **{"Idempotency-Key": "k" * 257})

    assert answer.status_code == 400 and answer.json()["name"] == "invalid_idempotency_key"


@pytest.mark.parametrize(("fault", "status", "name"), [
    ("rate_limit", 429, "rate_limit_exceeded"), ("server_error", 500, "internal_server_error"),
    ("unavailable", 503, "application_error"), ("revoked_token", 403, "invalid_api_key"),
    ("permission", 403, "validation_error")])
def test_resend_faults_answer_in_resends_shape(sandbox_http: httpx.Client, fault: str, status: int,
                                               name: str) -> None:
    answer = resend(sandbox_http, resend_body(), **{"X-Sandbox-Fault": fault})

    assert answer.status_code == status and answer.json()["name"] == name
    if fault == "rate_limit":
        assert answer.headers["retry-after"] == "1" and answer.headers["ratelimit-remaining"] == "0"
    if fault == "permission":
        assert answer.json()["message"].startswith("The spiceroute.example domain is not verified")
    assert stored(sandbox_http) == []


# --- SendGrid -----------------------------------------------------------------------------------------

def test_sendgrid_accepts_a_message_with_202_and_an_x_message_id(sandbox_http: httpx.Client) -> None:
    answer = sendgrid(sandbox_http, sendgrid_body())

    assert answer.status_code == 202 and answer.content == b""
    [email] = stored(sandbox_http)
    assert email["id"] == answer.headers["x-message-id"]
    assert (email["provider"], email["from"], email["to"]) == (
        "sendgrid", "Spice Route Media <reports@spiceroute.example>", ["owner@masala.example"])
    assert email["headers"] == {"Message-ID": "<1.abc@spiceroute.example>"}
    assert email["attachments"] == [{"filename": "trend.png", "content_id": "trend@datadrip",
                                     "content_type": "image/png", "disposition": "inline", "size": 12}]


@pytest.mark.parametrize(("key", "message"), [
    (None, "authorization required"),
    ("SG.wrong", "The provided authorization grant is invalid, expired, or revoked")])
def test_sendgrid_refuses_a_missing_or_wrong_key(sandbox_http: httpx.Client, key: str | None,
                                                 message: str) -> None:
    answer = sendgrid(sandbox_http, sendgrid_body(), key=key)

    assert answer.status_code == 401
    assert answer.json() == {"errors": [{"message": message, "field": None, "help": None}]}


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"from": None}, "from", "The from object must be provided for every email send."),
    ({"from": {"email": "Spice <reports@spiceroute.example>"}}, "from.email", "valid email address"),
    ({"personalizations": []}, "personalizations", "You must have at least one personalization."),
    ({"personalizations": [{"to": [{"email": "a@masala.example"}, {"email": "A@masala.example"}]}]},
     "personalizations.0.to", "should only be included once"),
    ({"subject": ""}, "subject", "at least one character"),
    ({"subject": None}, "subject", "The subject is required."),
    ({"content": [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]},
     "content", "text/plain needs to be first, followed by text/html"),
    ({"content": [{"type": "text/plain", "value": ""}]}, "content.0.value", "at least one character"),
    ({"attachments": [{"content": "not base64!", "filename": "t.png"}]}, "attachments.0.content",
     "The attachment content must be base64 encoded."),
    ({"attachments": [{"content": PIXEL, "filename": "t.png", "disposition": "inline"}]},
     "attachments.0.content_id", "An inline attachment needs a content_id"),
    ({"attachments": [{"content": PIXEL}]}, "attachments.0.filename", "filename is required."),
    ({"headers": {"Subject": "sneaky"}}, "headers", "Header can not be one of the reserved keys."),
])
def test_sendgrid_validates_the_body(sandbox_http: httpx.Client, change: dict[str, Any], field: str,
                                     message: str) -> None:
    answer = sendgrid(sandbox_http, {k: v for k, v in sendgrid_body(**change).items() if v is not None})

    assert answer.status_code == 400, answer.text
    errors = answer.json()["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors
    assert all(e["help"].startswith("http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#")
               for e in errors)
    assert stored(sandbox_http) == []


def test_sendgrid_reports_every_problem_at_once(sandbox_http: httpx.Client) -> None:
    answer = sendgrid(sandbox_http, {"subject": ""})

    assert {e["field"] for e in answer.json()["errors"]} == {"personalizations", "from", "subject", "content"}


def test_sendgrid_body_that_is_not_json_is_a_bad_request(sandbox_http: httpx.Client) -> None:
    answer = sandbox_http.post(SENDGRID, content=b"{not json", headers={
        "Authorization": f"Bearer {SENDGRID_KEY}", "Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json() == {"errors": [{"message": "Bad Request", "field": None, "help": None}]}


@pytest.mark.parametrize(("fault", "status", "message"), [
    ("rate_limit", 429, "too many requests"), ("server_error", 500, "Internal Server Error"),
    ("expired_token", 401, "The provided authorization grant is invalid, expired, or revoked"),
    ("permission", 403, "access forbidden")])
def test_sendgrid_faults_answer_in_sendgrids_shape(sandbox_http: httpx.Client, fault: str, status: int,
                                                   message: str) -> None:
    import time

    answer = sendgrid(sandbox_http, sendgrid_body(), **{"X-Sandbox-Fault": fault})

    assert answer.status_code == status and answer.json()["errors"][0]["message"] == message
    if fault == "rate_limit":
        assert 0 <= int(answer.headers["x-ratelimit-reset"]) - time.time() <= 2
        assert answer.headers["x-ratelimit-remaining"] == "0"


def test_sandbox_emails_are_forgotten_on_request(sandbox_http: httpx.Client) -> None:
    resend(sandbox_http, resend_body())
    sendgrid(sandbox_http, sendgrid_body())

    assert [e["provider"] for e in stored(sandbox_http)] == ["resend", "sendgrid"]
    assert sandbox_http.delete("/_sandbox/emails").json() == {"cleared": True}
    assert stored(sandbox_http) == []


def test_email_fault_rules_match_their_own_platform_only(sandbox: SandboxServer,
                                                         sandbox_http: httpx.Client) -> None:
    sandbox_http.post("/_sandbox/faults", json={"kind": "unavailable", "platform": "sendgrid", "nth": 1})

    assert resend(sandbox_http, resend_body()).status_code == 200
    assert sendgrid(sandbox_http, sendgrid_body()).status_code == 503
    assert sendgrid(sandbox_http, sendgrid_body()).status_code == 202
