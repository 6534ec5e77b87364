"""Meta asynchronous report runs: start one, poll it with growing pauses, read its pages, and split
the window in halves when Meta fails or skips the job (reference §4)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from datadrip.core.errors import DataDripError
from datadrip.platforms.base import DateWindow, FetchNotes
from datadrip.platforms.http import Wait
from datadrip.platforms.meta.graph import SERVICE, GraphClient

log = logging.getLogger(__name__)

# Polls wait 1 s, 2 s, 4 s … up to 30 s between them, or less once Meta says how far the run has
# got: the time it has taken so far scaled by what is left (a run 80 % done after 16 s is polled
# again after 4 s, not 16). A run still unfinished after 30 minutes of waiting (counted as asked
# of `sleep`) fails its account rather than holding the sync forever.
POLL_FIRST_SECONDS = 1.0
POLL_GROWTH = 2.0
POLL_MAX_SECONDS = 30.0
RUN_TIMEOUT_SECONDS = 30 * 60.0
COMPLETED = "Job Completed"
GAVE_UP = frozenset({"Job Failed", "Job Skipped"})
RUNNING = frozenset({"Job Not Started", "Job Started", "Job Running"})
RUN_FIELDS = "id,async_status,async_percent_completion"


def time_range(window: DateWindow) -> str:
    """The `time_range` parameter: {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"} as compact JSON."""
    return json.dumps({"since": window.since.isoformat(), "until": window.until.isoformat()},
                      separators=(",", ":"))


def halves(window: DateWindow) -> tuple[DateWindow, DateWindow]:
    """The window cut in two; the first half gets the middle day of an odd count."""
    middle = window.since + dt.timedelta(days=(window.days - 1) // 2)
    return DateWindow(window.since, middle), DateWindow(middle + dt.timedelta(days=1), window.until)


def report_rows(graph: GraphClient, act: str, params: Mapping[str, str], window: DateWindow, *,
                notes: FetchNotes, page_limit: int) -> Iterator[dict[str, Any]]:
    """The rows of `act`/insights with `params` over `window`, through report runs, oldest part
    first. A run that Meta fails or skips is made again as two runs of half the window each, down
    to one day; a day that still fails is an error."""
    pending = [window]
    while pending:
        part = pending.pop()
        # `limit` belongs to reading the run's pages, not to starting it.
        form = {key: value for key, value in params.items() if key != "limit"}
        run_id, status = _run(graph, act, {**form, "time_range": time_range(part)}, part, notes)
        if status == COMPLETED:
            yield from graph.get_all(f"{run_id}/insights", {"limit": str(page_limit)}, notes=notes)
            continue
        if part.days == 1:
            raise DataDripError(f"Meta's report run for {act} on {part.since} ended with "
                                f"{status!r}, even for a single day",
                                hint="Try the sync again later; Meta fails report runs when it is "
                                     "busy.")
        first, second = halves(part)
        notes.warnings.append(f"Meta's report run for {part} ended with {status!r}; fetched "
                              f"{first} and {second} separately")
        pending += [second, first]  # a stack: the older half comes out first


def next_pause(pause: float, waited: float, percent: Any) -> float:
    """The pause before the next poll: the last one grown, or, when the run reports a share done
    between 0 and 100, the time it should still need at its pace so far, if that is shorter."""
    grown = min(pause * POLL_GROWTH, POLL_MAX_SECONDS)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent < 100:
        return grown
    remaining = waited * (100 - percent) / percent
    return max(POLL_FIRST_SECONDS, min(remaining, grown))


def _run(graph: GraphClient, act: str, form: dict[str, str], window: DateWindow,
         notes: FetchNotes) -> tuple[str, str]:
    """Start a run and poll it until Meta says it completed, failed or was skipped."""
    created = graph.post(f"{act}/insights", form, notes=notes)
    run_id = created.get("report_run_id")
    # Graph writes ids as strings; an integer would be read the same way.
    if isinstance(run_id, int) and not isinstance(run_id, bool):
        run_id = str(run_id)
    if not isinstance(run_id, str) or not run_id.isdigit():
        raise DataDripError(f"Meta did not start a report run for {act} ({window}): no "
                            "report_run_id in its answer",
                            hint="Check [meta] graph_url and api_version.")
    waited, pause, done = 0.0, POLL_FIRST_SECONDS, ""
    while True:
        if waited + pause > RUN_TIMEOUT_SECONDS:
            raise DataDripError(f"Meta's report run for {act} ({window}) did not finish within "
                                f"{RUN_TIMEOUT_SECONDS / 60:g} minutes",
                                hint="Meta is busy; try again later, or sync a shorter window "
                                     "(datadrip sync --since).")
        graph.tell(Wait(SERVICE, pause, f"report run for {window}{done}", "poll"))
        graph.sleep(pause)
        waited += pause
        run = graph.get(run_id, {"fields": RUN_FIELDS}, notes=notes)
        status = run.get("async_status")
        percent = run.get("async_percent_completion")
        done = f", {percent:g}% done" if isinstance(percent, int | float) and \
            not isinstance(percent, bool) else ""
        pause = next_pause(pause, waited, run.get("async_percent_completion"))
        if status == COMPLETED or status in GAVE_UP:
            log.info("Meta: report run for %s (%s): %s after %.0f s", act, window, status, waited)
            return run_id, str(status)
        if status not in RUNNING:  # a status we don't know yet: keep polling until the timeout
            log.warning("Meta: report run for %s has an unknown status %r", act, status)
