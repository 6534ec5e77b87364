"""`datadrip report build | list | show`: formats on stdout, files written whole, the browser
opened through $BROWSER, one kept report per client, kind and period, and clear refusals."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input

from reports.report_support import DAY1, NOV_1_3, Shared, add_campaign_day, fill_masala, own_home

MASALA = "Masala Mornings"
LIST_KEYS = ["id", "client", "kind", "period", "status", "recipients", "message_id", "provider",
             "provider_id", "sent_at", "built_at", "error", "sending_since"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("commands")
    with own_home(folder) as dd:
        fill_masala(dd)
        yield Shared(folder, dd)


@pytest.fixture
def masala(shared: Shared, home: Path, dd: Callable[..., Any]) -> Callable[..., Any]:
    """The filled workbook, no report built yet, in this test's own DATADRIP_HOME."""
    shared.copy_to(home)
    return dd


def listed(dd: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    run = dd("report", "list", *args, "--json")
    assert run.exit_code == 0, run.stderr
    return list(run.json())


def test_build_prints_each_format_to_stdout_and_warnings_to_stderr(shared):
    txt = shared.text(MASALA, *NOV_1_3, "--format", "txt")
    md = shared.text(MASALA, *NOV_1_3, "--format", "md")
    html = shared.text(MASALA, *NOV_1_3)
    run = shared.dd("report", "build", MASALA, *NOV_1_3, "--format", "json")

    assert txt.splitlines()[:3] == ["Spice Route Media", "Masala Mornings: Report, 1–3 Nov 2026",
                                    "Compared with 29–31 Oct 2026. Amounts in INR."]
    assert md.startswith("# Masala Mornings: Report, 1–3 Nov 2026\n")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert json.loads(run.stdout)["period"]["until"] == "2026-11-03"
    assert run.stderr.splitlines() == ["warning: Google Ads 1234567890 has not been synced yet.",
                                       "warning: Meta act_1 has not been synced yet."]


def test_build_refuses_an_unknown_format(masala):
    assert_bad_input(masala("report", "build", MASALA, "--format", "pdf"), "--format", "'pdf'",
                     "html, md, txt, json")
    assert listed(masala) == []  # refused before anything was built


def test_build_open_shows_html_only(masala):
    assert_bad_input(masala("report", "build", MASALA, "--format", "md", "--open"), "--open")
    assert listed(masala) == []


def test_build_names_an_unknown_client_and_how_to_find_one(masala):
    run = masala("report", "build", "Nobody", *DAY1)

    assert_bad_input(run, "no client 'Nobody'")
    assert "Hint: See 'datadrip client list'." in run.stderr


def test_build_out_writes_the_file_whole_and_leaves_no_temporary_file(masala, tmp_path):
    out = tmp_path / "a folder" / "nov.html"
    out.parent.mkdir()

    run = masala("report", "build", MASALA, *NOV_1_3, "--out", str(out))

    assert (run.exit_code, run.stdout) == (0, "")
    assert run.stderr.splitlines()[0] == f"Wrote {out}"
    assert sorted(path.name for path in out.parent.iterdir()) == ["nov.html"]
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "₹2,530.50" in html


def test_build_out_replaces_an_existing_file(masala, tmp_path):
    out = tmp_path / "out" / "nov.md"
    out.parent.mkdir()
    out.write_text("last week's report\n", encoding="utf-8")

    run = masala("report", "build", MASALA, *NOV_1_3, "--format", "md", "--out", str(out))

    assert run.exit_code == 0, run.stderr
    assert out.read_text(encoding="utf-8").startswith("# Masala Mornings: Report, 1–3 Nov 2026\n")
    assert sorted(path.name for path in out.parent.iterdir()) == ["nov.md"]


def test_build_out_that_cannot_be_written_fails_cleanly_and_writes_nothing(masala, tmp_path):
    blocker = tmp_path / "not a folder"
    blocker.write_text("keep me", encoding="utf-8")

    run = masala("report", "build", MASALA, *NOV_1_3, "--out", str(blocker / "nov.html"))

    assert_bad_input(run, "cannot write", str(blocker / "nov.html"))
    assert f"{blocker} is a file, not a folder" in run.stderr
    assert "Choose a path in a folder." in run.stderr
    assert blocker.read_text(encoding="utf-8") == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home", "not a folder", "work"]
    assert masala("report", "list", "--json").json() == []  # nothing kept of a report not written


def test_build_out_must_be_a_file_not_a_folder(masala, tmp_path):
    assert_bad_input(masala("report", "build", MASALA, "--out", str(tmp_path)), "--out", "is a directory")


def test_build_out_into_a_missing_folder_is_refused_and_keeps_nothing(masala, tmp_path):
    out = tmp_path / "no such folder" / "nov.html"

    run = masala("report", "build", MASALA, *NOV_1_3, "--out", str(out))

    assert_bad_input(run, f"cannot write {out}: there is no folder {out.parent}")
    assert "mkdir -p" in run.stderr
    assert not out.parent.exists()
    assert masala("report", "list", "--json").json() == []


@pytest.fixture
def full_device(tmp_path: Path) -> Path:
    """A character device that refuses every write with ENOSPC: as root, a node of our own with
    /dev/full's numbers (so a failing DataDrip can only replace that one); else /dev/full."""
    if os.geteuid() != 0:
        return Path("/dev/full")
    node = tmp_path / "full"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return node


def test_build_out_to_a_full_device_fails_clearly_and_leaves_the_device(masala, full_device):
    run = masala("report", "build", MASALA, *NOV_1_3, "--out", str(full_device))

    assert run.exit_code == 1, run.stderr
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == f"error: cannot write {full_device}: No space left on device"
    assert "Traceback" not in run.stderr
    assert stat.S_ISCHR(full_device.stat().st_mode)  # still the device, not a regular file
    assert [p.name for p in full_device.parent.iterdir() if p.name.startswith(".")] == []
    assert masala("report", "list", "--json").json() == []


def test_build_out_to_a_named_pipe_writes_into_it_and_leaves_the_pipe(masala, tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()

    run = masala("report", "build", MASALA, *NOV_1_3, "--format", "md", "--out", str(pipe))
    reader.join(timeout=10)

    assert run.exit_code == 0, run.stderr
    assert received[0].decode().startswith("# Masala Mornings: Report, 1–3 Nov 2026\n")
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "pipe", "work"]


def test_build_out_dev_stdout_writes_to_the_pipe_or_appends_to_the_redirected_file(
        masala, dd_process, tmp_path):
    piped = dd_process("report", "build", MASALA, *NOV_1_3, "--format", "md", "--out", "/dev/stdout")
    kept = tmp_path / "kept.md"
    kept.write_text("notes before\n", encoding="utf-8")
    with kept.open("ab") as appended:  # as a shell's >> opens it
        done = subprocess.run([sys.executable, "-m", "datadrip", "report", "build", MASALA,
                               *NOV_1_3, "--format", "md", "--out", "/dev/stdout"],
                              stdout=appended, stderr=subprocess.PIPE, timeout=60)

    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout.startswith("# Masala Mornings: Report, 1–3 Nov 2026\n")
    assert done.returncode == 0, done.stderr
    assert kept.read_text(encoding="utf-8").startswith(
        "notes before\n# Masala Mornings: Report, 1–3 Nov 2026\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_build_out_through_a_symlink_writes_the_file_it_points_to(masala, tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o644)
    link = tmp_path / "link.md"
    link.symlink_to(real)

    run = masala("report", "build", MASALA, *NOV_1_3, "--format", "md", "--out", str(link))

    assert run.exit_code == 0, run.stderr
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text(encoding="utf-8").startswith("# Masala Mornings: Report")
    assert real.stat().st_mode & 0o777 == 0o644  # the file keeps its permissions


@pytest.fixture
def browser_log(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """$BROWSER set to a script that writes the address it is given to a file, as `webbrowser`
    runs it; the environment for dd_process and that file."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "record-browser"
    script.write_text(f"#!{sys.executable}\nimport pathlib, sys\n"
                      f"pathlib.Path({str(log)!r}).write_text(sys.argv[1])\n", encoding="utf-8")
    script.chmod(0o755)
    yield {"BROWSER": str(script)}, log


def test_build_open_writes_the_report_under_home_and_opens_it_in_the_browser(masala, dd_process,
                                                                               browser_log, home):
    env, log = browser_log

    run = dd_process("report", "build", MASALA, *NOV_1_3, "--open", env=env)

    assert run.exit_code == 0, run.stderr
    path = home / "reports" / "masala-mornings-custom-2026-11-01-2026-11-03.html"
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == f"Wrote {path}"
    assert log.read_text() == path.resolve().as_uri()
    assert "Masala Mornings" in path.read_text(encoding="utf-8")
    assert sorted(os.listdir(path.parent)) == [path.name]
    assert path.parent.stat().st_mode & 0o777 == 0o700  # reports/ is private


def test_build_keeps_the_report_for_list_and_show(masala):
    run = masala("report", "build", MASALA, *NOV_1_3)
    assert run.exit_code == 0, run.stderr

    [kept] = listed(masala)

    assert list(kept) == LIST_KEYS
    assert {key: kept[key] for key in ("client", "kind", "period", "status", "recipients", "sent_at")} == {
        "client": MASALA, "kind": "custom", "period": {"since": "2026-11-01", "until": "2026-11-03"},
        "status": "built", "recipients": [], "sent_at": None}
    assert dt.datetime.fromisoformat(kept["built_at"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    stored = masala("report", "show", kept["id"], "--html")
    assert (stored.exit_code, stored.stdout) == (0, run.stdout)  # the HTML that was built
    assert masala("report", "list").stdout.split("\t") == [
        kept["id"][:8], MASALA, "custom", "2026-11-01", "2026-11-03", "built", "", "", "\n"]  # piped: plain


def test_build_again_updates_the_same_report(masala):
    assert masala("report", "build", MASALA, *DAY1).exit_code == 0
    [first] = listed(masala)
    add_campaign_day(MASALA, "act_1", "Late conversions", dt.date(2026, 11, 1), "470")

    assert masala("report", "build", MASALA, *DAY1, "--format", "json").exit_code == 0
    assert masala("report", "build", MASALA, *DAY1, "--kind", "daily").exit_code == 0

    reports = sorted(listed(masala), key=lambda r: r["kind"])
    assert [(r["kind"], r["id"] == first["id"]) for r in reports] == [("custom", True), ("daily", False)]
    again = reports[0]
    assert again["built_at"] > first["built_at"]
    summary = masala("report", "show", first["id"], "--json").json()["summary"]
    assert summary.startswith("On 1 Nov 2026, **₹2,500.00** was spent on ads")  # 2,030 + 470


def _sql(home: Path, statement: str, *args: Any) -> None:
    with sqlite3.connect(home / "workbook.db") as connection:
        connection.execute(statement, args)
    connection.close()


def test_build_leaves_a_sent_report_as_it_was_sent(masala, home):
    assert masala("report", "build", MASALA, *DAY1).exit_code == 0
    [kept] = listed(masala)
    _sql(home, "UPDATE report SET status = 'sent', html = '<p>as sent</p>' WHERE id = ?", kept["id"])

    run = masala("report", "build", MASALA, *DAY1)

    assert run.exit_code == 0 and "<!DOCTYPE html>" in run.stdout  # still shown, not kept
    assert masala("report", "show", kept["id"], "--html").stdout == "<p>as sent</p>"
    assert [r["status"] for r in listed(masala)] == ["sent"]


def test_show_finds_a_report_by_the_start_of_its_id(masala):
    assert masala("report", "build", MASALA, *NOV_1_3).exit_code == 0
    [kept] = listed(masala)

    text = masala("report", "show", kept["id"][:6].upper())
    record = masala("report", "show", kept["id"][:6], "--json")

    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines()[:6] == [f"Report:     {kept['id']}", f"Client:     {MASALA}",
                                            "Kind:       custom", "Period:     2026-11-01 to 2026-11-03",
                                            "Status:     built", ""]
    assert "From 1–3 Nov 2026, ₹2,530.50 was spent on ads" in text.stdout  # the summary, plain
    assert list(record.json()) == [*LIST_KEYS, "deliveries", "summary"]
    assert record.json()["deliveries"] == []
    assert record.json()["summary"].startswith("From 1–3 Nov 2026, **₹2,530.50** was spent")


def test_show_open_writes_the_stored_report_and_opens_it(masala, dd_process, browser_log, home):
    env, log = browser_log
    assert masala("report", "build", MASALA, "--kind", "daily", *DAY1).exit_code == 0
    [kept] = listed(masala)

    run = dd_process("report", "show", kept["id"][:8], "--open", env=env)

    assert (run.exit_code, run.stdout) == (0, ""), run.stderr
    path = home / "reports" / "masala-mornings-daily-2026-11-01.html"
    assert log.read_text() == path.resolve().as_uri()
    assert path.read_text(encoding="utf-8") == masala("report", "show", kept["id"], "--html").stdout


def test_show_refuses_an_unknown_a_short_or_an_ambiguous_id(masala, home):
    for args in (DAY1, NOV_1_3):
        assert masala("report", "build", MASALA, *args).exit_code == 0
    ids = [r["id"] for r in listed(masala)]
    for n, old in enumerate(ids):
        _sql(home, "UPDATE report SET id = ? WHERE id = ?", f"abcdef{n:026d}", old)

    unknown = masala("report", "show", "fedcba")
    short = masala("report", "show", "abcde")
    ambiguous = masala("report", "show", "abcdef")

    assert_bad_input(unknown, "no report 'fedcba'")
    assert_bad_input(short, "no report 'abcde'")
    assert "at least 6 characters" in short.stderr
    assert_bad_input(ambiguous, "more than one report starts with 'abcdef'")
    assert masala("report", "show", "abcdef" + "0" * 25 + "1").exit_code == 0


def test_list_shows_one_client_and_at_most_limit_newest_period_first(masala):
    for client, args in ((MASALA, DAY1), (MASALA, ("--since", "2026-11-02", "--until", "2026-11-02")),
                         (MASALA, NOV_1_3), ("Peak Trail", NOV_1_3)):
        assert masala("report", "build", client, *args, "--format", "json").exit_code == 0

    every = listed(masala)
    peak = listed(masala, "--client", "Peak Trail")
    newest = listed(masala, "--limit", "3")

    assert [(r["client"], r["period"]["until"]) for r in every] == [
        ("Peak Trail", "2026-11-03"), (MASALA, "2026-11-03"), (MASALA, "2026-11-02"), (MASALA, "2026-11-01")]
    assert [(r["client"], r["period"]["since"]) for r in peak] == [("Peak Trail", "2026-11-01")]
    assert newest == every[:3]
    assert_bad_input(masala("report", "list", "--client", "Nobody"), "no client 'Nobody'")
    assert_bad_input(masala("report", "list", "--limit", "0"), "--limit")


def test_list_without_reports_says_how_to_build_one(masala):
    run = masala("report", "list")

    assert (run.exit_code, run.stdout) == (0, "")
    assert "no reports yet: datadrip report build CLIENT" in run.stderr
    assert listed(masala) == []
