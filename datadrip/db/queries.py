"""Queries more than one service needs."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from datadrip.db.models import AdAccount, Insight, MetricDaily, Report


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
