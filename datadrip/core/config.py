"""Settings: defaults < datadrip.toml < DATADRIP_* environment < flags, read once into a frozen object."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datadrip.core.errors import ConfigError

CONFIG_FILENAME = "datadrip.toml"
WORKBOOK_FILENAME = "workbook.db"
ENV_PREFIX = "DATADRIP_"
# DATADRIP_* variables that are not settings.
RESERVED_ENV = {"DATADRIP_HOME", "DATADRIP_CONFIG", "DATADRIP_DEBUG", "DATADRIP_SECRET_KEY"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkbookSettings(_Section):
    url: str = Field("", description="SQLAlchemy URL or file path of the workbook; empty: "
                     "workbook.db in the data folder. PostgreSQL: postgresql+psycopg://user@host/db")
    busy_timeout_seconds: int = Field(15, ge=0, le=3600, description="How long a command waits "
                                      "for another process's write to a SQLite workbook to end "
                                      "before it fails saying the workbook is busy")


class UserSettings(_Section):
    email: str = Field("", description="Who you are in the audit log; empty: your OS user name")


class MetaSettings(_Section):
    graph_url: str = Field("https://graph.facebook.com", description="Graph API base URL")
    dialog_url: str = Field("https://www.facebook.com", description="Login dialog base URL")
    api_version: str = Field("v26.0", description="Marketing API version")
    app_id: str = Field("", description="Your Meta app's ID (the app secret is the secret "
                        "meta.app_secret)")
    redirect_port: int = Field(8765, ge=1, le=65535, description="Loopback port of the login "
                               "redirect http://localhost:PORT/callback; the app must list it")
    lookback_days: int = Field(28, ge=0, le=400, description="Days re-read on every sync, since "
                               "conversions are restated (Meta calls them stable after 28)")


class GoogleSettings(_Section):
    api_url: str = Field("https://googleads.googleapis.com", description="Google Ads REST base URL")
    auth_url: str = Field("https://accounts.google.com/o/oauth2/v2/auth",
                          description="OAuth consent page")
    token_url: str = Field("https://oauth2.googleapis.com/token", description="OAuth token endpoint")
    revoke_url: str = Field("https://oauth2.googleapis.com/revoke",
                            description="OAuth token revocation endpoint")
    api_version: str = Field("v26", description="Google Ads API version")
    client_id: str = Field("", description="OAuth client ID of a Desktop-app client (the secret "
                           "is the secret google.client_secret)")
    lookback_days: int = Field(30, ge=0, le=400, description="Days re-read on every sync, since "
                               "conversions keep arriving for the conversion window (30 by default)")


class EmailSettings(_Section):
    provider: Literal["outbox", "smtp", "resend", "sendgrid"] = Field(
        "outbox", description="How reports are sent: outbox (.eml files in outbox_dir, nothing "
        "leaves the machine), smtp, resend or sendgrid")
    sender: str = Field("", alias="from", description="From address, e.g. reports@agency.example; "
                        "the agency's name is shown with it")
    reply_to: str = Field("", description="Reply-To address; empty: replies go to From")
    outbox_dir: str = Field("", description="Folder of the outbox provider's .eml files; empty: "
                            "outbox in the data folder")
    smtp_host: str = Field("localhost", description="SMTP server")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS "
                                "(port 587)")
    smtp_ssl: bool = Field(False, description="Connect to SMTP over TLS from the start (port 465)")
    smtp_username: str = Field("", description="SMTP login; empty: no login (the password is "
                               "the secret email.smtp_password)")
    resend_url: str = Field("https://api.resend.com", description="Resend API base URL")
    sendgrid_url: str = Field("https://api.sendgrid.com", description="SendGrid API base URL")
    timeout_seconds: int = Field(30, ge=1, le=600, description="How long one delivery attempt "
                                 "may take")
    attempts: int = Field(3, ge=1, le=10, description="Tries per report when the provider fails "
                          "for a passing reason (busy, down, rate limited)")


class ReportsSettings(_Section):
    template_dir: str = Field("", description="Folder of your own templates; a file there "
                              "(report.html.j2, report.txt.j2, report.md.j2) replaces ours")
    send_empty: bool = Field(False, description="E-mail a report with nothing in it (a client with "
                             "no accounts, or no data for the period); else it is skipped, and why "
                             "is recorded (failed, when an account has not synced that far)")


class AiSettings(_Section):
    base_url: str = Field("https://api.openai.com/v1",
                          description="Any OpenAI-compatible server (Ollama, vLLM, llama.cpp)")
    model: str = Field("gpt-4o-mini", description="Model for suggestions")
    engine: Literal["auto", "heuristic", "llm"] = Field(
        "auto", description="Which engine `insight generate` uses: auto (the model when a key is "
        "set or base_url is not OpenAI's, else the heuristics), heuristic (no network) or llm")
    max_budget_change_pct: int = Field(20, ge=1, le=100, description="The largest budget change "
                                       "a suggestion may make, in percent up or down")
    max_suggestions: int = Field(5, ge=1, le=20, description="Suggestions kept per client and run")
    daily_request_limit: int = Field(50, ge=0, description="Model requests per agency per day; "
                                     "0 stops model calls")
    daily_token_limit: int = Field(200_000, ge=0, description="Tokens (prompt + answer) per agency "
                                   "per day")
    timeout_seconds: int = Field(60, ge=1, le=600, description="How long one model request may take")
    attempts: int = Field(2, ge=1, le=10, description="Tries per request when the server is busy "
                          "or rate limited")
    input_usd_per_million: Decimal = Field(Decimal("0.15"), ge=0, description="Price of a million "
                                           "prompt tokens, for the cost estimate in llm_usage")
    output_usd_per_million: Decimal = Field(Decimal("0.60"), ge=0, description="Price of a "
                                            "million answer tokens")


class AuthSettings(_Section):
    login_timeout_seconds: int = Field(300, ge=1, description="How long a browser login waits "
                                       "for the consent page to be answered")


class SecretsSettings(_Section):
    backend: Literal["auto", "keyring", "file"] = Field(
        "auto", description="Where secrets are kept: auto (the OS keyring when usable, else an "
        "encrypted file in the data folder), keyring or file")


class SyncSettings(_Section):
    initial_days: int = Field(90, ge=1, le=1125, description="Days pulled on an account's first "
                              "sync (platforms keep about 37 months)")
    concurrency: int = Field(4, ge=1, le=32, description="Accounts synced at the same time")
    chunk_days: int = Field(14, ge=1, le=92, description="Days fetched and saved together; a "
                            "crash loses at most one chunk, never half of one")
    max_retry_seconds: int = Field(900, ge=0, description="Longest a request may keep retrying "
                                   "and waiting for rate limits before its account fails")
    max_wait_seconds: int = Field(900, ge=0, description="Longest single wait a platform may ask "
                                  "for (a rate limit); a longer one fails the account at once, "
                                  "saying when it may resume, and the others go on")


class ScheduleSettings(_Section):
    refresh_tokens: str = Field("0 */6 * * *", description="When the daemon checks and renews "
                                "logins (cron, in each agency's timezone; empty: never)")
    sync: str = Field("30 5 * * *", description="When the daemon syncs each agency's clients")
    reports: str = Field("0 7 * * *", description="When the daemon sends the daily reports")
    weekly_reports: str = Field("0 7 * * 1", description="When the daemon sends last week's "
                                "reports; empty: no weekly reports")
    report_deadline: str = Field("10:00", description="Local time after which a client's report "
                                 "is sent even though its sync did not succeed that day")
    misfire_grace_minutes: int = Field(1440, ge=2, le=10080, description="How late a missed run "
                                       "may still be caught up (once) when the daemon starts")

    @field_validator("refresh_tokens", "sync", "reports", "weekly_reports")
    @classmethod
    def _cron(cls, value: str) -> str:
        from datadrip.core.cron import parse_cron

        if value.strip():
            parse_cron(value)
        return value

    @field_validator("report_deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        from datadrip.core.cron import parse_deadline

        parse_deadline(value)
        return value


class SqlSettings(_Section):
    timeout_seconds: float = Field(30.0, gt=0, le=86400, description="Longest a `datadrip sql` "
                                   "query may run before it is stopped")


class Settings(_Section):
    workbook: WorkbookSettings = WorkbookSettings()
    user: UserSettings = UserSettings()
    meta: MetaSettings = MetaSettings()
    google: GoogleSettings = GoogleSettings()
    email: EmailSettings = EmailSettings()
    reports: ReportsSettings = ReportsSettings()
    ai: AiSettings = AiSettings()
    auth: AuthSettings = AuthSettings()
    secrets: SecretsSettings = SecretsSettings()
    sync: SyncSettings = SyncSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    sql: SqlSettings = SqlSettings()


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in Settings.model_fields.items()
}

# Secrets are never read from the file: only from the environment, then the secret store.
SECRETS: dict[str, tuple[str, ...]] = {
    "meta.app_secret": ("DATADRIP_META_APP_SECRET",),
    "google.client_secret": ("DATADRIP_GOOGLE_CLIENT_SECRET",),
    "google.developer_token": ("DATADRIP_GOOGLE_DEVELOPER_TOKEN",),
    "email.smtp_password": ("DATADRIP_EMAIL_SMTP_PASSWORD",),
    "email.resend_api_key": ("DATADRIP_EMAIL_RESEND_API_KEY", "RESEND_API_KEY"),
    "email.sendgrid_api_key": ("DATADRIP_EMAIL_SENDGRID_API_KEY", "SENDGRID_API_KEY"),
    "ai.api_key": ("DATADRIP_AI_API_KEY", "OPENAI_API_KEY"),
}
_SECRET_ENV = {name for names in SECRETS.values() for name in names}


def section_keys(model: type[_Section]) -> dict[str, str]:
    """A section's keys as written in the file (`from`) and the attributes holding them (`sender`)."""
    return {info.alias or name: name for name, info in model.model_fields.items()}


