"""`datadrip secret set|delete|list`, `config show` on stored secrets, and that values never leak."""

from __future__ import annotations

import base64
import os
import pty
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input

from datadrip.platforms.registry import load_settings
from datadrip.secrets.file import KEY_FILENAME, STORE_FILENAME, FileStore

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
CANARY = "sk-leak-canary-123"
OTHER_KEY = base64.b64encode(b"k" * 32).decode()


def stored_in_file(home: Path, name: str) -> str | None:
    return FileStore(home, env={}).get(name)


def last_audit(dd: Callable[..., Any]) -> dict[str, Any]:
    run = dd("audit", "--json")
    assert run.exit_code == 0, run.stderr
    return dict(run.json()[-1])


# --- set ---------------------------------------------------------------------------------------

def test_secret_set_reads_stdin_into_the_keyring(dd, memory_keyring: Any) -> None:
    run = dd("secret", "set", "meta.app_secret", input="meta-app-secret\n")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert memory_keyring.passwords == {("datadrip", "meta.app_secret"): "meta-app-secret"}
    assert run.stderr.startswith("Stored meta.app_secret in the OS keyring (MemoryKeyring, "
                                 "service 'datadrip').")
    assert "No OS keyring" not in run.stderr


@pytest.mark.parametrize(("given", "kept"), [("v\n", "v"), ("v", "v"), ("v\r\n", "v"),
                                             ("v\n\n", "v\n"), (" v w \n", " v w ")])
def test_secret_set_strips_one_trailing_newline_only(dd, memory_keyring: Any, given: str,
                                                      kept: str) -> None:
    assert dd("secret", "set", "ai.api_key", input=given).exit_code == 0

    assert memory_keyring.passwords[("datadrip", "ai.api_key")] == kept


def test_secret_set_without_keyring_uses_the_file_and_says_so_once(dd, no_keyring: None,
                                                                   home: Path) -> None:
    first = dd("secret", "set", "ai.api_key", input="sk-one\n")
    second = dd("secret", "set", "meta.app_secret", input="meta-two\n")

    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    notice = first.stderr.splitlines()[0]
    assert notice.startswith(f"No OS keyring here: secrets go to an encrypted file at "
                             f"{home / STORE_FILENAME}")
    assert "No OS keyring" not in second.stderr
    assert f"Stored meta.app_secret in the encrypted file {home / STORE_FILENAME}" in second.stderr
    assert stored_in_file(home, "ai.api_key") == "sk-one"
    assert stored_in_file(home, "meta.app_secret") == "meta-two"


def test_secret_set_in_a_process_with_stdin_piped(dd_process, home: Path) -> None:
    first = dd_process("secret", "set", "email.smtp_password", input="smtp-pass\n", env=NO_KEYRING)
    second = dd_process("secret", "set", "ai.api_key", input="sk-proc", env=NO_KEYRING)
    listed = dd_process("secret", "list", "--json", env=NO_KEYRING)

    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert "No OS keyring here" in first.stderr
    assert "No OS keyring here" not in second.stderr
    assert stored_in_file(home, "email.smtp_password") == "smtp-pass"
    assert stored_in_file(home, "ai.api_key") == "sk-proc"
    by_name = {row["name"]: row for row in listed.json()}
    assert by_name["email.smtp_password"]["source"] == "secret store"


