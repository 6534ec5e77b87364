"""The workbook engine: created and migrated on first use, a private WAL file with foreign keys,
refusing anything that is not a DataDrip workbook without touching it, safe for two writers."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datadrip.db import migrations
from datadrip.db.engine import BUSY_TIMEOUT_MS, open_workbook

DATA_MODEL_TABLES = {"agency", "user", "client", "ad_account", "entity", "metric_daily",
                     "sync_run", "report", "insight", "audit_log", "llm_usage"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_files(path: Path) -> list[Path]:
    """SQLite's companions of a database file: what a mere look must not leave behind."""
    return [p for p in (path.with_name(path.name + suffix)
                        for suffix in ("-wal", "-shm", "-journal")) if p.exists()]


def query(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the file with Python's own sqlite3, not through DataDrip."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("command", [("agency", "list"), ("client", "list"), ("user", "list"),
                                     ("audit",)], ids=" ".join)
def test_engine_any_command_creates_and_migrates_the_workbook_on_first_use(dd, workbook_path,
                                                                           command):
    assert not workbook_path.exists()

    run = dd(*command)

    assert run.exit_code == 0, run.stderr
    assert workbook_path.is_file()
    assert query(workbook_path, "SELECT version_num FROM alembic_version") == [(migrations.HEAD,)]
    tables = {name for (name,) in query(workbook_path,
                                        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= DATA_MODEL_TABLES


def test_engine_creates_the_workbook_file_readable_by_its_owner_only(dd, workbook_path,
                                                                      permissive_umask):
    run = dd("agency", "add", "Spice Route Media")

    assert run.exit_code == 0, run.stderr
    assert workbook_path.stat().st_mode & 0o777 == 0o600


def test_engine_creates_a_workbook_file_elsewhere_readable_by_its_owner_only(
        dd, tmp_path, monkeypatch, permissive_umask):
    target = tmp_path / "shared" / "nested" / "agency.db"
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", str(target))

    run = dd("agency", "list")

    assert run.exit_code == 0, run.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    assert query(target, "SELECT version_num FROM alembic_version") == [(migrations.HEAD,)]


def test_engine_connection_uses_wal_foreign_keys_and_a_busy_timeout(workbook_path):
    engine = open_workbook(str(workbook_path))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    finally:
        engine.dispose()
    assert timeout == BUSY_TIMEOUT_MS
    assert timeout >= 5_000  # long enough to wait out another command's write
    # WAL is a property of the file: any other reader sees it too.
    assert query(workbook_path, "PRAGMA journal_mode") == [("wal",)]


NOT_SQLITE = {
    "text": b"name,spend\nMasala Mornings,1500\n",
    "toml": b'[workbook]\nurl = "workbook.db"\n',
    "random bytes": random.Random(20261126).randbytes(8192),
    "truncated sqlite header": b"SQLite format",
}


@pytest.mark.parametrize("content", NOT_SQLITE.values(), ids=NOT_SQLITE.keys())
@pytest.mark.parametrize("command", [("agency", "list"), ("agency", "add", "Spice Route Media"),
                                     ("db", "upgrade")], ids=" ".join)
def test_engine_refuses_a_file_that_is_not_sqlite_and_leaves_it_untouched(dd, workbook_path,
                                                                          content, command):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.write_bytes(content)
    before = digest(workbook_path)

    run = dd(*command)

    assert run.exit_code == 2
    assert "not a DataDrip workbook" in run.stderr
    assert str(workbook_path) in run.stderr
    assert "Traceback" not in run.stderr
    assert digest(workbook_path) == before
    assert side_files(workbook_path) == []


def test_engine_refuses_a_file_that_is_not_sqlite_as_a_real_process(dd_process, workbook_path):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.write_bytes(NOT_SQLITE["random bytes"])
    before = digest(workbook_path)

    run = dd_process("client", "add", "Masala Mornings")

    assert run.exit_code == 2
    assert "not a DataDrip workbook" in run.stderr
    assert digest(workbook_path) == before
    assert side_files(workbook_path) == []


def another_applications_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    connection.execute("INSERT INTO notes (body) VALUES ('buy milk')")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("command", [("agency", "list"), ("agency", "add", "Spice Route Media"),
                                     ("db", "upgrade")], ids=" ".join)
def test_engine_refuses_another_applications_sqlite_database_and_leaves_it_untouched(
        dd, workbook_path, command):
    another_applications_database(workbook_path)
    before = digest(workbook_path)

    run = dd(*command)

    assert run.exit_code == 2
    assert "not a DataDrip workbook" in run.stderr
    assert query(workbook_path, "SELECT name FROM sqlite_master WHERE type = 'table'") == \
        [("notes",)]
    assert query(workbook_path, "SELECT body FROM notes") == [("buy milk",)]
    assert query(workbook_path, "PRAGMA journal_mode") == [("delete",)], \
        "the other application's database was switched to WAL"
    assert digest(workbook_path) == before, "the other application's file was modified"
    assert side_files(workbook_path) == []


def newer_workbook(dd: Callable[..., Any], path: Path) -> None:
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("command", [("agency", "list"), ("agency", "add", "Second Agency"),
                                     ("db", "upgrade")], ids=" ".join)
def test_engine_refuses_a_workbook_written_by_a_newer_datadrip(dd, workbook_path, command):
    newer_workbook(dd, workbook_path)
    before = digest(workbook_path)

    run = dd(*command)

    assert run.exit_code == 2
    assert "newer DataDrip" in run.stderr
    assert "9999" in run.stderr
    assert "Hint:" in run.stderr
    assert digest(workbook_path) == before
    assert query(workbook_path, "SELECT version_num FROM alembic_version") == [("9999",)]
    assert query(workbook_path, "SELECT name FROM agency") == [("Spice Route Media",)]


def test_engine_refuses_a_newer_workbook_as_a_real_process_leaving_no_side_files(
        dd, dd_process, workbook_path):
    newer_workbook(dd, workbook_path)
    before = digest(workbook_path)

    run = dd_process("agency", "add", "Second Agency")

    assert run.exit_code == 2
    assert "newer DataDrip" in run.stderr
    assert digest(workbook_path) == before
    assert side_files(workbook_path) == []


@pytest.mark.parametrize("where", ["default", "configured"])
def test_engine_refuses_a_folder_given_as_the_workbook(dd, workbook_path, tmp_path, monkeypatch,
                                                       where):
    folder = workbook_path if where == "default" else tmp_path / "a folder"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    if where == "configured":
        monkeypatch.setenv("DATADRIP_WORKBOOK_URL", str(folder))

    run = dd("agency", "add", "Spice Route Media")

    assert run.exit_code == 2
    assert "folder" in run.stderr
    assert str(folder) in run.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "mine"


def client_with_data(dd: Callable[..., Any], give_client_data: Callable[[str], None]) -> str:
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    added = dd("client", "add", "Masala Mornings", "--json")
    assert added.exit_code == 0, added.stderr
    client_id: str = added.json()["id"]
    give_client_data(client_id)
    return client_id


def counts(path: Path) -> dict[str, int]:
    return {table: query(path, f'SELECT count(*) FROM "{table}"')[0][0]
            for table in ("client", "ad_account", "entity", "metric_daily", "report", "insight")}


def test_engine_deleting_a_client_row_cascades_to_its_accounts_entities_and_metrics(
        dd, workbook_path, give_client_data):
    client_id = client_with_data(dd, give_client_data)
    assert counts(workbook_path) == {"client": 1, "ad_account": 1, "entity": 1,
                                     "metric_daily": 1, "report": 1, "insight": 1}

    engine = open_workbook(str(workbook_path))
    try:
        with engine.begin() as conn:
            deleted = conn.execute(sa.text("DELETE FROM client WHERE id = :id"),
                                   {"id": client_id}).rowcount
    finally:
        engine.dispose()

    assert deleted == 1
    assert counts(workbook_path) == dict.fromkeys(counts(workbook_path), 0)


def test_engine_removing_a_client_through_the_cli_removes_its_data(dd, workbook_path,
                                                                   give_client_data):
    client_with_data(dd, give_client_data)

    run = dd("client", "remove", "Masala Mornings", "--yes", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["with"] == {"ad_accounts": 1, "metric_rows": 1, "reports": 1,
                                  "insights": 1}
    assert counts(workbook_path) == dict.fromkeys(counts(workbook_path), 0)
    assert query(workbook_path, "PRAGMA foreign_key_check") == []


WORKER = r"""
import json, os, sys, time
from pathlib import Path

go, result, commands = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
from datadrip.cli import app  # imported before the start signal, so both start together

Path(str(result) + ".ready").touch()
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.001)
codes = []
for args in commands:
    try:
        app(args)
    except SystemExit as exc:
        codes.append(exc.code)
result.write_text(json.dumps(codes))
"""


def run_at_once(tmp_path: Path, commands: list[list[list[str]]]) -> list[tuple[list[Any], str]]:
    """Start one real process per command list, release them together, and wait for all."""
    go = tmp_path / "go"
    results = [tmp_path / f"worker{i}.json" for i in range(len(commands))]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(go), str(result),
                                 json.dumps(argv)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
               for result, argv in zip(results, commands, strict=True)]
    deadline = time.monotonic() + 60
    while not all(Path(str(r) + ".ready").exists() for r in results):
        assert time.monotonic() < deadline, "the workers did not start"
        assert all(w.poll() is None for w in workers), "a worker died before the start"
        time.sleep(0.01)
    go.touch()
    done = []
    for worker, result in zip(workers, results, strict=True):
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
        done.append((json.loads(result.read_text()), stderr))
    return done


def test_engine_two_processes_adding_clients_at_once_both_succeed(dd, workbook_path, tmp_path):
    assert dd("agency", "add", "Spice Route Media").exit_code == 0
    names = {side: [f"{side} client {i}" for i in range(10)] for side in ("North", "South")}

    done = run_at_once(tmp_path, [[["client", "add", name] for name in names[side]]
                                  for side in names])

    for codes, stderr in done:
        assert "locked" not in stderr
        assert codes == [0] * 10, stderr
    listed = dd("client", "list", "--json")
    assert listed.exit_code == 0
    assert sorted(c["name"] for c in listed.json()) == sorted(names["North"] + names["South"])
    audit = dd("audit", "--json").json()
    assert sum(entry["action"] == "client.add" for entry in audit) == 20


def test_engine_two_processes_creating_the_workbook_at_once_both_succeed(dd, workbook_path,
                                                                         tmp_path):
    assert not workbook_path.exists()

    done = run_at_once(tmp_path, [[["agency", "add", f"{side} Agency {i}"] for i in range(5)]
                                  for side in ("North", "South")])

    for codes, stderr in done:
        assert "locked" not in stderr
        assert codes == [0] * 5, stderr
    assert query(workbook_path, "SELECT version_num FROM alembic_version") == [(migrations.HEAD,)]
    listed = dd("agency", "list", "--json")
    assert len(listed.json()) == 10


def test_engine_a_command_that_fails_half_way_leaves_nothing(dd, agency, workbook_path):
    before = dd("audit", "--json").json()

    run = dd("client", "add", "Masala Mornings", "--recipients", "owner@masala.example,not-an-email",
             "--monthly-budget", "150000")

    assert run.exit_code == 2
    assert "not-an-email" in run.stderr
    assert dd("client", "list", "--json").json() == []
    assert dd("audit", "--json").json() == before
    assert query(workbook_path, "SELECT count(*) FROM client") == [(0,)]


def test_engine_a_unit_of_work_that_fails_after_writing_leaves_nothing(dd, agency, workbook_path):
    from datadrip.db.models import Client
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.audit import record
    from datadrip.workbook.session import open_session

    audit_before = query(workbook_path, "SELECT count(*) FROM audit_log")

    class Interrupted(Exception):
        pass

    with pytest.raises(Interrupted), open_session(load_settings(), write=True) as wb:
        client = Client(agency_id=agency["id"], name="Masala Mornings", currency="INR")
        wb.session.add(client)
        wb.session.flush()  # the row is written inside the transaction…
        record(wb.session, wb.actor, "client.add", "client", client.id)
        wb.session.flush()
        raise Interrupted  # …and then the work fails

    assert query(workbook_path, "SELECT count(*) FROM client") == [(0,)]
    assert query(workbook_path, "SELECT count(*) FROM audit_log") == audit_before


def test_engine_bad_workbook_url_error_never_shows_the_password(dd, monkeypatch) -> None:
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", "postgresql://ann:hunter2-secret@db.example:notaport/dd")

    run = dd("client", "list")

    assert run.exit_code == 2
    assert "not a database URL" in run.stderr
    assert "hunter2-secret" not in run.stderr + run.stdout


# --- an empty or damaged workbook --------------------------------------------------------------

@pytest.mark.parametrize("command", [("client", "list"), ("agency", "add", "Spice Route Media"),
                                     ("db", "upgrade")], ids=" ".join)
def test_engine_refuses_an_empty_workbook_file_and_leaves_it_empty(dd, workbook_path, command):
    workbook_path.parent.mkdir(parents=True)
    workbook_path.write_bytes(b"")

    run = dd(*command)

    assert run.exit_code == 2, run.stderr
    assert run.stderr.splitlines()[0] == (f"error: workbook {workbook_path} is empty (0 bytes): "
                                          f"its data is gone")
    assert "backup" in run.stderr and "Traceback" not in run.stderr
    assert workbook_path.stat().st_size == 0
    assert side_files(workbook_path) == []


def test_engine_a_new_workbook_is_never_an_empty_file(workbook_path):
    from datadrip.db.engine import APPLICATION_ID

    engine = open_workbook(str(workbook_path), migrate=False)
    engine.dispose()

    assert workbook_path.stat().st_size > 0  # a crash now leaves a database, not 0 bytes
    assert query(workbook_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert sorted(p.name for p in workbook_path.parent.iterdir()) == ["workbook.db"]


def corrupt(path: Path, *, table: str | None) -> None:
    """Overwrite pages of a workbook with garbage: every page after the first, or only the
    first page of `table` (its schema, on page 1, still reads)."""
    if table is None:
        first, count = 2, path.stat().st_size // 4096 - 1
    else:
        [(first,)] = query(path, "SELECT rootpage FROM sqlite_master WHERE name = ?", table)
        count = 1
    with path.open("r+b") as handle:
        handle.seek((first - 1) * 4096)
        handle.write(b"\xa5" * 4096 * count)


@pytest.mark.parametrize("table", [None, "client"], ids=["every page", "the client table"])
@pytest.mark.parametrize("command", [("client", "list"), ("client", "add", "Peak Trail")],
                         ids=" ".join)
def test_engine_a_workbook_with_damaged_pages_is_called_damaged_and_left_untouched(
        dd, agency, workbook_path, table, command):
    assert dd("client", "add", "Masala Mornings").exit_code == 0
    assert side_files(workbook_path) == []  # checkpointed: the file holds everything
    corrupt(workbook_path, table=table)
    before = digest(workbook_path)

    run = dd(*command)

    assert run.exit_code == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == (f"error: the workbook {workbook_path} is damaged "
                                          f"(database disk image is malformed)")
    assert f"Hint: Check it with: sqlite3 '{workbook_path}' 'PRAGMA integrity_check'." in run.stderr
    assert "backup" in run.stderr
    assert "not a DataDrip workbook" not in run.stderr and "Traceback" not in run.stderr
    assert digest(workbook_path) == before


# --- a workbook another process holds -----------------------------------------------------------

HOLD = """
import sqlite3, sys, time
from pathlib import Path
from datadrip.sync.lock import sync_lock

path = Path(sys.argv[1])
def hold():
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print("held", flush=True)
    sys.stdin.readline()
    connection.execute("ROLLBACK")
if sys.argv[2] == "sync":
    with sync_lock(path.with_name(path.name + ".sync-lock"), wait=False):
        hold()
else:
    hold()
"""


@pytest.fixture
def holder(workbook_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """A process that holds the workbook's write lock (as a plain SQLite program, or inside a
    DataDrip sync's lock) until the test ends."""
    started: list[subprocess.Popen[str]] = []

    def start(kind: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(workbook_path), kind],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.communicate("\n", timeout=30)


@pytest.mark.parametrize(("kind", "named"), [("sqlite", "process {pid} (python"),
                                             ("sync", "a DataDrip sync (process {pid})")])
def test_engine_a_workbook_held_by_another_process_is_busy_after_the_configured_wait(
        dd, dd_process, agency, workbook_path, holder, kind, named):
    held = holder(kind)
    started = time.monotonic()

    run = dd_process("client", "add", "Masala Mornings",
                     env={"DATADRIP_WORKBOOK_BUSY_TIMEOUT_SECONDS": "1"})

    took = time.monotonic() - started
    assert run.exit_code == 1, run.stderr
    assert run.stdout == ""
    [line, hint] = run.stderr.splitlines()
    assert line.startswith(f"error: the workbook {workbook_path} is busy (held by ")
    assert named.format(pid=held.pid) in line
    assert line.endswith("): gave up after waiting 1 s")
    assert hint.startswith("Hint: Try again once that is done, or wait longer: [workbook] "
                           "busy_timeout_seconds")
    assert "sqlalche.me" not in run.stderr and "report it" not in run.stderr
    assert took < 15  # the setting, not the default 15 s
    held.communicate("\n", timeout=30)
    assert dd("client", "list", "--json").json() == []  # nothing was half-written


def test_engine_busy_timeout_comes_from_the_setting(workbook_path, monkeypatch):
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    monkeypatch.setenv("DATADRIP_WORKBOOK_BUSY_TIMEOUT_SECONDS", "3")
    with open_session(load_settings()) as wb:
        timeout = wb.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar()

    assert timeout == 3000