@dataclass(frozen=True)
class Paths:
    """Where DataDrip keeps things. DATADRIP_HOME puts them all in one folder."""

    config_file: Path
    data_dir: Path

    @property
    def default_workbook(self) -> Path:
        return self.data_dir / WORKBOOK_FILENAME


@dataclass(frozen=True)
class Loaded:
    """The effective settings and where each value came from (default, file, env)."""

    settings: Settings
    paths: Paths
    config_file_found: bool
    sources: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str | None] = field(default_factory=dict)

    @property
    def workbook_target(self) -> str:
        """The workbook as a SQLAlchemy URL, or a file path for SQLite."""
        url = self.settings.workbook.url
        if not url:
            return str(self.paths.default_workbook)
        if "://" in url:
            return url
        path = Path(url).expanduser()
        if not path.is_absolute() and self.sources.get("workbook.url") == "file":
            path = self.paths.config_file.parent / path
        return str(path)


def resolve_paths(config_flag: Path | None, env: Mapping[str, str]) -> tuple[Paths, bool]:
    """Find the config file and data folder. Returns the paths and whether the file was named."""
    from platformdirs import user_config_path, user_data_path

    home = env.get("DATADRIP_HOME")
    data_dir = Path(home).expanduser() if home else user_data_path("datadrip")
    if config_flag is not None:
        return Paths(config_flag.expanduser(), data_dir), True
    if named := env.get("DATADRIP_CONFIG"):
        return Paths(Path(named).expanduser(), data_dir), True
    try:
        local: Path | None = Path.cwd() / CONFIG_FILENAME
    except FileNotFoundError:  # the working folder was deleted under us
        local = None
    if local is not None and local.is_file():
        return Paths(local, data_dir), False
    config_dir = Path(home).expanduser() if home else user_config_path("datadrip")
    return Paths(config_dir / CONFIG_FILENAME, data_dir), False


