"""What `datadrip status` checks, as data: each active client's accounts (last sync, its age and
outcome, a login needed), each client's latest report of every kind, the reports the daemon's
latest scheduled run should have sent by the deadline, the daemon's runs that went wrong as a
whole, and the next scheduled runs. Anything stale, failing, unsent or waiting for a login is a
problem: monitoring alerts on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from datadrip.analytics.dashboard import STALE_AFTER
from datadrip.core.cron import parse_deadline
from datadrip.core.enums import AccountStatus, HealthState, JobStatus, ReportStatus, SyncStatus
from datadrip.db.models import AdAccount, Agency, Client, JobRun, Report, SyncRun
from datadrip.platforms.registry import is_installed
from datadrip.platforms.sunsets import ApiSunset, api_sunsets
from datadrip.reports.build import plan_report
from datadrip.reports.claims import SendLocks, report_key, resend_command
from datadrip.scheduling.runs import HAND_COMMANDS, REPORT_KINDS, hand_command
from datadrip.scheduling.timetable import job_crons, latest_fire, to_utc
from datadrip.sync.health import last_good_sync
from datadrip.workbook.accounts import connect_command
from datadrip.workbook.agencies import find_agency

if TYPE_CHECKING:
    from datadrip.core.config import ScheduleSettings, Settings
    from datadrip.scheduling.timetable import ScheduledRun

_runs = SyncRun.__table__  # type: ignore[attr-defined]
_accounts = AdAccount.__table__  # type: ignore[attr-defined]
_clients = Client.__table__  # type: ignore[attr-defined]
_agencies = Agency.__table__  # type: ignore[attr-defined]
_reports = Report.__table__  # type: ignore[attr-defined]
_job_runs = JobRun.__table__  # type: ignore[attr-defined]

# An account's problem states, worst first: the order in which its problems are named.
PROBLEM_STATES = (HealthState.NEEDS_LOGIN, HealthState.FAILING, HealthState.STALE,
                  HealthState.NEVER_SYNCED)
# A report's states beside its status: a live sender holds it, or its sender died before the hand-over.
SENDING, CUT_SHORT = "sending", "cut_short"
# The daemon sends an agency's reports when one of its runs of that job is this recent (a weekly
# job runs every 7 days); an agency whose reports go out by hand is not held to the timetable.
DAEMON_IN_USE = dt.timedelta(days=8)


@dataclass(frozen=True)
class AccountHealth:
    agency: str
    client: str
    platform: str
    account_id: str
    name: str
    account_status: str  # active | needs_reauth | disabled
    state: HealthState
    last_run: dict[str, Any] | None  # status, started_at, finished_at, rows, error, warnings
    last_success_at: dt.datetime | None
    hours_since_success: float | None
    connect: str | None  # the command that logs the account in again, when one is needed
    # The latest run's last wait over 2 seconds (a rate limit, a retry), with `waiting`: whether
    # that run is still under way and the wait not over yet; None when it had none.
    wait: dict[str, Any] | None = None

    @property
    def problem(self) -> str | None:
        what = f"{self.client} · {self.platform} {self.account_id}"
        if self.state == HealthState.NEEDS_LOGIN:
            return f"{what} needs a login: {self.connect}"
        if self.state == HealthState.FAILING:
            error = (self.last_run or {}).get("error")
            return f"{what} failed its last sync" + (f": {error}" if error else "")
        if self.state == HealthState.STALE:
            return f"{what} has not synced since {self.last_success_at:%Y-%m-%d %H:%M} UTC"
        if self.state == HealthState.NEVER_SYNCED:
            return f"{what} has never synced"
        return None

    def record(self) -> dict[str, Any]:
        return {"agency": self.agency, "client": self.client, "platform": self.platform,
                "account_id": self.account_id, "name": self.name,
                "account_status": self.account_status, "state": self.state,
                "last_sync": self.last_run, "last_success_at": self.last_success_at,
                "hours_since_success": self.hours_since_success, "connect": self.connect,
                "wait": self.wait, "problem": self.problem}


@dataclass(frozen=True)
class ReportHealth:
    agency: str
    client: str
    id: str
    kind: str
    since: dt.date
    until: dt.date
    status: str  # built | sent | failed | skipped (not sent: no accounts, no data; why in error) | uncertain
    sent_at: dt.datetime | None
    built_at: dt.datetime | None
    error: str | None
    message_id: str | None = None
    # sending: a live sender holds it now; cut_short: its sender died before the hand-over
    # (the next send sends it); else the status.
    state: str = ""

    @property
    def problem(self) -> str | None:
        period = str(self.since) if self.since == self.until else f"{self.since}..{self.until}"
        what = f"{self.client} · {self.kind} report {period}"
        state = self.state or self.status
        if state == CUT_SHORT:
            return (f"{what} was not sent: its sender stopped before handing it over; send it: "
                    + resend_command(self.client, self.kind, self.since, self.until, force=False))
        if state == ReportStatus.UNCERTAIN.value:
            return (f"{what} may have been sent: {self.error or 'its hand-over was cut short'}; ask a "
                    f"recipient whether Message-ID {self.message_id} arrived, and only if not: "
                    + resend_command(self.client, self.kind, self.since, self.until))
        if state != ReportStatus.FAILED.value:
            return None
        return f"{what} failed" + (f": {self.error}" if self.error else "")

    @property
    def command(self) -> str | None:
        """What to run about it: the send to finish, or the forced send once it is checked."""
        state = self.state or self.status
        if state not in (CUT_SHORT, ReportStatus.UNCERTAIN.value):
            return None
        return resend_command(self.client, self.kind, self.since, self.until,
                              force=state == ReportStatus.UNCERTAIN.value)

    @property
    def skipped(self) -> str | None:
        """Why it was not sent, when it was skipped (nothing to report): said, not a problem."""
        if self.status != ReportStatus.SKIPPED.value:
            return None
        return f"{self.client} ({self.error})" if self.error else self.client

    def record(self) -> dict[str, Any]:
        return {"agency": self.agency, "client": self.client, "id": self.id, "kind": self.kind,
                "period": {"since": self.since, "until": self.until}, "status": self.status,
                "state": self.state, "sent_at": self.sent_at, "built_at": self.built_at,
                "error": self.error, "message_id": self.message_id, "command": self.command,
                "problem": self.problem}


@dataclass(frozen=True)
class MissedReport:
    """A report the daemon's latest scheduled run should have sent by the deadline, and did not:
    there is no such report, or it was built and never sent."""

    agency: str
    client: str
    kind: str
    since: dt.date
    until: dt.date
    scheduled_for: dt.datetime  # the run's time, UTC
    timezone: str  # the agency's

    @property
    def command(self) -> str:
        return resend_command(self.client, self.kind, self.since, self.until, force=False)

    @property
    def problem(self) -> str:
        period = str(self.since) if self.since == self.until else f"{self.since}..{self.until}"
        local = self.scheduled_for.astimezone(ZoneInfo(self.timezone))
        return (f"{self.client} · {self.kind} report {period} was not sent by the daemon's run of "
                f"{local:%Y-%m-%d %H:%M}; send it: {self.command}")

    def record(self) -> dict[str, Any]:
        return {"agency": self.agency, "client": self.client, "kind": self.kind, "since": self.since,
                "until": self.until, "scheduled_for": self.scheduled_for, "command": self.command,
                "problem": self.problem}


@dataclass(frozen=True)
class DaemonRunHealth:
    """The latest run of one of the daemon's jobs for an agency, when it went wrong as a whole
    (stopped, or failed with an error of its own; the accounts and reports a run failed for are
    named by their own lines)."""

    agency: str
    job: str
    scheduled_for: dt.datetime  # UTC
    timezone: str
    status: str  # failed | abandoned
    error: str
    command: str  # what does the job by hand

    @property
    def problem(self) -> str:
        local = self.scheduled_for.astimezone(ZoneInfo(self.timezone))
        return (f"{self.agency} · the daemon's {self.job} run of {local:%Y-%m-%d %H:%M} {self.status}: "
                f"{self.error}; do it by hand: {self.command}")

    def record(self) -> dict[str, Any]:
        return {"agency": self.agency, "job": self.job, "scheduled_for": self.scheduled_for,
                "status": self.status, "error": self.error, "command": self.command,
                "problem": self.problem}


@dataclass(frozen=True)
class Status:
    checked_at: dt.datetime
    accounts: list[AccountHealth]
    reports: list[ReportHealth]
    next_runs: list[ScheduledRun] = field(default_factory=list)
    missed_reports: list[MissedReport] = field(default_factory=list)
    daemon_runs: list[DaemonRunHealth] = field(default_factory=list)
    # Connected platforms whose configured API version ends within 60 days or has ended: said,
    # not a problem (a sync that fails for it is).
    sunsets: list[ApiSunset] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [a.problem for a in sorted(self.accounts, key=lambda a: PROBLEM_STATES.index(a.state)
                                           if a.state in PROBLEM_STATES else len(PROBLEM_STATES))]
        found += [r.problem for r in self.reports]
        found += [m.problem for m in self.missed_reports] + [d.problem for d in self.daemon_runs]
        return [problem for problem in found if problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """How many accounts are in each problem state, how many latest reports need attention
        (failed, uncertain, or cut short) and how many were skipped (not a problem)."""
        counted = {state.value: sum(1 for a in self.accounts if a.state == state) for state in PROBLEM_STATES}
        counted["failed_reports"] = sum(1 for r in self.reports if r.problem)
        counted["skipped_reports"] = sum(1 for r in self.reports if r.skipped)
        counted["missed_reports"] = len(self.missed_reports)
        counted["failed_daemon_runs"] = len(self.daemon_runs)
        return counted

    def record(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.checked_at,
                "stale_after_hours": int(STALE_AFTER.total_seconds() // 3600),
                "problems": self.problems, "counts": self.counts(),
                "accounts": [a.record() for a in self.accounts],
                "reports": [r.record() for r in self.reports],
                "next_runs": [{"job": run.job, "agency": run.agency, "timezone": run.timezone,
                               "local": run.local, "utc": run.utc} for run in self.next_runs],
                "missed_reports": [m.record() for m in self.missed_reports],
                "daemon_runs": [d.record() for d in self.daemon_runs],
                "warnings": [s.warning for s in self.sunsets]}


def check_status(session: Session, *, agency_ref: str | None = None,
                 schedule: ScheduleSettings | None = None, now: dt.datetime | None = None,
                 locks: SendLocks | None = None, settings: Settings | None = None) -> Status:
    """The state of every active client (of the agency named, else of every agency) at `now`,
    with each agency's next scheduled runs when `schedule` is given; with `locks`, whether the
    sender of a report being sent still lives; with `settings`, the connected platforms whose
    configured API version is near its sunset."""
    from datadrip.scheduling.timetable import next_runs

    now = now or dt.datetime.now(dt.UTC)
    agency = find_agency(session, agency_ref) if agency_ref is not None else None
    planned = [] if schedule is None else next_runs(status_agencies(session, agency), schedule, now)
    missed = [] if schedule is None else missed_reports(session, agency, schedule, now)
    accounts = account_health(session, agency, now)
    sunsets = [] if settings is None else api_sunsets(settings, {a.platform for a in accounts}, now.date())
    return Status(now, accounts, latest_reports(session, agency, locks), planned, missed,
                  daemon_runs(session, agency), sunsets)


def _active_clients(query: Any, agency: Agency | None) -> Any:
    query = query.where(_clients.c.active == sa.true())
    return query if agency is None else query.where(_clients.c.agency_id == agency.id)


def account_health(session: Session, agency: Agency | None, now: dt.datetime) -> list[AccountHealth]:
    """Per account of an active client: its latest run and latest success, each found through
    sync_run's (account, started_at) index."""
    latest_run = (sa.select(_runs.c.id).where(_runs.c.account_id == _accounts.c.id)
                  .order_by(_runs.c.started_at.desc()).limit(1).scalar_subquery())
    succeeded_at = last_good_sync(_accounts.c.id)
    last = _runs.alias("last_run")
    query = (sa.select(_agencies.c.name.label("agency"), _clients.c.name.label("client"),
                       _accounts.c.platform, _accounts.c.external_id, _accounts.c.name,
                       _accounts.c.status, _accounts.c.created_at,
                       succeeded_at.label("succeeded_at"),
                       last.c.status.label("run_status"), last.c.started_at.label("run_started"),
                       last.c.finished_at.label("run_finished"), last.c.rows.label("run_rows"),
                       last.c.error.label("run_error"), last.c.wait.label("run_wait"),
                       last.c.warnings.label("run_warnings"))
             .join(_clients, _clients.c.id == _accounts.c.client_id)
             .join(_agencies, _agencies.c.id == _clients.c.agency_id)
             .outerjoin(last, last.c.id == latest_run)
             .order_by(sa.func.lower(_agencies.c.name), sa.func.lower(_clients.c.name),
                       _accounts.c.platform, _accounts.c.external_id))
    found = []
    for row in session.execute(_active_clients(query, agency)):
        success = _aware(row.succeeded_at)
        last_run = None if row.run_status is None else {
            "status": row.run_status, "started_at": _aware(row.run_started),
            "finished_at": _aware(row.run_finished), "rows": row.run_rows, "error": row.run_error,
            "warnings": list(row.run_warnings or [])}
        hours = None if success is None else round((now - success).total_seconds() / 3600, 1)
        state = HealthState.PLATFORM_NOT_INSTALLED if not is_installed(row.platform) else \
            _state(row.status, row.run_status, success, _aware(row.created_at), now)
        found.append(AccountHealth(
            row.agency, row.client, row.platform, row.external_id, row.name, row.status, state,
            last_run, success, hours,
            connect_command(row.platform, row.client) if state == HealthState.NEEDS_LOGIN else None,
            _wait(row.run_wait, row.run_status, now)))
    return found