def _run_on_a_terminal(args: list[str], answers: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run datadrip on a pseudo-terminal, typing each answer when a prompt appears."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: datadrip, with the terminal as stdin, stdout and stderr
        os.execve(sys.executable, [sys.executable, "-m", "datadrip", *args], {**os.environ, **env})
    seen, pending, deadline = b"", list(answers), time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            # click prints "Value for …:", then getpass turns echo off and prints " "
            if pending and seen.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\r")
    else:
        os.kill(pid, 9)  # stuck at a prompt: fail, don't hang
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_secret_set_at_a_terminal_asks_twice_without_echo(home: Path) -> None:
    code, screen = _run_on_a_terminal(["secret", "set", "google.client_secret"],
                                      [CANARY, CANARY], NO_KEYRING)

    assert code == 0, screen
    assert "Value for google.client_secret:" in screen
    assert "Repeat for confirmation:" in screen
    assert CANARY not in screen
    assert stored_in_file(home, "google.client_secret") == CANARY


def test_secret_set_value_as_an_argument_is_refused_without_echoing_it(dd, memory_keyring: Any
                                                                       ) -> None:
    for args in (["ai.api_key", CANARY], ["ai.api_key", f"--value={CANARY}"],
                 [CANARY, "ai.api_key"]):
        run = dd("secret", "set", *args, input="from-stdin\n")

        line = assert_bad_input(run)
        assert CANARY not in run.stderr
        assert "extra argument" in line or "unknown secret name (not shown)" in line
    assert memory_keyring.passwords == {}


def test_secret_set_value_as_an_argument_is_refused_in_a_process(dd_process, home: Path) -> None:
    run = dd_process("secret", "set", "ai.api_key", CANARY, env=NO_KEYRING)

    assert_bad_input(run, "got an unexpected extra argument")
    assert CANARY not in run.stderr
    assert not (home / STORE_FILENAME).exists()


def test_secret_set_unknown_name_exits_2_listing_the_known_ones(dd, memory_keyring: Any) -> None:
    run = dd("secret", "set", "meta.app_secert", input="v\n")

    assert_bad_input(run, "unknown secret name 'meta.app_secert'")
    assert f"Hint: Known secrets: {', '.join(load_settings().secret_env)}." in run.stderr
    assert memory_keyring.passwords == {}


@pytest.mark.parametrize("given", ["", "\n", "   \n"], ids=["nothing", "newline", "blank"])
def test_secret_set_empty_stdin_exits_2_and_stores_nothing(dd, memory_keyring: Any,
                                                           given: str) -> None:
    run = dd("secret", "set", "ai.api_key", input=given)

    assert_bad_input(run, "no value for ai.api_key on stdin")
    assert memory_keyring.passwords == {}


def test_secret_set_records_who_changed_which_secret(dd, memory_keyring: Any) -> None:
    dd("secret", "set", "google.developer_token", input="dev-token\n")

    entry = last_audit(dd)
    assert (entry["action"], entry["entity"], entry["entity_id"]) == \
        ("secret.set", "secret", "google.developer_token")
    assert entry["actor"] == "tester@agency.example"
    assert entry["details"] == {"name": "google.developer_token", "backend": "keyring"}


def test_secret_set_notes_an_environment_variable_that_wins(dd, memory_keyring: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")

    run = dd("secret", "set", "ai.api_key", input="sk-stored\n")

    assert run.exit_code == 0, run.stderr
    assert "Note: OPENAI_API_KEY is set and wins over the stored value." in run.stderr


def test_secret_set_forced_file_backend_skips_the_keyring(dd, memory_keyring: Any, home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")

    run = dd("secret", "set", "ai.api_key", input="sk-file\n")

    assert run.exit_code == 0, run.stderr
    assert memory_keyring.passwords == {}
    assert stored_in_file(home, "ai.api_key") == "sk-file"
    assert "No OS keyring" not in run.stderr


def test_secret_set_forced_keyring_without_one_exits_2(dd, no_keyring: None, home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "keyring")

    run = dd("secret", "set", "ai.api_key", input="sk-x\n")

    assert_bad_input(run, '[secrets] backend is "keyring"')
    assert not (home / STORE_FILENAME).exists()
    assert dd("audit", "--json").json() == []


def test_secret_set_with_a_wrong_key_exits_2_and_changes_nothing(dd, no_keyring: None, home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    dd("secret", "set", "ai.api_key", input="sk-first\n")
    before = (home / STORE_FILENAME).read_bytes()
    monkeypatch.setenv("DATADRIP_SECRET_KEY", OTHER_KEY)

    run = dd("secret", "set", "ai.api_key", input="sk-second\n")

    assert_bad_input(run, "different key than DATADRIP_SECRET_KEY")
    assert (home / STORE_FILENAME).read_bytes() == before
    assert [e["action"] for e in dd("audit", "--json").json()] == ["secret.set"]
    monkeypatch.delenv("DATADRIP_SECRET_KEY")
    assert stored_in_file(home, "ai.api_key") == "sk-first"


def test_secret_set_with_a_loose_key_file_exits_2(dd, no_keyring: None, home: Path) -> None:
    dd("secret", "set", "ai.api_key", input="sk-first\n")
    (home / KEY_FILENAME).chmod(0o644)

    run = dd("secret", "set", "ai.api_key", input="sk-second\n")

    assert_bad_input(run, "may be read by others (mode 0644)")
    assert f"Hint: Run: chmod 600 {home / KEY_FILENAME}" in run.stderr


def test_secret_help_names_every_known_secret(dd) -> None:
    run = dd("secret", "set", "--help")

    for name in load_settings().secret_env:
        assert name in run.stdout


# --- delete ------------------------------------------------------------------------------------

def test_secret_delete_removes_it_and_records_it(dd, memory_keyring: Any) -> None:
    dd("secret", "set", "ai.api_key", input="sk-1\n")

    run = dd("secret", "delete", "ai.api_key")

    assert run.exit_code == 0, run.stderr
    assert run.stderr.startswith("Deleted ai.api_key from the OS keyring")
    assert memory_keyring.passwords == {}
    entry = last_audit(dd)
    assert (entry["action"], entry["entity"], entry["entity_id"]) == \
        ("secret.delete", "secret", "ai.api_key")


def test_secret_delete_from_the_file_store(dd, no_keyring: None, home: Path) -> None:
    dd("secret", "set", "ai.api_key", input="sk-1\n")
    dd("secret", "set", "meta.app_secret", input="m-1\n")

    run = dd("secret", "delete", "ai.api_key")

    assert run.exit_code == 0, run.stderr
    assert stored_in_file(home, "ai.api_key") is None
    assert stored_in_file(home, "meta.app_secret") == "m-1"


def test_secret_delete_what_is_not_there_exits_2_like_user_remove(dd, memory_keyring: Any) -> None:
    run = dd("secret", "delete", "ai.api_key")

    assert_bad_input(run, "ai.api_key is not in the OS keyring")
    assert "Hint: See what is stored with 'datadrip secret list'." in run.stderr
    assert dd("audit", "--json").json() == []


def test_secret_delete_of_an_env_only_secret_says_where_it_is_set(
        dd, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_META_APP_SECRET", "from-env")

    run = dd("secret", "delete", "meta.app_secret")

    assert_bad_input(run, "meta.app_secret is not in")
    assert "DATADRIP_META_APP_SECRET: unset it there" in run.stderr


def test_secret_delete_unknown_name_exits_2(dd, memory_keyring: Any) -> None:
    assert_bad_input(dd("secret", "delete", "smtp"), "unknown secret name")


# --- list --------------------------------------------------------------------------------------

def test_secret_list_json_shape_and_sources(dd, memory_keyring: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dd("secret", "set", "meta.app_secret", input="m-1\n")
    dd("secret", "set", "ai.api_key", input="sk-stored\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("DATADRIP_EMAIL_SMTP_PASSWORD", "smtp-env")

    run = dd("secret", "list", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    rows = run.json()
    assert [row["name"] for row in rows] == list(load_settings().secret_env)
    assert all(list(row) == ["name", "set", "source", "stored", "env_vars"] for row in rows)
    by_name = {row["name"]: row for row in rows}
    assert by_name["meta.app_secret"] == {"name": "meta.app_secret", "set": True,
                                          "source": "secret store", "stored": True,
                                          "env_vars": ["DATADRIP_META_APP_SECRET"]}
    assert by_name["ai.api_key"]["source"] == "env OPENAI_API_KEY"
    assert by_name["ai.api_key"]["stored"] is True
    assert by_name["email.smtp_password"]["source"] == "env DATADRIP_EMAIL_SMTP_PASSWORD"
    assert by_name["email.smtp_password"]["stored"] is False
    assert by_name["google.client_secret"] == {"name": "google.client_secret", "set": False,
                                               "source": None, "stored": False,
                                               "env_vars": ["DATADRIP_GOOGLE_CLIENT_SECRET"]}
    for value in ("m-1", "sk-stored", "sk-env", "smtp-env"):
        assert value not in run.stdout


def test_secret_list_table_names_the_store(dd, no_keyring: None, home: Path) -> None:
    dd("secret", "set", "google.developer_token", input="dev-1\n")

    run = dd("secret", "list")

    assert run.exit_code == 0, run.stderr
    assert f"Secret store: the encrypted file {home / STORE_FILENAME}" in run.stderr
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in run.stdout.splitlines()}
    assert rows["google.developer_token"][:2] == ["yes", "secret store"]
    assert rows["ai.api_key"] == ["no", "", "DATADRIP_AI_API_KEY, OPENAI_API_KEY"]


def test_secret_list_with_a_wrong_key_exits_2(dd, no_keyring: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dd("secret", "set", "ai.api_key", input="sk-1\n")
    monkeypatch.setenv("DATADRIP_SECRET_KEY", OTHER_KEY)

    assert_bad_input(dd("secret", "list", "--json"), "different key")


# --- config show -------------------------------------------------------------------------------

def test_config_show_says_secret_store_for_a_stored_secret(dd, memory_keyring: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    dd("secret", "set", "meta.app_secret", input="m-1\n")
    dd("secret", "set", "ai.api_key", input="sk-stored\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")

    shown = dd("config", "show", "--json")
    table = dd("config", "show")

    secrets = shown.json()["secrets"]
    assert secrets["meta.app_secret"] == {"set": True, "source": "secret store"}
    assert secrets["ai.api_key"] == {"set": True, "source": "env OPENAI_API_KEY"}
    assert secrets["email.smtp_password"] == {"set": False, "source": None}
    assert shown.stderr == ""
    assert "meta.app_secret\t[redacted]\tsecret store" in table.stdout.splitlines()
    for run in (shown, table):
        assert "m-1" not in run.stdout + run.stderr
        assert "sk-stored" not in run.stdout + run.stderr


def test_config_show_still_works_when_the_store_cannot_be_read(dd, no_keyring: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    dd("secret", "set", "ai.api_key", input="sk-1\n")
    monkeypatch.setenv("DATADRIP_SECRET_KEY", OTHER_KEY)

    run = dd("config", "show", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr.startswith("warning: secret store not read: cannot decrypt")
    assert run.json()["secrets"]["ai.api_key"] == {"set": False, "source": None}


def test_config_show_file_backend_setting_has_its_source(dd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")

    shown = dd("config", "show", "--json").json()

    assert shown["settings"]["secrets.backend"] == {"value": "file", "source": "env"}


# --- no leaks ----------------------------------------------------------------------------------

def test_secret_values_appear_in_no_output_file_or_log(dd, dd_process, home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Store distinctive values, run everything that touches secrets (also failing, with
    --debug), and look for them in every output and every file DataDrip wrote."""
    canaries = {"ai.api_key": CANARY, "meta.app_secret": "meta-leak-canary-456",
                "email.smtp_password": "smtp-leak-canary-789"}
    runs = [dd_process("secret", "set", name, input=value + "\n", env=NO_KEYRING)
            for name, value in canaries.items()]
    runs += [dd_process("--debug", "secret", "set", "ai.api_key", input=CANARY, env=NO_KEYRING)]
    for args in (["secret", "list", "--json"], ["secret", "list"], ["config", "show", "--json"],
                 ["config", "show"], ["audit", "--json"], ["audit"], ["--debug", "secret", "list"],
                 ["--debug", "config", "show", "--json"], ["secret", "set", "ai.api_key", CANARY],
                 ["--debug", "secret", "set", CANARY], ["--debug", "secret", "delete", "ai.api_key"]):
        runs.append(dd_process(*args, env=NO_KEYRING))
    # failures with tracebacks: a wrong key, a loose key file, a damaged file
    wrong = {**NO_KEYRING, "DATADRIP_SECRET_KEY": OTHER_KEY, "DATADRIP_DEBUG": "1"}
    runs += [dd_process("secret", "set", "meta.app_secret", input=CANARY, env=wrong),
             dd_process("--debug", "secret", "list", env=wrong)]
    (home / KEY_FILENAME).chmod(0o644)
    runs.append(dd_process("--debug", "secret", "set", "ai.api_key", input=CANARY, env=NO_KEYRING))
    (home / KEY_FILENAME).chmod(0o600)
    runs.append(dd("--debug", "config", "show", "--json"))

    assert [run.exit_code for run in runs[:3]] == [0, 0, 0]
    assert any("Traceback" in run.stderr for run in runs), "no failure was exercised"
    everything = "".join(run.stdout + run.stderr for run in runs)
    files = b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())
    assert (home / "workbook.db").is_file()
    for value in canaries.values():
        assert value not in everything
        assert value.encode() not in files
