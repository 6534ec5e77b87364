"""Sync: fill the workbook with each connected account's daily numbers, incrementally.

For every account and level the window runs from the day after its cursor (or `[sync]
initial_days` back on a first sync, or `--since`) to today in the account's time zone, always
reaching back the lookback window, since platforms restate conversions. The window is fetched in
chunks of `[sync] chunk_days`, oldest first; each chunk is saved in one transaction that also
moves the cursor, so a crash loses at most the chunk in flight. Accounts run concurrently in a
bounded pool and fail alone; one lock keeps two syncs off the same workbook.

A wait longer than a moment (a rate limit, a retry, a report run being prepared) is told to the
UI as a sentence with the time it ends in the agency's timezone, and kept on the account's
sync_run for `datadrip status`; one longer than `[sync] max_wait_seconds` fails the account at
once, saying when it may resume.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from datadrip.core.enums import AccountStatus, AccountSyncStatus, SyncStatus
from datadrip.core.errors import AuthRequiredError, DataDripError, NotFoundError, UsageError
from datadrip.core.periods import months_back, reach_periods
from datadrip.db.engine import open_workbook, session_scope
from datadrip.db.models import AdAccount
from datadrip.platforms import registry
from datadrip.platforms.base import (
    BREAKDOWNS,
    LEVELS,
    REACH_LEVELS,
    AccountRef,
    BreakdownSource,
    ConnectorContext,
    ConversionCatalogue,
    DateWindow,
    EntityCatalogue,
    EntityRecord,
    FetchNotes,
    MetricRow,
    PeriodReachSource,
    SyncOptions,
)
from datadrip.platforms.http import RetryLaterError, RetryPolicy, Wait, WaitFn, duration, http_client
from datadrip.platforms.registry import open_connector
from datadrip.platforms.tokens import load_login
from datadrip.secrets.store import open_store, resolve_secret
from datadrip.sync.lock import lock_path, workbook_lock
from datadrip.sync.store import (
    AccountWriter,
    close_interrupted_runs,
    cursors,
    finish_run,
    first_days,
    note_wait,
    start_run,
    unfinished_since,
)
from datadrip.workbook.accounts import list_connections, mark_needs_reauth, reauth_hint
from datadrip.workbook.agencies import find_agency
from datadrip.workbook.breakdowns import breakdowns_in_use
from datadrip.workbook.clients import find_client
from datadrip.workbook.session import Workbook, actor_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from datadrip.core.config import Loaded
    from datadrip.platforms.base import LoginTokens, TokenSource
    from datadrip.platforms.http import Sleep


RETENTION_MONTHS = 37  # both platforms keep daily data 37 months back
HTTP_TIMEOUT = 60.0


@dataclass(frozen=True)
class SyncRequest:
    clients: Sequence[str] = ()
    agency: str | None = None
    platform: str | None = None
    levels: Sequence[str] = LEVELS
    since: dt.date | None = None
    until: dt.date | None = None
    full: bool = False
    dry_run: bool = False
    wait: bool = False
    now: dt.datetime | None = None  # the moment (aware) each account's today is read at; default: the clock


@dataclass(frozen=True)
class SyncUi:
    """What the command shows while accounts sync (called from worker threads). `on_wait` hears
    of every wait longer than a moment before it starts."""

    on_start: Callable[[AccountSync], None] = lambda _account: None
    on_chunk: Callable[[AccountSync, int], None] = lambda _account, _rows: None
    on_done: Callable[[AccountSync], None] = lambda _account: None
    on_notice: Callable[[str], None] = lambda _text: None
    on_wait: Callable[[WaitNotice], None] = lambda _notice: None


@dataclass
class AccountSync:
    """One account's plan and, once run, its outcome."""

    id: str
    client: str
    agency: str
    platform: str
    account_id: str
    name: str
    currency: str
    timezone: str
    token_ref: str | None = field(repr=False, default=None)
    login_customer_id: str | None = None
    account_status: str = AccountStatus.ACTIVE.value
    conversion_actions: tuple[str, ...] = ()
    windows: dict[str, DateWindow] = field(default_factory=dict)
    status: AccountSyncStatus = AccountSyncStatus.PLANNED
    rows: int = 0
    chunks: int = 0
    seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    needs_login: bool = False
    warnings: list[str] = field(default_factory=list)
    attribution: str | None = None
    agency_timezone: str = "UTC"  # resume times are told in it
    wait: dict[str, Any] | None = None  # the latest wait told (WaitNotice.record())
    resume_at: dt.datetime | None = None  # when failed for a wait too long: when it may resume
    platform_installed: bool = True  # False: skipped, no installed plug-in provides its platform
    breakdowns: tuple[str, ...] = ()  # dimensions broken down over the campaign window (BREAKDOWNS)
    asked_since: dt.date | None = None  # --since when it is before what the platforms keep
    today: dt.date | None = None  # the account's day when planned

    @property
    def window(self) -> DateWindow | None:
        if not self.windows:
            return None
        return DateWindow(min(w.since for w in self.windows.values()),
                          max(w.until for w in self.windows.values()))

    @property
    def total_chunks(self) -> int:
        return sum(1 for window in self.windows.values() for _ in window.chunks(self._chunk_days))

    _chunk_days: int = field(default=14, repr=False)

    def record(self) -> dict[str, Any]:
        window = self.window
        return {"client": self.client, "agency": self.agency, "platform": self.platform,
                "account_id": self.account_id, "name": self.name, "currency": self.currency,
                "timezone": self.timezone, "status": self.status,
                "since": window.since if window else None, "until": window.until if window else None,
                "levels": list(self.windows), "rows": self.rows,
                "seconds": round(self.seconds, 3), "attribution_setting": self.attribution,
                "warnings": list(self.warnings), "error": self.error, "hint": self.hint,
                "needs_login": self.needs_login, "wait": self.wait, "resume_at": self.resume_at}


