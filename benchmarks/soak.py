"""The soak: the daemon over simulated days on a fast clock, with faults, kills and restarts.

    python benchmarks/soak.py [--days 90] [--kills 20] [--seed S] [--clients 8] [--keep DIR]

What runs: the sandbox (Meta, Google Ads, their OAuth servers, the OpenAI endpoint) in this
process, pinned to the first simulated day; a real SMTP server (aiosmtpd) on 127.0.0.1; a
DataDrip home whose agency (Asia/Kolkata) has `--clients` clients, each connected to one Meta
and one Google account of the sandbox (the demo's three clients, then the sandbox's extra ones:
`SandboxConfig.extra_clients`), with reports sent by SMTP. Every simulated day:

  07:01  `datadrip daemon --once`: the 05:30 sync (then suggestions), the 06:00 login check and
         the 07:00 reports (weekly ones too on Mondays) are due; catch-up runs them in order
  10:01  `datadrip daemon --once` again: past the report deadline, the follow-up sends the
         reports of the clients whose sync failed
  10:30  `datadrip status --json`: every failure standing now must be named, once
  11:00  on the planned day, the scripted re-login of the revoked Google login

The clock. Each DataDrip process is a real process (the daemon, `status`, `connect`), started
at the simulated moment by a short bootstrap (`boot`) that sets its wall clock there with
time-machine (the tool the suite pins its clock with), ticking on at the real rate, and then runs
the command line as `datadrip` does. Nothing sleeps: a wait of half a second or more (time.sleep, a
timed Event.wait: backoffs, Retry-After, Meta's usage pacing, "wait 5 minutes") is jumped over by
the process's wall and monotonic clocks and by the sandbox's clock together, so the waits happen in
simulated time, with the product's default limits, and cost no real time. The product itself knows
nothing of this (no clock hook, no setting that exists only for tests). libfaketime was tried first
and left out: with the monotonic clock faked, Python's timed waits hand the kernel deadlines days
away and never wake; with it real, time.sleep fails with EINVAL. The soak moves the sandbox's clock
(`Clock.advance`) to each step's moment, so the platforms' "today", the token lifetimes and the
late-arriving conversions follow the same calendar. `--once` is the daemon's own loop, run once:
the due jobs come from the timetable and the job_run history, as for a daemon that was asleep, so
no real hour passes between the steps.

Faults, on a schedule drawn from `--seed` (the first and the last day are quiet, so the first
sync lays the history down and the last one is compared with the sandbox's final truth):
  - platforms: Meta rate limits (code 80000 with usage headers at 100 %, 5 minutes or an hour
    to regain access), Google 429 RESOURCE_EXHAUSTED with retryDelay, 500s and 503s, slow answers, high
    usage, "reduce the amount of data", cut-off and malformed bodies, a 503 from Google's token
    endpoint; a 5-minute rate limit is waited out (in simulated time), an hour's is longer than
    `[sync] max_wait_seconds` allows, so the account fails for the day and the next day's sync
    makes the days up
  - a Google login revoked (the real revoke endpoint) on a planned day, and logged in again by
    `datadrip connect google … --refresh-token-stdin` after that day's status check
  - restatements: the sandbox's conversions arrive late (Meta 28 days, Google 30), so every
    sync re-reads days whose numbers have changed since they were first stored
  - the SMTP server, on some days: busy (451, then it accepts), refusing every message (554),
    dropping the connection at MAIL FROM, or keeping a message and answering too late (the
    sender cannot know it was delivered: it must not send it again)
  - the model provider (the sandbox's OpenAI endpoint) failing all day (500s or 429s)
  - `--kills` SIGKILLs of the daemon at random moments of its runs, each followed by a restart
    at once (a kill that comes after the run ended moves to the next run)

At the end it checks, and exits 1 on any miss:
  - data: every (account, level, entity, day) in the workbook equals the sandbox's rows as
    reported on the final day, to the micro (lost 0, extra 0, different 0)
  - e-mail: every scheduled report (each client's daily report every day, its weekly one on
    Mondays) reached the SMTP server exactly once, counted by Message-ID and by (recipient,
    subject): duplicates 0, missing 0, except reports recorded in the workbook as failed or
    skipped with a reason; no message the workbook does not know
  - failures: every failure standing after a day's runs (an account whose last sync failed or
    needs a login, a scheduled report not sent) is named exactly once by that day's
    `datadrip status`, which then exits non-zero; no daemon run crashes (an error other than
    "some jobs failed"; the soak restarts a crashed daemon, as systemd's Restart=on-failure would)
    and no job run fails with an unexpected error (a bug: the daemon records it and goes on)
  - the workbook passes `PRAGMA integrity_check`
It prints those counts, the wall time and the peak RSS (this process, and the largest DataDrip
process). `--keep DIR` keeps the home (workbook, logs) for a look afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import json
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

AGENCY = "Spice Route Media"
TIMEZONE = "Asia/Kolkata"
ZONE = ZoneInfo(TIMEZONE)
START = dt.date(2026, 11, 2)  # a Monday; the soak never reads the real date
SENDER = "reports@spiceroute.example"
# The demo's clients and their sandbox accounts (the clients after them: client_spec).
BASES = [("Masala Mornings", "INR", "act_1010000001", "2020000001"),
         ("Peak Trail Outfitters", "USD", "act_1010000002", "2020000002"),
         ("Bloom Botanics", "INR", "act_1010000003", "2020000003")]
FX_RATES = [("USD", "INR", "83.10"), ("EUR", "INR", "90.45")]
INITIAL_DAYS = 35  # more than the 30-day restatement window
SMTP_TIMEOUT = 2  # [email] timeout_seconds: a "hang" day answers later than this
HANG_SECONDS = 3.0
# The local times of a day's steps (agency's timezone).
FIRST_RUN, FOLLOW_UP, STATUS_AT, RELOGIN_AT = dt.time(7, 1), dt.time(10, 1), dt.time(10, 30), dt.time(11)
SMTP_MODES = ("busy", "refuse", "drop", "hang")


# --- the SMTP server ------------------------------------------------------------------------------

@dataclass
class Delivered:
    message_id: str
    to: str
    subject: str
    day: dt.date


@dataclass
class Smtp:
    """aiosmtpd handler: keeps what it accepted; on a bad day it is busy, refuses, drops or hangs."""

    mode: str = "ok"
    day: dt.date = START
    busy_left: int = 0
    hang_left: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    refused: int = 0

    def set_day(self, day: dt.date, mode: str) -> None:
        self.day, self.mode = day, mode
        self.busy_left = 2 if mode == "busy" else 0
        self.hang_left = 1 if mode == "hang" else 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if self.mode == "refuse":
            self.refused += 1
            return "554 5.7.1 Relay refused for today"
        if self.mode == "drop":
            self.refused += 1
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        if self.busy_left > 0:
            self.busy_left -= 1
            return "451 4.3.2 Please try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.delivered.append(Delivered(str(message["Message-ID"]).strip(), ",".join(envelope.rcpt_tos),
                                        str(message["Subject"]), self.day))
        if self.hang_left > 0:  # kept, but the answer comes after the sender gave up
            self.hang_left -= 1
            await asyncio.sleep(HANG_SECONDS)
        return "250 2.0.0 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the plan ------------------------------------------------------------------------------------

@dataclass
class DayPlan:
    day: dt.date
    platform_faults: list[dict[str, Any]] = field(default_factory=list)
    smtp: str = "ok"
    model_down: str | None = None  # the fault kind the OpenAI endpoint answers all day
    revoke: int | None = None  # the client whose Google login is revoked this morning


def plan_days(rng: random.Random, days: int, clients: int) -> list[DayPlan]:
    plans = [DayPlan(START + dt.timedelta(days=n)) for n in range(days)]
    busy = plans[1:-1]
    for plan in busy:
        faults: list[dict[str, Any]] = []
        if rng.random() < 0.25:  # 5 minutes is waited out; an hour is over [sync] max_wait_seconds
            faults.append({"kind": "rate_limit", "platform": "meta", "nth": rng.randint(1, 40),
                           "regain": rng.choice([300, 300, 3600])})
        if rng.random() < 0.2:
            faults.append({"kind": "rate_limit", "platform": "google", "nth": rng.randint(1, 40)})
        for kind in ("server_error", "unavailable"):
            if rng.random() < 0.3:
                faults.append({"kind": kind, "rate": 0.04})
        if rng.random() < 0.2:
            faults.append({"kind": "slow", "rate": 0.05, "delay": 0.4})
        if rng.random() < 0.15:
            faults.append({"kind": "unavailable", "platform": "google", "path": "/oauth/token",
                           "nth": 1, "times": 2})
        if rng.random() < 0.1:
            faults.append({"kind": "high_usage", "platform": "meta", "rate": 0.2})
        if rng.random() < 0.1:
            faults.append({"kind": "reduce_data", "platform": "meta", "nth": rng.randint(1, 20)})
        if rng.random() < 0.1:
            faults.append({"kind": rng.choice(["truncated", "malformed"]), "rate": 0.02})
        plan.platform_faults = faults
        if rng.random() < 0.2:
            plan.smtp = rng.choice(SMTP_MODES)
        if rng.random() < 0.12:
            plan.model_down = rng.choice(["server_error", "rate_limit"])
    if busy:
        rng.choice(busy).revoke = rng.randrange(clients)
    if len(busy) >= len(SMTP_MODES):  # every kind of bad SMTP day at least once
        for plan, mode in zip(rng.sample(busy, len(SMTP_MODES)), SMTP_MODES, strict=True):
            plan.smtp = mode
    if busy and not any(plan.model_down for plan in busy):
        rng.choice(busy).model_down = "server_error"
    return plans


def client_names(count: int) -> list[str]:
    return [client_spec(n)[0] for n in range(count)]


def client_spec(n: int) -> tuple[str, str, str, str]:
    """(name, currency, Meta account, Google account) of the n-th client (from 0): the demo's
    three, then the sandbox's extra clients (SandboxConfig.extra_clients)."""
    if n < 3:
        return BASES[n]
    return (f"Client {n + 1:02d}", ("INR", "USD", "EUR")[(n + 1) % 3], f"act_10100001{n + 1:02d}",
            f"20200001{n + 1:02d}")


