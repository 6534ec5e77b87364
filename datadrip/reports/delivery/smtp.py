"""The SMTP provider: the dialogue driven step by step, so a failure is known to come before the
message body was sent (safe to retry) or after it (the server may have accepted it)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from datadrip.reports.delivery.base import PermanentError, TransientError, UnknownOutcomeError, is_loopback
from datadrip.reports.delivery.mail import OutgoingEmail, build_mime, one_line, unique_recipients
from datadrip.secrets.store import redact

if TYPE_CHECKING:
    import smtplib

T = TypeVar("T")
ACCEPTED_RCPT = (250, 251)
_AUTH_HINT = ("Check [email] smtp_username and the secret email.smtp_password "
              "('datadrip secret set email.smtp_password').")


class SmtpProvider:
    """One connection per message: EHLO, STARTTLS (or TLS from the start), AUTH, MAIL, RCPT…,
    DATA. A 4xx reply or a dropped connection before the body is sent is transient; a 5xx reply is
    permanent, except that recipients refused with 5xx while others are accepted are reported in
    `refused` and the rest get the message; losing the connection after the body was sent is an
    unknown outcome."""

    name = "smtp"

    def __init__(self, host: str, port: int, *, ssl: bool, starttls: bool, username: str | None,
                 password: str | None, timeout: float) -> None:
        self.host = host
        self.port = port
        self.ssl = ssl
        self.starttls = starttls and not ssl
        self.username = username
        self._password = password
        self.timeout = timeout
        self.server = f"the SMTP server {host}:{port}"

    def __repr__(self) -> str:  # never the password
        return f"SmtpProvider({self.host!r}, {self.port}, user={self.username!r})"

    def send(self, message: OutgoingEmail,
             handover: Callable[[], None] = lambda: None) -> tuple[str | None, tuple[str, ...]]:
        body = _dot_stuffed(build_mime(message).as_bytes())
        connection = self._connect()
        try:
            self._greet(connection)
            self._login(connection)
            refused = self._envelope(connection, message)
            self._data(connection, body, handover)
        finally:
            _close(connection)
        return None, refused

    # --- the dialogue, step by step -----------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        try:
            if self.ssl:
                return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            return smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except smtplib.SMTPConnectError as exc:
            raise self._refusal("greeted us with", exc.smtp_code, exc.smtp_error) from None
        except ssl.SSLError as exc:
            raise self._tls_failure("TLS", exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"cannot connect to {self.server} ({_why(exc)})",
                                 hint="Check [email] smtp_host and smtp_port, and that the server "
                                      "is up.") from None

    def _greet(self, connection: smtplib.SMTP) -> None:
        import smtplib
        import ssl

        self._step(connection.ehlo_or_helo_if_needed, "EHLO")
        if not self.starttls:
            return
        if not connection.has_extn("starttls"):
            # Going on without TLS would send the login and the report in clear.
            raise PermanentError(f"{self.server} does not offer STARTTLS, and [email] smtp_starttls "
                                 "is on: nothing was sent",
                                 hint="Use the server's TLS port (465 with smtp_ssl = true); turn "
                                      "smtp_starttls off only for a server on this machine.")
        try:
            # The stdlib forgets what the server offered in clear (RFC 3207); EHLO asks again.
            connection.starttls(context=ssl.create_default_context())
        except smtplib.SMTPResponseException as exc:
            raise self._refusal("refused STARTTLS with", exc.smtp_code, exc.smtp_error) from None
        except ssl.SSLError as exc:
            raise self._tls_failure("STARTTLS", exc) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransientError(f"{self.server} dropped the connection at STARTTLS ({_why(exc)})") \
                from None
        self._step(connection.ehlo, "EHLO")

    def _login(self, connection: smtplib.SMTP) -> None:
        import smtplib

        if not self.username:
            return
        if not (self.ssl or self.starttls or is_loopback(self.host)):
            raise PermanentError(f"refusing to send the SMTP password to {self.server} unencrypted",
                                 hint="Set [email] smtp_starttls = true or smtp_ssl = true.")
        if not connection.has_extn("auth"):
            raise PermanentError(f"{self.server} does not offer AUTH, but [email] smtp_username is set",
                                 hint="Leave smtp_username empty if the server needs no login.")
        try:
            connection.login(self.username, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:
                raise TransientError(self._said("could not check the login", exc.smtp_code,
                                                exc.smtp_error)) from None
            raise PermanentError(self._said("refused the login", exc.smtp_code, exc.smtp_error),
                                 hint=_AUTH_HINT) from None
        except smtplib.SMTPResponseException as exc:
            raise self._refusal("refused the login with", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientError(f"{self.server} dropped the connection at AUTH ({_why(exc)})") \
                from None
        except smtplib.SMTPException as exc:  # no AUTH method both sides know
            raise PermanentError(f"cannot log in to {self.server}: {exc}", hint=_AUTH_HINT) from None

    def _envelope(self, connection: smtplib.SMTP, message: OutgoingEmail) -> tuple[str, ...]:
        code, reply = self._step(partial(connection.mail, message.sender_address), "MAIL FROM")
        if code != 250:
            raise self._refusal("refused the sender with", code, reply)
        refused: list[tuple[str, int, bytes]] = []
        recipients = unique_recipients(message)
        for address in recipients:
            code, reply = self._step(partial(connection.rcpt, address), "RCPT TO")
            if 400 <= code < 500:
                # A recipient put off for now: stop before DATA and try the whole message again
                # later, so that everyone gets it once, together.
                raise self._refusal(f"put off the recipient {address} with", code, reply)
            if code not in ACCEPTED_RCPT:
                refused.append((address, code, reply))
        if len(refused) == len(recipients):
            first, code, reply = refused[0]
            raise self._refusal(f"refused every recipient ({first}) with", code, reply)
        return tuple(address for address, _, _ in refused)

    def _data(self, connection: smtplib.SMTP, body: bytes, handover: Callable[[], None]) -> None:
        import smtplib

        connection.putcmd("data")
        code, reply = self._step(connection.getreply, "DATA")
        if code != 354:
            raise self._refusal("refused DATA with", code, reply)
        handover()  # up to here the server cannot have the message; from here it may
        try:
            connection.send(body)
        except smtplib.SMTPServerDisconnected as exc:
            # The final "." never left: the server cannot have taken the message.
            raise TransientError(f"{self.server} dropped the connection while the message was being "
                                 f"sent ({_why(exc)})") from None
        try:
            code, reply = connection.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            raise UnknownOutcomeError(
                f"{self.server} took the whole message but did not answer ({_why(exc)}); it may "
                "have been delivered", hint="Ask a recipient whether it arrived before sending it "
                                            "again; the report is recorded as uncertain.") from None
        if code != 250:
            raise self._refusal("did not accept the message:", code, reply)

    # --- replies and errors ---------------------------------------------------------------------

    def _step(self, call: Callable[[], T], command: str) -> T:
        """Run one command; a dropped connection before DATA is transient (nothing was sent)."""
        import smtplib

        try:
            return call()
        except smtplib.SMTPResponseException as exc:
            raise self._refusal(f"answered {command} with", exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransientError(f"{self.server} dropped the connection at {command} ({_why(exc)})") \
                from None

    def _tls_failure(self, what: str, exc: BaseException) -> PermanentError:
        """An untrusted certificate or a failed handshake: retrying would not help."""
        import ssl

        if isinstance(exc, ssl.SSLCertVerificationError):
            return PermanentError(f"the certificate of {self.server} is not trusted "
                                  f"({exc.verify_message})", hint=_tls_hint(self.port))
        reason = getattr(exc, "reason", None) or exc
        return PermanentError(f"{what} with {self.server} failed ({reason})", hint=_tls_hint(self.port))

    def _refusal(self, what: str, code: int, reply: bytes | str) -> TransientError | PermanentError:
        text = self._said(what, code, reply)
        if 400 <= code < 500:
            return TransientError(text)
        return PermanentError(text, hint=_AUTH_HINT if code in (530, 535) else
                              "Check the recipients and [email] from; the server's answer says why.")

    def _said(self, what: str, code: int, reply: bytes | str) -> str:
        answer = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        answer = one_line(answer)[:200]
        if self._password:  # a server may echo what it was sent
            encoded = base64.b64encode(self._password.encode()).decode()
            answer = redact(answer, [self._password, encoded])
        return f"{self.server} {what} {code} {answer}".rstrip()


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: CRLF line ends, a leading "." doubled (RFC 5321 4.5.2), and the final
    CRLF "." CRLF."""
    lines = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    stuffed = re.sub(rb"(?m)^\.", b"..", lines)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _close(connection: smtplib.SMTP) -> None:
    import smtplib

    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()  # the message is already settled; a rude goodbye changes nothing


def _why(exc: BaseException) -> str:
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _tls_hint(port: int) -> str:
    if port == 465:
        return "Port 465 speaks TLS from the start (smtp_ssl = true); check the server's certificate."
    return ("Port 587 upgrades with STARTTLS (smtp_starttls = true, smtp_ssl = false); 465 uses "
            "smtp_ssl = true. Check the server's certificate and the system's CA certificates.")