@dataclass(frozen=True)
class WaitNotice:
    """One wait of an account's sync, as the UI shows it, the daemon logs it and status reports
    it: `text` names the service, the reason, how long and the time it ends in the agency's
    timezone (named)."""

    account: AccountSync
    wait: Wait
    since: dt.datetime  # UTC
    until: dt.datetime  # UTC
    text: str
    gave_up: bool = False  # longer than [sync] max_wait_seconds: the account failed instead

    def record(self) -> dict[str, Any]:
        return {"service": self.wait.service, "kind": self.wait.kind, "reason": self.wait.reason,
                "seconds": round(self.wait.seconds, 1),
                "since": self.since.isoformat(timespec="seconds"),
                "until": self.until.isoformat(timespec="seconds"), "gave_up": self.gave_up,
                "text": self.text}


def local_time(moment: dt.datetime, timezone: str, now: dt.datetime | None = None) -> str:
    """"07:14 (Asia/Kolkata)": a UTC moment in a timezone, named; with the date when it is not
    today there."""
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    shown = f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"
    return f"{shown} ({timezone})"


def wait_sentence(wait: Wait, until: dt.datetime, timezone: str, now: dt.datetime) -> str:
    """The wait in one sentence: "Meta asks us to wait about 5 minutes (ad account usage 100%);
    resuming at 07:14 (Asia/Kolkata)"."""
    how_long, at = duration(wait.seconds), local_time(until, timezone, now)
    if wait.kind == "rate_limit":
        return f"{wait.service} asks us to wait {how_long} ({wait.reason}); resuming at {at}"
    if wait.kind == "pace":
        return f"{wait.service} usage is high ({wait.reason}); slowing down for {how_long}, " \
               f"resuming at {at}"
    if wait.kind == "poll":
        return f"{wait.service} is still preparing the {wait.reason}; checking again in " \
               f"{how_long}, at {at}"
    return f"{wait.service} failed ({wait.reason}); trying again in {how_long}, at {at}"


@dataclass(frozen=True)
class SyncOutcome:
    accounts: list[AccountSync]
    dry_run: bool

    @property
    def failed(self) -> list[AccountSync]:
        return [a for a in self.accounts if a.status == AccountSyncStatus.FAILED]

    @property
    def succeeded(self) -> list[AccountSync]:
        return [a for a in self.accounts if a.status == AccountSyncStatus.SUCCEEDED]

    @property
    def rows(self) -> int:
        return sum(a.rows for a in self.accounts)

    @property
    def not_installed(self) -> list[AccountSync]:
        """Accounts skipped because no installed plug-in provides their platform."""
        return [a for a in self.accounts if not a.platform_installed]