def recipient(n: int) -> str:
    return f"client{n + 1:02d}@soak.example"


def moment(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=ZONE).astimezone(dt.UTC)


# --- running DataDrip under a fake clock -----------------------------------------------------------

@dataclass
class Soak:
    home: Path
    server: Any  # SandboxServer
    smtp: Smtp
    rng: random.Random
    env: dict[str, str]
    kills_done: int = 0
    daemon_runs: int = 0
    exits: Counter[int] = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    kill_days: Counter[int] = field(default_factory=Counter)
    peak_child_kib: int = 0

    def now(self) -> dt.datetime:
        """The sandbox's clock: where the soak last set it, moved on by the waits DataDrip jumped."""
        moment: dt.datetime = self.server.app.state.clock.now()
        return moment

    def set_clock(self, when: dt.datetime) -> None:
        clock = self.server.app.state.clock
        clock.advance(when - clock.now())

    def datadrip(self, when: dt.datetime, *args: str,
                 stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        when = max(when, self.now())  # never back: the morning's jumped waits may have gone past
        self.set_clock(when)
        done = subprocess.run(at_moment(when, *args), input=stdin, capture_output=True, text=True,
                              env=self.env, timeout=600)
        self._note_rss()
        return done

    def _note_rss(self) -> None:
        self.peak_child_kib = max(self.peak_child_kib, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

    def daemon(self, when: dt.datetime, day: int | None) -> None:
        """`daemon --once` at `when`; for each kill planned on this day (a morning run), SIGKILL it
        at a random moment of its run and start it again at once (at the moment the clock has
        reached). A kill that comes after the run ended moves to the next day."""
        when = max(when, self.now())
        self.set_clock(when)
        kills = self.kill_days.pop(day, 0) if day is not None else 0
        started = time.monotonic()
        killed = False
        restarts = 0
        launched = started
        while True:
            log = self.home / "logs" / "daemon.log"
            # A restart comes at the moment the clock has reached: the sandbox's (which the killed
            # run's jumped waits moved on) plus the real time the run took.
            now = self.now() + dt.timedelta(seconds=time.monotonic() - launched)
            self.set_clock(now)
            launched = time.monotonic()
            process = subprocess.Popen(at_moment(now, "daemon", "--once", "--log-file", str(log)),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=self.env)
            self.daemon_runs += 1
            typical = sorted(self.durations)[len(self.durations) // 2] if self.durations else 3.0
            try:
                if kills:
                    delay = self.rng.uniform(0.3, max(0.6, typical))
                    try:
                        out, err = process.communicate(timeout=delay)
                    except subprocess.TimeoutExpired:
                        process.send_signal(signal.SIGKILL)
                        process.communicate(timeout=60)
                        self.kills_done += 1
                        self.exits[-9] += 1
                        kills -= 1
                        killed = True
                        self._note_rss()
                        continue
                    # It ended before the kill: the kills left move to the next day.
                    assert day is not None
                    self.kill_days[day + 1] += kills
                    kills = 0
                else:
                    out, err = process.communicate(timeout=600)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self._note_rss()
            self.exits[process.returncode] += 1
            # Exit 1 or 3 with these lines: jobs failed or were partly done (the log says which).
            crashed = [line for line in err.splitlines() if line.startswith("error: ") and line not in (
                "error: some jobs failed", "error: some jobs were only partly done")]
            if crashed:
                where = [line.strip() for line in err.splitlines() if line.strip().startswith("File ")]
                self.crashes.append(f"{now:%Y-%m-%d %H:%M} UTC, exit {process.returncode}: "
                                    + (crashed or err.strip().splitlines() or ["?"])[-1]
                                    + (f" ({where[-1]})" if where else ""))
                if restarts < 2:  # as systemd's Restart=on-failure would
                    restarts += 1
                    continue
            if day is not None and not killed:
                self.durations.append(time.monotonic() - started)
            return

    def faults(self, rules: list[dict[str, Any]]) -> None:
        import httpx

        base = self.server.base_url
        httpx.delete(f"{base}/_sandbox/faults", timeout=10).raise_for_status()
        for rule in rules:
            httpx.post(f"{base}/_sandbox/faults", json=rule, timeout=10).raise_for_status()


def waiting_for_deadline(home: Path, day: dt.date) -> bool:
    """Whether a daemon waking at the report deadline has work: the day's reports run left clients
    waiting for their sync, or did not finish (a crash, a kill), or never ran."""
    scheduled = moment(day, dt.time(7)).strftime("%Y-%m-%d %H:%M:%S")
    with closing(sqlite3.connect(home / "workbook.db")) as db:
        runs = db.execute("SELECT status, detail FROM job_run WHERE job = 'reports' AND "
                          "scheduled_for LIKE ? ORDER BY started_at", (scheduled + "%",)).fetchall()
    finished = [(status, json.loads(detail or "{}")) for status, detail in runs
                if status not in ("abandoned", "running")]
    return not finished or bool(finished[-1][1].get("waiting"))


# How each DataDrip process starts: this file loaded as a module, then `boot` (below) with the
# moment, the sandbox's address and the command line.
BOOT = """import importlib.util, sys
spec = importlib.util.spec_from_file_location("soak", sys.argv[1])
soak = sys.modules["soak"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)
soak.boot(sys.argv[2:])
"""
SANDBOX_URL = "SOAK_SANDBOX_URL"  # the environment variable that tells each process where the sandbox is
# A wait at least this long (time.sleep, a timed Event.wait) is jumped over, not slept; shorter ones
# (a poll, a first backoff) are slept as they are.
JUMP_FROM = 0.5


def boot(argv: list[str]) -> None:
    """In a process the soak starts: the fast clock from the moment argv[0], then `datadrip
    argv[1:]` as the command line runs it, or the soak's set-up (`--setup SPEC`)."""
    start_fast_clock(dt.datetime.fromisoformat(argv[0]), os.environ[SANDBOX_URL])
    if argv[1] == "--setup":
        setup_home(json.loads(argv[2]))
        return
    sys.argv = ["datadrip", *argv[1:]]
    from datadrip.cli import main  # after the clock: `sleep=time.sleep` defaults bind the fast one

    main()


def start_fast_clock(when: dt.datetime, sandbox_url: str) -> None:
    """The process's wall clock starts at `when` and ticks on at the real rate (time-machine); a
    wait of JUMP_FROM seconds or more is not slept: the wall clock, the monotonic clock and the
    sandbox's clock jump over it together, so a platform's "wait 5 minutes" or a backoff costs no
    real time and the sandbox sees the time pass (its rate limit regained, its "today" moved on).
    Waits of threads running side by side add up, so a simulated morning can run a little long,
    never short."""
    import threading
    import urllib.request

    import time_machine

    traveller = time_machine.travel(when, tick=True).start()
    real_sleep, real_monotonic, real_wait = time.sleep, time.monotonic, threading.Event.wait
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    jumped = [0.0]
    lock = threading.Lock()

    def jump(seconds: float) -> None:
        with lock:
            traveller.shift(seconds)
            jumped[0] += seconds
            tell = urllib.request.Request(f"{sandbox_url}/_sandbox/clock", method="POST",
                                          data=json.dumps({"seconds": seconds}).encode(),
                                          headers={"Content-Type": "application/json"})
            with opener.open(tell, timeout=10) as answer:
                answer.read()

    def sleep(seconds: float) -> None:
        if seconds < JUMP_FROM:
            real_sleep(seconds)
        else:
            jump(seconds)

    def monotonic() -> float:
        return real_monotonic() + jumped[0]

    def wait(self: threading.Event, timeout: float | None = None) -> bool:
        if timeout is None or timeout < JUMP_FROM or real_wait(self, 0):
            return real_wait(self, timeout)
        jump(timeout)
        return self.is_set()

    time.sleep = sleep  # type: ignore[assignment]
    time.monotonic = monotonic  # type: ignore[assignment]
    threading.Event.wait = wait  # type: ignore[method-assign]


def at_moment(when: dt.datetime, *args: str) -> list[str]:
    """The command that runs `datadrip ARGS…` (or the set-up) in a process whose clock reads `when`."""
    return [sys.executable, "-c", BOOT, str(Path(__file__).resolve()), when.astimezone(dt.UTC).isoformat(),
            *args]


def new_google_token(server: Any) -> str:
    """What a person's consent gives: a fresh refresh token of the sandbox's Google app."""
    from datadrip.sandbox.google.oauth import ADWORDS

    token: str = server.app.state.issue("google", "refresh", lifetime=None, prefix="1//0g",
                                        scopes=(ADWORDS,)).value
    return token


def write_config(home: Path, server: Any, smtp_port: int) -> None:
    described = server.app.describe(server.base_url)
    meta, google = described["meta"], described["google"]
    text = f"""[meta]
graph_url = "{meta['graph_url']}"
dialog_url = "{meta['dialog_url']}"
app_id = "{meta['app_id']}"

[google]
api_url = "{google['api_url']}"
auth_url = "{google['auth_url']}"
token_url = "{google['token_url']}"
revoke_url = "{google['revoke_url']}"
client_id = "{google['client_id']}"

[ai]
base_url = "{described['openai']['base_url']}"

[email]
provider = "smtp"
from = "{SENDER}"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_starttls = false
timeout_seconds = {SMTP_TIMEOUT}
attempts = 2

[sync]
initial_days = {INITIAL_DAYS}
concurrency = 8

[schedule]
refresh_tokens = "0 6 * * *"
sync = "30 5 * * *"
reports = "0 7 * * *"
weekly_reports = "0 7 * * 1"
report_deadline = "10:00"

[secrets]
backend = "file"

[user]
email = "soak@spiceroute.example"
"""
    (home / "datadrip.toml").write_text(text, encoding="utf-8")


def setup_home(spec: dict[str, Any]) -> None:
    """Run at the first day's moment, in a process of its own: the agency, its clients, the exchange rates,
    the secrets and the connections, through the services the commands use (as the demo does)."""
    from datadrip.core.enums import Plan
    from datadrip.core.errors import UsageError
    from datadrip.platforms.registry import load_settings
    from datadrip.secrets.store import open_store
    from datadrip.workbook.agencies import AgencyChanges, add_agency
    from datadrip.workbook.clients import ClientChanges, add_client
    from datadrip.workbook.connect import ConnectRequest, ConnectUi, connect_accounts
    from datadrip.workbook.fx import rate_input, set_rates
    from datadrip.workbook.session import Workbook, open_session

    home = Path(spec["home"])
    loaded = load_settings(home / "datadrip.toml", env={"DATADRIP_HOME": str(home)})
    with open_session(loaded, write=True) as opened:
        wb = Workbook(opened.session, "soak")
        agency = add_agency(wb, AGENCY, AgencyChanges(timezone=TIMEZONE, currency="INR", locale="en_IN",
                                                      plan=Plan.GROWTH))
        for n, name in enumerate(client_names(spec["clients"])):
            add_client(wb, name, agency.id, ClientChanges(currency=client_spec(n)[1],
                                                          recipients=recipient(n)))
        set_rates(wb.session, "soak", [rate_input(*rate, None) for rate in FX_RATES], source="soak")
    store, _ = open_store(loaded, announce=False)
    for key, value in spec["secrets"].items():
        store.set(key, value)

    def no_person(*_args: Any) -> Any:
        raise UsageError("the soak connects without a person")

    ui = ConnectUi(on_url=no_person, read_pasted=no_person, choose=no_person)
    for n, name in enumerate(client_names(spec["clients"])):
        _name, _currency, meta_id, google_id = client_spec(n)
        connect_accounts(loaded, ConnectRequest(platform="meta", client_ref=name, accounts=[meta_id],
                                                stdin_token=spec["meta_token"]), ui)
        connect_accounts(loaded, ConnectRequest(platform="google", client_ref=name, accounts=[google_id],
                                                stdin_token=spec["google_tokens"][n]), ui)


# (client, kind, since, until, the day it is due)
Due = tuple[str, str, dt.date, dt.date, dt.date]


# --- the checks ------------------------------------------------------------------------------------

@dataclass
class Misses:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def expected_reports(plans: list[DayPlan], names: list[str]) -> list[Due]:
    """(client, kind, since, until, day sent) of every report the timetable sends."""
    found = []
    for plan in plans:
        yesterday = plan.day - dt.timedelta(days=1)
        for name in names:
            found.append((name, "daily", yesterday, yesterday, plan.day))
            if plan.day.weekday() == 0:
                found.append((name, "weekly", plan.day - dt.timedelta(days=7), yesterday, plan.day))
    return found


def standing_failures(db: sqlite3.Connection, expected: list[Due],
                      day: dt.date) -> list[str]:
    """What `status` must name after the day's runs: accounts whose latest sync failed or that need
    a login, and the day's scheduled reports that were not sent. Each as the text status uses."""
    found = []
    accounts = db.execute(
        "SELECT c.name, a.platform, a.external_id, a.status, "
        " (SELECT r.status FROM sync_run r WHERE r.account_id = a.id ORDER BY r.started_at DESC LIMIT 1)"
        " FROM ad_account a JOIN client c ON c.id = a.client_id WHERE c.active").fetchall()
    for client, platform, external_id, status, last in accounts:
        if status == "needs_reauth" or last in ("failed", "partial"):
            found.append(f"{client} · {platform} {external_id}")
    for client, kind, since, until, sent_on in expected:
        if sent_on != day:
            continue
        row = db.execute("SELECT r.status FROM report r JOIN client c ON c.id = r.client_id "
                         "WHERE c.name = ? AND r.kind = ? AND r.period_start = ? AND r.period_end = ?",
                         (client, kind, since.isoformat(), until.isoformat())).fetchone()
        if row is None or row[0] != "sent":
            period = str(since) if since == until else f"{since}..{until}"
            found.append(f"{client} · {kind} report {period}")
    return found


def check_data(db: sqlite3.Connection, server: Any, first_sync: dt.datetime,
               misses: Misses) -> dict[str, int]:
    """Every (account, level, entity, day) in the workbook against the sandbox's rows as reported
    now (its clock is at the final moment), to the micro."""
    world = server.app.world
    clock = server.app.state.clock
    counts = Counter[str]()
    accounts = db.execute("SELECT a.id, c.name, a.platform, a.external_id FROM ad_account a "
                          "JOIN client c ON c.id = a.client_id ORDER BY c.name, a.platform").fetchall()
    for account_id, client, platform, external_id in accounts:
        sandbox_account = world.account(external_id)
        today = clock.today_in(sandbox_account.timezone)
        first_today = first_sync.astimezone(ZoneInfo(sandbox_account.timezone)).date()
        since = first_today - dt.timedelta(days=INITIAL_DAYS - 1)
        for level in ("campaign", "adset", "ad"):
            stored: dict[tuple[str, str], tuple[Any, ...]] = {}
            for row in db.execute(
                    "SELECT e.external_id, m.date, m.spend_micros, m.impressions, m.clicks, "
                    "m.conversions_millionths, m.conversion_value_micros FROM metric_daily m "
                    "JOIN entity e ON e.id = m.entity_id "
                    "WHERE m.account_id = ? AND m.level = ?", (account_id, level)):
                key = (str(row[0]), str(row[1]))
                if key in stored:
                    counts["doubled"] += 1
                spend, impressions, clicks, conversions, value = row[2:]
                stored[key] = (int(spend), int(impressions), int(clicks),
                               int(conversions or 0), int(value))
            truth = {}
            for row in world.rows(external_id, level, since, today, today):
                truth[(row.entity.id, row.date.isoformat())] = (
                    row.spend_micros, row.impressions, row.clicks,
                    int(Decimal(row.conversions) * 1_000_000), row.conversion_value_micros, row.is_zero)
            for key, want in truth.items():
                counts["checked"] += 1
                got = stored.pop(key, None)
                if got is None:
                    if not want[-1]:
                        counts["lost"] += 1
                        if counts["lost"] <= 5:
                            misses.add(f"lost: {client} {platform} {external_id} {level} {key[0]} {key[1]}")
                elif got != want[:-1]:
                    counts["different"] += 1
                    if counts["different"] <= 5:
                        misses.add(f"different: {client} {platform} {external_id} {level} {key[0]} {key[1]}: "
                                   f"workbook {got}, sandbox {want[:-1]}")
            for key in stored:
                if key[1] >= since.isoformat():
                    counts["extra"] += 1
                    if counts["extra"] <= 5:
                        misses.add(f"extra: {client} {platform} {external_id} {level} {key[0]} {key[1]}")
    for name in ("lost", "extra", "doubled", "different"):
        if counts[name]:
            misses.add(f"data: {counts[name]} row(s) {name}")
    return dict(counts)


def check_email(db: sqlite3.Connection, smtp: Smtp, expected: list[Due],
                misses: Misses) -> dict[str, int]:
    by_id = Counter(message.message_id for message in smtp.delivered)
    by_subject = Counter((message.to, message.subject) for message in smtp.delivered)
    # A repeated Message-ID is also a repeated (recipient, subject): count each extra copy once.
    duplicates = max(sum(n - 1 for n in by_id.values()), sum(n - 1 for n in by_subject.values()))
    known: dict[str, tuple[str, str, str, str]] = {}
    for message_id, client, kind, since, until in db.execute(
            "SELECT d.message_id, c.name, r.kind, r.period_start, r.period_end FROM report_delivery d "
            "JOIN report r ON r.id = d.report_id JOIN client c ON c.id = r.client_id "
            "WHERE d.message_id IS NOT NULL UNION "
            "SELECT r.message_id, c.name, r.kind, r.period_start, r.period_end FROM report r "
            "JOIN client c ON c.id = r.client_id WHERE r.message_id IS NOT NULL"):
        known[message_id] = (client, kind, str(since), str(until))
    unknown = [message_id for message_id in by_id if message_id not in known]
    received = Counter(known[message_id] for message_id in by_id if message_id in known)
    missing, excused = 0, 0
    for client, kind, since, until, day in expected:
        key = (client, kind, since.isoformat(), until.isoformat())
        if received[key]:
            if received[key] > 1:
                misses.add(f"duplicate: {client} {kind} {since}..{until} reached the server "
                           f"{received[key]} times")
            continue
        row = db.execute("SELECT r.status, r.error FROM report r JOIN client c ON c.id = r.client_id "
                         "WHERE c.name = ? AND r.kind = ? AND r.period_start = ? AND r.period_end = ?",
                         key).fetchone()
        if row is not None and row[0] in ("failed", "skipped") and (row[1] or "").strip():
            excused += 1
            continue
        missing += 1
        if missing <= 10:
            misses.add(f"missing: {client} {kind} {since}..{until} (due {day}): workbook says "
                       f"{'no report' if row is None else row[0]}")
    if duplicates:
        misses.add(f"e-mail: {duplicates} duplicate(s)")
    if missing:
        misses.add(f"e-mail: {missing} scheduled report(s) missing")
    if unknown:
        misses.add(f"e-mail: {len(unknown)} message(s) the workbook does not know, e.g. {unknown[0]}")
    return {"expected": len(expected), "delivered": len(smtp.delivered), "duplicates": duplicates,
            "missing": missing, "failed_or_skipped_with_reason": excused, "unknown": len(unknown)}


# --- the soak ------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    from aiosmtpd.controller import Controller

    from datadrip.sandbox.app import SandboxConfig
    from datadrip.sandbox.server import SandboxServer

    wall = time.monotonic()
    rng = random.Random(args.seed)
    plans = plan_days(rng, args.days, args.clients)
    names = client_names(args.clients)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="datadrip-soak-"))
    home = folder / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    smtp = Smtp()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    controller.start()
    misses = Misses()
    try:
        with SandboxServer(SandboxConfig(seed=args.seed, today=START, async_polls=0,
                                                 extra_clients=max(0, args.clients - 3))) as server:
            write_config(home, server, controller.port)
            env = {key: value for key, value in os.environ.items()
                   if not key.startswith("DATADRIP_") and key != "OPENAI_API_KEY"}
            # DATADRIP_DEBUG: an unexpected error comes with its traceback (where it came from).
            env.update(DATADRIP_HOME=str(home), TZ="UTC", PYTHONUNBUFFERED="1", DATADRIP_DEBUG="1")
            env[SANDBOX_URL] = server.base_url
            soak = Soak(home, server, smtp, rng, env)
            # Kills fall on the morning runs (sync, logins, reports) of the days between the first
            # and the last; several may fall on one morning.
            soak.kill_days = Counter(rng.randrange(1, args.days - 1) for _ in range(args.kills)) \
                if args.days > 2 else Counter()
            tokens = [new_google_token(server) for _ in names]
            described = server.app.describe(server.base_url)
            spec = {"home": str(home), "clients": args.clients,
                    "meta_token": described["meta"]["access_token"],
                    "google_tokens": tokens,
                    "secrets": {"meta.app_secret": described["meta"]["app_secret"],
                                "google.client_secret": described["google"]["client_secret"],
                                "ai.api_key": described["openai"]["api_key"]}}
            first_sync = moment(START, FIRST_RUN)
            at = first_sync - dt.timedelta(hours=2)
            soak.set_clock(at)
            done = subprocess.run(at_moment(at, "--setup", json.dumps(spec)),
                                  capture_output=True, text=True, env=env, timeout=300)
            if done.returncode != 0:
                print(f"error: the soak's set-up failed:\n{done.stderr}", file=sys.stderr)
                return 1
            expected = expected_reports(plans, names)
            unnamed = twice = status_ok_wrongly = standing_total = status_runs = 0
            revoked_named = None
            for index, plan in enumerate(plans):
                smtp.set_day(plan.day, plan.smtp)
                if plan.revoke is not None:
                    import httpx

                    httpx.post(f"{server.base_url}/google/oauth/revoke",
                               data={"token": tokens[plan.revoke]}, timeout=10).raise_for_status()
                rules = list(plan.platform_faults)
                if plan.model_down:
                    rules.append({"kind": plan.model_down, "platform": "openai", "rate": 1.0})
                soak.faults(rules)
                soak.daemon(moment(plan.day, FIRST_RUN), index)
                soak.faults([{"kind": plan.model_down, "platform": "openai", "rate": 1.0}]
                            if plan.model_down else [])
                # At the deadline a daemon wakes; it has work only when the morning left clients
                # waiting for their sync (otherwise it would find nothing due and sleep again).
                if waiting_for_deadline(home, plan.day):
                    soak.daemon(moment(plan.day, FOLLOW_UP), None)
                soak.faults([])
                smtp.set_day(plan.day, "ok")
                with closing(sqlite3.connect(home / "workbook.db")) as db:
                    standing = standing_failures(db, expected, plan.day)
                standing_total += len(standing)
                problems: list[str] = []
                if standing or index == len(plans) - 1:  # on a clean day it would only say ok
                    status = soak.datadrip(moment(plan.day, STATUS_AT), "status", "--json")
                    status_runs += 1
                    try:
                        problems = list(json.loads(status.stdout)["problems"])
                    except (ValueError, KeyError):
                        misses.add(f"{plan.day}: `status --json` gave no JSON (exit {status.returncode}): "
                                   f"{status.stderr.strip()[:200]}")
                for what in standing:
                    named = sum(1 for problem in problems if what in problem)
                    if named == 0:
                        unnamed += 1
                        misses.add(f"{plan.day}: not named by status: {what}")
                    elif named > 1:
                        twice += 1
                        misses.add(f"{plan.day}: named {named} times by status: {what}")
                if standing and status.returncode == 0:
                    status_ok_wrongly += 1
                    misses.add(f"{plan.day}: status exited 0 with {len(standing)} failure(s) standing")
                if plan.revoke is not None:
                    name = names[plan.revoke]
                    revoked_named = any(name in problem and "google" in problem for problem in problems)
                    token = new_google_token(server)
                    tokens[plan.revoke] = token
                    relogin = soak.datadrip(moment(plan.day, RELOGIN_AT), "connect", "google", name,
                                            "--refresh-token-stdin", "--account", client_spec(plan.revoke)[3],
                                            stdin=token + "\n")
                    if relogin.returncode != 0:
                        misses.add(f"{plan.day}: the re-login of {name} failed: {relogin.stderr.strip()}")
                if args.verbose:
                    print(f"{plan.day} smtp={plan.smtp} model={plan.model_down or 'ok'} "
                          f"faults={len(plan.platform_faults)} standing={len(standing)} "
                          f"kills={soak.kills_done} wall={time.monotonic() - wall:.0f}s", flush=True)
            # The data is compared as the platforms report it at the last sync's moment.
            soak.set_clock(moment(plans[-1].day, FIRST_RUN))
            if revoked_named is False:
                misses.add("the revoked Google login was not named by status on its day")
            with closing(sqlite3.connect(home / "workbook.db")) as db:
                data = check_data(db, server, first_sync, misses)
                mail = check_email(db, smtp, expected, misses)
                integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
                # A bug fails its job's run (the daemon goes on): each one is a miss, like a crash.
                for job, scheduled, detail in db.execute(
                        "SELECT job, scheduled_for, detail FROM job_run WHERE status = 'failed'"):
                    error = str(json.loads(detail or "{}").get("error") or "")
                    if error.startswith("unexpected "):
                        soak.crashes.append(f"{job} run of {scheduled[:16]} UTC: {error}")
                failed_reports = db.execute("SELECT count(*) FROM report WHERE status = 'failed'"
                                            ).fetchone()[0]
                failed_syncs = db.execute("SELECT count(*) FROM sync_run "
                                          "WHERE status IN ('failed', 'partial')").fetchone()[0]
                model_noted = 0
                for plan in plans:
                    if plan.model_down:
                        notes = db.execute("SELECT detail FROM job_run WHERE job = 'sync' AND "
                                           "scheduled_for LIKE ?", (moment(plan.day, dt.time(5, 30)).strftime(
                                               "%Y-%m-%d %H:%M:%S") + "%",)).fetchall()
                        model_noted += any(json.loads(detail or "{}").get("insight_notes")
                                           for (detail,) in notes)
            if integrity != "ok":
                misses.add(f"PRAGMA integrity_check: {integrity}")
            for line in soak.crashes:
                misses.add(f"the daemon crashed or met a bug: {line}")
    finally:
        controller.stop()
    elapsed = time.monotonic() - wall
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = soak.peak_child_kib / 1024
    print(f"soak: {args.days} days, {args.clients} clients, seed {args.seed}, from {START}")
    print(f"  daemon runs {soak.daemon_runs} (exit codes {dict(sorted(soak.exits.items()))}), "
          f"kills {soak.kills_done}/{args.kills} (landed during a run/planned), status runs {status_runs}")
    print(f"  faults: SMTP days {Counter(plan.smtp for plan in plans if plan.smtp != 'ok')}, "
          f"model-down days {sum(1 for plan in plans if plan.model_down)} (the fallback noted in the "
          f"day's sync run on {model_noted}), platform fault rules "
          f"{sum(len(plan.platform_faults) for plan in plans)}, revoked login on "
          f"{next((str(plan.day) for plan in plans if plan.revoke is not None), 'no day')}")
    print(f"  data: rows checked {data.get('checked', 0)}, lost {data.get('lost', 0)}, "
          f"doubled {data.get('doubled', 0) + data.get('extra', 0)}, different {data.get('different', 0)}")
    print(f"  e-mail: scheduled {mail['expected']}, delivered {mail['delivered']}, duplicates "
          f"{mail['duplicates']}, missing {mail['missing']}, failed or skipped with a reason "
          f"{mail['failed_or_skipped_with_reason']}, unknown to the workbook {mail['unknown']}")
    print(f"  failures: standing after a day {standing_total}, not named by status {unnamed}, "
          f"named twice {twice}, status exit 0 with failures {status_ok_wrongly}; failed reports "
          f"{failed_reports}, failed or partial syncs {failed_syncs}")
    print(f"  integrity_check: {integrity}; daemon crashes {len(soak.crashes)}")
    print(f"  wall time {elapsed:.1f} s; peak RSS {self_mib:.0f} MiB (soak and sandbox), "
          f"{child_mib:.0f} MiB (largest datadrip process)")
    if misses.lines:
        print(f"MISSES ({len(misses.lines)}):")
        for line in misses.lines:
            print(f"  - {line}")
    else:
        print("no misses")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if misses.lines else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90, help="simulated days (at least 2)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the daemon")
    parser.add_argument("--seed", type=int, default=7, help="the sandbox's data and the fault schedule")
    parser.add_argument("--clients", type=int, default=8, help="clients of the agency")
    parser.add_argument("--keep", metavar="DIR", help="keep the home (workbook, logs) in DIR")
    parser.add_argument("--verbose", action="store_true", help="a line per simulated day")
    args = parser.parse_args(argv)
    if args.days < 2 or args.clients < 1 or args.kills < 0:
        parser.error("--days must be at least 2, --clients at least 1, --kills not negative")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
