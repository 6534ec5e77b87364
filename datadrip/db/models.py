"""The workbook's tables. Money is integer micros of the row's currency; timestamps are UTC."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from datadrip.core.enums import (
    AccountStatus,
    InsightSource,
    InsightStatus,
    InsightType,
    JobStatus,
    Level,
    Plan,
    ReportKind,
    ReportStatus,
    Role,
    SyncStatus,
)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC (SQLite has no time zones) and always hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def _choice(column: str, values: type[Any]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


def _id() -> Any:
    return Field(default_factory=new_id, primary_key=True, max_length=32)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_type=sa.JSON, nullable=False)


def _parent(table: str, *, index: bool = True) -> Any:
    return Field(sa_column_args=[sa.ForeignKey(f"{table}.id", ondelete="CASCADE")],
                 max_length=32, index=index, nullable=False)


class Agency(SQLModel, table=True):
    __tablename__ = "agency"
    __table_args__ = (_choice("plan", Plan),)

    id: str = _id()
    name: str = Field(max_length=200, unique=True)
    timezone: str = Field(default="Asia/Kolkata", max_length=64)
    currency: str = Field(default="INR", max_length=3)
    locale: str = Field(default="en_IN", max_length=35)
    plan: str = Field(default=Plan.STARTER.value, max_length=16)
    settings: dict[str, Any] = _json(dict)
    # Breakdowns synced for the agency's clients that choose none ("age_gender", …); added by
    # 0017. None: [sync] breakdowns.
    breakdowns: list[str] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class User(SQLModel, table=True):
    __tablename__ = "user"
    __table_args__ = (_choice("role", Role),)

    id: str = _id()
    email: str = Field(max_length=254, unique=True)
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    agency_id: str = _parent("agency")
    created_at: dt.datetime = _created()


class Client(SQLModel, table=True):
    __tablename__ = "client"
    __table_args__ = (sa.UniqueConstraint("agency_id", "name", name="uq_client_agency_name"),)

    id: str = _id()
    agency_id: str = _parent("agency")
    name: str = Field(max_length=200)
    report_recipients: list[str] = _json(list)
    currency: str = Field(max_length=3)
    monthly_budget_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Meta action types counted as conversions; empty: the purchase family.
    conversion_actions: list[str] = _json(list)
    # The results the client reports ("purchase", "lead", a platform's action id or custom
    # conversion name); None or empty: what the platforms call results (Meta's Results column, Google's
    # Conversions column).
    key_results: list[str] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    # Breakdowns synced for the client ("age_gender", "country", …); None: [sync] breakdowns.
    breakdowns: list[str] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    active: bool = True
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class AdAccount(SQLModel, table=True):
    __tablename__ = "ad_account"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "platform", "external_id", name="uq_ad_account_external"),
        _choice("status", AccountStatus),
    )

    id: str = _id()
    client_id: str = _parent("client")
    platform: str = Field(max_length=16)  # a platform plug-in's name, installed or not
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=300)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    login_customer_id: str | None = Field(default=None, max_length=32)
    token_ref: str | None = Field(default=None, max_length=200)
    token_expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=AccountStatus.ACTIVE.value, max_length=16)
    lookback_days: int | None = None  # None: the platform's [meta]/[google] lookback_days
    attribution_setting: str | None = Field(default=None, max_length=64)  # as Meta last reported
    created_at: dt.datetime = _created()


class Entity(SQLModel, table=True):
    """A campaign, ad set (Google: ad group) or ad. Names change; metrics refer to ids."""

    __tablename__ = "entity"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "level", "external_id", name="uq_entity_external"),
        _choice("level", Level),
    )

    id: str = _id()
    account_id: str = _parent("ad_account", index=False)
    level: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    name: str = Field(default="", max_length=500)
    parent_id: str | None = Field(
        default=None, max_length=32, index=True,
        sa_column_args=[sa.ForeignKey("entity.id", ondelete="SET NULL")])
    status: str = Field(default="", max_length=32)
    updated_at: dt.datetime = _created()
    # How it is set up (platforms.base.EntitySettings), as the last sync that read them saw it;
    # None: never read. Changes are kept in entity_change.
    objective: str | None = Field(default=None, max_length=64)
    effective_status: str | None = Field(default=None, max_length=64)
    daily_budget_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    lifetime_budget_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    bid_strategy: str | None = Field(default=None, max_length=64)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    optimization_goal: str | None = Field(default=None, max_length=64)
    attribution_setting: str | None = Field(default=None, max_length=64)
    creative_title: str | None = Field(default=None, max_length=500)
    thumbnail_url: str | None = Field(default=None, max_length=2000)
    settings_synced_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class EntityChange(SQLModel, table=True):
    """A setting of an entity that changed between two syncs: "daily_budget_micros" from
    2000000000 to 3000000000, seen on the account's day `changed_on`. Values are kept as text
    (budgets as their integer micros), None where the setting was unset."""

    __tablename__ = "entity_change"
    __table_args__ = (sa.Index("ix_entity_change_entity_day", "entity_id", "changed_on"),)

    id: str = _id()
    account_id: str = _parent("ad_account")
    entity_id: str = Field(max_length=32, nullable=False,
                           sa_column_args=[sa.ForeignKey("entity.id", ondelete="CASCADE")])
    changed_on: dt.date
    field: str = Field(max_length=64)
    old_value: str | None = Field(default=None, max_length=2000)
    new_value: str | None = Field(default=None, max_length=2000)
    seen_at: dt.datetime = _created()


class MetricDaily(SQLModel, table=True):
    """One entity's numbers on one of its account's calendar days.

    Keyed account, level, day, entity, and stored in that key's order (SQLite: WITHOUT ROWID), so
    the one B-tree both answers every read (an account's level over a range of days) and takes a
    sync's rows, which come day by day, near its end: no second index to keep up.

    `entity_id` is an entity.id without a foreign key: the sync writes an entity before its rows,
    and rows go with their account (ON DELETE CASCADE). A foreign key would have SQLite search
    this table by entity for every entity deleted with an account; without a second index that
    is a scan of every other account's rows per entity (18 s for 1,000 entities beside 100k rows),
    and with one the write rate falls by a third."""

    __tablename__ = "metric_daily"
    __table_args__ = (
        _choice("level", Level),
        {"sqlite_with_rowid": False},
    )

    account_id: str = Field(primary_key=True, max_length=32,
                            sa_column_args=[sa.ForeignKey("ad_account.id", ondelete="CASCADE")])
    level: str = Field(primary_key=True, max_length=16)
    date: dt.date = Field(primary_key=True)
    entity_id: str = Field(primary_key=True, max_length=32)
    spend_micros: int = Field(default=0, sa_type=sa.BigInteger)
    impressions: int = Field(default=0, sa_type=sa.BigInteger)
    clicks: int = Field(default=0, sa_type=sa.BigInteger)
    # Integer millionths of a conversion (platforms attribute parts of one): never a float.
    conversions_millionths: int = Field(default=0, sa_type=sa.BigInteger,
                                       sa_column_kwargs={"server_default": "0"})
    conversion_value_micros: int = Field(default=0, sa_type=sa.BigInteger)
    reach: int | None = Field(default=None, sa_type=sa.BigInteger)
    synced_at: dt.datetime = _created()
    # Added by 0015 (platforms.base.MetricRow says what each is); None where a platform has no
    # such number, or the row was synced before DataDrip kept it.
    link_clicks: int | None = Field(default=None, sa_type=sa.BigInteger)
    interactions: int | None = Field(default=None, sa_type=sa.BigInteger)
    all_conversions_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    all_conversion_value_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    result_indicator: str | None = Field(default=None, max_length=200)
    results_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    attribution_setting: str | None = Field(default=None, max_length=64)
    # True when the row's conversion actions are kept (in `actions`); rows synced before 0015 are
    # False until a sync re-reads their day.
    actions_kept: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Added by 0017: Google's search impression share and the shares lost to budget and to rank,
    # in integer millionths of 1. Ratios: a period's share is weighted by eligible impressions
    # (impressions / share), never summed.
    search_impression_share_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    search_budget_lost_share_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    search_rank_lost_share_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Added by 0018: the row's conversion actions, one JSON object {action: [count millionths,
    # value micros or null]} (None: none); the view metric_action_daily shows them a row each.
    actions: str | None = Field(default=None, sa_type=sa.Text)


class MetricPeriodReach(SQLModel, table=True):
    """The reach of one entity over one range of the account's days, as the platform counts it
    for that range (daily reach is not additive). Level "account" has the account's id as its
    entity. A period with no row here shows its reach as n/a."""

    __tablename__ = "metric_period_reach"
    __table_args__ = (
        sa.CheckConstraint("level IN ('account', 'campaign', 'adset', 'ad')",
                           name="level_allowed"),
        sa.CheckConstraint("date_from <= date_to", name="range_ordered"),
    )

    account_id: str = Field(primary_key=True, max_length=32,
                            sa_column_args=[sa.ForeignKey("ad_account.id", ondelete="CASCADE")])
    level: str = Field(primary_key=True, max_length=16)
    entity_id: str = Field(primary_key=True, max_length=32)
    date_from: dt.date = Field(primary_key=True)
    date_to: dt.date = Field(primary_key=True)
    reach: int | None = Field(default=None, sa_type=sa.BigInteger)
    synced_at: dt.datetime = _created()


# The views the code reads like tables: on their own MetaData, so nothing creates them as tables
# (a migration creates them).
VIEWS = sa.MetaData()

# metric_action_daily (migration 0018): one conversion action's count (integer millionths) and
# value (micros, None when the platform gives none) on one entity-day, a row per action of
# metric_daily.actions, keyed like metric_daily with the action last. Some platforms' actions
# overlap (Meta's purchase variants repeat one number): what may be added up is the plug-in's to
# say (`result_actions`), never a plain sum.
metric_action_daily = sa.Table(
    "metric_action_daily", VIEWS,
    sa.Column("account_id", sa.String(32)), sa.Column("level", sa.String(16)),
    sa.Column("date", sa.Date()), sa.Column("entity_id", sa.String(32)),
    sa.Column("action", sa.String(200)), sa.Column("count_millionths", sa.BigInteger()),
    sa.Column("value_micros", sa.BigInteger()), sa.Column("synced_at", UTCDateTime()),
)


class ConversionAction(SQLModel, table=True):
    """An account's catalogue of conversion actions (platforms.base.ConversionActionInfo): how
    people read an action id of metric_action_daily."""

    __tablename__ = "conversion_action"

    account_id: str = Field(primary_key=True, max_length=32,
                            sa_column_args=[sa.ForeignKey("ad_account.id", ondelete="CASCADE")])
    action: str = Field(primary_key=True, max_length=200)
    name: str = Field(max_length=500)
    kind: str = Field(max_length=32)
    category: str | None = Field(default=None, max_length=64)
    primary: bool | None = None
    included_in_conversions: bool | None = None
    status: str | None = Field(default=None, max_length=32)
    updated_at: dt.datetime = _created()


class MetricBreakdownDaily(SQLModel, table=True):
    """A campaign's numbers on one day for one value of one dimension (platforms.base.
    BreakdownRow). A number the platform withholds under a breakdown is NULL, never 0."""

    __tablename__ = "metric_breakdown_daily"
    __table_args__ = ({"sqlite_with_rowid": False},)

    account_id: str = Field(primary_key=True, max_length=32,
                            sa_column_args=[sa.ForeignKey("ad_account.id", ondelete="CASCADE")])
    dimension: str = Field(primary_key=True, max_length=16)
    date: dt.date = Field(primary_key=True)
    entity_id: str = Field(primary_key=True, max_length=32)  # the campaign's entity.id
    value: str = Field(primary_key=True, max_length=200)
    spend_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    impressions: int | None = Field(default=None, sa_type=sa.BigInteger)
    clicks: int | None = Field(default=None, sa_type=sa.BigInteger)
    conversions_millionths: int | None = Field(default=None, sa_type=sa.BigInteger)
    conversion_value_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    reach: int | None = Field(default=None, sa_type=sa.BigInteger)
    synced_at: dt.datetime = _created()


class FxRate(SQLModel, table=True):
    """One unit of `base` is worth `rate` units of `quote`, from `valid_from` (None: always, until
    a dated rate takes over). The rate is kept as its exact decimal text, never a float."""

    __tablename__ = "fx_rate"
    __table_args__ = (
        sa.UniqueConstraint("base", "quote", "valid_from", name="uq_fx_rate_pair_date"),
    )

    id: str = _id()
    base: str = Field(max_length=3)
    quote: str = Field(max_length=3)
    rate: str = Field(max_length=40)
    valid_from: dt.date | None = None
    created_at: dt.datetime = _created()


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_run"
    __table_args__ = (
        sa.Index("ix_sync_run_account_started", "account_id", "started_at"),
        _choice("status", SyncStatus),
    )

    id: str = _id()
    account_id: str = _parent("ad_account", index=False)
    started_at: dt.datetime = _created()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=SyncStatus.RUNNING.value, max_length=16)
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    rows: int = 0
    error: str | None = None
    levels: str | None = Field(default=None, max_length=64)  # "campaign,adset,ad"
    requests: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    warnings: list[str] = _json(list)
    # The run's latest wait longer than a moment (sync.WaitRecord.record()): service, reason,
    # seconds, since, until, and whether the sync gave up instead of waiting that long.
    wait: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)


class SyncCursor(SQLModel, table=True):
    """How far an account's level is synced: every day up to `synced_through` is in the workbook."""

    __tablename__ = "sync_cursor"
    __table_args__ = (_choice("level", Level),)

    account_id: str = Field(primary_key=True, max_length=32,
                            sa_column_args=[sa.ForeignKey("ad_account.id", ondelete="CASCADE")])
    level: str = Field(primary_key=True, max_length=16)
    synced_through: dt.date
    updated_at: dt.datetime = _created()


