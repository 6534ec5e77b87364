"""Agencies: the freelancer's or agency's own business, with its time zone, currency and branding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from datadrip.core import validate
from datadrip.core.enums import Plan
from datadrip.core.errors import ConflictError, NotFoundError, UsageError
from datadrip.db.models import Agency, Client, User, utcnow
from datadrip.db.queries import count_client_data
from datadrip.workbook import audit
from datadrip.workbook.breakdowns import breakdowns_in_use, breakdowns_option
from datadrip.workbook.session import Workbook


@dataclass(frozen=True)
class AgencyChanges:
    """What `agency add` or `agency edit` was given; None means 'leave as is' (or the default)."""

    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    locale: str | None = None
    plan: Plan | None = None
    logo: str | None = None
    colour: str | None = None
    breakdowns: str | None = None  # comma-separated breakdown names; "none"; "" = [sync] breakdowns


def add_agency(wb: Workbook, name: str, changes: AgencyChanges) -> Agency:
    agency = Agency(name=_unused_name(wb.session, validate.name(name, what="agency")))
    _apply(agency, changes)
    wb.session.add(agency)
    wb.session.flush()
    audit.record(wb.session, wb.actor, "agency.add", "agency", agency.id, **_fields(agency))
    return agency


def edit_agency(wb: Workbook, ref: str, changes: AgencyChanges) -> Agency:
    agency = find_agency(wb.session, ref)
    before = _fields(agency)
    if changes.name is not None:
        new_name = validate.name(changes.name, what="agency")
        if new_name.lower() != agency.name.lower():
            _unused_name(wb.session, new_name)
        agency.name = new_name
    _apply(agency, changes)
    diff = audit.changes(before, _fields(agency))
    if not diff:
        raise UsageError("nothing to change", hint="Pass an option such as --timezone or --plan.")
    agency.updated_at = utcnow()
    wb.session.add(agency)
    audit.record(wb.session, wb.actor, "agency.edit", "agency", agency.id, changes=diff)
    return agency


def list_agencies(session: Session) -> list[Agency]:
    return list(session.exec(select(Agency).order_by(func.lower(Agency.name))))


def find_agency(session: Session, ref: str) -> Agency:
    """An agency by id or name (exact, then ignoring case)."""
    exact = session.exec(select(Agency).where(
        sa.or_(col(Agency.id) == ref, col(Agency.name) == ref))).first()
    if exact is not None:
        return exact
    folded = session.exec(select(Agency).where(func.lower(Agency.name) == ref.lower())).first()
    if folded is None:
        raise NotFoundError(f"no agency {ref!r}", hint="See 'datadrip agency list'.")
    return folded


def agency_or_only(session: Session, ref: str | None) -> Agency:
    """The named agency, or the only one there is when none is named."""
    if ref is not None:
        return find_agency(session, ref)
    agencies = list_agencies(session)
    if not agencies:
        raise NotFoundError("there is no agency yet",
                            hint="Create one first: datadrip agency add \"My Agency\".")
    if len(agencies) > 1:
        names = ", ".join(repr(a.name) for a in agencies)
        raise UsageError(f"--agency is needed: there are {len(agencies)} agencies ({names})")
    return agencies[0]


def agency_counts(session: Session, agency_id: str) -> dict[str, int]:
    """What belongs to the agency, by kind: what would go with it if it were removed."""
    clients = select(Client.id).where(Client.agency_id == agency_id)
    return {
        "clients": int(session.exec(select(func.count()).select_from(Client)
                                    .where(Client.agency_id == agency_id)).one()),
        "users": int(session.exec(select(func.count()).select_from(User)
                                  .where(User.agency_id == agency_id)).one()),
        **count_client_data(session, clients),
    }


def remove_agency(wb: Workbook, agency: Agency) -> dict[str, int]:
    """Remove the agency and everything that belongs to it. Returns what went with it."""
    counts = agency_counts(wb.session, agency.id)
    audit.record(wb.session, wb.actor, "agency.remove", "agency", agency.id, name=agency.name,
                 removed_with={kind: n for kind, n in counts.items() if n})
    wb.session.delete(agency)
    wb.session.flush()
    return counts


def agency_record(agency: Agency, counts: dict[str, int] | None = None, *,
                  setting: str = "") -> dict[str, Any]:
    """The agency as shown; `breakdowns_in_use` names the breakdowns synced for its clients that
    choose none themselves, and who chose them (the agency, or `setting`: `[sync] breakdowns`)."""
    record: dict[str, Any] = {
        "id": agency.id, "name": agency.name, "timezone": agency.timezone,
        "currency": agency.currency, "locale": agency.locale, "plan": agency.plan,
        "branding": {"logo": agency.settings.get("logo"), "colour": agency.settings.get("colour")},
        "breakdowns": None if agency.breakdowns is None else list(agency.breakdowns),
        **breakdowns_in_use(None, agency.breakdowns, setting).record(),
        "created_at": agency.created_at,
    }
    if counts is not None:
        record.update({"clients": counts["clients"], "users": counts["users"]})
    return record


def _unused_name(session: Session, name: str) -> str:
    clash = session.exec(select(Agency).where(func.lower(Agency.name) == name.lower())).first()
    if clash is not None:
        raise ConflictError(f"an agency named {clash.name!r} already exists",
                            hint="Pick another name, or change that one: datadrip agency edit.")
    return name


def _apply(agency: Agency, changes: AgencyChanges) -> None:
    if changes.timezone is not None:
        agency.timezone = validate.timezone(changes.timezone)
    if changes.currency is not None:
        agency.currency = validate.currency(changes.currency)
    if changes.locale is not None:
        agency.locale = validate.locale(changes.locale)
    if changes.plan is not None:
        agency.plan = Plan(changes.plan).value
    branding = dict(agency.settings)
    if changes.logo is not None:
        branding["logo"] = validate.image_file(changes.logo) if changes.logo else None
    if changes.colour is not None:
        branding["colour"] = validate.colour(changes.colour) if changes.colour else None
    agency.settings = {key: value for key, value in branding.items() if value is not None}
    if changes.breakdowns is not None:
        agency.breakdowns = breakdowns_option(changes.breakdowns)


def _fields(agency: Agency) -> dict[str, Any]:
    return {"name": agency.name, "timezone": agency.timezone, "currency": agency.currency,
            "locale": agency.locale, "plan": agency.plan, "settings": dict(agency.settings),
            "breakdowns": None if agency.breakdowns is None else list(agency.breakdowns)}
