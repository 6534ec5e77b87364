"""Settings: defaults < datadrip.toml < DATADRIP_* environment < flags, read once into a frozen object."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from datadrip.core.cron import parse_cron, parse_deadline
from datadrip.core.errors import ConfigError

CONFIG_FILENAME = "datadrip.toml"
WORKBOOK_FILENAME = "workbook.db"
ENV_PREFIX = "DATADRIP_"
# DATADRIP_* variables that are not settings.
RESERVED_ENV = {"DATADRIP_HOME", "DATADRIP_CONFIG", "DATADRIP_DEBUG", "DATADRIP_SECRET_KEY"}


class Section(BaseModel):
    """One [section] of datadrip.toml: core's own, or a platform plug-in's `settings_model`."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkbookSettings(Section):
    url: str = Field("", description="SQLAlchemy URL or file path of the workbook; empty: "
                     "workbook.db in the data folder. PostgreSQL: postgresql+psycopg://user@host/db")
    busy_timeout_seconds: int = Field(15, ge=0, le=3600, description="How long a command waits "
                                      "for another process's write to a SQLite workbook to end "
                                      "before it fails saying the workbook is busy")


class UserSettings(Section):
    email: str = Field("", description="Who you are in the audit log; empty: your OS user name")


class EmailSettings(Section):
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


class ReportsSettings(Section):
    template_dir: str = Field("", description="Folder of your own templates; a file there "
                              "(report.html.j2, report.txt.j2, report.md.j2) replaces ours")
    send_empty: bool = Field(False, description="E-mail a report with nothing in it (a client with "
                             "no accounts, or no data for the period); else it is skipped, and why "
                             "is recorded (failed, when an account has not synced that far)")


class AiSettings(Section):
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


class AuthSettings(Section):
    login_timeout_seconds: int = Field(300, ge=1, description="How long a browser login waits "
                                       "for the consent page to be answered")


class SecretsSettings(Section):
    backend: Literal["auto", "keyring", "file"] = Field(
        "auto", description="Where secrets are kept: auto (the OS keyring when usable, else an "
        "encrypted file in the data folder), keyring or file")


class SyncSettings(Section):
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
    breakdowns: str = Field("", description="Breakdowns synced for clients that name none of their "
                            "own (`client edit --breakdowns`): comma-separated, of "
                            "age_gender, country, placement, device; empty: none")

    @field_validator("breakdowns", mode="before")
    @classmethod
    def _breakdowns(cls, value: Any) -> Any:
        value = comma_text(value)
        if isinstance(value, str):
            parse_breakdowns(value)
        return value


def comma_text(value: Any) -> Any:
    """A setting's TOML list as the comma-separated text it may also be written as; any other
    value as it is."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return value


# The breakdowns a client may opt into (platforms.base.BREAKDOWNS names them, with their dimensions).
BREAKDOWN_NAMES = ("age_gender", "country", "placement", "device")


def parse_breakdowns(text: str) -> tuple[str, ...]:
    """Comma-separated breakdown names, each once, in the order given; ValueError naming the
    unknown one and listing the known ones."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in BREAKDOWN_NAMES:
            raise ValueError(f"unknown breakdown {name!r}; use {', '.join(BREAKDOWN_NAMES)}")
    return tuple(dict.fromkeys(names))


class ScheduleSettings(Section):
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
        if value.strip():
            parse_cron(value)
        return value

    @field_validator("report_deadline")
    @classmethod
    def _deadline(cls, value: str) -> str:
        parse_deadline(value)
        return value


class SqlSettings(Section):
    timeout_seconds: float = Field(30.0, gt=0, le=86400, description="Longest a `datadrip sql` "
                                   "query may run before it is stopped")


class Settings(Section):
    workbook: WorkbookSettings = WorkbookSettings()
    user: UserSettings = UserSettings()
    email: EmailSettings = EmailSettings()
    reports: ReportsSettings = ReportsSettings()
    ai: AiSettings = AiSettings()
    auth: AuthSettings = AuthSettings()
    secrets: SecretsSettings = SecretsSettings()
    sync: SyncSettings = SyncSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    sql: SqlSettings = SqlSettings()

    if TYPE_CHECKING:
        # A platform's section (`settings.meta`) is a field of the model load_settings builds
        # with the installed plug-ins' sections; to the type checker it is Any.
        def __getattr__(self, name: str) -> Any: ...


CORE_SECTIONS: dict[str, type[Section]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in Settings.model_fields.items()
}
# Where the workbook is and who you are come first; the platforms' sections follow them.
_LEADING_SECTIONS = ("workbook", "user")

# Secrets are never read from the file: only from the environment, then the secret store. The
# platforms' secrets come with their plug-ins (load_settings's `secrets`), before these.
CORE_SECRETS: dict[str, tuple[str, ...]] = {
    "email.smtp_password": ("DATADRIP_EMAIL_SMTP_PASSWORD",),
    "email.resend_api_key": ("DATADRIP_EMAIL_RESEND_API_KEY", "RESEND_API_KEY"),
    "email.sendgrid_api_key": ("DATADRIP_EMAIL_SENDGRID_API_KEY", "SENDGRID_API_KEY"),
    "ai.api_key": ("DATADRIP_AI_API_KEY", "OPENAI_API_KEY"),
}


