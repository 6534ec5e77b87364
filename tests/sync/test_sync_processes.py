"""`datadrip sync` as real processes on a real workbook file: killed with SIGKILL at random points
(metrics, their actions, entity settings and breakdowns each whole or absent),
two syncs at once (refused, or waiting with --wait), and what cron sees: exit codes, plain stdout
without ANSI codes, one line per account, errors on stderr. No mocks: `python -m datadrip` against
the sandbox (a thread in this process, reached over 127.0.0.1), the workbook read with sqlite3."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sync_support import ACCOUNTS, LEVELS, metric_snapshot, sql, workbook_totals

from datadrip.sandbox.faults import FaultRule
from datadrip.sync.store import INTERRUPTED, SETTING_FIELDS

Process = subprocess.Popen[str]
Start = Callable[..., Process]
KILL_SEED = 20261126
KILLS = 4
RUNS_BY_ACCOUNT = ("SELECT r.id, a.external_id, r.status, r.error, r.started_at, r.finished_at "
                   "FROM sync_run r JOIN ad_account a ON a.id = r.account_id ORDER BY r.started_at")


def _finish(process: Process) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=60)
    return stdout, stderr


def _wait_until(ready: Callable[[], bool], process: Process, what: str, timeout: float = 30.0) -> None:
    """Poll until `ready()`; fail if the process ends first or it takes too long."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"the sync ended (exit {process.returncode}) before {what}:\n{stderr}{stdout}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:.0f} s")
        time.sleep(0.01)


def _lock_holder(workbook: Path) -> int | None:
    lock = workbook.with_name(workbook.name + ".sync-lock")
    text = lock.read_text().strip() if lock.exists() else ""
    return int(text) if text.isdigit() else None


def _runs(workbook: Path, status: str | None = None) -> list[tuple[Any, ...]]:
    runs = sql(workbook, RUNS_BY_ACCOUNT)
    return [run for run in runs if status is None or run[2] == status]


def _metric_rows(workbook: Path) -> int:
    return int(sql(workbook, "SELECT COUNT(*) FROM metric_daily")[0][0])


def _cursors(workbook: Path) -> dict[tuple[str, str], str]:
    return {(external_id, level): through for external_id, level, through in sql(
        workbook, "SELECT a.external_id, c.level, c.synced_through FROM sync_cursor c "
                  "JOIN ad_account a ON a.id = c.account_id")}


def _entities(workbook: Path) -> list[tuple[Any, ...]]:
    return sql(workbook, "SELECT a.external_id, e.level, e.external_id, e.name, p.external_id, e.status "
                         "FROM entity e JOIN ad_account a ON a.id = e.account_id "
                         "LEFT JOIN entity p ON p.id = e.parent_id ORDER BY 1, 2, 3")


Key = tuple[Any, ...]
ACCOUNT_ENTITY = ("JOIN ad_account a ON a.id = {t}.account_id JOIN entity e ON e.id = {t}.entity_id")


def _grouped(rows: list[tuple[Any, ...]], width: int) -> dict[Key, list[tuple[Any, ...]]]:
    """Rows keyed by their first `width` columns, the rest of each row in a list."""
    found: dict[Key, list[tuple[Any, ...]]] = {}
    for row in rows:
        found.setdefault(row[:width], []).append(row[width:])
    return found


def _actions(workbook: Path) -> dict[Key, list[tuple[Any, ...]]]:
    """(account, level, entity, day) → its actions as (action, count, value, synced_at)."""
    return _grouped(sql(workbook, "SELECT a.external_id, x.level, e.external_id, x.date, x.action, "
                                  "x.count_millionths, x.value_micros, x.synced_at "
                                  f"FROM metric_action_daily x {ACCOUNT_ENTITY.format(t='x')} "
                                  "ORDER BY 1, 2, 3, 4, 5"), 4)


def _breakdowns(workbook: Path) -> dict[Key, list[tuple[Any, ...]]]:
    """(account, dimension, day) → its rows as (campaign, value, numbers…, synced_at)."""
    return _grouped(sql(workbook, "SELECT a.external_id, b.dimension, b.date, e.external_id, b.value, "
                                  "b.spend_micros, b.impressions, b.clicks, b.conversions_millionths, "
                                  "b.conversion_value_micros, b.reach, b.synced_at "
                                  f"FROM metric_breakdown_daily b {ACCOUNT_ENTITY.format(t='b')} "
                                  "ORDER BY 1, 2, 3, 4, 5"), 3)


