"""What the e-mail delivery tests share: a report e-mail, a real SMTP server (aiosmtpd) that records
what it was sent and fails on cue, a CA of our own for TLS, and providers opened from settings."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from datadrip.reports.delivery.mail import InlineImage, OutgoingEmail

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
SENDER = "reports@spiceroute.example"
WHEN = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
SMTP_USER, SMTP_PASSWORD = "reports@spiceroute.example", "s3cret-smtp-pa55word"


def report_email(**changes: Any) -> OutgoingEmail:
    """A daily report e-mail from Spice Route Media with one inline chart."""
    message = OutgoingEmail(
        sender_name="Spice Route Media", sender_address=SENDER, reply_to="priya@spiceroute.example",
        to=("owner@masala.example", "ops@masala.example"),
        subject="Masala Mornings: daily report for 25 Nov 2026",
        text="Spend ₹12,345.00 (+4%)\nConversions 321\n",
        html='<html><body><h1>Masala Mornings</h1><img src="cid:trend@datadrip" alt="trend"></body></html>',
        images=(InlineImage("trend@datadrip", "trend.png", PNG),),
        message_id="<20261126093000.abc123@spiceroute.example>", date=WHEN)
    return replace(message, **changes)


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def text_of(part: email.message.EmailMessage | None) -> str:
    """A text part's content with LF line ends (MIME carries CRLF; set_content adds a last one)."""
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


class RecordedSleep:
    """A `sleep` for deliver() that returns at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- a real SMTP server ------------------------------------------------------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> email.message.EmailMessage:
        return parse(self.content)


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every message; refuses or delays on cue."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → reply
    busy_rcpt: int = 0  # answer the next n RCPTs with 451
    busy_mail: int = 0  # answer the next n MAIL FROMs with 451
    hang_after_data: float = 0.0  # keep the message, then say nothing for this long
    refuse_data: list[str] = field(default_factory=list)  # answers to the next messages, not taken
    rcpt_seen: int = 0
    # Hold the dialogue at "rcpt" (before the message) or "data" (message kept, reply not yet
    # given): `held` is set when a client gets there, and the server waits for `release`.
    hold_at: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def _hold(self, point: str) -> None:
        if self.hold_at != point:
            return
        self.held.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)

    def let_go(self) -> None:
        """Hold no more, and let a held dialogue go on."""
        self.hold_at = ""
        self.release.set()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if self.busy_mail > 0:
            self.busy_mail -= 1
            return "451 4.3.2 Please try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        self.rcpt_seen += 1
        await self._hold("rcpt")
        if self.busy_rcpt > 0:
            self.busy_rcpt -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data.pop(0)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        await self._hold("data")
        if self.hang_after_data:
            await asyncio.sleep(self.hang_after_data)
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Recorder
    logins: list[tuple[str, str]]


class _Authenticator:
    def __init__(self, logins: list[tuple[str, str]]) -> None:
        self.logins = logins

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        # handled=False: aiosmtpd then answers a failure with its own 535.
        return AuthResult(success=(login, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)


def start_smtp(*, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
               auth: bool = False) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 (a free port) until the generator is closed. `tls` offers
    STARTTLS (or, with implicit_tls, speaks TLS from the start); `auth` wants SMTP_USER's login."""
    from aiosmtpd.controller import Controller

    handler = Recorder()
    logins: list[tuple[str, str]] = []
    port = free_port()
    options: dict[str, Any] = {}
    if auth:
        options.update(authenticator=_Authenticator(logins), auth_require_tls=tls is not None)
    if tls is not None and not implicit_tls:
        options.update(tls_context=tls, require_starttls=False)
    if tls is not None and implicit_tls:
        options.update(ssl_context=tls)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, logins)
    finally:
        controller.stop()


# --- a CA of our own ------------------------------------------------------------------------------

@dataclass(frozen=True)
class OwnCA:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_ca(folder: Path) -> OwnCA:
    """A throw-away CA and a certificate it signed for 127.0.0.1 and localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    # OpenSSL checks the dates against the machine's clock, which a test's pinned clock does not
    # move: valid on any date a suite may run on or pretend to run on.
    since, until = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DataDrip test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(since).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(since).not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return OwnCA(ca_file, cert_file, key_file)


# --- providers from settings, as DataDrip opens them ------------------------------------------------

def open_from_settings(monkeypatch: pytest.MonkeyPatch, **email_settings: Any) -> Any:
    """The sender resolved, then the provider opened, as `report send` does, after setting
    DATADRIP_EMAIL_<KEY> for each keyword (secrets too)."""
    from datadrip.platforms.registry import load_settings
    from datadrip.reports.delivery.providers import open_provider, resolve_sender

    for key, value in email_settings.items():
        monkeypatch.setenv(f"DATADRIP_EMAIL_{key.upper()}", str(value).lower() if isinstance(value, bool)
                           else str(value))
    loaded = load_settings()
    resolve_sender(loaded)
    return open_provider(loaded)
