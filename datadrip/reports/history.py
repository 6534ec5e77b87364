"""Reports kept in the workbook: one row per client, kind and period (the guard against sending
the same report twice), and every delivery attempt in report_delivery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from datadrip.analytics.totals import agency_today
from datadrip.core.enums import ReportKind, ReportStatus
from datadrip.db.models import Agency, Client, Report, ReportDelivery
from datadrip.db.queries import find_by_id_prefix
from datadrip.reports.build import plan_report
from datadrip.reports.compose import ComposedReport, compose_report
from datadrip.workbook.agencies import find_agency
from datadrip.workbook.clients import find_client

_r = Report.__table__  # type: ignore[attr-defined]
# A report that went out (or may have) keeps the numbers and HTML that were sent.
KEPT = (ReportStatus.SENT.value, ReportStatus.UNCERTAIN.value)


def find_report(session: Session, client_id: str, kind: str, since: dt.date,
                until: dt.date) -> Report | None:
    query = sa.select(Report).where(col(Report.client_id) == client_id, col(Report.kind) == kind,
                                    col(Report.period_start) == since, col(Report.period_end) == until)
    return session.execute(query).scalars().first()


def save_built(session: Session, report: ComposedReport, *, now: dt.datetime) -> Report:
    """Store a fresh build (numbers, summary, HTML). A report already sent keeps what was sent."""
    content = report.content
    period = content.plan.period
    row = find_report(session, content.client.id, content.plan.kind.value, period.since, period.until)
    if row is None:
        row = Report(client_id=content.client.id, kind=content.plan.kind.value,
                     period_start=period.since, period_end=period.until)
    elif row.status in KEPT or row.sending_since is not None:
        return row
    row.channel_data = dict(report.record)  # the workbook's JSON columns keep decimals exact
    row.summary = content.summary
    row.html = report.rendered("html")
    row.built_at = now
    session.add(row)
    session.flush()
    return row


def claim(session: Session, report_id: str, now: dt.datetime, *, force: bool) -> bool:
    """Mark the report as being sent, unless it is sent already or another send holds it
    (`force` takes it anyway). One UPDATE, so two senders cannot both win."""
    where = [_r.c.id == report_id]
    if not force:
        where += [_r.c.sending_since.is_(None), _r.c.status != ReportStatus.SENT.value]
    claimed: Any = session.execute(sa.update(_r).where(*where).values(sending_since=now))
    return bool(claimed.rowcount)


def take_over(session: Session, report: Report, at: dt.datetime) -> bool:
    """End the claim of a sender that died (its send lock is free). True when its message had
    been handed over (the report is "uncertain": that is kept, with a line in its history);
    False when nothing can have gone out, so the report may be sent now."""
    handed_over = report.status == ReportStatus.UNCERTAIN.value
    if handed_over:
        session.add(ReportDelivery(report_id=report.id, at=at, provider=report.provider or "",
                                   recipients=list(report.recipients),
                                   status=ReportStatus.UNCERTAIN.value, message_id=report.message_id,
                                   provider_id=report.provider_id, attempts=1, error=report.error))
    report.sending_since = None
    session.add(report)
    session.flush()
    return handed_over


def mark_handover(session: Session, report_id: str, *, provider: str, message_id: str,
                  recipients: list[str], at: dt.datetime) -> tuple[str, str | None]:
    """The message is about to leave for the provider: from now on, until its answer is recorded,
    the report is "uncertain" (so a sender killed now is never followed by a blind second copy).
    Returns the status and error to put back if the provider then takes nothing."""
    report = session.get(Report, report_id)
    assert report is not None  # claimed by this sender, and reports are never deleted by a send
    before = (report.status, report.error)
    report.status = ReportStatus.UNCERTAIN.value
    report.recipients, report.message_id, report.provider = recipients, message_id, provider
    report.provider_id = None
    report.error = (f"handed over to {provider} at {at:%Y-%m-%d %H:%M:%S} UTC, and the sender stopped "
                    "before the answer was recorded: it may have reached its recipients")
    session.add(report)
    session.flush()
    return before


def undo_handover(session: Session, report_id: str, before: tuple[str, str | None]) -> None:
    """The provider took nothing (a passing failure before the point of no return)."""
    report = session.get(Report, report_id)
    assert report is not None
    report.status, report.error = before
    session.add(report)
    session.flush()


def record_delivery(session: Session, report: Report, *, provider: str, recipients: list[str],
                    at: dt.datetime, to_client: bool, forced: bool, message_id: str | None,
                    provider_id: str | None, attempts: int, error: str | None,
                    maybe_sent: bool = False) -> ReportDelivery:
    """Keep the attempt; for the client's own recipients, the report's status follows it and the
    claim ends. A send whose outcome is unknown (maybe_sent) is "uncertain": it is not repeated
    without --force."""
    sent = error is None
    status = ReportStatus.SENT if sent else ReportStatus.UNCERTAIN if maybe_sent else ReportStatus.FAILED
    delivery = ReportDelivery(report_id=report.id, at=at, provider=provider, recipients=recipients,
                              status=status.value, message_id=message_id, provider_id=provider_id,
                              attempts=attempts, forced=forced, error=error)
    session.add(delivery)
    if to_client:
        report.status = status.value
        report.recipients = recipients
        report.message_id = message_id
        report.provider = provider
        report.provider_id = provider_id
        report.error = error
        if sent:
            report.sent_at = at
        report.sending_since = None
        session.add(report)
    session.flush()
    return delivery


def record_unsent(session: Session, client_id: str, kind: str, since: dt.date, until: dt.date, *,
                  status: ReportStatus, reason: str, at: dt.datetime) -> Report | None:
    """Record that a client's report was not sent (failed before a provider was asked, or skipped)
    and why, so that `report list` and `status` show it. A report sent already, perhaps sent
    (uncertain: only a person may say it was not) or being sent keeps its state (None)."""
    row = find_report(session, client_id, kind, since, until)
    if row is None:
        row = Report(client_id=client_id, kind=kind, period_start=since, period_end=until)
    elif row.status in KEPT or row.sending_since is not None:
        return None
    row.status, row.error = status.value, reason
    if status is ReportStatus.SKIPPED:
        row.built_at = row.built_at or at
    session.add(row)
    session.flush()
    return row


def release(session: Session, report_id: str) -> None:
    """Drop a claim made by a send that never reached a provider (nothing can have gone out)."""
    session.execute(sa.update(_r).where(_r.c.id == report_id).values(sending_since=None))


def cut_short_sends(session: Session, agency_id: str, kind: str) -> list[tuple[str, str, dt.date, dt.date]]:
    """(client id, client name, since, until) of an agency's active clients' reports of `kind`
    that still carry a send's claim, oldest first."""
    query = (sa.select(col(Client.id), col(Client.name), col(Report.period_start), col(Report.period_end))
             .join(Client, col(Client.id) == col(Report.client_id))
             .where(col(Client.agency_id) == agency_id, col(Client.active), col(Report.kind) == kind,
                    col(Report.sending_since).is_not(None))
             .order_by(col(Report.period_end), col(Client.name)))
    return [(row[0], row[1], row[2], row[3]) for row in session.execute(query).all()]


