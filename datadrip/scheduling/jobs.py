"""The daemon's jobs for one agency, each through the service its command uses: logins checked and
renewed (`account check`), a sync (`sync`, under the same lock) followed by new suggestions
(`insight generate`), reports sent (`report send`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from datadrip.core.config import Loaded
from datadrip.core.enums import JobStatus, ReportKind, SendStatus
from datadrip.core.errors import DataDripError, NotFoundError
from datadrip.db.engine import session_scope
from datadrip.db.models import AdAccount, Client
from datadrip.insights.generate import GenerateRequest, generate_insights
from datadrip.reports.history import cut_short_sends
from datadrip.reports.send import SendRequest, send_reports
from datadrip.scheduling.runs import REPORT_KINDS, DueJob, synced_today
from datadrip.sync.run import SyncInterruptedError, SyncRequest, SyncUi, sync_accounts
from datadrip.workbook.connect import check_connections

if TYPE_CHECKING:
    from datadrip.reports.send import ReportSend
    from datadrip.sync.run import WaitNotice

WaitLog = Callable[["WaitNotice"], None]


@dataclass
class JobOutcome:
    status: str
    detail: dict[str, Any] = field(default_factory=dict)


def run_job(loaded: Loaded, engine: Engine, due: DueJob, now: dt.datetime,
            on_wait: WaitLog | None = None) -> JobOutcome:
    """Run one due job. A DataDrip error fails the job (recorded), never the daemon. `on_wait`
    hears of a sync's waits over 2 seconds (the daemon logs them)."""
    runners: dict[str, Callable[[Loaded, Engine, DueJob, dt.datetime], JobOutcome]] = {
        "refresh_tokens": _refresh_tokens, "sync": lambda *args: _sync(*args, on_wait=on_wait),
        "reports": _reports, "weekly_reports": _reports}
    try:
        return runners[due.job](loaded, engine, due, now)
    except DataDripError as exc:
        return JobOutcome(JobStatus.FAILED.value, {"error": exc.message, "hint": exc.hint})


def _clients(engine: Engine, agency_id: str, *, connected: bool = False) -> list[Client]:
    with session_scope(engine) as session:
        query = select(Client).where(col(Client.agency_id) == agency_id, col(Client.active))
        if connected:
            query = query.where(col(Client.id).in_(select(AdAccount.client_id)))
        return list(session.exec(query.order_by(col(Client.name))))


def _refresh_tokens(loaded: Loaded, engine: Engine, due: DueJob, _now: dt.datetime) -> JobOutcome:
    needs_login: set[str] = set()
    checked = 0
    for client in _clients(engine, due.agency_id, connected=True):
        result = check_connections(loaded, client.id, None)
        checked += len(result.records)
        needs_login.update(result.needs_login)
    status = JobStatus.PARTIAL if needs_login else JobStatus.SUCCEEDED
    return JobOutcome(status.value, {"accounts": checked, "needs_login": sorted(needs_login)})


def _sync(loaded: Loaded, _engine: Engine, due: DueJob, _now: dt.datetime, *,
          on_wait: WaitLog | None = None) -> JobOutcome:
    ui = SyncUi(on_wait=on_wait) if on_wait is not None else None
    try:
        outcome = sync_accounts(loaded, SyncRequest(agency=due.agency_id), ui)
    except NotFoundError:
        return JobOutcome(JobStatus.SUCCEEDED.value, {"accounts": 0, "note": "no connected accounts"})
    except SyncInterruptedError as exc:  # stopped after the chunks in flight, which are saved
        return JobOutcome(JobStatus.ABANDONED.value, {"error": exc.message})
    failed = [f"{a.client} · {a.platform} {a.account_id}: {a.error}" for a in outcome.failed]
    status = JobStatus.SUCCEEDED if not failed else \
        JobStatus.PARTIAL if outcome.succeeded else JobStatus.FAILED
    detail: dict[str, Any] = {"accounts": len(outcome.accounts), "rows": outcome.rows, "failed": failed}
    if outcome.succeeded:
        detail.update(_insights(loaded, due))
    return JobOutcome(status.value, detail)


def _insights(loaded: Loaded, due: DueJob) -> dict[str, Any]:
    """Suggestions from the fresh numbers, before the morning's reports (which show the open ones).
    Their trouble is noted in the sync's detail; it never fails the sync that succeeded."""
    try:
        runs = generate_insights(loaded, GenerateRequest(agency_ref=due.agency_id)).runs
    except DataDripError as exc:
        return {"insight_notes": [f"insights: {exc.message}"]}
    notes = [f"{run.client}: the heuristics' suggestions were kept: {run.fallback}"
             for run in runs if run.fallback]
    notes += [f"{run.client}: insights failed: {run.error}" for run in runs if run.error]
    return {"insights": sum(len(run.created) for run in runs), "insight_notes": notes}


def _reports(loaded: Loaded, engine: Engine, due: DueJob, now: dt.datetime) -> JobOutcome:
    """Send the reports of the clients whose sync succeeded on the scheduled day; past the
    deadline, the others' too (their warnings say up to which day each account's data goes).
    A report already sent is skipped by send_reports' own guard."""
    day_start = due.day_start()
    past_deadline = now >= due.deadline(loaded)
    kind = REPORT_KINDS[due.job]
    detail: dict[str, list[str]] = {"sent": [], "skipped": [], "failed": [], "waiting": []}
    late: list[str] = []
    for client in _clients(engine, due.agency_id):
        ready = synced_today(engine, client.id, day_start)
        if not ready and not past_deadline:
            detail["waiting"].append(client.name)
            continue
        if not ready:
            late.append(client.name)
        outcome = send_reports(loaded, SendRequest(client=client.id, kind=kind))
        for report in outcome.reports:
            _note(detail, client.name, report)
    _resume_cut_short(loaded, engine, due.agency_id, kind, detail)
    status = JobStatus.SUCCEEDED
    if detail["failed"] or detail["waiting"]:
        status = JobStatus.FAILED if not (detail["sent"] or detail["skipped"] or detail["waiting"]) \
            else JobStatus.PARTIAL
    return JobOutcome(status.value, {**detail, "sent_before_sync": late, "kind": kind.value})


def _resume_cut_short(loaded: Loaded, engine: Engine, agency_id: str, kind: ReportKind,
                      detail: dict[str, list[str]]) -> None:
    """Reports of this kind whose send was cut short (a claim still on the row after this run's
    own sends: its sender died, on an earlier day, say): each is sent now if its message never
    left, or named as uncertain; a live sender's is left to it."""
    with session_scope(engine) as session:
        found = cut_short_sends(session, agency_id, kind.value)
    for client_id, name, since, until in found:
        label = f"{name} ({since.isoformat()}" + ("" if since == until else f"..{until.isoformat()}") + ")"
        outcome = send_reports(loaded, SendRequest(client=client_id, kind=kind, since=since.isoformat(),
                                                   until=until.isoformat()))
        for report in outcome.reports:
            _note(detail, label, report)


def _note(detail: dict[str, list[str]], label: str, report: ReportSend) -> None:
    """A report under its outcome: with why when it failed (or may have been sent), or was skipped
    for another reason than being sent already."""
    bucket = report.status.value if report.status.value in detail else SendStatus.FAILED.value
    said = report.status == SendStatus.FAILED or (report.status == SendStatus.SKIPPED
                                                  and not report.already_sent)
    detail[bucket].append(f"{label}: {report.reason}" if said and report.reason else label)
