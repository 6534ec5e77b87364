"""`report send`: build each client's report from the workbook and deliver it once.

A send takes the report's send lock (reports/claims.py: held by the live process for the whole
send, let go by its death), claims the report's row (report.sending_since) in the workbook before
it talks to the provider, marks the moment the message is handed over, and records the outcome
after, each in its own transaction, so the workbook is never locked during the network's time. A
report already sent is not sent again unless forced. A claim whose sender died is taken over at
once: sent now if its message never left, else (and when an answer is lost after the hand-over)
the report is "uncertain" and is not repeated blindly: `--force` is the person's decision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datadrip.analytics.totals import agency_today
from datadrip.core import validate
from datadrip.core.config import Loaded
from datadrip.core.enums import ReportKind, ReportStatus, SendStatus
from datadrip.core.errors import AuthRequiredError, DataDripError, UsageError
from datadrip.core.text import cell
from datadrip.core.validate import EmailAddress
from datadrip.db.models import Agency, Client, Report
from datadrip.reports.build import plan_report
from datadrip.reports.claims import report_key, resend_command, send_locks
from datadrip.reports.compose import compose_report
from datadrip.reports.delivery.base import DeliveryError, deliver
from datadrip.reports.delivery.mail import InlineImage, OutgoingEmail, new_message_id
from datadrip.reports.delivery.providers import open_provider, resolve_sender
from datadrip.reports.formatting import day_range
from datadrip.reports.history import (
    claim,
    find_report,
    mark_handover,
    record_delivery,
    record_unsent,
    save_built,
    take_over,
    undo_handover,
)
from datadrip.workbook.accounts import shell_quoted
from datadrip.workbook.agencies import find_agency
from datadrip.workbook.clients import find_client
from datadrip.workbook.session import open_session

if TYPE_CHECKING:
    from datadrip.reports.claims import SendLocks
    from datadrip.reports.compose import ComposedReport
    from datadrip.reports.delivery.base import Provider
    from datadrip.reports.delivery.providers import Sender


@dataclass(frozen=True)
class SendRequest:
    client: str | None = None
    all_clients: bool = False
    agency: str | None = None
    kind: ReportKind | None = None
    period: str | None = None
    since: str | None = None
    until: str | None = None
    to: tuple[EmailAddress, ...] = ()  # checked (--to): a copy, not the client's send
    dry_run: bool = False
    force: bool = False


@dataclass
class ReportSend:
    client: str
    kind: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    status: SendStatus = SendStatus.FAILED
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    report_id: str | None = None
    provider: str | None = None
    message_id: str | None = None
    provider_id: str | None = None
    attempts: int = 0
    reason: str | None = None  # why it was skipped or failed
    hint: str | None = None
    maybe_sent: bool = False
    no_recipients: bool = False
    already_sent: bool = False
    needs_login: bool = False  # it failed for a login to renew (exit 4)
    # Uncertain (it may have reached the client's recipients): the `report send … --force` to run
    # only once it is known not to have arrived.
    force_command: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def uncertain(self) -> bool:
        """A failure that may have reached the recipients: never sent again without --force."""
        return self.status == SendStatus.FAILED and self.force_command is not None

    def record(self) -> dict[str, Any]:
        return {"client": self.client, "kind": self.kind,
                "period": {"since": self.since, "until": self.until}, "status": self.status,
                "recipients": self.recipients, "subject": self.subject, "report_id": self.report_id,
                "provider": self.provider, "message_id": self.message_id,
                "provider_id": self.provider_id, "attempts": self.attempts, "reason": self.reason,
                "maybe_sent": self.maybe_sent, "warnings": self.warnings}


@dataclass
class SendOutcome:
    reports: list[ReportSend]
    dry_run: bool

    def having(self, status: SendStatus) -> list[ReportSend]:
        return [report for report in self.reports if report.status == status]

    def summary(self) -> str:
        """What happened to each client, in a line: which failed, may have been sent (uncertain),
        were sent, had been sent already and were skipped (and why). The first of the failed and
        the uncertain is counted."""
        failed = [report for report in self.having(SendStatus.FAILED) if not report.uncertain]
        uncertain = [report for report in self.having(SendStatus.FAILED) if report.uncertain]
        first = failed or uncertain
        count = (f"{len(first)} of {len(self.reports)} reports" if first and len(first) < len(self.reports)
                 else f"{len(first)} report{'' if len(first) == 1 else 's'}")
        groups = [(f"{count} failed", failed, False),
                  (f"{'uncertain' if failed else count + ' uncertain'} (may have been sent)", uncertain,
                   False),
                  ("sent", self.having(SendStatus.SENT), False),
                  ("would send", self.having(SendStatus.WOULD_SEND), False),
                  ("already sent", [r for r in self.having(SendStatus.SKIPPED) if r.already_sent], False),
                  ("skipped", [r for r in self.having(SendStatus.SKIPPED) if not r.already_sent], True)]
        return "; ".join(
            f"{label}: " + ", ".join(r.client + (f" ({r.reason})" if why and r.reason else "")
                                     for r in reports)
            for label, reports, why in groups if reports)

    def record(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "sent": len(self.having(SendStatus.SENT)),
                "skipped": len(self.having(SendStatus.SKIPPED)),
                "failed": len(self.having(SendStatus.FAILED)),
                "reports": [report.record() for report in self.reports]}


def send_reports(loaded: Loaded, request: SendRequest,
                 on_report: Callable[[ReportSend], None] | None = None) -> SendOutcome:
    """Send (or, with dry_run, plan) the reports asked for, one client after another; a failure
    of one never stops the others, and is recorded with its reason. Only a wrong call (a bad
    period, a wrong setting: exit 2) stops the run, as it would fail every client alike."""
    copies = request.to
    sender = resolve_sender(loaded)  # once for the whole send; a wrong [email] from: exit 2 now
    provider = None if request.dry_run else open_provider(loaded)
    targets = _targets(loaded, request)
    outcome = SendOutcome([], request.dry_run)
    with send_locks(loaded) as locks:
        for client_id in targets:
            result = _send_one(loaded, provider, sender, locks, client_id, request, copies)
            outcome.reports.append(result)
            if on_report is not None:
                on_report(result)
    return outcome


def _targets(loaded: Loaded, request: SendRequest) -> list[str]:
    from sqlmodel import col, select

    if request.all_clients == (request.client is not None):
        raise UsageError("name a client, or give --all for every active client",
                         hint="datadrip report send \"Masala Mornings\"  or  datadrip report send --all")
    with open_session(loaded) as wb:
        if request.client is not None:
            return [find_client(wb.session, request.client, request.agency).id]
        query = select(Client).where(col(Client.active)).order_by(col(Client.name))
        if request.agency is not None:
            query = query.where(col(Client.agency_id) == find_agency(wb.session, request.agency).id)
        return [client.id for client in wb.session.exec(query)]


def _send_one(loaded: Loaded, provider: Provider | None, sender: Sender, locks: SendLocks,
              client_id: str, request: SendRequest, copies: tuple[EmailAddress, ...]) -> ReportSend:
    """One client's send. Its trouble (a missing exchange rate, say) is recorded as its failure;
    its send lock, if taken, is let go once the outcome is recorded."""
    try:
        return _send_locked(loaded, provider, sender, locks, client_id, request, copies)
    except UsageError:
        raise
    except DataDripError as exc:
        return _failed(loaded, client_id, request, copies, exc)
    finally:
        locks.release()


def _failed(loaded: Loaded, client_id: str, request: SendRequest, copies: tuple[EmailAddress, ...],
            error: DataDripError) -> ReportSend:
    """A client's report that could not be made: recorded as failed, with why, unless it was a
    dry run or a copy (--to), which keep nothing."""
    now = dt.datetime.now(dt.UTC)
    keep = not request.dry_run and not copies
    with open_session(loaded, write=keep) as wb:
        client = wb.session.get(Client, client_id)
        agency = wb.session.get(Agency, client.agency_id) if client is not None else None
        assert client is not None and agency is not None  # listed a moment ago, in one process
        plan = plan_report(request.kind, request.period, request.since, request.until,
                           agency_today(agency, now))
        result = ReportSend(client.name, plan.kind.value, plan.period.since, plan.period.until,
                            recipients=list(copies or client.report_recipients),
                            provider=loaded.settings.email.provider, reason=error.message,
                            hint=error.hint, needs_login=isinstance(error, AuthRequiredError))
        if keep:
            row = record_unsent(wb.session, client.id, plan.kind.value, plan.period.since,
                                plan.period.until, status=ReportStatus.FAILED, reason=error.message,
                                at=now)
            result.report_id = row.id if row is not None else None
    return result


def _send_locked(loaded: Loaded, provider: Provider | None, sender: Sender, locks: SendLocks,
                 client_id: str, request: SendRequest, copies: tuple[EmailAddress, ...]) -> ReportSend:
    settings = loaded.settings
    now = dt.datetime.now(dt.UTC)
    with open_session(loaded, write=not request.dry_run) as wb:
        session = wb.session
        client = session.get(Client, client_id)
        agency = session.get(Agency, client.agency_id) if client is not None else None
        assert client is not None and agency is not None  # listed a moment ago, in one process
        plan = plan_report(request.kind, request.period, request.since, request.until,
                           agency_today(agency, now))
        result = ReportSend(client.name, plan.kind.value, plan.period.since, plan.period.until,
                            recipients=list(copies or client.report_recipients),
                            provider=settings.email.provider)
        if not result.recipients:
            return _skip(result, f"{client.name} has no report recipients", no_recipients=True,
                         hint=f"Add them: datadrip client edit {_quoted(client.name)} "
                              "--recipients someone@example.com")
        recipients = copies or _stored_recipients(client.report_recipients)
        if isinstance(recipients, str):
            result.reason = f"{client.name}'s recipient {recipients!r} is not an e-mail address"
            result.hint = f"Fix it: datadrip client edit {_quoted(client.name)} --recipients …"
            return result
        existing = find_report(session, client.id, plan.kind.value, plan.period.since,
                               plan.period.until)
        if existing is not None:
            result.report_id = existing.id
        if not copies:
            key = report_key(client.id, plan.kind.value, plan.period.since, plan.period.until)
            live = locks.in_flight(key) if request.dry_run else not locks.take(key)
            if live:
                return _skip(result, _in_flight(existing, locks.holder(key)))
            if existing is not None and existing.sending_since is not None and not request.dry_run:
                take_over(session, existing, now)  # its sender died: the lock was free
        if not copies and existing is not None and not request.force:
            blocked = _blocked(result, existing, client.name)
            if blocked is not None:
                return blocked
        composed = compose_report(session, agency, client, plan,
                                  template_dir=settings.reports.template_dir, now=now)
        result.subject, result.warnings = composed.subject, list(composed.content.warnings)
        unsent = None if settings.reports.send_empty else _nothing_to_send(composed, agency)
        if unsent is not None:
            status, reason = unsent
            if not request.dry_run and not copies:
                result.report_id = save_built(session, composed, now=now).id
                record_unsent(session, client.id, plan.kind.value, plan.period.since,
                              plan.period.until, status=status, reason=reason, at=now)
            if status is ReportStatus.SKIPPED:
                return _skip(result, reason)
            send = resend_command(client.name, plan.kind.value, plan.period.since, plan.period.until,
                                  force=False)
            result.reason = reason
            result.hint = (f"Sync its accounts (datadrip sync --client {_quoted(client.name)}), then "
                           f"send it: {send}")
            return result
        if request.dry_run:
            result.status = SendStatus.WOULD_SEND
            return result
        row = save_built(session, composed, now=now)
        result.report_id = row.id
        if not copies and not claim(session, row.id, now, force=request.force):
            return _skip(result, "another DataDrip is sending this report now")
        message = _message(sender, agency, composed, recipients, now)
        result.message_id = message.message_id
    assert provider is not None
    return _deliver(loaded, provider, message, result, to_client=not copies, forced=request.force)


def _in_flight(existing: Report | None, holder: str) -> str:
    since = existing.sending_since if existing is not None else None
    if since is None:
        return f"another DataDrip{holder} is sending this report now"
    return f"another DataDrip{holder} has been sending this report since {cell(since)}"


def _blocked(result: ReportSend, existing: Report, client: str) -> ReportSend | None:
    """Why a report must not be sent again now, or None."""
    if existing.status == ReportStatus.SENT.value:
        result.message_id, result.provider_id = existing.message_id, existing.provider_id
        result.already_sent = True
        return _skip(result, f"already sent on {cell(existing.sent_at)} to "
                             f"{', '.join(existing.recipients)}",
                     hint="Add --force to send it again.")
    if existing.status != ReportStatus.UNCERTAIN.value:
        return None
    result.status, result.maybe_sent = SendStatus.FAILED, True
    result.message_id, result.provider = existing.message_id, existing.provider or result.provider
    result.reason = f"uncertain: {existing.error or 'the report may have reached its recipients'}"
    command = resend_command(client, existing.kind, existing.period_start, existing.period_end)
    result.force_command = command
    result.hint = (f"Ask a recipient whether Message-ID {existing.message_id} arrived (or check the "
                   f"provider's log); only if it did not, send it again: {command}")
    return result


def _nothing_to_send(composed: ComposedReport, agency: Agency) -> tuple[ReportStatus, str] | None:
    """Why a report without numbers is not sent, or None when it has numbers. Skipped when there
    is nothing to tell (no accounts; accounts synced through the period without a figure in it);
    failed when the numbers are missing because an account has not synced that far (its last
    sync failed, it needs a login): that is not an empty period, and `status` names it."""
    content = composed.content
    if not content.accounts:
        return ReportStatus.SKIPPED, "no accounts"
    if content.has_data:
        return None
    period = content.plan.period
    empty = f"no data for {day_range(period.since, period.until, agency.locale)}"
    if content.warnings:  # an account behind the period's end: its numbers are missing, not zero
        return ReportStatus.FAILED, f"{empty}: {' '.join(content.warnings)}"
    return ReportStatus.SKIPPED, empty


def _stored_recipients(stored: list[str]) -> tuple[EmailAddress, ...] | str:
    """The client's recipients as the workbook holds them, checked as they enter the send (a
    workbook is a file: another program, or an older DataDrip, may have written it); the first
    bad one, as stored, when there is one."""
    checked = []
    for address in stored:
        try:
            checked.append(validate.email(address, what="recipient"))
        except UsageError:
            return address
    return tuple(checked)


def _skip(result: ReportSend, reason: str, *, hint: str | None = None,
          no_recipients: bool = False) -> ReportSend:
    result.status, result.reason, result.hint = SendStatus.SKIPPED, reason, hint
    result.no_recipients = no_recipients
    return result


def _message(sender: Sender, agency: Agency, composed: ComposedReport,
             recipients: tuple[EmailAddress, ...], now: dt.datetime) -> OutgoingEmail:
    images = tuple(InlineImage(image.content_id, image.filename, image.data, image.mime_type)
                   for image in composed.images)
    return OutgoingEmail(sender_name=agency.name, sender_address=sender.address,
                         reply_to=sender.reply_to, to=recipients,
                         subject=composed.subject, text=composed.rendered("txt"),
                         html=composed.rendered("html", embed=False), images=images,
                         message_id=new_message_id(sender.address), date=now)


def _deliver(loaded: Loaded, provider: Provider, message: OutgoingEmail, result: ReportSend, *,
             to_client: bool, forced: bool) -> ReportSend:
    """Hand the message over (retrying what may be retried), then record how it went."""
    before: tuple[str, str | None] = (ReportStatus.BUILT.value, None)

    def handover(leaving: bool) -> None:
        """Keep in the workbook, before the point of no return, that the message may be out."""
        nonlocal before
        assert result.report_id is not None
        with open_session(loaded, write=True) as wb:
            if leaving:
                before = mark_handover(wb.session, result.report_id, provider=provider.name,
                                       message_id=message.message_id, recipients=result.recipients,
                                       at=dt.datetime.now(dt.UTC))
            else:
                undo_handover(wb.session, result.report_id, before)

    error: DeliveryError | None = None
    try:
        delivery = deliver(provider, message, attempts=loaded.settings.email.attempts,
                           on_handover=handover if to_client else None)
    except DeliveryError as exc:
        error = exc
    with open_session(loaded, write=True) as wb:
        row = wb.session.get(Report, result.report_id)
        assert row is not None  # claimed above; reports are never deleted by a send
        at = dt.datetime.now(dt.UTC)
        if error is None:
            result.status, result.provider_id = SendStatus.SENT, delivery.provider_id
            result.attempts = delivery.attempts
            if delivery.refused:
                result.warnings.append(f"refused by the server: {', '.join(delivery.refused)}")
            accepted = [address for address in result.recipients if address not in delivery.refused]
            record_delivery(wb.session, row, provider=provider.name, recipients=accepted, at=at,
                            to_client=to_client, forced=forced, message_id=message.message_id,
                            provider_id=delivery.provider_id, attempts=delivery.attempts, error=None)
            return result
        result.status, result.reason, result.hint = SendStatus.FAILED, error.message, error.hint
        result.attempts, result.maybe_sent = error.attempts, error.maybe_sent
        if error.maybe_sent and to_client and result.since is not None and result.until is not None:
            command = resend_command(result.client, result.kind, result.since, result.until)
            result.force_command = command
            result.reason = f"uncertain: {error.message}"
            result.hint = f"{error.hint or ''} Only if it did not arrive: {command}".strip()
        record_delivery(wb.session, row, provider=provider.name, recipients=result.recipients, at=at,
                        to_client=to_client, forced=forced, message_id=message.message_id,
                        provider_id=None, attempts=error.attempts, error=error.message,
                        maybe_sent=error.maybe_sent)
    return result


def _quoted(name: str) -> str:
    return shell_quoted(name)
