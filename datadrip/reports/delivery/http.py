"""The Resend and SendGrid providers: one HTTPS request per attempt, answers sorted into retry or not.

Resend de-duplicates by the Idempotency-Key header (our Message-ID), so any attempt may be
repeated, a timed-out one too. SendGrid has no such key: once the request may have reached it
(a read timeout, a dropped connection), the outcome is unknown and it is not sent again.
Facts and their sources: docs/api-notes.md, "Resend and SendGrid".
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from datadrip import __version__
from datadrip.platforms.http import http_client, retry_after
from datadrip.reports.delivery.base import PermanentError, TransientError, UnknownOutcomeError
from datadrip.reports.delivery.mail import OutgoingEmail, one_line, unique_recipients
from datadrip.secrets.store import redact

if TYPE_CHECKING:
    import httpx

# Display-name characters that RFC 5322 only allows inside a quoted string.
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_MAX_DETAIL = 300


class ResendProvider:
    """POST {resend_url}/emails with the Message-ID as Idempotency-Key."""

    name = "resend"

    def __init__(self, base_url: str, api_key: str, *, timeout: float) -> None:
        self.url = f"{base_url.rstrip('/')}/emails"
        self._key = api_key
        self.timeout = timeout

    def __repr__(self) -> str:  # never the key
        return f"ResendProvider({self.url!r})"

    def send(self, message: OutgoingEmail,
             handover: Callable[[], None] = lambda: None) -> tuple[str | None, tuple[str, ...]]:
        import httpx

        headers = {"Authorization": f"Bearer {self._key}", "Idempotency-Key": message.message_id}
        handover()
        try:
            response = _post(self.url, resend_payload(message), headers, self.timeout)
        except httpx.TimeoutException as exc:
            # Safe to repeat: Resend answers a repeated key with the first answer, sending nothing.
            raise TransientError(f"Resend did not answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _transport_error("Resend", exc, idempotent=True) from None
        except httpx.HTTPError as exc:  # an answer that could not be read (bad encoding, redirects)
            raise TransientError(f"Resend's answer could not be read ({type(exc).__name__})") from None
        if response.is_success:
            body = _json(response)
            return (str(body["id"]) if isinstance(body, dict) and body.get("id") else None), ()
        body = _json(response)
        error = body if isinstance(body, dict) else {}
        name = str(error.get("name") or "")
        detail = self._clean(str(error.get("message") or response.reason_phrase or ""))
        text = f"Resend refused the report e-mail: {detail} ({name or 'error'}, HTTP {response.status_code})"
        if response.status_code == 429 or response.status_code >= 500 or \
                name == "concurrent_idempotent_requests":
            raise TransientError(text.replace("refused", "could not take"),
                                 retry_after=retry_after(response.headers))
        raise PermanentError(text, hint=_resend_hint(response.status_code, name))

    def _clean(self, text: str) -> str:
        return redact(one_line(text), [self._key])[:_MAX_DETAIL]


class SendGridProvider:
    """POST {sendgrid_url}/v3/mail/send; success is 202 with the id in X-Message-Id."""

    name = "sendgrid"

    def __init__(self, base_url: str, api_key: str, *, timeout: float) -> None:
        self.url = f"{base_url.rstrip('/')}/v3/mail/send"
        self._key = api_key
        self.timeout = timeout

    def __repr__(self) -> str:  # never the key
        return f"SendGridProvider({self.url!r})"

    def send(self, message: OutgoingEmail,
             handover: Callable[[], None] = lambda: None) -> tuple[str | None, tuple[str, ...]]:
        import httpx

        headers = {"Authorization": f"Bearer {self._key}"}
        handover()
        try:
            response = _post(self.url, sendgrid_payload(message), headers, self.timeout)
        except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout) as exc:
            # The request never reached SendGrid whole: nothing can have been sent.
            raise TransientError(f"SendGrid could not be reached in time ({type(exc).__name__})") \
                from None
        except httpx.ReadTimeout:
            raise UnknownOutcomeError(
                "SendGrid did not answer in time after taking the request; the report may have been "
                "sent", hint="Check SendGrid's Activity Feed for the subject before sending it again; "
                             "the report is recorded as uncertain.") from None
        except httpx.TransportError as exc:
            raise _transport_error("SendGrid", exc, idempotent=False) from None
        except httpx.HTTPError as exc:  # the request went out; its answer could not be read
            raise UnknownOutcomeError(f"SendGrid's answer could not be read ({type(exc).__name__}); the "
                                      "report may have been sent",
                                      hint="Check SendGrid's Activity Feed before sending it again.") \
                from None
        if response.is_success:
            return response.headers.get("x-message-id"), ()
        details = [self._clean(str(e.get("message") or "")) + (f" (field {e['field']})" if e.get("field")
                                                              else "")
                   for e in _sendgrid_errors(response)]
        detail = "; ".join(d for d in details if d) or response.reason_phrase
        text = f"SendGrid refused the report e-mail: {detail[:_MAX_DETAIL]} (HTTP {response.status_code})"
        if response.status_code == 429 or response.status_code >= 500:
            wait = (_rate_limit_reset(response) if response.status_code == 429
                    else retry_after(response.headers))
            raise TransientError(text.replace("refused", "could not take"), retry_after=wait)
        raise PermanentError(text, hint=_sendgrid_hint(response.status_code))

    def _clean(self, text: str) -> str:
        return redact(one_line(text), [self._key])


# --- the request bodies -----------------------------------------------------------------------------

def resend_payload(message: OutgoingEmail) -> dict[str, Any]:
    """The JSON Resend's POST /emails takes: from as "Name <address>", inline images as
    attachments with a content_id."""
    payload: dict[str, Any] = {
        "from": display_address(message.sender_name, message.sender_address),
        "to": list(unique_recipients(message)),
        "subject": one_line(message.subject),
        "html": message.html,
        "text": message.text,
        # Our Message-ID under a custom header (Resend writes its own Message-ID); Gmail also
        # reads X-Entity-Ref-ID as "do not thread", so daily reports stay apart.
        "headers": {"X-Entity-Ref-ID": message.message_id},
    }
    if message.reply_to:
        payload["reply_to"] = message.reply_to
    if message.images:
        payload["attachments"] = [{"filename": image.filename, "content": _base64(image.data),
                                   "content_type": image.mime_type, "content_id": image.content_id}
                                  for image in message.images]
    return payload


def sendgrid_payload(message: OutgoingEmail) -> dict[str, Any]:
    """The JSON SendGrid's POST /v3/mail/send takes: text/plain before text/html, images as inline
    attachments, our Message-ID as a header (SendGrid keeps it; it is not a reserved header)."""
    sender: dict[str, str] = {"email": message.sender_address}
    if one_line(message.sender_name):
        sender["name"] = one_line(message.sender_name)
    # SendGrid refuses empty content values; either part may be left out, not both.
    content = [{"type": kind, "value": value}
               for kind, value in (("text/plain", message.text), ("text/html", message.html)) if value]
    payload: dict[str, Any] = {
        "personalizations": [{"to": [{"email": address} for address in unique_recipients(message)]}],
        "from": sender,
        "subject": one_line(message.subject),
        "content": content,
        "headers": {"Message-ID": message.message_id},
    }
    if message.reply_to:
        payload["reply_to"] = {"email": message.reply_to}
    if message.images:
        payload["attachments"] = [{"content": _base64(image.data), "type": image.mime_type,
                                   "filename": image.filename, "disposition": "inline",
                                   "content_id": image.content_id} for image in message.images]
    return payload


def display_address(name: str, address: str) -> str:
    """"Name <address>", the name quoted when it holds specials; non-ASCII stays as it is (JSON
    carries Unicode; the provider encodes the header)."""
    name = one_line(name)
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- HTTP --------------------------------------------------------------------------------------------

def _post(url: str, payload: dict[str, Any], headers: Mapping[str, str], timeout: float) -> httpx.Response:

    with http_client(timeout, follow_redirects=False) as client:
        return client.post(url, content=json.dumps(payload, ensure_ascii=False).encode(),
                           headers={**headers, "Content-Type": "application/json",
                                    "User-Agent": f"datadrip/{__version__}"})


def _transport_error(service: str, exc: httpx.TransportError, *, idempotent: bool) -> Exception:
    """A failed request, by how far it got. The exception's text is left out: it can hold the URL."""
    import httpx

    kind = type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError):
        return PermanentError(f"cannot reach {service} ({kind})",
                              hint=f"Check [email] {service.lower()}_url and any proxy settings.")
    if isinstance(exc, httpx.ConnectError | httpx.WriteError) or idempotent:
        return TransientError(f"the connection to {service} failed ({kind})",
                              hint="Check the network connection, then send the report again.")
    # ReadError, RemoteProtocolError: the request was sent whole and the answer was lost.
    return UnknownOutcomeError(f"the connection to {service} broke before it answered ({kind}); the "
                               "report may have been sent",
                               hint=f"Check {service}'s activity log before sending it again.")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None


def _sendgrid_errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = _json(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _rate_limit_reset(response: httpx.Response) -> float | None:
    """SendGrid's 429: X-RateLimit-Reset is the Unix time the window reopens."""
    told = retry_after(response.headers)
    if told is not None:
        return told
    try:
        reset = float(response.headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - time.time())


def _resend_hint(status: int, name: str) -> str:
    if status in (401, 403) and name in ("missing_api_key", "invalid_api_key", "restricted_api_key"):
        return "Check the secret email.resend_api_key ('datadrip secret set email.resend_api_key')."
    if status == 403:
        return "Resend sends only from a domain verified in its dashboard: check [email] from."
    if name == "invalid_idempotent_request":
        return "A different report was sent with the same Message-ID; build the report again."
    return "Check [email] from, reply_to and the client's recipients."


def _sendgrid_hint(status: int) -> str:
    if status == 401:
        return "Check the secret email.sendgrid_api_key ('datadrip secret set email.sendgrid_api_key')."
    if status == 403:
        return ("The API key lacks the Mail Send permission, or [email] from is not a verified "
                "sender in SendGrid.")
    return "Check [email] from, reply_to and the client's recipients."
