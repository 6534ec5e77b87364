"""A period's reach from Meta: the people each entity reached over a whole range of days.

Daily reach is not additive (platform facts card §3): the people reached on Monday and on
Tuesday overlap, so a week's reach is asked for the week. One insights request per range and
level, without `time_increment` (Meta then answers the range as one row per entity, its
`all_days` default) and without `filtering` (it would drop archived and deleted objects). The
`level` parameter dedupes people within each entity.

A row without `reach` is a reach Meta withheld: it becomes None (stored as NULL, shown as n/a),
never 0, and the sync is warned once per range. Since 2025-06-10 Meta omits reach from
breakdown queries starting more than 13 months back (card §3); these queries have no
breakdown, and DataDrip's periods end within weeks of today, but whatever the cause, a missing
reach is read as withheld. A reach that is not a whole number is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from datadrip.core.errors import DataDripError, UsageError
from datadrip.platforms.base import REACH_LEVELS, AccountRef, DateWindow, FetchNotes, PeriodReach
from datadrip.platforms.meta.graph import GraphClient
from datadrip.platforms.meta.insights import BAD_DATA_HINT, INSIGHTS_PAGE_LIMIT, to_count
from datadrip.platforms.meta.report_runs import time_range


def reach_params(window: DateWindow, level: str, page_limit: int) -> dict[str, str]:
    """The parameters of `act_…/insights` for each entity's reach over the whole of `window`."""
    if level not in REACH_LEVELS:
        raise UsageError(f"a period's reach is fetched at {', '.join(REACH_LEVELS)}, not {level!r}")
    return {"level": level, "fields": f"{level}_id,impressions,reach,date_start,date_stop",
            "time_range": time_range(window), "limit": str(page_limit)}


def period_reach(graph: GraphClient, account: AccountRef, periods: Sequence[DateWindow],
                 levels: Sequence[str], notes: FetchNotes, *,
                 page_limit: int = INSIGHTS_PAGE_LIMIT) -> Iterator[PeriodReach]:
    """Each entity's reach at each of `levels` over each of `periods` (distinct ranges, each
    asked once). Rows arrive as Meta sends them; nothing is summed."""
    act = account.external_id
    withheld: dict[DateWindow, int] = {}
    for window in dict.fromkeys(periods):
        for level in levels:
            params = reach_params(window, level, page_limit)
            for item in graph.get_all(f"{act}/insights", params, notes=notes):
                record = read_reach(item, level, window)
                if record.reach is None:
                    withheld[window] = withheld.get(window, 0) + 1
                yield record
    if withheld:
        notes.warnings.append(f"Meta withheld the reach of {act} over {len(withheld)} period(s) "
                              f"({', '.join(map(str, withheld))}; {sum(withheld.values())} "
                              "account and campaign counts); shown as n/a")


def read_reach(item: dict[str, Any], level: str, window: DateWindow) -> PeriodReach:
    """One row of a range request read strictly: its entity, the range it covers (exactly the
    one asked), its reach (None when the row has none)."""
    entity_id = item.get(f"{level}_id")
    if not isinstance(entity_id, str) or not entity_id:
        raise DataDripError(f"Meta sent a {level} reach row over {window} without {level}_id",
                            hint=BAD_DATA_HINT)
    where = f"{level} {entity_id} over {window}"
    start, stop = item.get("date_start"), item.get("date_stop")
    if (start, stop) != (window.since.isoformat(), window.until.isoformat()):
        raise DataDripError(f"Meta sent the reach of {where} for {start!r} to {stop!r}, not the "
                            "range asked", hint=BAD_DATA_HINT)
    reach = item.get("reach")
    return PeriodReach(level, entity_id, window.since, window.until,
                       None if reach is None else to_count(reach, "reach", where))

