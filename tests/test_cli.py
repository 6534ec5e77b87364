"""CLI conventions: help with examples, one-line errors and exit codes, clean pipes, light start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datadrip import __version__
from datadrip.cli import COMMANDS, command_tree

ANSI = re.compile(r"\x1b\[|\x1b\]|\x1b\(")
HEAVY_FOR_CLI = ["sqlalchemy", "sqlmodel", "openai", "httpx", "authlib", "jinja2", "alembic",
                 "matplotlib", "apscheduler", "pydantic", "babel", "keyring", "cryptography"]
HEAVY_FOR_HELP = ["sqlalchemy", "openai", "authlib", "apscheduler", "jinja2"]


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the tree, with the words that reach it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


TREE = list(walk(command_tree()))
SUBCOMMANDS = [(path, command) for path, command in TREE if path]
GROUPS = [path for path, command in TREE if hasattr(command, "commands")]


def ids(path: tuple[str, ...]) -> str:
    return " ".join(path) or "datadrip"


def loaded_modules(*code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level names in sys.modules after running `code` in a fresh interpreter."""
    script = "; ".join(code) + "; import sys; print('\\n'.join(sorted(sys.modules)), file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})
    return {name.split(".")[0] for name in done.stderr.splitlines()}


def assert_one_error_line(run: Any) -> None:
    lines = run.stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error: ")
    assert sum(line.startswith("error:") for line in lines) == 1
    assert all(line.startswith(("error: ", "Hint: ")) for line in lines), run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a workbook\n", encoding="utf-8")
    return path


# --- help -------------------------------------------------------------------------------------

def test_cli_tree_has_the_nouns_of_the_design() -> None:
    names = {path for path, _ in SUBCOMMANDS}

    assert {("agency", "add"), ("agency", "list"), ("client", "add"), ("client", "list"),
            ("config", "show")} <= names


@pytest.mark.parametrize(("path", "command"), TREE, ids=[ids(path) for path, _ in TREE])
def test_cli_every_command_and_group_has_help_text(path: tuple[str, ...], command: Any) -> None:
    assert command.help and command.help.strip(), f"'{ids(path)}' has no help"


@pytest.mark.parametrize("path", [path for path, _ in SUBCOMMANDS],
                         ids=[ids(path) for path, _ in SUBCOMMANDS])
def test_cli_every_command_and_group_help_shows_an_example(dd, path: tuple[str, ...]) -> None:
    run = dd(*path, "--help")

    assert run.exit_code == 0, run.stderr
    assert "Example" in run.stdout, f"'datadrip {ids(path)} --help' shows no example"
    assert re.search(rf"^\s+(\S+=\S*\s+)*datadrip {re.escape(path[0])}\b", run.stdout,
                     re.MULTILINE), "the example does not run this command"


def test_cli_root_help_shows_runnable_examples(dd) -> None:
    run = dd("--help")

    assert run.exit_code == 0
    assert "datadrip agency add" in run.stdout
    assert "datadrip client list" in run.stdout
    for name in command_tree().commands:
        assert re.search(rf"^\s+{name}\s", run.stdout, re.MULTILINE), name


def test_cli_short_help_option_works(dd) -> None:
    assert dd("-h").stdout == dd("--help").stdout


@pytest.mark.parametrize("path", GROUPS, ids=[ids(path) for path in GROUPS])
def test_cli_group_without_a_verb_shows_help_not_an_error(dd, path: tuple[str, ...]) -> None:
    run = dd(*path)

    assert "Usage:" in run.stdout + run.stderr
    assert "Commands:" in run.stdout + run.stderr
    assert "error: Usage:" not in run.stderr, "help is printed as if it were an error"


# --- version ------------------------------------------------------------------------------------

def test_cli_version_prints_name_and_version(dd) -> None:
    run = dd("--version")

    assert run.exit_code == 0
    assert run.stdout == f"datadrip {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


def test_cli_version_in_a_process(dd_process) -> None:
    run = dd_process("--version")

    assert run.exit_code == 0
    assert run.stdout == f"datadrip {__version__}\n"
    assert run.stderr == ""


# --- usage errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("nope",),
    ("agency", "frobnicate"),
    ("agency", "add"),
    ("agency", "add", "Spice Route Media", "--plan", "platinum"),
    ("agency", "list", "--no-such-option"),
], ids=["unknown-command", "unknown-verb", "missing-argument", "bad-plan", "unknown-option"])
def test_cli_usage_error_exits_2_with_one_error_line(dd_process, args: tuple[str, ...]) -> None:
    run = dd_process(*args)

    assert run.exit_code == 2
    assert run.stdout == ""
    assert_one_error_line(run)


def test_cli_usage_error_names_the_problem(dd_process) -> None:
    assert "No such command 'nope'" in dd_process("nope").stderr
    assert "Missing argument 'NAME'" in dd_process("agency", "add").stderr
    bad_plan = dd_process("agency", "add", "Spice Route Media", "--plan", "platinum").stderr
    assert "--plan" in bad_plan
    assert "platinum" in bad_plan


def test_cli_usage_error_leaves_no_workbook(dd_process, workbook_path: Path) -> None:
    dd_process("agency", "add", "Spice Route Media", "--plan", "platinum")

    assert not workbook_path.exists()


