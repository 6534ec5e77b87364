"""The daemon: runs each agency's jobs at their times in its timezone until SIGTERM or SIGINT.

A loop over the timetable rather than APScheduler's job store: the job_run rows in the workbook
are the record of what ran (shared with `datadrip status` and any restarted daemon), the loop wakes
at the next due time (at most a minute later, so a laptop waking from sleep, a new agency or a
changed clock is noticed), and each wake asks the workbook what is due, which is the catch-up
rule too: a missed job runs once, however many of its times were missed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from datadrip.core.config import Loaded, redact_url
from datadrip.core.enums import JobStatus
from datadrip.core.errors import DataDripError
from datadrip.core.private_files import make_folder
from datadrip.db.engine import open_workbook
from datadrip.scheduling.jobs import JobOutcome, run_job
from datadrip.scheduling.runs import (
    DueJob,
    close_running,
    due_jobs,
    finish_run,
    hand_command,
    next_wake,
    start_run,
)
from datadrip.sync.lock import holder, pg_session_lock, pid_lock

if TYPE_CHECKING:
    from datadrip.sync.run import WaitNotice

LOGGER = "datadrip.daemon"
MAX_SLEEP_SECONDS = 60.0


class DaemonRunningError(DataDripError):
    """Another daemon works on the same workbook."""


@dataclass(frozen=True)
class DaemonRequest:
    once: bool = False
    log_file: Path | None = None
    json_logs: bool = False


@dataclass
class DaemonOutcome:
    runs: list[tuple[DueJob, str]]
    stopped_by: str | None = None  # the signal's name

    @property
    def worst(self) -> JobStatus:
        statuses = {status for _, status in self.runs}
        for status in (JobStatus.FAILED, JobStatus.ABANDONED, JobStatus.PARTIAL):
            if status in statuses:
                return status
        return JobStatus.SUCCEEDED


def daemon_lock_path(loaded: Loaded) -> Path:
    digest = hashlib.sha256(loaded.workbook_target.encode()).hexdigest()[:16]
    return loaded.paths.data_dir / f"daemon-{digest}.lock"


@contextmanager
def daemon_lock(path: Path) -> Iterator[None]:
    """One daemon per workbook: an flock on a file in the data folder, released however we end."""
    def refuse(pid: str) -> DaemonRunningError:
        return DaemonRunningError("another datadrip daemon is already running on this workbook"
                                  + holder(pid),
                                  hint=f"Stop it first (kill -TERM {pid or 'PID'}); its lock is {path}.")

    with pid_lock(path, refuse):
        yield


# pg_advisory_lock's key for the daemon: "DDdaemon" as a 63-bit number (the sync's is "DDsync").
PG_DAEMON_KEY = int.from_bytes(b"DDdaemon", "big") >> 1


@contextmanager
def _shared_workbook_lock(engine: Any) -> Iterator[None]:
    """A PostgreSQL workbook may be shared by several machines: one daemon among all of them."""
    if engine.dialect.name != "postgresql":
        yield
        return

    with pg_session_lock(engine, PG_DAEMON_KEY, lambda: DaemonRunningError(
            "another datadrip daemon is already running on this workbook (from this or another "
            "machine)", hint="Run one daemon per shared workbook.")):
        yield


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="seconds"),
                "level": record.levelname.lower(), "message": record.getMessage(),
                **getattr(record, "fields", {})}
        return json.dumps(data, default=str, ensure_ascii=False)


def make_logger(request: DaemonRequest) -> logging.Logger:
    """stderr, or a file rotated at 5 MB (five kept); one line per record, JSON with --json-logs."""
    from logging.handlers import RotatingFileHandler

    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: logging.Handler
    if request.log_file is not None:
        make_folder(request.log_file.parent)
        handler = RotatingFileHandler(request.log_file, maxBytes=5_000_000, backupCount=5,
                                      encoding="utf-8")
    else:
        handler = logging.StreamHandler()
    formatter: logging.Formatter = _JsonFormatter() if request.json_logs else logging.Formatter(
        "%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    return logger


def _log(logger: logging.Logger, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})


class _Stopper:
    """SIGTERM/SIGINT: take no more jobs. A sync under way is interrupted (it stops after its chunk
    in flight, which is saved whole); another job finishes, unless a second signal comes. Between
    jobs a signal only ends the wait."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: str | None = None
        self.job: str | None = None  # the job under way

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        again = self.event.is_set()
        self.signal = signal.Signals(signum).name
        self.event.set()
        if self.job == "sync" or (self.job is not None and again):
            raise KeyboardInterrupt


