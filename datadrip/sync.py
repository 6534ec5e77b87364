"""Sync: fill the workbook with each connected account's daily numbers, incrementally.

For every account and level the window runs from the day after its cursor (or `[sync]
initial_days` back on a first sync, or `--since`) to today in the account's time zone, always
reaching back the lookback window, since platforms restate conversions. The window is fetched in
chunks of `[sync] chunk_days`, oldest first; each chunk is saved in one transaction that also
moves the cursor, so a crash loses at most the chunk in flight. Accounts run concurrently in a
bounded pool and fail alone; one lock keeps two syncs off the same workbook.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from datadrip.connections import reauth_hint
from datadrip.connectors.base import LEVELS, DateWindow, EntityRecord, FetchNotes, MetricRow, SyncOptions
from datadrip.enums import AccountStatus, Platform, SyncStatus
from datadrip.errors import AuthRequiredError, DataDripError, NotFoundError, UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from datadrip.config import Loaded
    from datadrip.connectors.base import TokenSource

RETENTION_DAYS = 1110  # both platforms keep daily data 37 months; stay a little inside
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
    """What the command shows while accounts sync (called from worker threads)."""

    on_start: Callable[[AccountSync], None] = lambda _account: None
    on_chunk: Callable[[AccountSync, int], None] = lambda _account, _rows: None
    on_done: Callable[[AccountSync], None] = lambda _account: None
    on_notice: Callable[[str], None] = lambda _text: None


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
    status: str = "planned"  # planned | running | succeeded | failed | skipped
    rows: int = 0
    chunks: int = 0
    seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    needs_login: bool = False
    warnings: list[str] = field(default_factory=list)
    attribution: str | None = None

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
                "needs_login": self.needs_login}


@dataclass(frozen=True)
class SyncOutcome:
    accounts: list[AccountSync]
    dry_run: bool

    @property
    def failed(self) -> list[AccountSync]:
        return [a for a in self.accounts if a.status == "failed"]

    @property
    def succeeded(self) -> list[AccountSync]:
        return [a for a in self.accounts if a.status == "succeeded"]

    @property
    def rows(self) -> int:
        return sum(a.rows for a in self.accounts)


def plan_window(*, today: dt.date, cursor: dt.date | None, lookback_days: int, initial_days: int,
                since: dt.date | None = None, until: dt.date | None = None,
                full: bool = False) -> DateWindow | None:
    """The days to fetch for one account level; None when there is nothing to do.

    Incremental: from the day after the cursor, but never later than `lookback_days` before
    today (restated conversions). Never before the platforms' retention, never after today."""
    last = min(until or today, today)
    if since is not None:
        first = since
    elif full or cursor is None:
        first = today - dt.timedelta(days=initial_days - 1)
    else:
        first = min(cursor + dt.timedelta(days=1), today - dt.timedelta(days=lookback_days))
    first = max(first, today - dt.timedelta(days=RETENTION_DAYS))
    return DateWindow(first, last) if first <= last else None


def sync_accounts(loaded: Loaded, request: SyncRequest, ui: SyncUi | None = None) -> SyncOutcome:
    """Plan and run the sync of every matching account; per-account failures are in the outcome."""
    from datadrip.db.engine import open_workbook
    from datadrip.sync_lock import lock_path, workbook_lock
    from datadrip.sync_store import close_interrupted_runs

    ui = ui or SyncUi()
    engine = open_workbook(loaded.workbook_target)
    try:
        if request.dry_run:
            return SyncOutcome(_plan(loaded, engine, request), dry_run=True)
        with workbook_lock(engine, lock_path(loaded.workbook_target, loaded.paths.data_dir),
                           wait=request.wait, on_wait=ui.on_notice):
            close_interrupted_runs(engine)
            accounts = _plan(loaded, engine, request)
            tokens = _token_sources(loaded, accounts)
            runnable = [a for a in accounts if a.status == "planned"]
            _run_pool(loaded, engine, runnable, tokens, ui)
            started = {a.id for a in runnable}
            for account in accounts:
                if account.id not in started:
                    ui.on_done(account)
            return SyncOutcome(accounts, dry_run=False)
    finally:
        engine.dispose()


