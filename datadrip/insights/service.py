"""What the read-only `insight` commands show: suggestions per client, model usage per agency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from datadrip.analytics.totals import agency_today, resolve_scope
from datadrip.core.config import AiSettings, redact_url
from datadrip.insights.store import insight_record, list_insights
from datadrip.insights.usage import usage_days
from datadrip.workbook.agencies import find_agency, list_agencies


def list_for(session: Session, client_ref: str | None, agency_ref: str | None, statuses: list[str],
             limit: int | None) -> list[dict[str, Any]]:
    if client_ref is None and agency_ref is None:
        client_ids = [client.id for agency in list_agencies(session)
                      for client in resolve_scope(session, None, agency.id).clients]
    else:
        client_ids = resolve_scope(session, client_ref, agency_ref).client_ids
    return [insight_record(insight, client)
            for insight, client in list_insights(session, client_ids, statuses, limit)]


def usage_report(session: Session, ai: AiSettings, agency_ref: str | None, days: int) -> dict[str, Any]:
    """Each agency's model usage per day, newest first, with the limits and today's headroom."""
    agencies = [find_agency(session, agency_ref)] if agency_ref else list_agencies(session)
    rows = []
    for agency in agencies:
        today = agency_today(agency)
        rows += [day.record() for day in usage_days(session, [agency], today - dt.timedelta(days=days - 1))]
    rows.sort(key=lambda row: (row["day"], row["agency"]), reverse=True)
    return {"limits": {"requests": ai.daily_request_limit, "tokens": ai.daily_token_limit},
            "model": ai.model, "base_url": redact_url(ai.base_url), "days": rows}
