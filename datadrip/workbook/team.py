"""Team members: the people of an agency (owners and members) who send its reports."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from datadrip.core import validate
from datadrip.core.enums import Role
from datadrip.core.errors import ConflictError, NotFoundError
from datadrip.db.models import Agency, User
from datadrip.workbook import audit
from datadrip.workbook.agencies import agency_or_only, find_agency
from datadrip.workbook.session import Workbook


def add_user(wb: Workbook, email: str, agency_ref: str | None, role: Role) -> tuple[User, Agency]:
    address = validate.email(email)
    agency = agency_or_only(wb.session, agency_ref)
    clash = wb.session.exec(select(User).where(func.lower(User.email) == address.lower())).first()
    if clash is not None:
        owner = wb.session.get_one(Agency, clash.agency_id)
        raise ConflictError(f"{clash.email} is already a team member of {owner.name!r}",
                            hint="Remove them there first: datadrip user remove EMAIL.")
    user = User(email=address, role=Role(role).value, agency_id=agency.id)
    wb.session.add(user)
    wb.session.flush()
    audit.record(wb.session, wb.actor, "user.add", "user", user.id, email=user.email,
                 role=user.role, agency=agency.name)
    return user, agency


def list_users(session: Session, agency_ref: str | None = None) -> list[tuple[User, Agency]]:
    query = select(User, Agency).join(Agency, col(Agency.id) == col(User.agency_id))
    if agency_ref is not None:
        query = query.where(User.agency_id == find_agency(session, agency_ref).id)
    query = query.order_by(func.lower(Agency.name), func.lower(User.email))
    return [(user, agency) for user, agency in session.exec(query)]


def find_user(session: Session, ref: str) -> User:
    user = session.exec(select(User).where(
        sa.or_(col(User.id) == ref, func.lower(User.email) == ref.strip().lower()))).first()
    if user is None:
        raise NotFoundError(f"no team member {ref!r}", hint="See 'datadrip user list'.")
    return user


def remove_user(wb: Workbook, ref: str) -> User:
    user = find_user(wb.session, ref)
    audit.record(wb.session, wb.actor, "user.remove", "user", user.id, email=user.email)
    wb.session.delete(user)
    wb.session.flush()
    return user


def user_record(user: User, agency: Agency) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "role": user.role, "agency": agency.name,
            "agency_id": agency.id, "created_at": user.created_at}