def _wait(stored: Any, run_status: str | None, now: dt.datetime) -> dict[str, Any] | None:
    if not isinstance(stored, dict):
        return None
    try:
        until = _aware(dt.datetime.fromisoformat(str(stored.get("until"))))
    except ValueError:
        until = None
    waiting = run_status == SyncStatus.RUNNING.value and until is not None and until > now \
        and not stored.get("gave_up")
    return {**stored, "waiting": waiting}


def _state(account_status: str, run_status: str | None, success: dt.datetime | None,
           connected_at: dt.datetime | None, now: dt.datetime) -> HealthState:
    if account_status == AccountStatus.DISABLED.value:
        return HealthState.DISABLED
    if account_status == AccountStatus.NEEDS_REAUTH.value:
        return HealthState.NEEDS_LOGIN
    if run_status in (SyncStatus.FAILED.value, SyncStatus.PARTIAL.value):
        return HealthState.FAILING
    if success is None:
        # Connected within the window: its first sync is still to come, not late yet.
        recent = connected_at is not None and now - connected_at <= STALE_AFTER
        return HealthState.WAITING if recent else HealthState.NEVER_SYNCED
    return HealthState.STALE if now - success > STALE_AFTER else HealthState.OK


def latest_reports(session: Session, agency: Agency | None,
                   locks: SendLocks | None = None) -> list[ReportHealth]:
    """Each active client's latest report of each kind (by period, then when it was made)."""
    rank = sa.func.row_number().over(partition_by=(_reports.c.client_id, _reports.c.kind),
                                     order_by=(_reports.c.period_end.desc(),
                                               _reports.c.created_at.desc())).label("rank")
    ranked = (sa.select(_reports.c.id, _reports.c.client_id, _reports.c.kind, _reports.c.period_start,
                        _reports.c.period_end, _reports.c.status, _reports.c.sent_at,
                        _reports.c.built_at, _reports.c.error, _reports.c.message_id,
                        _reports.c.sending_since, rank)).subquery()
    query = (sa.select(_agencies.c.name.label("agency"), _clients.c.name.label("client"), ranked)
             .join(_clients, _clients.c.id == ranked.c.client_id)
             .join(_agencies, _agencies.c.id == _clients.c.agency_id)
             .where(ranked.c.rank == 1)
             .order_by(sa.func.lower(_agencies.c.name), sa.func.lower(_clients.c.name), ranked.c.kind))
    return [ReportHealth(row.agency, row.client, row.id, row.kind, row.period_start, row.period_end,
                         row.status, _aware(row.sent_at), _aware(row.built_at), row.error,
                         row.message_id, _report_state(row, locks))
            for row in session.execute(_active_clients(query, agency))]