def run_daemon(loaded: Loaded, request: DaemonRequest,
               clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> DaemonOutcome:
    """Run due jobs (once, or until stopped by a signal). Each run is kept in job_run."""
    logger = make_logger(request)
    with daemon_lock(daemon_lock_path(loaded)):
        engine = open_workbook(loaded.workbook_target,
                               busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
        stopper = _Stopper()
        previous = {sig: signal.signal(sig, stopper) for sig in (signal.SIGTERM, signal.SIGINT)}
        outcome = DaemonOutcome([])
        try:
            with _shared_workbook_lock(engine):
                closed = close_running(engine, clock())
                where = redact_url(loaded.workbook_target)
                _log(logger, f"daemon started (pid {os.getpid()}, workbook {where}"
                             f"{', once' if request.once else ''})"
                             + (f"; {closed} run(s) left running by a stopped daemon marked abandoned"
                                if closed else ""),
                     event="daemon_start", pid=os.getpid(), once=request.once, workbook=where)
                _loop(loaded, engine, request, clock, logger, stopper, outcome)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            engine.dispose()
        outcome.stopped_by = stopper.signal
        _log(logger, "daemon stopped" + (f" ({stopper.signal})" if stopper.signal else ""),
             event="daemon_stop", signal=stopper.signal)
        return outcome


def _loop(loaded: Loaded, engine: Any, request: DaemonRequest, clock: Callable[[], dt.datetime],
          logger: logging.Logger, stopper: _Stopper, outcome: DaemonOutcome) -> None:
    """Run what is due, then sleep until the next run may be due (at most a minute), until stopped."""
    while not stopper.event.is_set():
        for due in due_jobs(loaded, engine, clock()):
            if stopper.event.is_set():
                break
            outcome.runs.append((due, _run_one(loaded, engine, due, clock, logger, stopper)))
        if request.once:
            return
        wake = next_wake(loaded, engine, clock())
        seconds = MAX_SLEEP_SECONDS if wake is None else \
            min(MAX_SLEEP_SECONDS, max(1.0, (wake - clock()).total_seconds()))
        stopper.event.wait(seconds)


def _run_one(loaded: Loaded, engine: Any, due: DueJob, clock: Callable[[], dt.datetime],
             logger: logging.Logger, stopper: _Stopper) -> str:
    fields: dict[str, Any] = {"job": due.job, "agency": due.agency,
                              "scheduled_for": due.scheduled_for.isoformat(), "follow_up": due.follow_up}
    run_id = start_run(engine, due, clock())
    local = due.scheduled_for.astimezone(_zone(due.timezone)).strftime("%Y-%m-%d %H:%M")
    _log(logger, f"start {due.label()} (scheduled {local} {due.timezone})", event="job_start",
         run_id=run_id, **fields)
    started = time.monotonic()
    stopper.job = due.job
    try:
        result = run_job(loaded, engine, due, clock(), on_wait=lambda notice: _log_wait(
            logger, due, notice))
    except KeyboardInterrupt:  # the stop signal, or Ctrl-C: the service left nothing half-written
        result = JobOutcome(JobStatus.ABANDONED.value, {"error": f"stopped by {stopper.signal or 'SIGINT'}"})
    except DataDripError as exc:  # SyncInterruptedError and the like, raised past run_job
        status = JobStatus.ABANDONED if stopper.event.is_set() else JobStatus.FAILED
        result = JobOutcome(status.value, {"error": exc.message})
    except Exception as exc:  # a bug: this run fails (recorded, named by `status`); the others go on
        where = _where(exc)
        # The frames, not the message: an unexpected error's text may hold a URL with a token.
        _log(logger, f"{due.label()}: unexpected {type(exc).__name__} {where}:\n"
                     + "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
             level=logging.ERROR, event="job_error", error=type(exc).__name__, **fields)
        result = JobOutcome(JobStatus.FAILED.value, {
            "error": f"unexpected {type(exc).__name__} {where}",
            "hint": "Run it by hand to see the whole error, and report it: datadrip --debug "
                    + hand_command(due.job, due.agency).removeprefix("datadrip ")})
    finally:
        stopper.job = None
    seconds = round(time.monotonic() - started, 3)
    finish_run(engine, run_id, result.status, result.detail, clock())
    level = logging.INFO if result.status == JobStatus.SUCCEEDED else logging.WARNING
    _log(logger, f"end {due.label()}: {result.status} in {seconds}s{_summary(result.detail)}",
         level=level, event="job_end", run_id=run_id, status=result.status, seconds=seconds,
         detail=result.detail, **fields)
    return result.status


def _where(exc: BaseException) -> str:
    """Where an error was raised, as "in datadrip/sync/run.py line 443 (_sync_one)": the innermost
    frame of our own code."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if f"{os.sep}datadrip{os.sep}" in frame.filename]
    if not frames:
        return ""
    frame = frames[-1]
    path = frame.filename[frame.filename.rindex(f"{os.sep}datadrip{os.sep}") + 1:]
    return f"in {path} line {frame.lineno} ({frame.name})"


def _log_wait(logger: logging.Logger, due: DueJob, notice: WaitNotice) -> None:
    """A sync's wait over 2 seconds, or one it would not take (that account failed)."""
    account = notice.account
    what = f"{account.client} · {account.platform} {account.account_id}"
    _log(logger, f"{due.label()}: {what}: {notice.text}",
         level=logging.WARNING if notice.gave_up else logging.INFO, event="sync_wait",
         agency=due.agency, client=account.client, platform=account.platform,
         account_id=account.account_id, wait=notice.record())


def _summary(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, list) and value:
            parts.append(f"{key}: {', '.join(str(item) for item in value)}")
        elif isinstance(value, int | str) and not isinstance(value, bool) and value != "":
            parts.append(f"{key} {value}")
    return f" ({'; '.join(parts)})" if parts else ""


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