def plan_window(*, today: dt.date, cursor: dt.date | None, lookback_days: int, initial_days: int,
                since: dt.date | None = None, until: dt.date | None = None,
                full: bool = False, first_held: dt.date | None = None) -> DateWindow | None:
    """The days to fetch for one account level; None when there is nothing to do.

    Incremental: from the day after the cursor, and the lookback window (restated conversions)
    before today. When the last sync is older than yesterday (syncs failed in between), the
    lookback is counted back from the day after the cursor instead, down to the first day held
    (`first_held`), so the days it read while they were still young are read again once they are
    final. Never before the platforms' retention (retention_start), never after today."""
    last = min(until or today, today)
    if since is not None:
        first = since
    elif full or cursor is None:
        first = today - dt.timedelta(days=initial_days - 1)
    else:
        lookback = dt.timedelta(days=lookback_days)
        first = min(cursor + dt.timedelta(days=1), today - lookback)
        if first_held is not None:
            first = min(first, max(min(cursor + dt.timedelta(days=1), today) - lookback, first_held))
    first = max(first, retention_start(today))
    return DateWindow(first, last) if first <= last else None


def retention_start(today: dt.date) -> dt.date:
    """The first day synced: RETENTION_MONTHS back, and a day later, since a platform's own
    today may already be the account's tomorrow."""
    return months_back(today, RETENTION_MONTHS) + dt.timedelta(days=1)


def sync_accounts(loaded: Loaded, request: SyncRequest, ui: SyncUi | None = None) -> SyncOutcome:
    """Plan and run the sync of every matching account; per-account failures are in the outcome."""
    ui = ui or SyncUi()
    engine = open_workbook(loaded.workbook_target,
                           busy_timeout_seconds=loaded.settings.workbook.busy_timeout_seconds)
    try:
        if request.dry_run:
            return SyncOutcome(_plan(loaded, engine, request), dry_run=True)
        with workbook_lock(engine, lock_path(loaded.workbook_target, loaded.paths.data_dir),
                           wait=request.wait, on_wait=ui.on_notice):
            close_interrupted_runs(engine)
            accounts = _plan(loaded, engine, request)
            tokens = _token_sources(loaded, accounts)
            runnable = [a for a in accounts if a.status == AccountSyncStatus.PLANNED]
            with _startup_objects_frozen():
                _run_pool(loaded, engine, runnable, tokens, ui)
            started = {a.id for a in runnable}
            for account in accounts:
                if account.id not in started:
                    ui.on_done(account)
            return SyncOutcome(accounts, dry_run=False)
    finally:
        engine.dispose()


