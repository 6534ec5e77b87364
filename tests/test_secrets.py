"""The secret store: the encrypted file fallback, the keyring, how one is chosen, and redaction."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordSetError

from datadrip.core.errors import ExitCode, SecretStoreError, UsageError
from datadrip.platforms.registry import load_settings
from datadrip.secrets.file import KEY_FILENAME, STORE_FILENAME, FileStore
from datadrip.secrets.store import (
    NOTICE_MARKER,
    KeyringStore,
    open_store,
    redact,
    resolve_secret,
    stored_names,
)

KEY_A = base64.b64encode(bytes(range(32))).decode()  # as `openssl rand -base64 32` prints
KEY_B = base64.urlsafe_b64encode(bytes(range(100, 132))).decode().rstrip("=")


def broken_keyring(error: type[Exception]) -> KeyringBackend:
    """A keyring that looks fine but fails on use, like SecretService without a D-Bus session."""

    class Broken(KeyringBackend):
        priority = 5  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            raise error("the keyring is not available")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise error("the keyring is not available")

        def delete_password(self, service: str, username: str) -> None:
            raise error("the keyring is not available")

    KeyringBackend._classes.discard(Broken)  # type: ignore[attr-defined]
    return Broken()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the encrypted file ------------------------------------------------------------------------

def test_file_store_round_trip_of_several_names(home: Path) -> None:
    store = FileStore(home, env={})

    assert store.get("meta.app_secret") is None
    store.set("meta.app_secret", "app-secret-1")
    store.set("ai.api_key", "sk-ünïcode 2")
    store.set("meta.app_secret", "app-secret-2")

    again = FileStore(home, env={})
    assert again.get("meta.app_secret") == "app-secret-2"
    assert again.get("ai.api_key") == "sk-ünïcode 2"
    assert again.delete("meta.app_secret") is True
    assert again.delete("meta.app_secret") is False
    assert FileStore(home, env={}).get("meta.app_secret") is None
    assert FileStore(home, env={}).get("ai.api_key") == "sk-ünïcode 2"


def test_file_store_survives_a_new_process(home: Path) -> None:
    FileStore(home, env={}).set("email.smtp_password", "smtp-pass-9")
    FileStore(home, env={}).set("google.developer_token", "dev-token-7")

    script = ("import sys; from pathlib import Path; from datadrip.secrets.file import FileStore; "
              "s = FileStore(Path(sys.argv[1]), env={}); "
              "print(s.get('email.smtp_password'), s.get('google.developer_token')); "
              "s.set('ai.api_key', 'from-the-child')")
    done = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["smtp-pass-9", "dev-token-7"]
    assert FileStore(home, env={}).get("ai.api_key") == "from-the-child"


def test_file_store_files_are_private_whatever_the_umask(home: Path) -> None:
    old = os.umask(0)
    try:
        FileStore(home, env={}).set("ai.api_key", "sk-1")
        FileStore(home, env={}).set("ai.api_key", "sk-2")
    finally:
        os.umask(old)

    assert mode(home / STORE_FILENAME) == 0o600
    assert mode(home / KEY_FILENAME) == 0o600
    assert mode(home) == 0o700  # the store created the folder
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []


def test_file_store_hides_values_and_names(home: Path) -> None:
    FileStore(home, env={}).set("meta.app_secret", "plainly-visible-value")

    raw = (home / STORE_FILENAME).read_bytes()
    assert b"plainly-visible-value" not in raw
    assert b"meta.app_secret" not in raw
    assert json.loads(raw)["cipher"] == "AES-256-GCM"


def test_file_store_uses_a_fresh_nonce_on_every_write(home: Path) -> None:
    store = FileStore(home, env={})
    store.set("ai.api_key", "same")
    first = json.loads((home / STORE_FILENAME).read_text())
    store.set("ai.api_key", "same")
    second = json.loads((home / STORE_FILENAME).read_text())

    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]
    assert len(base64.urlsafe_b64decode(second["nonce"])) == 12


def test_file_store_env_key_is_used_instead_of_a_key_file(home: Path) -> None:
    FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_A}).set("ai.api_key", "sk-env")

    assert not (home / KEY_FILENAME).exists()
    assert FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_A}).get("ai.api_key") == "sk-env"
    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).get("ai.api_key")
    assert "key file" in raised.value.message
    assert "missing" in raised.value.message


def test_file_store_accepts_the_key_url_safe_and_unpadded(home: Path) -> None:
    padded = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()
    FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_B}).set("ai.api_key", "sk-b")

    assert FileStore(home, env={"DATADRIP_SECRET_KEY": padded}).get("ai.api_key") == "sk-b"


def test_file_store_wrong_key_is_a_clear_error_and_changes_nothing(home: Path) -> None:
    FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_A}).set("ai.api_key", "sk-right")
    before = (home / STORE_FILENAME).read_bytes()
    wrong = FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_B})

    with pytest.raises(SecretStoreError) as raised:
        wrong.get("ai.api_key")
    with pytest.raises(SecretStoreError):
        wrong.set("ai.api_key", "sk-wrong")
    with pytest.raises(SecretStoreError):
        wrong.delete("ai.api_key")

    error = raised.value
    assert error.exit_code == ExitCode.BAD_INPUT
    assert "different key" in error.message
    assert "DATADRIP_SECRET_KEY" in error.message
    assert error.hint and "DATADRIP_SECRET_KEY" in error.hint
    assert (home / STORE_FILENAME).read_bytes() == before
    assert FileStore(home, env={"DATADRIP_SECRET_KEY": KEY_A}).get("ai.api_key") == "sk-right"


@pytest.mark.parametrize("value", ["short", "x" * 44, KEY_A[:-2], KEY_A + "AAAA", "ab$" * 15])
def test_file_store_malformed_env_key_is_refused(home: Path, value: str) -> None:
    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={"DATADRIP_SECRET_KEY": value}).set("ai.api_key", "sk-1")

    assert raised.value.message.startswith("DATADRIP_SECRET_KEY is not a key")
    assert value not in raised.value.message
    assert not (home / STORE_FILENAME).exists()


def _flip_ciphertext(doc: dict[str, Any]) -> dict[str, Any]:
    data = bytearray(base64.urlsafe_b64decode(doc["ciphertext"]))
    data[0] ^= 1
    return {**doc, "ciphertext": base64.urlsafe_b64encode(bytes(data)).decode()}


@pytest.mark.parametrize(("damage", "words"), [
    (lambda raw: b"\x00\xffnot json at all", "not a DataDrip secrets file"),
    (lambda raw: raw[: len(raw) // 2], "not a DataDrip secrets file"),
    (lambda raw: json.dumps(_flip_ciphertext(json.loads(raw))).encode(), "integrity check"),
    (lambda raw: json.dumps({**json.loads(raw), "nonce": "AAAA"}).encode(), "nonce"),
    (lambda raw: json.dumps({k: v for k, v in json.loads(raw).items()
                             if k != "ciphertext"}).encode(), "missing or malformed"),
], ids=["garbage", "truncated", "flipped-bit", "bad-nonce", "no-ciphertext"])
def test_file_store_damaged_file_is_a_clear_error(home: Path, damage: Any, words: str) -> None:
    FileStore(home, env={}).set("ai.api_key", "sk-1")
    path = home / STORE_FILENAME
    path.write_bytes(damage(path.read_bytes()))
    damaged = path.read_bytes()

    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).get("ai.api_key")
    with pytest.raises(SecretStoreError):
        FileStore(home, env={}).set("ai.api_key", "sk-2")

    assert raised.value.message.startswith(f"the secrets file {path} is damaged")
    assert words in raised.value.message
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    assert path.read_bytes() == damaged


def test_file_store_newer_version_is_refused(home: Path) -> None:
    FileStore(home, env={}).set("ai.api_key", "sk-1")
    path = home / STORE_FILENAME
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": 2}))

    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).get("ai.api_key")

    assert "version 2" in raised.value.message
    assert raised.value.hint == "Upgrade DataDrip."


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_file_store_key_file_others_may_read_is_refused(home: Path, loose: int) -> None:
    FileStore(home, env={}).set("ai.api_key", "sk-1")
    (home / KEY_FILENAME).chmod(loose)

    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).get("ai.api_key")

    assert f"may be read by others (mode {loose:04o})" in raised.value.message
    assert raised.value.hint == f"Run: chmod 600 {home / KEY_FILENAME}"
    (home / KEY_FILENAME).chmod(0o600)
    assert FileStore(home, env={}).get("ai.api_key") == "sk-1"


def test_file_store_missing_key_file_is_not_replaced_by_a_new_one(home: Path) -> None:
    FileStore(home, env={}).set("ai.api_key", "sk-1")
    (home / KEY_FILENAME).unlink()
    before = (home / STORE_FILENAME).read_bytes()

    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).set("meta.app_secret", "other")

    assert f"the key file {home / KEY_FILENAME} is missing" in raised.value.message
    assert not (home / KEY_FILENAME).exists()
    assert (home / STORE_FILENAME).read_bytes() == before


def test_file_store_garbage_key_file_is_a_clear_error(home: Path) -> None:
    FileStore(home, env={}).set("ai.api_key", "sk-1")
    (home / KEY_FILENAME).write_text("not a key\n")

    with pytest.raises(SecretStoreError) as raised:
        FileStore(home, env={}).get("ai.api_key")

    assert raised.value.message.startswith(f"the key file {home / KEY_FILENAME} is not a key")


# --- the keyring -------------------------------------------------------------------------------

def test_keyring_store_round_trip_under_the_datadrip_service(memory_keyring: Any) -> None:
    store = KeyringStore(memory_keyring)

    store.set("meta.app_secret", "kr-secret")

    assert memory_keyring.passwords == {("datadrip", "meta.app_secret"): "kr-secret"}
    assert store.get("meta.app_secret") == "kr-secret"
    assert store.delete("meta.app_secret") is True
    assert store.delete("meta.app_secret") is False
    assert store.get("meta.app_secret") is None


def test_keyring_store_failure_is_a_secret_store_error(home: Path) -> None:
    store = KeyringStore(broken_keyring(PasswordSetError))

    with pytest.raises(SecretStoreError) as raised:
        store.set("ai.api_key", "sk-never-shown")

    assert "could not store ai.api_key" in raised.value.message
    assert "sk-never-shown" not in raised.value.message
    assert raised.value.hint and 'backend = "file"' in raised.value.hint


# --- choosing the store ------------------------------------------------------------------------

def test_open_store_auto_uses_a_usable_keyring(memory_keyring: Any, home: Path) -> None:
    store, notice = open_store(load_settings())

    assert store.backend == "keyring"
    assert notice is None
    store.set("ai.api_key", "sk-kr")
    assert memory_keyring.passwords[("datadrip", "ai.api_key")] == "sk-kr"
    assert not (home / STORE_FILENAME).exists()


def test_open_store_auto_falls_back_to_the_file_and_says_so_once(no_keyring: None,
                                                                  home: Path) -> None:
    store, notice = open_store(load_settings())
    again, second = open_store(load_settings())

    assert (store.backend, again.backend) == ("file", "file")
    assert notice is not None
    assert notice.startswith(f"No OS keyring here: secrets go to an encrypted file at "
                             f"{home / STORE_FILENAME} (key: {home / KEY_FILENAME}")
    assert "\n" not in notice
    assert second is None
    assert (home / NOTICE_MARKER).exists()


def test_open_store_notice_names_the_env_key_when_set(no_keyring: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRET_KEY", KEY_A)

    _, notice = open_store(load_settings())

    assert notice is not None
    assert "(key: DATADRIP_SECRET_KEY" in notice
    assert KEY_A not in notice


def test_open_store_without_announce_keeps_the_notice_for_later(no_keyring: None, home: Path) -> None:
    _, quiet = open_store(load_settings(), announce=False)
    _, notice = open_store(load_settings())

    assert quiet is None
    assert notice is not None


@pytest.mark.parametrize("error", [KeyringLocked, RuntimeError])
def test_open_store_auto_falls_back_when_the_keyring_fails_on_use(home: Path, error: type[Exception]
                                                                  ) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(broken_keyring(error))
    try:
        store, notice = open_store(load_settings())
    finally:
        keyring.set_keyring(previous)

    assert store.backend == "file"
    assert notice is not None


def test_open_store_file_forced_even_with_a_keyring(memory_keyring: Any, home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "datadrip.toml").write_text('[secrets]\nbackend = "file"\n', encoding="utf-8")

    store, notice = open_store(load_settings())
    store.set("ai.api_key", "sk-file")

    assert store.backend == "file"
    assert notice is None  # chosen, not fallen back to
    assert memory_keyring.passwords == {}
    assert FileStore(home, env={}).get("ai.api_key") == "sk-file"


def test_open_store_keyring_forced_without_one_is_an_error(no_keyring: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "keyring")

    with pytest.raises(SecretStoreError) as raised:
        open_store(load_settings())

    assert raised.value.message.startswith('[secrets] backend is "keyring", but no OS keyring')
    assert raised.value.exit_code == ExitCode.BAD_INPUT


def test_open_store_unknown_backend_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "vault")

    with pytest.raises(UsageError) as raised:
        load_settings()

    assert raised.value.message.startswith("DATADRIP_SECRETS_BACKEND: [secrets] backend")


# --- resolving and redacting -------------------------------------------------------------------

def test_resolve_secret_prefers_the_environment_over_the_store(memory_keyring: Any) -> None:
    loaded = load_settings()
    KeyringStore(memory_keyring).set("ai.api_key", "sk-stored")
    KeyringStore(memory_keyring).set("meta.app_secret", "meta-stored")

    assert resolve_secret(loaded, "ai.api_key", env={"OPENAI_API_KEY": "sk-env"}) == "sk-env"
    assert resolve_secret(loaded, "ai.api_key", env={"DATADRIP_AI_API_KEY": "sk-dd",
                                                     "OPENAI_API_KEY": "sk-env"}) == "sk-dd"
    assert resolve_secret(loaded, "ai.api_key", env={}) == "sk-stored"
    assert resolve_secret(loaded, "meta.app_secret", env={}) == "meta-stored"
    assert resolve_secret(loaded, "google.client_secret", env={}) is None
    assert stored_names(loaded, env={}) == {"ai.api_key", "meta.app_secret"}


def test_resolve_secret_reads_the_file_store(no_keyring: None, home: Path) -> None:
    FileStore(home, env={}).set("email.smtp_password", "smtp-1")

    assert resolve_secret(load_settings(), "email.smtp_password", env={}) == "smtp-1"


def test_resolve_secret_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as raised:
        resolve_secret(load_settings(), "meta.app_secert", env={})

    assert raised.value.message == "unknown secret name 'meta.app_secert'"
    assert raised.value.hint and "meta.app_secret" in raised.value.hint


def test_redact_hides_every_known_value() -> None:
    text = "token=abc123xyz and key sk-live-9 then abc123xyz again; sk-live-9-long too"

    hidden = redact(text, ["abc123xyz", "sk-live-9", "sk-live-9-long", None, ""])

    assert hidden == "token=[redacted] and key [redacted] then [redacted] again; [redacted] too"


def test_redact_without_secrets_leaves_text_alone() -> None:
    assert redact("nothing secret here", [None, ""]) == "nothing secret here"