@functools.cache
def settings_model(sections: tuple[tuple[str, type[Section]], ...]) -> type[Settings]:
    """`Settings` with the given extra sections (the installed platforms') as fields, each
    defaulting to its model's defaults. Built once per set of sections."""
    if not sections:
        return Settings
    fields: dict[str, Any] = {name: (model, model()) for name, model in sections}
    return create_model("Settings", __base__=Settings, __module__=__name__, **fields)


def section_keys(model: type[Section]) -> dict[str, str]:
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
    secrets: dict[str, str | None] = field(default_factory=dict)  # name → "env VAR" or None
    # Every [section] in effect (core's and the plug-ins'), in `config show` order.
    sections: dict[str, type[Section]] = field(default_factory=lambda: dict(CORE_SECTIONS))
    # Every known secret (the plug-ins' and core's) → the environment variables that set it.
    secret_env: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(CORE_SECRETS))

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
                  *, must_exist: bool = True, sections: Mapping[str, type[Section]] | None = None,
                  secrets: Mapping[str, tuple[str, ...]] | None = None) -> Loaded:
    """Read the settings once. Raises ConfigError naming the file, line and key of any mistake.

    `sections` and `secrets` are the platforms' (platforms.registry.load_settings passes every
    installed plug-in's): their [name] sections and DATADRIP_NAME_* variables are read like
    core's own, and their secrets are refused in the file like core's."""
    env = os.environ if env is None else env
    known = _all_sections(sections or {})
    secret_env = {**(secrets or {}), **CORE_SECRETS}
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
        raw = _parse_file(paths.config_file, text, known, secret_env)
        sources.update({f"{s}.{k}": "file" for s, keys in raw.items() for k in keys})
    for var, section, key, value in _env_overrides(env, known, secret_env):
        raw.setdefault(section, {})[key] = _coerce_env(var, known[section], key, value)
        sources[f"{section}.{key}"] = "env"
    model = settings_model(tuple((name, known[name]) for name in known if name not in CORE_SECTIONS))
    try:
        settings = model.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, paths.config_file, text, sources) from None
    for section, section_model in known.items():
        for key in section_keys(section_model):
            sources.setdefault(f"{section}.{key}", "default")
    secret_sources = {key: _secret_source(names, env) for key, names in secret_env.items()}
    return Loaded(settings, paths, found, sources, secret_sources, known, secret_env)


def _all_sections(extra: Mapping[str, type[Section]]) -> dict[str, type[Section]]:
    """Core's sections and the platforms', in the order `config show` lists them."""
    for name in extra:
        if name in CORE_SECTIONS:
            raise ConfigError(f"a platform plug-in names its settings section [{name}], which is "
                              f"one of DataDrip's own",
                              hint="See 'datadrip platform list'; uninstall the package that "
                                   "provides it.")
    leading = {name: CORE_SECTIONS[name] for name in _LEADING_SECTIONS}
    return {**leading, **dict(sorted(extra.items())), **CORE_SECTIONS}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _parse_file(path: Path, text: str, sections: Mapping[str, type[Section]],
                secrets: Mapping[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}",
                          hint="Fix the line named above; datadrip.toml.example shows every key.") \
            from None
    for section, body in data.items():
        if section not in sections:
            raise ConfigError(
                f"{path}:{_line_of(text, section, None)}: unknown section [{section}]",
                hint=f"Known sections: {', '.join(sections)}. A platform's section needs its "
                     f"plug-in: see 'datadrip platform list'.")
        if not isinstance(body, dict):
            raise ConfigError(f"{path}:{_line_of(text, None, section)}: '{section}' must be a "
                              f"[{section}] table")
        known = section_keys(sections[section])
        for key in body:
            line = _line_of(text, section, key)
            if f"{section}.{key}" in secrets:
                names = " or ".join(secrets[f"{section}.{key}"])
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


def _env_overrides(env: Mapping[str, str], sections: Mapping[str, type[Section]],
                   secrets: Mapping[str, tuple[str, ...]]) -> list[tuple[str, str, str, str]]:
    secret_vars = {name for names in secrets.values() for name in names}
    found = []
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV or var in secret_vars:
            continue
        section, _, key = var[len(ENV_PREFIX):].lower().partition("_")
        if section not in sections:
            continue
        if key not in section_keys(sections[section]):
            raise ConfigError(f"{var} names no setting: [{section}] has no key '{key}'",
                              hint=f"Known keys in [{section}]: "
                                   f"{', '.join(section_keys(sections[section]))}.")
        found.append((var, section, key, value))
    return found


def _coerce_env(var: str, model: type[Section], key: str, value: str) -> Any:
    annotation = model.model_fields[section_keys(model)[key]].annotation
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
    for section, model in loaded.sections.items():
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
                                        for key in loaded.secret_env)},
    }
