"""A report e-mail: the message every provider sends, and its MIME form."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datadrip.core.errors import UsageError
from datadrip.core.validate import EmailAddress

if TYPE_CHECKING:
    import email.message

# C0 and C1 controls (CR, LF, NEL, TAB…) and the Unicode line and paragraph separators: anything a
# header folder or a mail client might read as the end of a line. Agency and client names come
# from people, so they are collapsed to one space before they reach a header.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# The domain of a Message-ID (addresses themselves are checked by core.validate.email).
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_MESSAGE_ID = re.compile(rf"<[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]+@{_DOMAIN}>")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,127}")
FALLBACK_ID_DOMAIN = "datadrip.invalid"


@dataclass(frozen=True)
class InlineImage:
    """A picture the HTML shows in place, as `<img src="cid:{content_id}">`."""

    content_id: str  # without angle brackets, e.g. "trend@datadrip"
    filename: str  # "trend.png"
    data: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True)
class OutgoingEmail:
    """One report e-mail, the same for every provider and every attempt."""

    sender_name: str  # display name: the agency's name (may hold non-ASCII, quotes, even newlines)
    # Addresses come checked (core.validate.email, where they entered), so nothing here checks
    # them again.
    sender_address: EmailAddress
    reply_to: EmailAddress | None
    to: tuple[EmailAddress, ...]
    subject: str  # may hold non-ASCII or newlines (from client names): never a header injection
    text: str  # plain-text alternative
    html: str  # references images as src="cid:<content_id>"
    images: tuple[InlineImage, ...]
    message_id: str  # "<…@domain>", made once before the first attempt and reused by every retry
    date: dt.datetime  # aware


def one_line(text: str) -> str:
    """`text` for a header: every run of control characters (CR, LF, TAB…) becomes one space."""
    return _CONTROLS.sub(" ", text).strip()


def new_message_id(sender_address: str) -> str:
    """A fresh Message-ID, "<random@domain-of-sender>" (a reserved domain if the sender has none)."""
    domain = sender_address.strip().rpartition("@")[2].lower()
    if not re.fullmatch(_DOMAIN, domain):
        domain = FALLBACK_ID_DOMAIN
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    return f"<{stamp}.{secrets.token_hex(12)}@{domain}>"


def unique_recipients(message: OutgoingEmail) -> tuple[EmailAddress, ...]:
    """The `to` addresses, each once (the first spelling wins; case is ignored)."""
    seen: set[str] = set()
    unique = []
    for address in message.to:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return tuple(unique)


def check_message(message: OutgoingEmail) -> None:
    """Everything a provider relies on besides the addresses (checked where they entered): at
    least one recipient, an aware date, a well-formed Message-ID and content ids. UsageError for
    what people typed, ValueError for what our own code got wrong. `deliver` checks each message
    once, before its first attempt."""
    if not message.to:
        raise UsageError("the report e-mail has no recipient",
                         hint="Add one with 'datadrip client edit CLIENT --recipients ADDRESS'.")
    if message.date.tzinfo is None or message.date.utcoffset() is None:
        raise ValueError("OutgoingEmail.date must be timezone-aware")
    if not _MESSAGE_ID.fullmatch(message.message_id):
        raise ValueError(f"OutgoingEmail.message_id {message.message_id!r} is not <local@domain>")
    ids = [image.content_id for image in message.images]
    if len(set(ids)) != len(ids) or not all(_CONTENT_ID.fullmatch(cid) for cid in ids):
        raise ValueError(f"inline image content ids must be unique and plain (no <>): {ids!r}")
    for image in message.images:
        maintype, _, subtype = image.mime_type.partition("/")
        if not maintype or not subtype or one_line(image.filename) != image.filename:
            raise ValueError(f"inline image {image.content_id!r}: bad type or file name")


def build_mime(message: OutgoingEmail) -> email.message.EmailMessage:
    """The message in MIME: multipart/alternative of text/plain, then multipart/related (text/html
    and each image, inline, with its Content-ID). Headers are RFC 2047 encoded where needed and
    never hold a line break (policy SMTP: CRLF line ends)."""
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.policy import SMTP

    mime = EmailMessage(policy=SMTP)
    mime["From"] = Address(display_name=one_line(message.sender_name), addr_spec=message.sender_address)
    mime["To"] = [Address(addr_spec=address) for address in unique_recipients(message)]
    if message.reply_to:
        mime["Reply-To"] = Address(addr_spec=message.reply_to)
    mime["Subject"] = one_line(message.subject)
    mime["Date"] = message.date
    mime["Message-ID"] = message.message_id
    # Quoted-printable keeps the body 7-bit and its lines short whatever the text holds (inlined
    # CSS makes very long HTML lines), so no relay needs 8BITMIME.
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = mime.get_body(("html",))
    assert html_part is not None  # added just above
    for image in message.images:
        maintype, _, subtype = image.mime_type.partition("/")
        html_part.add_related(image.data, maintype, subtype, cid=f"<{image.content_id}>",
                              filename=image.filename, disposition="inline")
    for part in mime.walk():
        if part is not mime:
            del part["MIME-Version"]  # the stdlib repeats it on parts; it belongs to the top only
    return mime
