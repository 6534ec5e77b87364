"""The workbook's vocabularies, kept free of database imports so commands can use them as option types."""

from __future__ import annotations

from enum import StrEnum


class Plan(StrEnum):
    STARTER = "starter"
    GROWTH = "growth"
    SCALE = "scale"


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


class Level(StrEnum):
    CAMPAIGN = "campaign"
    ADSET = "adset"
    AD = "ad"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISABLED = "disabled"


class SyncStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"


class JobStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    ABANDONED = "abandoned"


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    CUSTOM = "custom"


class ReportStatus(StrEnum):
    BUILT = "built"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # not sent, and why (no accounts, no data for the period) is in its error
    UNCERTAIN = "uncertain"  # handed over to the provider, but whether it went out is unknown


class InsightType(StrEnum):
    PERFORMANCE = "performance"
    BUDGET = "budget"
    CREATIVE = "creative"
    AUDIENCE = "audience"


class InsightSource(StrEnum):
    HEURISTIC = "heuristic"
    LLM = "llm"


class InsightStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    APPLIED = "applied"
    DISMISSED = "dismissed"


class AccountSyncStatus(StrEnum):
    """One account's part in one sync run (its progress line and its --json "status")."""

    PLANNED = "planned"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class SendStatus(StrEnum):
    """What `report send` did with one client's report (its --json "status")."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_SEND = "would_send"  # --dry-run


class HealthState(StrEnum):
    """An account's sync health, as `datadrip status` judges it."""

    NEEDS_LOGIN = "needs_login"
    FAILING = "failing"
    STALE = "stale"
    NEVER_SYNCED = "never_synced"
    WAITING = "waiting"  # connected a moment ago: its first sync is still to come
    DISABLED = "disabled"
    # No installed plug-in provides its platform: sync skips it (saying so), as it skips a
    # disabled one, so it is not a problem of its own.
    PLATFORM_NOT_INSTALLED = "platform_not_installed"
    OK = "ok"


class ClientRunStatus(StrEnum):
    """One client's part in an `insight generate` run."""

    OK = "ok"
    FAILED = "failed"  # nothing was saved for the client