def list_reports(session: Session, *, client: Client | None = None, agency: Agency | None = None,
                 statuses: Sequence[str] = (), limit: int = 50) -> list[tuple[Report, Client]]:
    query = (sa.select(Report, Client).join(Client, col(Client.id) == col(Report.client_id))
             .order_by(col(Report.period_end).desc(), col(Report.created_at).desc()).limit(limit))
    if statuses:
        query = query.where(col(Report.status).in_(statuses))
    if client is not None:
        query = query.where(col(Report.client_id) == client.id)
    if agency is not None:
        query = query.where(col(Client.agency_id) == agency.id)
    return [(report, owner) for report, owner in session.execute(query).all()]


def list_reports_for(session: Session, client_ref: str | None, agency_ref: str | None,
                     limit: int, statuses: Sequence[str] = ()) -> list[tuple[Report, Client]]:
    """`report list`: one client's reports, an agency's, or every one (of these statuses)."""
    if client_ref is not None:
        return list_reports(session, client=find_client(session, client_ref, agency_ref),
                            statuses=statuses, limit=limit)
    agency = find_agency(session, agency_ref) if agency_ref is not None else None
    return list_reports(session, agency=agency, statuses=statuses, limit=limit)


def find_report_by_id(session: Session, ref: str) -> tuple[Report, Client]:
    """A report by its id, or an unambiguous start of it (6 characters at least)."""
    return find_by_id_prefix(session, Report, ref, noun="report", listing="datadrip report list")


def deliveries(session: Session, report_id: str) -> list[ReportDelivery]:
    query = sa.select(ReportDelivery).where(col(ReportDelivery.report_id) == report_id) \
        .order_by(col(ReportDelivery.at))
    return list(session.execute(query).scalars())


def report_record(report: Report, client: Client) -> dict[str, Any]:
    return {"id": report.id, "client": client.name, "kind": report.kind,
            "period": {"since": report.period_start, "until": report.period_end},
            "status": report.status, "recipients": list(report.recipients),
            "message_id": report.message_id, "provider": report.provider,
            "provider_id": report.provider_id, "sent_at": report.sent_at,
            "built_at": report.built_at, "error": report.error,
            "sending_since": report.sending_since}


def delivery_record(delivery: ReportDelivery) -> dict[str, Any]:
    return {"at": delivery.at, "provider": delivery.provider, "recipients": list(delivery.recipients),
            "status": delivery.status, "message_id": delivery.message_id,
            "provider_id": delivery.provider_id, "attempts": delivery.attempts,
            "forced": delivery.forced, "error": delivery.error}


def build_report(session: Session, client_ref: str, agency_ref: str | None, *,
                 kind: ReportKind | None, period: str | None, since: str | None,
                 until: str | None, template_dir: str, save: bool) -> ComposedReport:
    """`report build`: one client's report, stored in the workbook (unless it was sent: what was
    sent is kept)."""
    client = find_client(session, client_ref, agency_ref)
    agency = session.get(Agency, client.agency_id)
    assert agency is not None  # a client always belongs to an agency
    now = dt.datetime.now(dt.UTC)
    plan = plan_report(kind, period, since, until, agency_today(agency, now))
    composed = compose_report(session, agency, client, plan, template_dir=template_dir, now=now)
    if save:
        save_built(session, composed, now=now)
    return composed
