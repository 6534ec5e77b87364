"""Queries more than one service needs."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from datadrip.core.errors import AmbiguousError, NotFoundError
from datadrip.db.models import AdAccount, Client, Insight, MetricDaily, Report

Owned = TypeVar("Owned", Report, Insight)
ID_PREFIX = 6  # the fewest characters of an id that name a report or an insight


def count_client_data(session: Session, client_ids: Any) -> dict[str, int]:
    """How many ad accounts, metric rows, reports and insights the given clients have.

    `client_ids` is a SELECT of client ids, so the counting stays in the database."""
    accounts = select(AdAccount.id).where(col(AdAccount.client_id).in_(client_ids))
    counted = {
        "ad_accounts": select(func.count()).select_from(AdAccount)
        .where(col(AdAccount.client_id).in_(client_ids)),
        "metric_rows": select(func.count()).select_from(MetricDaily)
        .where(col(MetricDaily.account_id).in_(accounts)),
        "reports": select(func.count()).select_from(Report)
        .where(col(Report.client_id).in_(client_ids)),
        "insights": select(func.count()).select_from(Insight)
        .where(col(Insight.client_id).in_(client_ids)),
    }
    return {kind: int(session.exec(query).one()) for kind, query in counted.items()}


def find_by_id_prefix(session: Session, model: type[Owned], ref: str, *, noun: str,
                      listing: str) -> tuple[Owned, Client]:
    """A client's report or insight by its id, or an unambiguous start of it (6 characters at
    least), with its client. `listing` is the command that shows the ids."""
    ref = ref.strip().lower()
    if len(ref) < ID_PREFIX:
        raise NotFoundError(f"no {noun} {ref!r}",
                            hint=f"Give at least {ID_PREFIX} characters of an id from '{listing}'.")
    query = sa.select(model, Client).join(Client, col(Client.id) == col(model.client_id)) \
        .where(col(model.id).startswith(ref)).limit(2)
    found = session.execute(query).all()
    if not found:
        raise NotFoundError(f"no {noun} {ref!r}", hint=f"See the ids with '{listing}'.")
    if len(found) > 1:
        raise AmbiguousError(f"more than one {noun} starts with {ref!r}",
                             hint="Give more characters of the id.")
    return found[0][0], found[0][1]