def _run_pool(loaded: Loaded, engine: Engine, runnable: list[AccountSync],
              tokens: dict[str, TokenSource], ui: SyncUi) -> None:
    """Sync the accounts `[sync] concurrency` at a time. Ctrl-C: accounts not yet started are
    dropped, running ones stop after their chunk in flight (or at once, if waiting), and the
    saved chunks stay."""
    stop = threading.Event()
    workers = max(1, min(loaded.settings.sync.concurrency, len(runnable)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync")
    try:
        futures = [pool.submit(_sync_one, loaded, engine, a, tokens, ui, stop) for a in runnable]
        for future in futures:
            future.result()  # a bug in one account is not swallowed
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        done = sum(1 for a in runnable if a.status == "succeeded")
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
    from datadrip.agencies import find_agency
    from datadrip.clients import find_client
    from datadrip.connections import list_connections
    from datadrip.db.engine import session_scope
    from datadrip.sync_store import cursors

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
                            hint="Connect one first: datadrip connect meta|google CLIENT.")
    planned = []
    sync = loaded.settings.sync
    now = request.now or dt.datetime.now(dt.UTC)
    _refuse_a_future_window(request, {account.timezone: now.astimezone(ZoneInfo(account.timezone)).date()
                                      for account, _client, _agency in rows})
    for account, client, agency in rows:
        item = AccountSync(account.id, client.name, agency.name, account.platform, account.external_id,
                           account.name, account.currency, account.timezone, account.token_ref,
                           account.login_customer_id, account.status, tuple(client.conversion_actions),
                           _chunk_days=sync.chunk_days)
        today = now.astimezone(ZoneInfo(account.timezone)).date()
        if request.since is not None and request.since > today:
            item.warnings.append(f"nothing to fetch: --since {request.since} is after today "
                                 f"({today} in {account.timezone})")
        lookback = account.lookback_days if account.lookback_days is not None else \
            getattr(loaded.settings, account.platform).lookback_days
        done = cursors(engine, account.id)
        for level in request.levels:
            window = plan_window(today=today, cursor=done.get(level), lookback_days=lookback,
                                 initial_days=sync.initial_days, since=request.since,
                                 until=request.until, full=request.full)
            if window is not None:
                item.windows[level] = window
        if account.status == AccountStatus.DISABLED:
            item.status, item.error = "skipped", "the account is disabled at the platform"
        elif account.status == AccountStatus.NEEDS_REAUTH:
            _fail(item, AuthRequiredError("the account's login stopped working",
                                          hint=reauth_hint(account.platform, client.name)))
        elif not item.windows:
            item.status = "succeeded"  # up to date: nothing to fetch
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


def _token_sources(loaded: Loaded, accounts: list[AccountSync]) -> dict[str, TokenSource]:
    """One token source per stored login; accounts whose login cannot be loaded fail here."""
    from datadrip.auth.tokens import GoogleAccessTokens, load_login, meta_expiry_warning
    from datadrip.secrets import open_store

    sources: dict[str, TokenSource] = {}
    store = None
    for account in accounts:
        if account.status != "planned" or not account.token_ref or account.token_ref in sources:
            continue
        hint = reauth_hint(account.platform, account.client)
        try:
            store = store or open_store(loaded, announce=False)[0]
            login = load_login(store, account.token_ref, reauth_hint=hint)
            if account.platform == Platform.GOOGLE:
                from datadrip.auth.google import GoogleOAuth

                sources[account.token_ref] = GoogleAccessTokens(GoogleOAuth.from_settings(loaded),
                                                                login.token, reauth_hint=hint)
            else:
                sources[account.token_ref] = _static_token(login.token)
                ending = meta_expiry_warning(login.expires_at)
                if ending:
                    for same in accounts:
                        if same.token_ref == account.token_ref:
                            same.warnings.append(f"{ending}; {hint}")
        except DataDripError as exc:
            for same in accounts:
                if same.token_ref == account.token_ref and same.status == "planned":
                    _fail(same, exc)
    for account in accounts:
        if account.status == "planned" and account.token_ref not in sources:
            _fail(account, AuthRequiredError("the account has no stored login",
                                             hint=reauth_hint(account.platform, account.client)))
    return sources


def _static_token(token: str) -> TokenSource:
    # A Meta token cannot be refreshed: a 401-style answer means a new login (ReauthRequiredError).
    return lambda _force_refresh: token


def _sync_one(loaded: Loaded, engine: Engine, account: AccountSync, tokens: dict[str, TokenSource],
              ui: SyncUi, stop: threading.Event) -> None:
    import httpx
    import sqlalchemy as sa

    from datadrip.connectors.base import AccountRef, ConnectorContext
    from datadrip.connectors.registry import open_connector
    from datadrip.sync_store import AccountWriter, finish_run, start_run

    started = time.monotonic()
    account.status = "running"
    ui.on_start(account)
    run_id = start_run(engine, account.id, account.window, list(account.windows))
    notes = FetchNotes(warnings=account.warnings)
    ref = AccountRef(account.platform, account.account_id, account.name, account.currency,
                     account.timezone, login_customer_id=account.login_customer_id)
    options = SyncOptions(conversion_actions=account.conversion_actions)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as http:
            connector = open_connector(account.platform, ConnectorContext(
                http=http, settings=loaded.settings, get_token=tokens[str(account.token_ref)],
                secrets=_connector_secrets(loaded, account.platform), retry=_retry_policy(loaded),
                sleep=_interruptible_sleep(stop)))
            writer = AccountWriter(engine, account.id)
            for level, window in account.windows.items():
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
        account.status = "succeeded"
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
    finish_run(engine, run_id, status=SyncStatus.SUCCEEDED.value if account.status == "succeeded"
               else SyncStatus.FAILED.value, rows=account.rows, requests=notes.requests,
               warnings=account.warnings, error=account.error)
    _after(loaded, engine, account)
    ui.on_done(account)


def _fail(account: AccountSync, exc: DataDripError) -> None:
    account.status = "failed"
    account.error = exc.message
    account.needs_login = isinstance(exc, AuthRequiredError)
    account.hint = reauth_hint(account.platform, account.client) if account.needs_login else exc.hint


def _after(loaded: Loaded, engine: Engine, account: AccountSync) -> None:
    """Record what the run taught: a dead login marks its accounts; Meta's attribution setting."""
    from datadrip.connections import mark_needs_reauth
    from datadrip.db.engine import session_scope
    from datadrip.db.models import AdAccount
    from datadrip.workbook import Workbook, actor_name

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


def _connector_secrets(loaded: Loaded, platform: str) -> dict[str, str | None]:
    from datadrip.secrets import resolve_secret

    if platform == Platform.GOOGLE:
        return {"google.developer_token": resolve_secret(loaded, "google.developer_token")}
    return {}


def _retry_policy(loaded: Loaded) -> Any:
    from datadrip.connectors.http import RetryPolicy

    # Unattended: wait out a platform's rate limit (Meta asks for minutes), within the total bound.
    total = float(loaded.settings.sync.max_retry_seconds)
    return RetryPolicy(attempts=8, max_wait=total, max_total=total)
