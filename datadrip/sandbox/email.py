"""The sandbox's e-mail APIs: Resend's POST /emails and SendGrid's POST /v3/mail/send, with faults.

  {base}/email/resend/emails            Resend   ([email] resend_url = {base}/email/resend)
  {base}/email/sendgrid/v3/mail/send    SendGrid ([email] sendgrid_url = {base}/email/sendgrid)
  GET {base}/_sandbox/emails            what they accepted (DELETE forgets it), for tests

Both check the Bearer key against the sandbox's credentials, validate the body as the real APIs
do and answer in their shapes; nothing is sent anywhere. Resend's Idempotency-Key is honoured for
24 hours of the sandbox clock. Facts and sources: docs/api-notes.md, "Resend and SendGrid".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from datadrip.sandbox.state import SandboxContext, SentEmail
from datadrip.sandbox.web import Request, Response, Router

RESEND_MAX_TO = 50
RESEND_MAX_ATTACHMENTS_BYTES = 40 * 1024 * 1024  # after Base64
RESEND_MAX_CONTENT_ID = 127  # "must be less than 128 characters"
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
SENDGRID_MAX_RECIPIENTS = 1000
SENDGRID_RESERVED_HEADERS = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                                       "content-transfer-encoding", "to", "from", "subject", "reply-to",
                                       "cc", "bcc"})
SENDGRID_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message."
SENDGRID_BAD_GRANT = "The provided authorization grant is invalid, expired, or revoked"
_ADDRESS = re.compile(r"[^@\s<>\",;()\[\]\\]+@[^@\s<>\",;()\[\]\\]+\.[^@\s<>\",;()\[\]\\]+")
_NAMED = re.compile(r'\s*(?:"(?:[^"\\\r\n]|\\.)*"|[^<>"\r\n]*?)\s*<(?P<address>[^<>]*)>\s*')
_RESEND_FORMAT = ("The email address needs to follow the `email@example.com` or `Name <email@example.com>` "
                  "format.")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def register(router: Router, sandbox: SandboxContext) -> None:
    def bind(handler: Callable[[Request, SandboxContext], Response]) -> Callable[[Request, Any], Response]:
        return lambda request, _: handler(request, sandbox)

    router.add("POST", r"/email/resend/emails", bind(resend_send))
    router.add("POST", r"/email/sendgrid/v3/mail/send", bind(sendgrid_send))
    router.add("GET", r"/_sandbox/emails", bind(lambda _, box: Response.json(
        [summary(email) for email in list(box.state.emails)])))
    router.add("DELETE", r"/_sandbox/emails", bind(_forget))


def _forget(request: Request, sandbox: SandboxContext) -> Response:
    with sandbox.state.lock:
        sandbox.state.emails.clear()
    return Response.json({"cleared": True})


# --- Resend -----------------------------------------------------------------------------------------

def resend_error(status: int, name: str, message: str,
                 headers: list[tuple[str, str]] | None = None) -> Response:
    """Resend's error body: {"statusCode", "name", "message"}."""
    return Response.json({"statusCode": status, "name": name, "message": message}, status, headers or [])


def resend_rate_headers(remaining: int) -> list[tuple[str, str]]:
    return [("ratelimit-limit", "2"), ("ratelimit-remaining", str(remaining)), ("ratelimit-reset", "1")]