class JobRun(SQLModel, table=True):
    """A run of one of the daemon's jobs for an agency: what ran for which scheduled time, and how."""

    __tablename__ = "job_run"
    __table_args__ = (
        sa.Index("ix_job_run_agency_job_scheduled", "agency_id", "job", "scheduled_for"),
        _choice("status", JobStatus),
    )

    id: str = _id()
    job: str = Field(max_length=32)
    agency_id: str = _parent("agency", index=False)
    scheduled_for: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    started_at: dt.datetime = _created()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=JobStatus.RUNNING.value, max_length=16)
    detail: dict[str, Any] = _json(dict)


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (
        # The guard against sending the same report twice.
        sa.UniqueConstraint("client_id", "kind", "period_start", "period_end",
                            name="uq_report_period"),
        _choice("kind", ReportKind),
        _choice("status", ReportStatus),
    )

    id: str = _id()
    client_id: str = _parent("client", index=False)
    kind: str = Field(max_length=16)
    period_start: dt.date
    period_end: dt.date
    channel_data: dict[str, Any] = _json(dict)
    summary: str = ""
    html: str = ""
    status: str = Field(default=ReportStatus.BUILT.value, max_length=16)
    recipients: list[str] = _json(list)
    message_id: str | None = Field(default=None, max_length=300)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = None
    created_at: dt.datetime = _created()
    built_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    provider: str | None = Field(default=None, max_length=16)
    provider_id: str | None = Field(default=None, max_length=300)
    # Set while a send is under way. Whether its sender still lives is told by the send lock it
    # holds (reports/claims.py): a live one makes a second sender back off; a dead one's claim is
    # taken over at once, and its report is sent unless it was handed over (status "uncertain").
    sending_since: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportDelivery(SQLModel, table=True):
    """Every attempt to send a report, kept: when, by which provider, to whom, and how it went."""

    __tablename__ = "report_delivery"
    __table_args__ = (sa.Index("ix_report_delivery_report_at", "report_id", "at"),)

    id: str = _id()
    report_id: str = _parent("report", index=False)
    at: dt.datetime = _created()
    provider: str = Field(max_length=16)
    recipients: list[str] = _json(list)
    status: str = Field(max_length=16)  # sent | failed
    message_id: str | None = Field(default=None, max_length=300)
    provider_id: str | None = Field(default=None, max_length=300)
    attempts: int = 1
    forced: bool = False
    error: str | None = None


