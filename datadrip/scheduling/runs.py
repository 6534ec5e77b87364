"""Which of the daemon's jobs are due, from the timetable and the job_run rows: what ran is kept in
the workbook, so a restarted daemon knows. A job whose latest scheduled time within the misfire
grace has no run is due once, however many of its times were missed (coalesced)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from datadrip.core.config import Loaded
from datadrip.core.cron import parse_deadline
from datadrip.core.enums import AccountStatus, JobStatus, ReportKind
from datadrip.db.engine import session_scope
from datadrip.db.models import AdAccount, Agency, Client, JobRun, Report
from datadrip.scheduling.timetable import job_crons, latest_fire, next_fire, to_utc
from datadrip.sync.health import last_good_sync
from datadrip.workbook.accounts import shell_quoted

# The jobs that send reports, and the kind each sends.
REPORT_KINDS = {"reports": ReportKind.DAILY, "weekly_reports": ReportKind.WEEKLY}
REPORT_JOBS = tuple(REPORT_KINDS)
# What runs each job by hand, for one agency (`status` names it when the daemon's run went wrong).
HAND_COMMANDS = {"sync": "datadrip sync --agency {agency}",
                 "refresh_tokens": "datadrip account check --agency {agency}",
                 "reports": "datadrip report send --all --kind daily --agency {agency}",
                 "weekly_reports": "datadrip report send --all --kind weekly --agency {agency}"}
# The loop wakes a moment after a run's time; a grace this short would miss it.
MIN_GRACE = dt.timedelta(minutes=2)
# A run abandoned this often (stopped, or the daemon died during it) without getting anywhere is not
# tried again for that time (a job that kills its daemon must not loop). A reports run that sent a
# report before it was stopped got somewhere: it does not count, so a daemon killed twice in one
# morning (a reboot, a closed laptop) still sends the rest.
MAX_ABANDONED = 2


@dataclass(frozen=True)
class DueJob:
    job: str
    agency_id: str
    agency: str
    timezone: str
    scheduled_for: dt.datetime  # UTC
    follow_up: bool = False  # a reports job run again at the deadline for the clients left waiting

    def deadline(self, loaded: Loaded) -> dt.datetime:
        """The report deadline on the scheduled day, in UTC."""
        zone = ZoneInfo(self.timezone)
        day = self.scheduled_for.astimezone(zone).date()
        return to_utc(day, parse_deadline(loaded.settings.schedule.report_deadline), zone)

    def day_start(self) -> dt.datetime:
        """Midnight of the scheduled day in the agency's timezone, in UTC."""
        zone = ZoneInfo(self.timezone)
        return dt.datetime.combine(self.scheduled_for.astimezone(zone).date(), dt.time(),
                                   tzinfo=zone).astimezone(dt.UTC)

    def label(self) -> str:
        return f"{self.job} · {self.agency}" + (" (follow-up)" if self.follow_up else "")


def hand_command(job: str, agency: str) -> str:
    """The command that does what this job of the daemon does, for one agency."""
    return HAND_COMMANDS[job].format(agency=shell_quoted(agency))


def agencies(engine: Engine) -> list[tuple[str, str, str]]:
    """(id, name, timezone) of every agency."""
    with session_scope(engine) as session:
        rows = session.exec(select(Agency).order_by(col(Agency.name)))
        return [(agency.id, agency.name, agency.timezone) for agency in rows]


def close_running(engine: Engine, now: dt.datetime) -> int:
    """Runs left `running` by a daemon that died: abandoned. Returns how many."""
    with session_scope(engine, write=True) as session:
        rows = list(session.exec(select(JobRun).where(col(JobRun.status) == JobStatus.RUNNING.value)))
        for row in rows:
            row.status, row.finished_at = JobStatus.ABANDONED.value, now
            row.detail = {**row.detail, "error": "the daemon stopped during this run"}
            session.add(row)
        return len(rows)


def _runs(engine: Engine, agency_id: str, job: str, scheduled_for: dt.datetime) -> list[JobRun]:
    with session_scope(engine) as session:
        return list(session.exec(select(JobRun).where(
            col(JobRun.agency_id) == agency_id, col(JobRun.job) == job,
            col(JobRun.scheduled_for) == scheduled_for)))