@contextmanager
def _startup_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist before the sync (imported modules, settings, the ORM's
    metadata: some 80,000) out of the cyclic collector's full passes while accounts sync.

    A sync allocates a great many short-lived containers (each page of JSON, each chunk's rows),
    and every full pass would walk those long-lived startup objects again: about a sixth of a
    sync's CPU. They are handed back to the collector afterwards (a daemon goes on)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_pool(loaded: Loaded, engine: Engine, runnable: list[AccountSync],
              tokens: dict[str, LoginTokens], ui: SyncUi) -> None:
    """Sync the accounts `[sync] concurrency` at a time. Ctrl-C: accounts not yet started are
    dropped, running ones stop after their chunk in flight (or at once, if waiting), and the
    saved chunks stay."""
    stop = threading.Event()
    workers = max(1, min(loaded.settings.sync.concurrency, len(runnable)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync")
    try:
        secrets = _ConnectorSecrets(loaded)
        futures = [pool.submit(_sync_one, loaded, engine, a, tokens, secrets, ui, stop)
                   for a in runnable]
        for future in futures:
            future.result()  # a bug in one account is not swallowed
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        done = sum(1 for a in runnable if a.status == AccountSyncStatus.SUCCEEDED)
        raise SyncInterruptedError(
            f"interrupted: {done} of {len(runnable)} accounts finished; the others stopped",
            hint="Saved chunks are kept: the next 'datadrip sync' goes on from there.") from None
    finally:
        pool.shutdown(wait=True)


class SyncInterruptedError(DataDripError):
    """Ctrl-C (SIGINT) during a sync."""

    exit_code = 130  # the shell's convention for a SIGINT


def _interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise SyncInterruptedError("interrupted while waiting for the platform")
    return sleep


def _plan(loaded: Loaded, engine: Engine, request: SyncRequest) -> list[AccountSync]:
    with session_scope(engine) as session:
        scope = find_agency(session, request.agency) if request.agency and not request.clients else None
        owners: list[Any] = [find_client(session, ref, request.agency) for ref in request.clients] \
            or [None]
        seen: set[str] = set()
        rows = []
        for owner in owners:
            for row in list_connections(session, owner, scope):
                if owner is None and not row[1].active:
                    continue  # an inactive client syncs only when named
                if row[0].id not in seen and request.platform in (None, row[0].platform):
                    seen.add(row[0].id)
                    rows.append(row)
    if not rows:
        what = f" on {request.platform}" if request.platform else ""
        raise NotFoundError(f"no connected ad accounts{what} to sync",
                            hint=f"Connect one first: datadrip connect "
                                 f"{'|'.join(registry.platform_names())} CLIENT.")
    planned = []
    sync = loaded.settings.sync
    now = request.now or dt.datetime.now(dt.UTC)
    _refuse_a_future_window(request, {account.timezone: now.astimezone(ZoneInfo(account.timezone)).date()
                                      for account, _client, _agency in rows})
    for account, client, agency in rows:
        item = AccountSync(account.id, client.name, agency.name, account.platform, account.external_id,
                           account.name, account.currency, account.timezone, account.token_ref,
                           account.login_customer_id, account.status, tuple(client.conversion_actions),
                           _chunk_days=sync.chunk_days, agency_timezone=agency.timezone)
        if not registry.is_installed(account.platform):
            item.status, item.platform_installed = AccountSyncStatus.SKIPPED, False
            item.error = f"platform {account.platform!r} is not installed"
            planned.append(item)
            continue
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        item.today = today
        names = breakdowns_in_use(client.breakdowns, agency.breakdowns, sync.breakdowns).names
        item.breakdowns = tuple(dimension for name in names for dimension in BREAKDOWNS.get(name, ()))
        if request.since is not None and request.since > today:
            item.warnings.append(f"nothing to fetch: --since {request.since} is after today "
                                 f"({today} in {account.timezone})")
        kept, last = retention_start(today), min(request.until or today, today)
        if request.since is not None and request.since < kept:
            item.asked_since = request.since
            if last < kept:
                item.warnings.append(f"{request.since} to {last} is beyond the {RETENTION_MONTHS} "
                                     f"months {account.platform} keeps (from {kept}): nothing "
                                     "to sync, breakdowns neither")
            else:
                item.warnings.append(f"{request.since} to {kept - dt.timedelta(days=1)} is beyond "
                                     f"the {RETENTION_MONTHS} months {account.platform} keeps: not "
                                     f"synced; synced from {kept}")
        lookback = account.lookback_days if account.lookback_days is not None else \
            getattr(loaded.settings, account.platform).lookback_days
        done, held = cursors(engine, account.id), first_days(engine, account.id)
        for level in request.levels:
            window = plan_window(today=today, cursor=done.get(level), lookback_days=lookback,
                                 initial_days=sync.initial_days, since=request.since,
                                 until=request.until, full=request.full, first_held=held.get(level))
            if window is not None:
                item.windows[level] = window
        if account.status == AccountStatus.DISABLED:
            item.status, item.error = AccountSyncStatus.SKIPPED, "the account is disabled at the platform"
        elif account.status == AccountStatus.NEEDS_REAUTH:
            _fail(item, AuthRequiredError("the account's login stopped working",
                                          hint=reauth_hint(account.platform, client.name)))
        elif not item.windows:
            item.status = AccountSyncStatus.SUCCEEDED  # up to date: nothing to fetch
        planned.append(item)
    return planned


def _refuse_a_future_window(request: SyncRequest, todays: dict[str, dt.date]) -> None:
    """A window after today in every account's time zone has nothing to fetch: bad input, not an
    empty success."""
    if request.since is None or request.since <= max(todays.values()):
        return
    zone, today = max(todays.items(), key=lambda item: (item[1], item[0]))
    latest = ", the latest of the accounts' time zones" if len(todays) > 1 else ""
    raise UsageError(f"--since {request.since} is in the future: today is {today} in {zone}{latest}, "
                     "so there is nothing to fetch yet",
                     hint=f"Give a --since up to {today}, or leave it out.")


def _token_sources(loaded: Loaded, accounts: list[AccountSync]) -> dict[str, LoginTokens]:
    """One token source per stored login (from its platform's plug-in); accounts whose login
    cannot be loaded fail here, and a login ending soon warns on each of its accounts."""
    sources: dict[str, LoginTokens] = {}
    store = None
    now = dt.datetime.now(dt.UTC)
    for account in accounts:
        if account.status != AccountSyncStatus.PLANNED or not account.token_ref or \
                account.token_ref in sources:
            continue
        hint = reauth_hint(account.platform, account.client)
        try:
            plugin = registry.platform(account.platform)
            store = store or open_store(loaded, announce=False)[0]
            login = load_login(store, account.token_ref, reauth_hint=hint)
            sources[account.token_ref] = plugin.token_source(loaded, login, reauth_hint=hint,
                                                             retry=_retry_policy(loaded))
            ending = plugin.expiry_warning(login.expires_at, now)
            if ending:
                for same in accounts:
                    if same.token_ref == account.token_ref:
                        same.warnings.append(f"{ending}; {hint}")
        except DataDripError as exc:
            for same in accounts:
                if same.token_ref == account.token_ref and same.status == AccountSyncStatus.PLANNED:
                    _fail(same, exc)
    for account in accounts:
        if account.status == AccountSyncStatus.PLANNED and account.token_ref not in sources:
            _fail(account, AuthRequiredError("the account has no stored login",
                                             hint=reauth_hint(account.platform, account.client)))
    return sources


def _account_tokens(source: LoginTokens, sleep: Sleep, on_wait: WaitFn) -> TokenSource:
    """The login's tokens as one account's connector asks for them: its refreshes wait and tell
    as the account's own calls do."""
    return lambda force_refresh: source(force_refresh, sleep=sleep, on_wait=on_wait)


def _wait_teller(engine: Engine, account: AccountSync, run_id: str, ui: SyncUi) -> WaitFn:
    """What a wait of this account does before it starts: said to the UI, kept on its sync_run."""
    def tell(wait: Wait) -> None:
        now = dt.datetime.now(dt.UTC)
        until = now + dt.timedelta(seconds=wait.seconds)
        notice = WaitNotice(account, wait, now, until,
                            wait_sentence(wait, until, account.agency_timezone, now))
        account.wait = notice.record()
        note_wait(engine, run_id, account.wait)
        ui.on_wait(notice)
    return tell


def _sync_one(loaded: Loaded, engine: Engine, account: AccountSync, tokens: dict[str, LoginTokens],
              secrets: _ConnectorSecrets, ui: SyncUi, stop: threading.Event) -> None:
    import sqlalchemy as sa

    started = time.monotonic()
    account.status = AccountSyncStatus.RUNNING
    ui.on_start(account)
    # Breakdown days an unfinished run left behind its cursors (read before this run counts).
    owed = unfinished_since(engine, account.id) if account.breakdowns else None
    run_id = start_run(engine, account.id, account.window, list(account.windows))
    notes = FetchNotes(warnings=account.warnings)
    ref = AccountRef(account.platform, account.account_id, account.name, account.currency,
                     account.timezone, login_customer_id=account.login_customer_id)
    options = SyncOptions(conversion_actions=account.conversion_actions)
    sleep, on_wait = _interruptible_sleep(stop), _wait_teller(engine, account, run_id, ui)
    try:
        with http_client(HTTP_TIMEOUT) as http:
            connector = open_connector(account.platform, ConnectorContext(
                http=http, settings=loaded.settings,
                get_token=_account_tokens(tokens[str(account.token_ref)], sleep, on_wait),
                secrets=secrets(account.platform), retry=_retry_policy(loaded),
                sleep=sleep, on_wait=on_wait))
            writer = AccountWriter(engine, account.id)
            if isinstance(connector, ConversionCatalogue):
                writer.write_catalogue(connector.conversion_actions(ref, notes))
            for level, window in account.windows.items():
                if isinstance(connector, EntityCatalogue):  # settings first, whole per level
                    writer.write_entity_settings(level, list(connector.entities(ref, level, notes)),
                                                 changed_on=account.today or window.until)
                for chunk in window.chunks(loaded.settings.sync.chunk_days):
                    if stop.is_set():
                        raise SyncInterruptedError("interrupted before all chunks were fetched")
                    entities: list[EntityRecord] = []
                    rows: list[MetricRow] = []
                    for record in connector.daily_metrics(ref, chunk, level, options, notes):
                        if isinstance(record, MetricRow):
                            rows.append(record)
                        else:
                            entities.append(record)
                    account.rows += writer.write_chunk(level, chunk, entities, rows)
                    account.chunks += 1
                    ui.on_chunk(account, len(rows))
            if account.breakdowns and "campaign" in account.windows:
                _sync_breakdowns(loaded, connector, writer, ref, account, options, notes, stop,
                                 owed)
            if isinstance(connector, PeriodReachSource) and "campaign" in account.windows:
                _sync_period_reach(connector, writer, ref, account, notes, stop)
        account.status = AccountSyncStatus.SUCCEEDED
    except RetryLaterError as exc:
        _fail(account, exc)
        _gave_up(loaded, engine, account, run_id, exc, ui)
    except DataDripError as exc:
        _fail(account, exc)
    except sa.exc.OperationalError as exc:  # the workbook itself: disk full, locked for too long
        _fail(account, DataDripError(f"the workbook refused the rows: {str(exc.orig).splitlines()[0]}",
                                     hint="Free disk space or stop what holds the workbook, "
                                          "then sync again; saved chunks are kept."))
    except BaseException as exc:  # a bug: the run is closed as failed, the error goes on up
        finish_run(engine, run_id, status=SyncStatus.FAILED.value, rows=account.rows,
                   requests=notes.requests, warnings=account.warnings,
                   error=f"internal error: {type(exc).__name__}")
        raise
    account.attribution = notes.attribution
    account.seconds = time.monotonic() - started
    succeeded = account.status == AccountSyncStatus.SUCCEEDED
    finish_run(engine, run_id, status=SyncStatus.SUCCEEDED.value if succeeded else SyncStatus.FAILED.value,
               rows=account.rows, requests=notes.requests, warnings=account.warnings, error=account.error)
    _after(loaded, engine, account)
    ui.on_done(account)


def _sync_breakdowns(loaded: Loaded, connector: Any, writer: AccountWriter, ref: AccountRef,
                     account: AccountSync, options: SyncOptions, notes: FetchNotes,
                     stop: threading.Event, owed: dt.date | None = None) -> None:
    """The campaign window again, broken down by each of the client's dimensions (after the
    campaign rows, so every campaign is known), chunk by chunk, from `owed` when that is earlier
    (the window start of a run that did not finish: its chunks moved the cursors, but it may
    have stopped before its breakdowns). Days before the platform's limit for a dimension are
    not asked for; the run's warnings say so."""
    if not isinstance(connector, BreakdownSource):
        account.warnings.append(f"{account.platform} gives no breakdowns; "
                                f"{', '.join(account.breakdowns)} not synced")
        return
    window, today = account.windows["campaign"], account.today or account.windows["campaign"].until
    if owed is not None and owed < window.since:
        window = DateWindow(owed, window.until)
    asked = min(account.asked_since or window.since, window.since)
    for dimension in account.breakdowns:
        limit = connector.breakdown_limit(dimension, today)
        part = window if limit is None else DateWindow(max(window.since, limit), window.until)
        if part.since > window.until:
            account.warnings.append(f"breakdown by {dimension}: {asked} to {window.until} is before "
                                    f"{limit}, the first day {account.platform} keeps breakdowns "
                                    "for: unavailable, not synced")
            continue
        if asked < part.since and limit is not None and asked < limit:
            account.warnings.append(f"breakdown by {dimension}: {asked} to "
                                    f"{part.since - dt.timedelta(days=1)} is unavailable, not "
                                    f"synced ({account.platform} keeps breakdowns from {limit}; "
                                    f"synced from {part.since})")
        for chunk in part.chunks(loaded.settings.sync.chunk_days):
            if stop.is_set():
                raise SyncInterruptedError("interrupted before all breakdowns were fetched")
            rows = list(connector.breakdown_metrics(ref, chunk, dimension, options, notes,
                                                    today=today))
            writer.write_breakdowns(dimension, chunk, rows)


def _sync_period_reach(connector: PeriodReachSource, writer: AccountWriter, ref: AccountRef,
                       account: AccountSync, notes: FetchNotes, stop: threading.Event) -> None:
    """The reach of the account and its campaigns over each period DataDrip shows
    (core.periods.reach_periods, as of the account's today), after the metric chunks: fetched
    for each whole range (daily reach does not add up) and saved in one transaction, replacing
    the account's rows of those ranges."""
    if stop.is_set():
        raise SyncInterruptedError("interrupted before the periods' reach was fetched")
    today = account.today or account.windows["campaign"].until
    periods = [DateWindow(period.since, period.until) for period in reach_periods(today)]
    records = list(connector.period_reach(ref, periods, REACH_LEVELS, notes, today=today))
    writer.write_period_reach(periods, REACH_LEVELS, records)


def _fail(account: AccountSync, exc: DataDripError) -> None:
    account.status = AccountSyncStatus.FAILED
    account.error = exc.message
    account.needs_login = isinstance(exc, AuthRequiredError)
    account.hint = reauth_hint(account.platform, account.client) if account.needs_login else exc.hint


def _gave_up(loaded: Loaded, engine: Engine, account: AccountSync, run_id: str,
             exc: RetryLaterError, ui: SyncUi) -> None:
    """A platform asked for a wait longer than we take (one wait over max_wait_seconds, or one
    request's waits over max_retry_seconds): the account fails now, its error saying when it may
    resume (in the agency's timezone), and the refused wait is kept for status."""
    now = dt.datetime.now(dt.UTC)
    at = local_time(exc.retry_at, account.agency_timezone, now)
    sync = loaded.settings.sync
    limit = "max_wait_seconds" if exc.retry_after > sync.max_wait_seconds else "max_retry_seconds"
    account.resume_at = exc.retry_at
    account.error = f"{exc.message}; longer than [sync] {limit} ({getattr(sync, limit)} s) " \
                    f"allows, so it may resume at {at}"
    account.hint = f"Sync again after {at} (or raise [sync] {limit} to wait it out)."
    wait = Wait(exc.service, exc.retry_after, exc.reason, "rate_limit")
    notice = WaitNotice(account, wait, now, exc.retry_at, account.error, gave_up=True)
    account.wait = notice.record()
    note_wait(engine, run_id, account.wait)
    ui.on_wait(notice)


def _after(loaded: Loaded, engine: Engine, account: AccountSync) -> None:
    """Record what the run taught: a dead login marks its accounts; Meta's attribution setting."""
    if not (account.needs_login and account.token_ref) and account.attribution is None:
        return
    with session_scope(engine, write=True) as session:
        if account.needs_login and account.token_ref:
            mark_needs_reauth(Workbook(session, actor_name(loaded)), account.token_ref,
                              account.error or "login refused")
        if account.attribution is not None:
            stored = session.get(AdAccount, account.id)
            if stored is not None and stored.attribution_setting != account.attribution:
                stored.attribution_setting = account.attribution
                session.add(stored)


class _ConnectorSecrets:
    """The secrets each platform's plug-in names (its `secrets`), for its connectors: read from
    the environment or the secret store once per platform and sync run, not once per account."""

    def __init__(self, loaded: Loaded) -> None:
        self._loaded = loaded
        self._found: dict[str, dict[str, str | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, platform: str) -> dict[str, str | None]:
        with self._lock:
            if platform not in self._found:  # a failure is raised to that account, not kept
                self._found[platform] = {name: resolve_secret(self._loaded, name)
                                         for name in registry.platform(platform).secrets}
            return self._found[platform]


def _retry_policy(loaded: Loaded) -> Any:
    # Unattended: wait out a platform's rate limit (Meta asks for minutes) up to max_wait_seconds
    # at a time, within the total bound of one request's waits.
    sync = loaded.settings.sync
    return RetryPolicy(attempts=8, max_wait=float(sync.max_wait_seconds),
                       max_total=float(sync.max_retry_seconds))