def load_settings(config_flag: Path | None = None, env: Mapping[str, str] | None = None,
                  *, must_exist: bool = True) -> Loaded:
    """Read the settings once. Raises ConfigError naming the file, line and key of any mistake."""
    env = os.environ if env is None else env
    paths, named = resolve_paths(config_flag, env)
    found = paths.config_file.is_file()
    if named and not found and must_exist:
        raise ConfigError(f"config file {paths.config_file} does not exist",
                          hint="Create it with 'datadrip init', or fix --config / DATADRIP_CONFIG.")
    raw: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    text = ""
    if found:
        text = _read_text(paths.config_file)
        raw = _parse_file(paths.config_file, text)
        sources.update({f"{s}.{k}": "file" for s, keys in raw.items() for k in keys})
    for var, section, key, value in _env_overrides(env):
        raw.setdefault(section, {})[key] = _coerce_env(var, section, key, value)
        sources[f"{section}.{key}"] = "env"
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, paths.config_file, text, sources) from None
    for section, model in SECTIONS.items():
        for key in section_keys(model):
            sources.setdefault(f"{section}.{key}", "default")
    secrets = {key: _secret_source(names, env) for key, names in SECRETS.items()}
    return Loaded(settings, paths, found, sources, secrets)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _parse_file(path: Path, text: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}",
                          hint="Fix the line named above; datadrip.toml.example shows every key.") \
            from None
    for section, body in data.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}:{_line_of(text, section, None)}: unknown section [{section}]",
                hint=f"Known sections: {', '.join(SECTIONS)}.")
        if not isinstance(body, dict):
            raise ConfigError(f"{path}:{_line_of(text, None, section)}: '{section}' must be a "
                              f"[{section}] table")
        known = section_keys(SECTIONS[section])
        for key in body:
            line = _line_of(text, section, key)
            if f"{section}.{key}" in SECRETS:
                names = " or ".join(SECRETS[f"{section}.{key}"])
                raise ConfigError(f"{path}:{line}: [{section}] {key} is a secret and does not "
                                  f"belong in the config file", hint=f"Set {names} instead.")
            if key not in known:
                raise ConfigError(f"{path}:{line}: unknown key '{key}' in [{section}]",
                                  hint=f"Known keys in [{section}]: {', '.join(known)}.")
    return data