def _report_state(row: Any, locks: SendLocks | None) -> str:
    if row.sending_since is None or locks is None:
        return str(row.status)
    if locks.in_flight(report_key(row.client_id, row.kind, row.period_start, row.period_end)):
        return SENDING
    # Its sender died: a message handed over is uncertain; one that never left is still to send.
    return str(row.status) if row.status in (ReportStatus.UNCERTAIN.value, ReportStatus.SENT.value) \
        else CUT_SHORT


def missed_reports(session: Session, agency: Agency | None, schedule: ScheduleSettings,
                   now: dt.datetime) -> list[MissedReport]:
    """For each agency whose reports the daemon sends, the reports of its latest scheduled run
    whose deadline has passed that were not sent: no report for an active client (one added
    before that run), or one built and never handed over."""
    crons = {job: cron for job, cron in job_crons(schedule).items() if job in REPORT_KINDS}
    deadline = parse_deadline(schedule.report_deadline)
    found = []
    for agency_id, name, timezone in _agencies_checked(session, agency):
        zone = ZoneInfo(timezone)
        for job, cron in crons.items():
            fired = latest_fire(cron, zone, now, now - DAEMON_IN_USE)
            # The latest run whose deadline has passed (a run after the deadline: once it has run).
            while fired is not None and now < max(fired, to_utc(fired.astimezone(zone).date(),
                                                                deadline, zone)):
                fired = latest_fire(cron, zone, fired - dt.timedelta(minutes=1), now - DAEMON_IN_USE)
            if fired is None or not _daemon_runs_job(session, agency_id, job, fired):
                continue
            kind = REPORT_KINDS[job]
            period = plan_report(kind, None, None, None, fired.astimezone(zone).date()).period
            sent = sa.select(_reports.c.id).where(
                _reports.c.client_id == _clients.c.id, _reports.c.kind == kind.value,
                _reports.c.period_start == period.since, _reports.c.period_end == period.until,
                sa.or_(_reports.c.status != ReportStatus.BUILT.value, _reports.c.sending_since.is_not(None)))
            query = (sa.select(_clients.c.name).where(
                _clients.c.agency_id == agency_id, _clients.c.active == sa.true(),
                _clients.c.created_at <= fired, ~sa.exists(sent)).order_by(sa.func.lower(_clients.c.name)))
            found += [MissedReport(name, client, kind.value, period.since, period.until, fired, timezone)
                      for client in session.scalars(query)]
    return found