def _settings(workbook: Path) -> dict[Key, tuple[Any, ...]]:
    """(account, level, entity) → (its settings…, settings_synced_at), for entities with settings."""
    rows = sql(workbook, f"SELECT a.external_id, e.level, e.external_id, "
                         f"{', '.join(f'e.{name}' for name in SETTING_FIELDS)}, e.settings_synced_at "
                         "FROM entity e JOIN ad_account a ON a.id = e.account_id "
                         "WHERE e.settings_synced_at IS NOT NULL")
    return {row[:3]: row[3:] for row in rows}


def _changes(workbook: Path) -> list[tuple[Any, ...]]:
    return sql(workbook, "SELECT a.external_id, e.external_id, c.field, c.old_value, c.new_value "
                         "FROM entity_change c JOIN ad_account a ON a.id = c.account_id "
                         "JOIN entity e ON e.id = c.entity_id ORDER BY 1, 2, 3")


def _unstamped(grouped: dict[Key, list[tuple[Any, ...]]]) -> dict[Key, list[tuple[Any, ...]]]:
    return {key: [row[:-1] for row in rows] for key, rows in grouped.items()}


def _assert_sound(workbook: Path, clean: list[tuple[Any, ...]], clean_workbook: Path) -> None:
    """What a killed sync must leave: a valid file, and whole chunks only. Every level holds
    exactly the clean run's rows up to its cursor, and nothing after it; each metric row kept with
    its actions has exactly its day's actions, from its own chunk; a level's settings are all
    there or none; breakdowns hold whole chunks of the clean run's rows."""
    assert sql(workbook, "PRAGMA integrity_check") == [("ok",)]
    assert sql(workbook, "PRAGMA foreign_key_check") == []
    cursors = _cursors(workbook)
    saved = metric_snapshot(workbook)
    beyond = [row for row in saved if (row[0], row[1]) not in cursors or row[3] > cursors[row[0], row[1]]]
    assert beyond == [], "rows saved without their chunk's cursor"
    assert saved == [row for row in clean if (row[0], row[1]) in cursors
                     and row[3] <= cursors[row[0], row[1]]], "a chunk was saved in part"

    kept = {row[:4]: row[4] for row in sql(
        workbook, "SELECT a.external_id, m.level, e.external_id, m.date, m.synced_at "
                  f"FROM metric_daily m {ACCOUNT_ENTITY.format(t='m')} WHERE m.actions_kept")}
    actions, clean_actions = _actions(workbook), _unstamped(_actions(clean_workbook))
    assert set(actions) <= set(kept), "actions saved without their metric row"
    for key, stamp in kept.items():
        assert [row[:-1] for row in actions.get(key, [])] == clean_actions.get(key, []), key
        assert {row[-1] for row in actions.get(key, [])} <= {stamp}, ("actions of another chunk", key)

    settings, clean_settings = _settings(workbook), _settings(clean_workbook)
    for account_level in {key[:2] for key in settings}:
        level_rows = {key: row for key, row in settings.items() if key[:2] == account_level}
        assert {key: row[:-1] for key, row in level_rows.items()} == {
            key: row[:-1] for key, row in clean_settings.items() if key[:2] == account_level}, \
            ("a level's settings written in part", account_level)
        assert len({row[-1] for row in level_rows.values()}) == 1, account_level
    assert _changes(workbook) == _changes(clean_workbook)

    breakdowns, clean_breakdowns = _breakdowns(workbook), _unstamped(_breakdowns(clean_workbook))
    chunks: dict[tuple[Any, ...], list[str]] = {}  # (account, dimension, synced_at) → its days
    for key, rows in breakdowns.items():
        assert [row[:-1] for row in rows] == clean_breakdowns[key], ("a breakdown day in part", key)
        [stamp] = {row[-1] for row in rows}  # a day comes whole from one chunk
        chunks.setdefault((*key[:2], stamp), []).append(key[2])
    for (account, dimension, _stamp), days in chunks.items():
        inside = [key[2] for key in clean_breakdowns
                  if key[:2] == (account, dimension) and min(days) <= key[2] <= max(days)]
        assert sorted(days) == sorted(inside), ("a breakdown chunk saved in part", account, dimension)