class Insight(SQLModel, table=True):
    """A suggestion and its lifecycle. `fingerprint` is the finding's identity whichever engine found
    it (client, type, entity, period): one open insight per identity, and a dismissed or applied one
    is not suggested again until its facts change materially (insights/identity.py)."""

    __tablename__ = "insight"
    __table_args__ = (
        sa.Index("ix_insight_client_status", "client_id", "status"),
        sa.Index("ix_insight_client_fingerprint", "client_id", "fingerprint"),
        sa.CheckConstraint("impact_score BETWEEN 0 AND 100", name="impact_score_range"),
        _choice("type", InsightType),
        _choice("source", InsightSource),
        _choice("status", InsightStatus),
    )

    id: str = _id()
    client_id: str = _parent("client", index=False)
    type: str = Field(max_length=16)
    source: str = Field(max_length=16)
    payload: dict[str, Any] = _json(dict)
    impact_score: int = 0
    status: str = Field(default=InsightStatus.PENDING.value, max_length=16)
    created_at: dt.datetime = _created()
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = None
    fingerprint: str | None = Field(default=None, max_length=32)
    window_since: dt.date | None = None
    window_until: dt.date | None = None
    updated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Every change made to the workbook: who, when, what."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    details: dict[str, Any] = _json(dict)


class LlmUsage(SQLModel, table=True):
    __tablename__ = "llm_usage"
    __table_args__ = (sa.UniqueConstraint("agency_id", "day", name="uq_llm_usage_day"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: str = _parent("agency", index=False)
    day: dt.date
    requests: int = 0
    prompt_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    completion_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    cost_micros: int = Field(default=0, sa_type=sa.BigInteger)  # micros of USD


class LlmCache(SQLModel, table=True):
    """A model's answer kept for the exact same question (model, server and prompt): asking again
    the same day about the same data costs nothing. The key is a SHA-256 of those inputs."""

    __tablename__ = "llm_cache"

    key: str = Field(primary_key=True, max_length=64)
    agency_id: str = _parent("agency")
    model: str = Field(max_length=200)
    created_at: dt.datetime = _created()
    content: str
    prompt_tokens: int = Field(default=0, sa_type=sa.BigInteger)
    completion_tokens: int = Field(default=0, sa_type=sa.BigInteger)