def due_jobs(loaded: Loaded, engine: Engine, now: dt.datetime) -> list[DueJob]:
    """Every job due at `now`, oldest first: its latest scheduled time within the misfire grace
    has no finished run; or a reports run left clients waiting for their sync, and one of them
    has synced since or the report deadline has passed."""
    crons = job_crons(loaded.settings.schedule)
    grace = max(MIN_GRACE, dt.timedelta(minutes=loaded.settings.schedule.misfire_grace_minutes))
    found = []
    for agency_id, name, timezone in agencies(engine):
        zone = ZoneInfo(timezone)
        for job, cron in crons.items():
            latest = latest_fire(cron, zone, now, now - grace)
            if latest is None:
                continue
            due = DueJob(job, agency_id, name, timezone, latest)
            runs = _runs(engine, agency_id, job, latest)
            if _wanted(engine, agency_id, job, runs):
                found.append(due)
            elif job in REPORT_JOBS and (waiting := _waiting(runs)) and (
                    now >= due.deadline(loaded) or
                    any(synced_today(engine, client_id, due.day_start())
                        for client_id in _client_ids(engine, agency_id, waiting))):
                found.append(DueJob(job, agency_id, name, timezone, latest, follow_up=True))
    return sorted(found, key=lambda item: (item.scheduled_for, item.agency))


def _wanted(engine: Engine, agency_id: str, job: str, runs: list[JobRun]) -> bool:
    """Whether this scheduled time is to run (again): it has no run, or only abandoned ones, fewer
    than MAX_ABANDONED of which got nowhere."""
    if any(run.status != JobStatus.ABANDONED.value for run in runs):
        return False
    stuck = [run for run in runs if not (job in REPORT_JOBS and _sent_during(engine, agency_id, run))]
    return len(stuck) < MAX_ABANDONED


def _sent_during(engine: Engine, agency_id: str, run: JobRun) -> bool:
    """Whether a report of the agency's clients was sent while this run went on."""
    with session_scope(engine) as session:
        query = (select(Report.id).join(Client, col(Client.id) == col(Report.client_id))
                 .where(col(Client.agency_id) == agency_id, col(Report.sent_at) >= run.started_at))
        if run.finished_at is not None:
            query = query.where(col(Report.sent_at) <= run.finished_at)
        return session.exec(query.limit(1)).first() is not None


def _waiting(runs: list[JobRun]) -> list[str]:
    """The clients the latest finished run left waiting for their sync."""
    finished = [run for run in runs if run.status not in (JobStatus.ABANDONED.value,
                                                          JobStatus.RUNNING.value)]
    if not finished:
        return []
    return list(max(finished, key=lambda run: run.started_at).detail.get("waiting") or [])


def _client_ids(engine: Engine, agency_id: str, names: list[str]) -> list[str]:
    with session_scope(engine) as session:
        return list(session.exec(select(Client.id).where(col(Client.agency_id) == agency_id,
                                                         col(Client.name).in_(names))))


def synced_today(engine: Engine, client_id: str, since: dt.datetime) -> bool:
    """Every enabled account of the client has a sync that succeeded since `since` (UTC)."""
    with session_scope(engine) as session:
        accounts = AdAccount.__table__  # type: ignore[attr-defined]
        synced = last_good_sync(accounts.c.id)
        behind = sa.select(accounts.c.id).where(
            accounts.c.client_id == client_id, accounts.c.status != AccountStatus.DISABLED.value,
            sa.or_(synced.is_(None), synced < since))
        return session.execute(behind.limit(1)).first() is None


def next_wake(loaded: Loaded, engine: Engine, now: dt.datetime) -> dt.datetime | None:
    """The earliest moment after `now` when something may become due (a run, or a deadline)."""
    crons = job_crons(loaded.settings.schedule)
    deadline = parse_deadline(loaded.settings.schedule.report_deadline)
    moments = []
    for _agency_id, _name, timezone in agencies(engine):
        zone = ZoneInfo(timezone)
        for cron in crons.values():
            if (instant := next_fire(cron, zone, now)) is not None:
                moments.append(instant)
        local = now.astimezone(zone)
        at = to_utc(local.date(), deadline, zone)
        moments.append(at if at > now else to_utc(local.date() + dt.timedelta(days=1), deadline, zone))
    return min(moments, default=None)


def start_run(engine: Engine, due: DueJob, now: dt.datetime) -> str:
    with session_scope(engine, write=True) as session:
        row = JobRun(job=due.job, agency_id=due.agency_id, scheduled_for=due.scheduled_for,
                     started_at=now, detail={"follow_up": True} if due.follow_up else {})
        session.add(row)
        return row.id


def finish_run(engine: Engine, run_id: str, status: str, detail: dict[str, Any],
               now: dt.datetime) -> None:
    with session_scope(engine, write=True) as session:
        row = session.get(JobRun, run_id)
        assert row is not None
        row.status, row.finished_at, row.detail = status, now, {**row.detail, **detail}
        session.add(row)


def recent_runs(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first, as records (for `schedule show` and `status`)."""
    with session_scope(engine) as session:
        rows = session.exec(select(JobRun, Agency).join(Agency, col(Agency.id) == col(JobRun.agency_id))
                            .order_by(col(JobRun.started_at).desc()).limit(limit))
        return [{"job": run.job, "agency": agency.name, "scheduled_for": run.scheduled_for,
                 "started_at": run.started_at, "finished_at": run.finished_at, "status": run.status,
                 "detail": run.detail} for run, agency in rows]