def _line_of(text: str, section: str | None, key: str | None) -> int | str:
    """The line where `key` is set inside `[section]` (or where the section starts)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]\s]+)\s*\]", stripped)
        if header:
            current = header.group(1).strip("\"'")
            if key is None and current == section:
                return number
            continue
        if key is not None and current == section and \
                re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", stripped):
            return number
        if key is not None and section is not None and current is None and \
                re.match(rf"^{re.escape(section)}\s*\.\s*{re.escape(key)}\s*=", stripped):
            return number
    return "?"


def _env_overrides(env: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    found = []
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV or var in _SECRET_ENV:
            continue
        section, _, key = var[len(ENV_PREFIX):].lower().partition("_")
        if section not in SECTIONS:
            continue
        if key not in section_keys(SECTIONS[section]):
            raise ConfigError(f"{var} names no setting: [{section}] has no key '{key}'",
                              hint=f"Known keys in [{section}]: "
                                   f"{', '.join(section_keys(SECTIONS[section]))}.")
        found.append((var, section, key, value))
    return found


def _coerce_env(var: str, section: str, key: str, value: str) -> Any:
    annotation = SECTIONS[section].model_fields[section_keys(SECTIONS[section])[key]].annotation
    if annotation is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{var} must be a whole number, not {value!r}") from None
    if annotation is bool:
        flag = value.strip().lower()
        if flag not in _BOOLEANS:
            raise ConfigError(f"{var} must be true or false, not {value!r}")
        return _BOOLEANS[flag]
    return value


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}


def _explain(exc: ValidationError, path: Path, text: str, sources: dict[str, str]) -> ConfigError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    section, key = (loc + ["", ""])[:2]
    what = f"[{section}] {key}: {error['msg'].lower().removeprefix('value error, ')}"
    if sources.get(f"{section}.{key}") == "env":
        return ConfigError(f"{ENV_PREFIX}{section.upper()}_{key.upper()}: {what}")
    return ConfigError(f"{path}:{_line_of(text, section, key)}: {what}")


def _secret_source(names: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    return next((f"env {name}" for name in names if env.get(name)), None)


def example_text() -> str:
    """The commented example that `datadrip init` copies: every key with its default."""
    from importlib.resources import files

    return files("datadrip").joinpath("datadrip.toml.example").read_text(encoding="utf-8")


def redact_url(url: str) -> str:
    """Hide the password in a database URL (postgresql://user:secret@host → user:***@host)."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def describe(loaded: Loaded, stored: Collection[str] = ()) -> dict[str, Any]:
    """The effective configuration for `config show`: values, their sources, secrets redacted.

    `stored` names the secrets found in the secret store; the environment wins over the store."""
    values: dict[str, dict[str, Any]] = {}
    for section, model in SECTIONS.items():
        current = getattr(loaded.settings, section)
        for key, attribute in section_keys(model).items():
            value = getattr(current, attribute)
            if section == "workbook" and key == "url":
                value = redact_url(value)
            values[f"{section}.{key}"] = {"value": value, "source": loaded.sources[f"{section}.{key}"]}
    return {
        "config_file": str(loaded.paths.config_file),
        "config_file_found": loaded.config_file_found,
        "data_dir": str(loaded.paths.data_dir),
        "workbook": redact_url(loaded.workbook_target),
        "settings": values,
        "secrets": {key: {"set": source is not None, "source": source}
                    for key, source in ((key, loaded.secrets.get(key) or
                                         ("secret store" if key in stored else None))
                                        for key in SECRETS)},
    }