# --- output on a pipe ---------------------------------------------------------------------------

def test_cli_json_output_is_only_json(dd_process) -> None:
    added = dd_process("agency", "add", "Spice Route Media", "--json")
    listed = dd_process("agency", "list", "--json")
    shown = dd_process("config", "show", "--json")

    for run in (added, listed, shown):
        assert run.exit_code == 0, run.stderr
        json.loads(run.stdout)
    assert json.loads(added.stdout)["name"] == "Spice Route Media"
    assert [agency["name"] for agency in json.loads(listed.stdout)] == ["Spice Route Media"]


@pytest.mark.parametrize("env", [
    {},
    {"FORCE_COLOR": "", "TERM": "xterm-256color"},
    {"NO_COLOR": "1"},
], ids=["piped", "force-color-empty", "no-color"])
def test_cli_no_ansi_codes_when_piped(dd_process, monkeypatch: pytest.MonkeyPatch,
                                      env: dict[str, str]) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    runs = [
        dd_process("agency", "add", "Spice Route Media", env=env),
        dd_process("agency", "list", env=env),
        dd_process("config", "show", env=env),
        dd_process("--help", env=env),
        dd_process("nope", env=env),
        dd_process("agency", "add", "X", "--timezone", "Mars/Olympus", env=env),
    ]

    assert runs[1].stdout.strip(), "agency list printed nothing to check"
    for run in runs:
        assert not ANSI.search(run.stdout), run.stdout
        assert not ANSI.search(run.stderr), run.stderr


def test_cli_piped_table_is_tab_separated_without_header(dd_process) -> None:
    dd_process("agency", "add", "Spice Route Media")

    run = dd_process("agency", "list")

    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    assert "Spice Route Media" in lines[0].split("\t")


# --- tracebacks ---------------------------------------------------------------------------------

def test_cli_error_without_debug_has_no_traceback(dd_process, not_sqlite: Path) -> None:
    run = dd_process("agency", "list", env={"DATADRIP_WORKBOOK_URL": str(not_sqlite)})

    assert run.exit_code == 2
    assert run.stdout == ""
    assert_one_error_line(run)
    assert "not a DataDrip workbook" in run.stderr
    assert not_sqlite.read_text(encoding="utf-8") == "this is not a workbook\n"


def test_cli_debug_flag_adds_a_traceback(dd_process, not_sqlite: Path) -> None:
    run = dd_process("--debug", "agency", "list", env={"DATADRIP_WORKBOOK_URL": str(not_sqlite)})

    assert run.exit_code == 2
    assert "Traceback (most recent call last)" in run.stderr
    assert run.stderr.splitlines()[-2].startswith("error: ")
    assert run.stdout == ""


def test_cli_debug_env_adds_a_traceback(dd_process, not_sqlite: Path) -> None:
    run = dd_process("agency", "list", env={"DATADRIP_WORKBOOK_URL": str(not_sqlite),
                                            "DATADRIP_DEBUG": "1"})

    assert run.exit_code == 2
    assert "Traceback (most recent call last)" in run.stderr


@pytest.mark.parametrize("value", ["0", "false", "no", "off"])
def test_cli_debug_env_off_adds_no_traceback(dd_process, not_sqlite: Path, value: str) -> None:
    run = dd_process("agency", "list", env={"DATADRIP_WORKBOOK_URL": str(not_sqlite),
                                            "DATADRIP_DEBUG": value})

    assert run.exit_code == 2
    assert "Traceback" not in run.stderr


def test_cli_config_error_exits_2_without_traceback(dd_process, tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text("[ai]\nmodle = 'x'\n", encoding="utf-8")

    run = dd_process("--config", str(path), "agency", "list")

    assert run.exit_code == 2
    assert run.stdout == ""
    assert_one_error_line(run)


# --- start-up -----------------------------------------------------------------------------------

def test_cli_import_stays_light() -> None:
    modules = loaded_modules("import datadrip.cli")

    assert "datadrip" in modules
    assert [name for name in HEAVY_FOR_CLI if name in modules] == []


def test_cli_help_in_a_process_imports_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "datadrip", "--help"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DATADRIP_HOME": str(tmp_path)})

    assert done.returncode == 0
    assert "Usage:" in done.stdout
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "datadrip" in imported
    assert [name for name in HEAVY_FOR_HELP if name in imported] == []


def test_cli_help_lists_every_command_with_its_own_first_sentence_without_loading_one(
        tmp_path: Path) -> None:
    loaded = command_tree().commands
    assert [name for name, *_ in COMMANDS] == list(loaded)
    for name, _, _, summary in COMMANDS:
        assert loaded[name].get_short_help_str(limit=1000) == summary, name

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "datadrip", "--help"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DATADRIP_HOME": str(tmp_path)})

    assert done.returncode == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    modules = {f"datadrip.commands.{module}" for _, module, _, _ in COMMANDS}
    assert sorted(modules & imported) == []  # a command's module loads when it runs, not for --help


def test_cli_version_imports_nothing_heavy() -> None:
    modules = loaded_modules("import sys", "sys.argv = ['datadrip', '--version']",
                             "from datadrip.cli import main",
                             "exec('try:\\n main()\\nexcept SystemExit:\\n pass')")

    assert [name for name in HEAVY_FOR_HELP if name in modules] == []