def _daemon_runs_job(session: Session, agency_id: str, job: str, fired: dt.datetime) -> bool:
    """Whether the daemon runs this job for the agency: it has a run of it for a time near `fired`,
    and none is under way for `fired` itself."""
    runs = sa.select(_job_runs.c.status, _job_runs.c.scheduled_for).where(
        _job_runs.c.agency_id == agency_id, _job_runs.c.job == job,
        _job_runs.c.scheduled_for > fired - DAEMON_IN_USE)
    rows = session.execute(runs).all()
    running = any(row.status == JobStatus.RUNNING.value and _aware(row.scheduled_for) == fired
                  for row in rows)
    return bool(rows) and not running


def daemon_runs(session: Session, agency: Agency | None) -> list[DaemonRunHealth]:
    """Each agency's latest run of each job, when it was stopped or failed with an error of its own."""
    rank = sa.func.row_number().over(partition_by=(_job_runs.c.agency_id, _job_runs.c.job),
                                     order_by=_job_runs.c.started_at.desc()).label("rank")
    ranked = sa.select(_job_runs.c.agency_id, _job_runs.c.job, _job_runs.c.scheduled_for,
                       _job_runs.c.status, _job_runs.c.detail, rank).subquery()
    query = (sa.select(_agencies.c.name, _agencies.c.timezone, ranked)
             .join(_agencies, _agencies.c.id == ranked.c.agency_id)
             .where(ranked.c.rank == 1, ranked.c.status.in_([JobStatus.FAILED.value,
                                                             JobStatus.ABANDONED.value]))
             .order_by(sa.func.lower(_agencies.c.name), ranked.c.job))
    if agency is not None:
        query = query.where(ranked.c.agency_id == agency.id)
    found = []
    for row in session.execute(query):
        detail = row.detail if isinstance(row.detail, dict) else {}
        error = detail.get("error")
        if not error or row.job not in HAND_COMMANDS:
            continue  # failed for some accounts or clients only: their own lines say which
        found.append(DaemonRunHealth(row.name, row.job, _aware(row.scheduled_for) or row.scheduled_for,
                                     row.timezone, row.status, str(error),
                                     hand_command(row.job, row.name)))
    return found


def _agencies_checked(session: Session, agency: Agency | None) -> list[tuple[str, str, str]]:
    """(id, name, time zone) of the agencies checked."""
    if agency is not None:
        return [(agency.id, agency.name, agency.timezone)]
    query = sa.select(_agencies.c.id, _agencies.c.name, _agencies.c.timezone) \
        .order_by(sa.func.lower(_agencies.c.name))
    return [(row.id, row.name, row.timezone) for row in session.execute(query)]


def status_agencies(session: Session, agency: Agency | None) -> list[tuple[str, str]]:
    """(name, time zone) of the agencies checked: the one asked for, else every agency."""
    return [(name, timezone) for _, name, timezone in _agencies_checked(session, agency)]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