def resend_send(request: Request, sandbox: SandboxContext) -> Response:
    if not request.headers.get("authorization"):
        return resend_error(401, "missing_api_key", "Missing API key in the authorization header")
    if request.bearer() != sandbox.state.credentials.resend_api_key:
        return resend_error(403, "invalid_api_key", "API key is invalid")
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 256:
        return resend_error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
    try:
        body = request.json()
    except ValueError:
        return resend_error(422, "validation_error", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return resend_error(422, "validation_error", "The request body must be a JSON object.")
    problem = resend_problem(body)
    if problem is not None:
        return resend_error(*problem)
    digest = _digest(body)
    state = sandbox.state
    now = state.clock.now()
    with state.lock:
        if key is not None:
            earlier = next((e for e in state.emails if e.provider == "resend" and e.idempotency_key == key
                            and now - e.received_at < IDEMPOTENCY_WINDOW), None)
            if earlier is not None and earlier.body_hash != digest:
                return resend_error(409, "invalid_idempotent_request",
                                    "Same idempotency key used with a different request payload.")
            if earlier is not None:
                earlier.replays += 1
                return Response.json({"id": earlier.id}, 200, resend_rate_headers(1))
        email = SentEmail("resend", str(uuid.uuid4()), body, now, key, digest)
        state.emails.append(email)
    return Response.json({"id": email.id}, 200, resend_rate_headers(1))


def resend_problem(body: dict[str, Any]) -> tuple[int, str, str] | None:
    """The first thing Resend would refuse in this body: (status, name, message)."""
    for field in ("from", "to", "subject"):
        if body.get(field) in (None, "", []):
            return 422, "missing_required_field", f"Missing `{field}` field."
    if not isinstance(body["from"], str) or _mailbox(body["from"]) is None:
        return 422, "validation_error", f"Invalid `from` field. {_RESEND_FORMAT}"
    to = body["to"] if isinstance(body["to"], list) else [body["to"]]
    if not all(isinstance(a, str) and _mailbox(a) is not None for a in to):
        return 422, "validation_error", f"Invalid `to` field. {_RESEND_FORMAT}"
    if len(to) > RESEND_MAX_TO:
        return 422, "validation_error", f"Too many recipients in `to`: {len(to)}, the maximum is 50."
    if not isinstance(body["subject"], str):
        return 422, "validation_error", "The `subject` field must be a string."
    if not any(isinstance(body.get(part), str) for part in ("html", "text")):
        return 422, "validation_error", "Missing `html` or `text` field."
    reply_to = body.get("reply_to")
    if reply_to is not None:
        replies = reply_to if isinstance(reply_to, list) else [reply_to]
        if not all(isinstance(a, str) and _mailbox(a) is not None for a in replies):
            return 422, "validation_error", f"Invalid `reply_to` field. {_RESEND_FORMAT}"
    headers = body.get("headers")
    if headers is not None and (not isinstance(headers, dict) or
                                not all(isinstance(v, str) for v in headers.values())):
        return 422, "validation_error", "The `headers` field must be an object of strings."
    return _resend_attachment_problem(body.get("attachments"))


def _resend_attachment_problem(attachments: Any) -> tuple[int, str, str] | None:
    if attachments is None:
        return None
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        return 422, "validation_error", "The `attachments` field must be an array of objects."
    size = 0
    for attachment in attachments:
        content, path = attachment.get("content"), attachment.get("path")
        if not content and not path:
            return 422, "invalid_attachment", "Attachment must have either a `content` or `path`."
        if content is not None and (not isinstance(content, str) or _decoded(content) is None):
            return 422, "invalid_attachment", "Attachment `content` must be a Base64 string."
        content_id = attachment.get("content_id")
        if content_id is not None and (not isinstance(content_id, str) or
                                       not 0 < len(content_id) <= RESEND_MAX_CONTENT_ID):
            return 422, "validation_error", "The `content_id` must be a string of less than 128 characters."
        size += len(content or "")
    if size > RESEND_MAX_ATTACHMENTS_BYTES:
        return 422, "validation_error", "Attachments exceed 40MB per email (after Base64 encoding)."
    return None


def resend_fault(kind: str, request: Request, sandbox: SandboxContext) -> Response:
    """Resend's own answer for a fault of this kind."""
    if kind == "rate_limit":
        return resend_error(429, "rate_limit_exceeded",
                            "Too many requests. Please limit the number of requests per second. Or "
                            "contact support to increase rate limit.",
                            [("retry-after", "1"), *resend_rate_headers(0)])
    if kind in ("expired_token", "revoked_token"):  # an API key does not expire; a deleted one is wrong
        return resend_error(403, "invalid_api_key", "API key is invalid")
    if kind == "permission":
        sender = _mailbox(str(_body_field(request, "from") or "")) or "reports@agency.example"
        domain = sender.rpartition("@")[2]
        return resend_error(403, "validation_error",
                            f"The {domain} domain is not verified. Please, add and verify your domain.")
    if kind == "unavailable":
        return resend_error(503, "application_error", "Service unavailable. Please try again later.")
    return resend_error(500, "internal_server_error", "An unexpected error occurred.")


# --- SendGrid ---------------------------------------------------------------------------------------

def sendgrid_errors(*errors: tuple[str | None, str], status: int = 400,
                    headers: list[tuple[str, str]] | None = None) -> Response:
    """SendGrid's error body: {"errors": [{"message", "field", "help"}]}."""
    body = [{"message": message, "field": field,
             "help": f"{SENDGRID_HELP}{re.sub(r'[.][0-9]+', '', field)}" if field else None}
            for field, message in errors]
    return Response.json({"errors": body}, status, headers or [])


def sendgrid_send(request: Request, sandbox: SandboxContext) -> Response:
    if not request.headers.get("authorization"):
        return sendgrid_errors((None, "authorization required"), status=401)
    if request.bearer() != sandbox.state.credentials.sendgrid_api_key:
        return sendgrid_errors((None, SENDGRID_BAD_GRANT), status=401)
    try:
        body = request.json()
    except ValueError:
        return sendgrid_errors((None, "Bad Request"))
    if not isinstance(body, dict):
        return sendgrid_errors((None, "Bad Request"))
    problems = sendgrid_problems(body)
    if problems:
        return sendgrid_errors(*problems)
    message_id = secrets.token_urlsafe(16)[:22]
    with sandbox.state.lock:
        sandbox.state.emails.append(SentEmail("sendgrid", message_id, body, sandbox.state.clock.now(),
                                              body_hash=_digest(body)))
    return Response(202, b"", [("X-Message-Id", message_id)])


def sendgrid_problems(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    """Every (field, message) SendGrid would report for this body: it reports as many as it finds."""
    problems: list[tuple[str | None, str]] = []
    problems += _personalization_problems(body.get("personalizations"))
    sender = body.get("from")
    if not isinstance(sender, dict):
        problems.append(("from", "The from object must be provided for every email send. It is an object "
                                 "that requires the email parameter, but may also contain a name "
                                 'parameter.  e.g. {"email" : "example@example.com"}  or {"email" : '
                                 '"example@example.com", "name" : "Example Recipient"}.'))
    elif not _is_address(sender.get("email")):
        problems.append(("from.email", "The from object must at least have an email parameter with a "
                                       "valid email address and may also contain a name parameter. "
                                       'e.g. {"email" : "example@example.com"}  or {"email" : '
                                       '"example@example.com", "name" : "Example Recipient"}'))
    reply_to = body.get("reply_to")
    if reply_to is not None and not (isinstance(reply_to, dict) and _is_address(reply_to.get("email"))):
        problems.append(("reply_to", "The reply_to object, when used, must at least have an email "
                                     "parameter with a valid email address and it may also contain a "
                                     "name parameter."))
    personalizations = body.get("personalizations")
    every_has_subject = isinstance(personalizations, list) and bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations)
    if "subject" not in body and not every_has_subject:
        problems.append(("subject", "The subject is required. You can get around this requirement if you "
                                    "use a template with a subject defined or if every personalization "
                                    "has a subject defined."))
    elif "subject" in body and (not isinstance(body["subject"], str) or not body["subject"]):
        problems.append(("subject", "The subject of your email must be a string at least one character "
                                    "in length."))
    problems += _content_problems(body.get("content"))
    problems += _header_problems(body.get("headers"))
    problems += _sendgrid_attachment_problems(body.get("attachments"))
    return problems


def _personalization_problems(personalizations: Any) -> list[tuple[str | None, str]]:
    if not isinstance(personalizations, list) or not personalizations:
        return [("personalizations", "You must have at least one personalization.")]
    problems: list[tuple[str | None, str]] = []
    seen: set[str] = set()
    total = 0
    for index, personalization in enumerate(personalizations):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            problems.append((f"personalizations.{index}.to",
                             "The to parameter is required for all personalization objects."))
            continue
        for recipient in to:
            address = recipient.get("email") if isinstance(recipient, dict) else None
            if not _is_address(address):
                problems.append((f"personalizations.{index}.to", 'Each "to" object must at least have an '
                                 'email address and may also contain a name. e.g. {"email": '
                                 '"example@example.com"} or {"email": "example@example.com", "name": '
                                 '"Example Recipient"}'))
                continue
            total += 1
            if str(address).lower() in seen:
                problems.append((f"personalizations.{index}.to", "Each unique email address in the "
                                 "personalizations array should only be included once. You have "
                                 f"included {address} more than once."))
            seen.add(str(address).lower())
    if total > SENDGRID_MAX_RECIPIENTS:
        problems.append(("personalizations", "There is a limit of 1000 total recipients (to + cc + bcc) "
                                             "per request."))
    return problems


def _content_problems(content: Any) -> list[tuple[str | None, str]]:
    if content is None:
        return [("content", "The content param is required unless you are using a transactional "
                            "template and have defined a template_ID.")]
    if not isinstance(content, list) or not content:
        return [("content", "There must be at least one defined content block. We typically suggest both "
                            "text/plain and text/html blocks are included, but only one block is "
                            "required.")]
    problems: list[tuple[str | None, str]] = []
    types = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        value = block.get("value") if isinstance(block, dict) else None
        if not isinstance(kind, str) or not kind:
            problems.append((f"content.{index}.type", "A content type is required, this tells email "
                                                      "clients how to display the email."))
        if not isinstance(value, str) or not value:
            problems.append((f"content.{index}.value", "The content value must be a string at least one "
                                                       "character in length."))
        types.append(kind)
    leading = [kind for kind in types if kind in ("text/plain", "text/html")]
    if types[:len(leading)] != leading or leading not in ([], ["text/plain"], ["text/html"],
                                                          ["text/plain", "text/html"]):
        problems.append(("content", "Following RFC 1341, section 7.2, if either text/html or text/plain "
                                    "are to be sent in your email: text/plain needs to be first, "
                                    "followed by text/html, followed by any other content."))
    return problems


def _header_problems(headers: Any) -> list[tuple[str | None, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return [("headers", "The header values must be strings.")]
    problems: list[tuple[str | None, str]] = []
    if any(not k.isascii() or " " in k for k in headers):
        problems.append(("headers", "Header keys cannot contain non-ASCII characters and empty spaces."))
    if any(k.lower() in SENDGRID_RESERVED_HEADERS for k in headers):
        problems.append(("headers", "Header can not be one of the reserved keys."))
    return problems


def _sendgrid_attachment_problems(attachments: Any) -> list[tuple[str | None, str]]:
    if attachments is None:
        return []
    problems: list[tuple[str | None, str]] = []
    for index, attachment in enumerate(attachments if isinstance(attachments, list) else [None]):
        where = f"attachments.{index}"
        if not isinstance(attachment, dict):
            problems.append((where, "Bad Request"))
            continue
        content = attachment.get("content")
        if not isinstance(content, str) or not content:
            problems.append((f"{where}.content", "The attachment content must be a string at least one "
                                                 "character in length."))
        elif _decoded(content) is None:
            problems.append((f"{where}.content", "The attachment content must be base64 encoded."))
        filename = attachment.get("filename")
        if not filename:
            problems.append((f"{where}.filename", "filename is required."))
        elif not isinstance(filename, str) or re.search(r"[;,\r\n]", filename):
            problems.append((f"{where}.filename", "The filename of your attachment cannot contain CRLF "
                                                  "characters."))
        disposition = attachment.get("disposition", "attachment")
        if disposition not in ("inline", "attachment"):
            problems.append((f"{where}.disposition", 'The disposition of your attachment can be either '
                             f'"inline" or "attachment". You provided {disposition}.'))
        content_id = attachment.get("content_id")
        if content_id is not None and (not isinstance(content_id, str) or re.search(r"[;,\r\n]", content_id)):
            problems.append((f"{where}.content_id", "The content ID of your attachment cannot contain CRLF "
                                                    "characters."))
        elif disposition == "inline" and not content_id:
            # Our choice (see api-notes): an inline part nobody can reference is a sure mistake.
            problems.append((f"{where}.content_id", "An inline attachment needs a content_id for the HTML "
                                                    "to reference it as cid:."))
    return problems


def sendgrid_fault(kind: str, request: Request, sandbox: SandboxContext) -> Response:
    """SendGrid's own answer for a fault of this kind."""
    if kind == "rate_limit":
        # The reset is a Unix time on the real clock: that is the clock the client compares it with.
        return sendgrid_errors((None, "too many requests"), status=429, headers=[
            ("X-RateLimit-Limit", "600"), ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", str(int(time.time()) + 1))])
    if kind in ("expired_token", "revoked_token"):
        return sendgrid_errors((None, SENDGRID_BAD_GRANT), status=401)
    if kind == "permission":
        return sendgrid_errors((None, "access forbidden"), status=403)
    if kind == "unavailable":
        return sendgrid_errors((None, "Service Unavailable"), status=503)
    return sendgrid_errors((None, "Internal Server Error"), status=500)


# --- what tests read at GET /_sandbox/emails --------------------------------------------------------

def summary(email: SentEmail) -> dict[str, Any]:
    """One accepted message, the same fields for both providers."""
    body = email.payload
    if email.provider == "resend":
        to = body["to"] if isinstance(body["to"], list) else [body["to"]]
        sender, reply_to = body["from"], body.get("reply_to")
        has_html, has_text = isinstance(body.get("html"), str), isinstance(body.get("text"), str)
        attachments = [{"filename": a.get("filename"), "content_id": a.get("content_id"),
                        "content_type": a.get("content_type"), "size": len(_decoded(a.get("content") or "")
                                                                         or b"")}
                       for a in body.get("attachments") or []]
    else:
        to = [r["email"] for p in body["personalizations"] for r in p["to"]]
        name = body["from"].get("name")
        sender = f"{name} <{body['from']['email']}>" if name else body["from"]["email"]
        reply_to = (body.get("reply_to") or {}).get("email")
        kinds = [block["type"] for block in body["content"]]
        has_html, has_text = "text/html" in kinds, "text/plain" in kinds
        attachments = [{"filename": a.get("filename"), "content_id": a.get("content_id"),
                        "content_type": a.get("type"), "disposition": a.get("disposition", "attachment"),
                        "size": len(_decoded(a["content"]) or b"")} for a in body.get("attachments") or []]
    return {"provider": email.provider, "id": email.id, "from": sender, "to": to,
            "subject": body.get("subject"), "reply_to": reply_to, "has_html": has_html,
            "has_text": has_text, "headers": body.get("headers") or {}, "attachments": attachments,
            "idempotency_key": email.idempotency_key, "replays": email.replays,
            "received_at": email.received_at.isoformat()}


# --- helpers ----------------------------------------------------------------------------------------

def _mailbox(text: str) -> str | None:
    """The address in "a@b.example" or "Name <a@b.example>", if it is one."""
    named = _NAMED.fullmatch(text)
    address = named.group("address") if named else text.strip()
    return address if _is_address(address) else None


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 320 and _ADDRESS.fullmatch(value) is not None


def _decoded(content: str) -> bytes | None:
    compact = re.sub(r"\s+", "", content)
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error:
        return None


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _body_field(request: Request, name: str) -> Any:
    try:
        body = request.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None