def _today(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


# --- killed at random points -----------------------------------------------------------------------

def test_sync_killed_at_random_points_leaves_a_sound_workbook_and_the_next_sync_reaches_a_clean_runs_totals(
        connected: dict[str, Any], home: Path, workbook_path: Path, tmp_path: Path,
        dd_start: Start, dd: Callable[..., Any]) -> None:
    # Masala Mornings (Meta and Google) is broken down by device too.
    edited = dd("client", "edit", "Masala Mornings", "--breakdowns", "device")
    assert edited.exit_code == 0, edited.stderr
    # The same connected accounts and logins in a second home, synced once without a kill.
    clean_home = tmp_path / "clean-home"
    shutil.copytree(home, clean_home)
    clean_workbook = clean_home / "workbook.db"
    clean_run = dd_start("sync", "--json", env={"DATADRIP_HOME": str(clean_home)})
    stdout, stderr = _finish(clean_run)
    assert clean_run.returncode == 0, stderr
    windows = {a["account_id"]: (dt.date.fromisoformat(a["since"]), dt.date.fromisoformat(a["until"]))
               for a in json.loads(stdout)["accounts"]}
    clean = metric_snapshot(clean_workbook)
    assert set(windows) == set(ACCOUNTS)
    assert {key[:2] for key in _breakdowns(clean_workbook)} == {
        ("act_1010000001", "device"), ("2020000001", "device")}
    assert _actions(clean_workbook) and _settings(clean_workbook)

    # Kill points spread over the sync: one in each quarter of its rows, then a random extra
    # delay so that some kills land inside a chunk's transaction rather than just after one.
    rng = random.Random(KILL_SEED)
    targets = [int(len(clean) * 0.8 * rng.uniform(k, k + 1) / KILLS) for k in range(KILLS)]
    left_running: list[set[str]] = []
    for target in targets:
        before = {run[0] for run in _runs(workbook_path)}
        killed = dd_start("sync")
        _wait_until(lambda before=before: any(run[0] not in before for run in _runs(workbook_path)),
                    killed, "sync_run of the new sync")
        if left_running:  # the new sync closed what the killed one left running before it started
            closed = {run[0]: run[2:4] for run in _runs(workbook_path) if run[0] in left_running[-1]}
            assert closed == {run_id: ("failed", INTERRUPTED) for run_id in left_running[-1]}
        _wait_until(lambda target=target: _metric_rows(workbook_path) >= target, killed,
                    f"{target} metric rows")
        time.sleep(rng.uniform(0.0, 0.05))
        killed.send_signal(signal.SIGKILL)
        _finish(killed)
        assert killed.returncode == -signal.SIGKILL, "the sync ended before the kill landed"
        assert workbook_path.with_name(workbook_path.name + "-wal").exists()  # died with it open

        _assert_sound(workbook_path, clean, clean_workbook)
        running = {run[0] for run in _runs(workbook_path, "running")}
        assert running, "a killed sync leaves its accounts' runs running"
        left_running.append(running)
        assert _lock_holder(workbook_path) == killed.pid  # a stale pid: the OS released the lock

    final = dd_start("sync", "--json")
    stdout, stderr = _finish(final)

    assert final.returncode == 0, stderr
    assert {a["account_id"]: a["status"] for a in json.loads(stdout)["accounts"]} == {
        external_id: "succeeded" for external_id in ACCOUNTS}
    assert sql(workbook_path, "PRAGMA integrity_check") == [("ok",)]
    for external_id, (since, until) in windows.items():
        for level in LEVELS:
            totals = workbook_totals(workbook_path, external_id, level, since, until)
            assert totals == workbook_totals(clean_workbook, external_id, level, since, until), \
                (external_id, level)
            assert totals[0] > 0
    assert metric_snapshot(workbook_path) == clean
    # Actions, settings and breakdowns too: the clean run's, every one.
    assert _unstamped(_actions(workbook_path)) == _unstamped(_actions(clean_workbook))
    assert {key: row[:-1] for key, row in _settings(workbook_path).items()} == {
        key: row[:-1] for key, row in _settings(clean_workbook).items()}
    assert _changes(workbook_path) == _changes(clean_workbook)
    assert _unstamped(_breakdowns(workbook_path)) == _unstamped(_breakdowns(clean_workbook))
    assert _entities(workbook_path) == _entities(clean_workbook)
    assert _cursors(workbook_path) == _cursors(clean_workbook)
    interrupted: set[str] = set().union(*left_running)
    runs = _runs(workbook_path)
    assert {run[0]: run[2:4] for run in runs if run[0] in interrupted} == {
        run_id: ("failed", INTERRUPTED) for run_id in interrupted}
    assert all(run[5] is not None for run in runs)  # none left running, each has an end
    assert [run[2] for run in runs[-len(ACCOUNTS):]] == ["succeeded"] * len(ACCOUNTS)


def test_sync_killed_after_its_metrics_but_before_its_breakdowns_leaves_them_to_the_next_sync(
        connected: dict[str, Any], sandbox: Any, home: Path, workbook_path: Path, tmp_path: Path,
        dd_start: Start, dd: Callable[..., Any]) -> None:
    """The breakdowns come after the levels' chunks, which move the cursors: the next sync plans
    from those cursors, yet fetches the killed run's whole window of breakdowns."""
    assert dd("client", "edit", "Masala Mornings", "--breakdowns", "device").exit_code == 0
    since = (_today("Asia/Kolkata") - dt.timedelta(days=59)).isoformat()
    only = ("--client", "Masala Mornings", "--platform", "google", "--level", "campaign")
    clean_home = tmp_path / "clean-home"
    shutil.copytree(home, clean_home)
    clean_run = dd_start("sync", *only, "--since", since, env={"DATADRIP_HOME": str(clean_home)})
    assert _finish(clean_run)[1] == "" and clean_run.returncode == 0
    clean = _unstamped(_breakdowns(clean_home / "workbook.db"))
    done = _cursors(clean_home / "workbook.db")
    sandbox.app.faults.add(FaultRule("slow", platform="google", rate=1.0, delay=0.3))

    killed = dd_start("sync", *only, "--since", since)
    _wait_until(lambda: workbook_path.exists() and _cursors(workbook_path) == done, killed,
                "the campaign chunks saved")
    killed.send_signal(signal.SIGKILL)
    _finish(killed)
    sandbox.app.faults.clear()
    left = _unstamped(_breakdowns(workbook_path))
    assert killed.returncode == -signal.SIGKILL and len(left) < len(clean), "no breakdown was left"
    resumed = dd_start("sync", *only)  # planned from the cursors, which reached today
    stdout, stderr = _finish(resumed)

    assert resumed.returncode == 0, stderr
    assert _unstamped(_breakdowns(workbook_path)) == clean
    _assert_sound(workbook_path, metric_snapshot(clean_home / "workbook.db"), clean_home / "workbook.db")


# --- two syncs on one workbook ---------------------------------------------------------------------

def _slow_meta_sync(sandbox: Any, dd_start: Start, workbook_path: Path, *extra: str) -> Process:
    """A Meta-only sync of one account that holds the lock until the test clears the slow fault."""
    # Each request takes 2 s, so the sync outlasts a second process starting on a loaded machine.
    sandbox.app.faults.add(FaultRule("slow", rate=1.0, delay=2.0))
    since = _today("Asia/Kolkata") - dt.timedelta(days=41)
    first = dd_start("sync", "--json", "--client", "Masala Mornings", "--platform", "meta",
                       "--level", "campaign", "--since", since.isoformat(), *extra)
    _wait_until(lambda: _lock_holder(workbook_path) == first.pid and bool(_runs(workbook_path, "running")),
                first, "lock held and run started by the first sync")
    return first


def test_sync_second_process_on_a_busy_workbook_exits_1_and_leaves_the_first_alone(
        connected: dict[str, Any], sandbox: Any, workbook_path: Path, dd_start: Start,
        dd_process: Callable[..., Any]) -> None:
    first = _slow_meta_sync(sandbox, dd_start, workbook_path)

    second = dd_process("sync", "--level", "campaign")

    assert first.poll() is None, "the two syncs did not overlap"
    assert second.exit_code == 1
    assert second.stdout == ""
    assert second.stderr.splitlines()[0] == \
        f"error: another sync is already running on this workbook (process {first.pid})"
    assert "--wait" in second.stderr
    assert _lock_holder(workbook_path) == first.pid
    assert "Traceback" not in second.stderr
    # The refused sync did not take the first's run for an interrupted one.
    assert [run[1:4] for run in _runs(workbook_path)] == [("act_1010000001", "running", None)]

    sandbox.app.faults.clear()
    stdout, stderr = _finish(first)
    assert first.returncode == 0, stderr
    assert [run[1:4] for run in _runs(workbook_path)] == [("act_1010000001", "succeeded", None)]
    assert json.loads(stdout)["accounts"][0]["rows"] > 0


def test_sync_with_wait_starts_when_the_running_sync_ends_and_both_succeed(
        connected: dict[str, Any], sandbox: Any, workbook_path: Path, dd_start: Start) -> None:
    first = _slow_meta_sync(sandbox, dd_start, workbook_path)

    second = dd_start("sync", "--json", "--wait", "--client", "Masala Mornings", "--platform", "meta",
                        "--level", "campaign")
    assert second.stderr is not None
    notice = second.stderr.readline()  # blocks until the waiting sync says so

    assert notice == f"waiting for the other sync (process {first.pid}) to finish\n"
    assert first.poll() is None and second.poll() is None
    sandbox.app.faults.clear()
    first_out, first_err = _finish(first)
    second_out, second_err = _finish(second)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, notice + second_err
    assert second_err == ""
    assert [a["status"] for a in json.loads(first_out)["accounts"]] == ["succeeded"]
    assert [a["status"] for a in json.loads(second_out)["accounts"]] == ["succeeded"]
    runs = _runs(workbook_path)
    assert [run[2] for run in runs] == ["succeeded", "succeeded"]
    assert dt.datetime.fromisoformat(runs[1][4]) >= dt.datetime.fromisoformat(runs[0][5]), \
        "the waiting sync started before the first one finished"
    assert _lock_holder(workbook_path) is None  # released, not left naming a finished process


# --- what cron and scripts see ---------------------------------------------------------------------

@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A colour terminal's environment, but stdout and stderr are pipes (as under cron)."""
    for name in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    return {"TERM": "xterm-256color", "COLORTERM": "truecolor"}


def _lines(stdout: str) -> dict[str, list[str]]:
    """The piped summary: one tab-separated line per account, keyed by account id."""
    assert "\x1b" not in stdout
    fields = [line.split("\t") for line in stdout.splitlines()]
    assert all(len(line) == 8 for line in fields), stdout
    assert len({line[2] for line in fields}) == len(fields)
    return {line[2]: line for line in fields}


def test_sync_piped_prints_nothing_on_success_and_with_verbose_one_plain_line_per_account(
        connected: dict[str, Any], workbook_path: Path, dd_process: Callable[..., Any],
        plain_env: dict[str, str]) -> None:
    since = _today("Asia/Kolkata") - dt.timedelta(days=6)

    quiet = dd_process("sync", "--level", "campaign", "--since", since.isoformat(), env=plain_env)

    assert quiet.exit_code == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")  # cron mails any output: a success has none
    run = dd_process("sync", "--level", "campaign", "--since", since.isoformat(), "--verbose",
                     env=plain_env)
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""  # no progress bar, no log without a terminal
    lines = _lines(run.stdout)
    assert set(lines) == set(ACCOUNTS)
    timezones = dict(sql(workbook_path, "SELECT external_id, timezone FROM ad_account"))
    saved = dict(sql(workbook_path, "SELECT a.external_id, COUNT(*) FROM metric_daily m "
                                    "JOIN ad_account a ON a.id = m.account_id GROUP BY 1"))
    for external_id, (client, platform, _account, status, first, last, rows, seconds) in lines.items():
        assert (client, platform, status) == (
            ACCOUNTS[external_id][1], "google" if external_id.isdigit() else "meta", "succeeded")
        assert (first, last) == (since.isoformat(), _today(timezones[external_id]).isoformat())
        assert int(rows) == saved[external_id] > 0
        assert float(seconds) >= 0


def test_sync_piped_with_one_failing_account_exits_3_keeping_json_on_stdout_and_errors_on_stderr(
        connected: dict[str, Any], sandbox: Any, workbook_path: Path, dd_process: Callable[..., Any],
        plain_env: dict[str, str]) -> None:
    sandbox.app.faults.add(FaultRule("permission", platform="google", path="2020000002", nth=1,
                                     times=10_000))
    since = _today("Asia/Kolkata") - dt.timedelta(days=6)

    run = dd_process("sync", "--level", "campaign", "--since", since.isoformat(), "--json", env=plain_env)

    assert run.exit_code == 3, run.stderr
    document = json.loads(run.stdout)  # nothing but the document on stdout
    assert (document["succeeded"], document["failed"]) == (4, 1)
    assert {a["account_id"] for a in document["accounts"] if a["status"] == "failed"} == {"2020000002"}
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith("error: Peak Trail Outfitters · google 2020000002: ")
    assert errors[-1] == "error: 1 of 5 accounts failed; the others are saved"
    assert "\x1b" not in run.stderr and "Traceback" not in run.stderr
    assert {row[0] for row in sql(workbook_path, "SELECT DISTINCT a.external_id FROM metric_daily m "
                                                 "JOIN ad_account a ON a.id = m.account_id")} == \
        set(ACCOUNTS) - {"2020000002"}


def test_sync_piped_with_a_revoked_login_exits_4_with_one_line_per_account_naming_the_connect_command(
        connected: dict[str, Any], sandbox: Any, dd_process: Callable[..., Any],
        plain_env: dict[str, str]) -> None:
    for token in sandbox.app.state.tokens.values():
        if token.platform == "google":
            token.revoked = True
    since = _today("Asia/Kolkata") - dt.timedelta(days=2)

    run = dd_process("sync", "--level", "campaign", "--platform", "google", "--since", since.isoformat(),
                     env=plain_env)

    assert run.exit_code == 4, run.stderr
    assert run.stdout == ""  # under cron: the problems alone, on stderr
    problems = run.stderr.splitlines()
    assert len(problems) == 3, run.stderr
    assert problems[0].startswith("error: Masala Mornings · google 2020000001: ")
    assert problems[0].endswith('Hint: run: datadrip connect google "Masala Mornings"')
    assert problems[1].startswith("error: Peak Trail Outfitters · google 2020000002: ")
    assert problems[1].endswith('Hint: run: datadrip connect google "Peak Trail Outfitters"')
    assert problems[2] == "error: 2 of 2 accounts failed: a login is needed"
    assert "Traceback" not in run.stderr and "\x1b" not in run.stderr
    verbose = dd_process("sync", "--level", "campaign", "--platform", "google", "--verbose",
                         env=plain_env)
    assert verbose.exit_code == 4
    assert {external_id: line[3] for external_id, line in _lines(verbose.stdout).items()} == {
        "2020000001": "failed", "2020000002": "failed"}
    assert verbose.stderr.splitlines()[-2] == "error: 2 of 2 accounts failed: a login is needed"
    assert "datadrip connect google" in verbose.stderr.splitlines()[-1]


def test_sync_piped_with_bad_arguments_exits_2_before_touching_the_workbook(
        connected: dict[str, Any], workbook_path: Path, dd_process: Callable[..., Any]) -> None:
    run = dd_process("sync", "--since", "2026-11-20", "--until", "2026-11-01")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("error: ") and "--until" in run.stderr
    assert _runs(workbook_path) == []
    assert not workbook_path.with_name(workbook_path.name + ".sync-lock").exists()


# --- Ctrl-C ----------------------------------------------------------------------------------------

def test_sync_interrupted_with_ctrl_c_stops_before_the_accounts_not_yet_started(
        connected: dict[str, Any], sandbox: Any, workbook_path: Path, dd_start: Start) -> None:
    sandbox.app.faults.add(FaultRule("slow", rate=1.0, delay=0.1))
    since = _today("Asia/Kolkata") - dt.timedelta(days=13)
    interrupted = dd_start("sync", "--level", "campaign", "--since", since.isoformat(),
                             env={"DATADRIP_SYNC_CONCURRENCY": "1"})
    _wait_until(lambda: bool(_runs(workbook_path, "running")), interrupted, "first account's run")

    interrupted.send_signal(signal.SIGINT)
    _stdout, stderr = _finish(interrupted)

    assert interrupted.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "error: interrupted: " in stderr
    runs = _runs(workbook_path)
    assert len(runs) < len(ACCOUNTS), "accounts queued when Ctrl-C came were synced anyway"
    assert not [run for run in runs if run[2] == "running"]
