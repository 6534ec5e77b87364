"""The provider `[email] provider` names, opened and checked, and the From and Reply-To it sends
with: above base and the providers, so that they never import each other in a circle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datadrip.core import validate
from datadrip.core.errors import ConfigError, UsageError
from datadrip.reports.delivery.base import OUTBOX_SENDER, Provider, is_loopback
from datadrip.reports.delivery.http import ResendProvider, SendGridProvider
from datadrip.reports.delivery.outbox import OutboxProvider
from datadrip.reports.delivery.smtp import SmtpProvider
from datadrip.secrets.store import resolve_secret

if TYPE_CHECKING:
    from datadrip.core.config import EmailSettings, Loaded


def open_provider(loaded: Loaded, *, env: Mapping[str, str] | None = None) -> Provider:
    """The provider `[email] provider` names, checked: ConfigError (exit 2) names the setting or the
    secret that is missing or wrong. Reads secrets (from env first, then the secret store)."""
    settings = loaded.settings.email
    timeout = float(settings.timeout_seconds)
    if settings.provider == "outbox":
        return OutboxProvider(outbox_folder(loaded))
    if settings.provider == "smtp":
        host = settings.smtp_host.strip()
        if not host:
            raise ConfigError("[email] smtp_host is empty", hint="Set it to your SMTP server, e.g. "
                              'smtp_host = "smtp.example.com" (DATADRIP_EMAIL_SMTP_HOST).')
        password = None
        if settings.smtp_username:
            password = resolve_secret(loaded, "email.smtp_password", env=env)
            if not password:
                raise ConfigError(f"[email] smtp_username is {settings.smtp_username!r} but the secret "
                                  "email.smtp_password is not set",
                                  hint="Run 'datadrip secret set email.smtp_password' (or set "
                                       "DATADRIP_EMAIL_SMTP_PASSWORD).")
            if not settings.smtp_ssl and not settings.smtp_starttls and not is_loopback(host):
                raise ConfigError(f"[email] would send the SMTP password to {host} unencrypted",
                                  hint="Set smtp_starttls = true (port 587) or smtp_ssl = true "
                                       "(port 465); only a server on this machine may go without.")
        return SmtpProvider(host, settings.smtp_port, ssl=settings.smtp_ssl,
                            starttls=settings.smtp_starttls and not settings.smtp_ssl,
                            username=settings.smtp_username or None, password=password,
                            timeout=timeout)
    secret = f"email.{settings.provider}_api_key"
    key = resolve_secret(loaded, secret, env=env)
    if not key:
        raise ConfigError(f"[email] provider is {settings.provider!r} but the secret {secret} is not set",
                          hint=f"Run 'datadrip secret set {secret}' (or set "
                               f"DATADRIP_EMAIL_{settings.provider.upper()}_API_KEY).")
    if settings.provider == "resend":
        return ResendProvider(_api_url(settings, "resend_url"), key, timeout=timeout)
    return SendGridProvider(_api_url(settings, "sendgrid_url"), key, timeout=timeout)


def outbox_folder(loaded: Loaded) -> Path:
    """`[email] outbox_dir` (relative to the config file when set there), else "outbox" in the
    data folder."""
    configured = loaded.settings.email.outbox_dir.strip()
    if not configured:
        return loaded.paths.data_dir / "outbox"
    folder = Path(configured).expanduser()
    if not folder.is_absolute() and loaded.sources.get("email.outbox_dir") == "file":
        folder = loaded.paths.config_file.parent / folder
    return folder


@dataclass(frozen=True)
class Sender:
    """Whom a send's e-mails come from: [email] from and reply_to, checked. Resolved once per
    send (`resolve_sender`) and handed down to every message of it."""

    address: validate.EmailAddress
    reply_to: validate.EmailAddress | None  # None: replies go to From


def resolve_sender(loaded: Loaded) -> Sender:
    """[email] from and reply_to, checked: ConfigError (exit 2) for an address that is not one,
    or an empty from with any provider but the outbox (which writes OUTBOX_SENDER)."""
    settings = loaded.settings.email
    if settings.sender.strip():
        address = _configured_address(settings.sender, "from")
    elif settings.provider == "outbox":
        address = validate.EmailAddress(OUTBOX_SENDER)
    else:
        raise ConfigError(f"[email] from is empty: the {settings.provider} provider needs a sender "
                          "address", hint='Set from = "reports@your-agency.example" under [email] in '
                                          "datadrip.toml (or DATADRIP_EMAIL_FROM).")
    reply_to = settings.reply_to
    return Sender(address, _configured_address(reply_to, "reply_to") if reply_to.strip() else None)


def _configured_address(value: str, key: str) -> validate.EmailAddress:
    try:
        return validate.email(value, what=f"[email] {key}")
    except UsageError as exc:
        raise ConfigError(exc.message, hint=f"Set [email] {key} to one bare address, such as "
                                            "reports@your-agency.example.") from None


def _api_url(settings: EmailSettings, key: str) -> str:
    from urllib.parse import urlsplit

    url = str(getattr(settings, key)).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"[email] {key} {url!r} is not an http(s) URL",
                          hint=f"Leave {key} unset for the provider's own address.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"[email] {key} would send the API key to {parts.hostname} unencrypted",
                          hint=f"Use an https:// address for {key} (plain http only for this machine).")
    return url
