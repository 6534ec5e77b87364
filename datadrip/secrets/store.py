"""Secrets: the OS keyring (service "datadrip"), else an AES-GCM encrypted file, and redaction.

Where: `[secrets] backend` ("auto", "keyring", "file"; also DATADRIP_SECRETS_BACKEND). "auto" uses
the OS keyring when keyring's chosen backend is a real one (not its fail or null backend,
priority above 0) and a harmless probe read works; otherwise the encrypted file, and the user
is told so once (a marker file in the data folder remembers that they were).

The encrypted file and its key are described in datadrip/secrets/file.py.

Values never appear in messages or exceptions raised here; `redact` hides them in other text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol

from datadrip.core.errors import SecretStoreError, UsageError
from datadrip.core.private_files import write_new
from datadrip.secrets.file import FileStore, ensure_folder

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from datadrip.core.config import Loaded

SERVICE = "datadrip"
NOTICE_MARKER = ".secrets-fallback-noticed"
STORE_SOURCE = "secret store"  # what `config show` and `secret list` call a stored secret
REDACTED = "[redacted]"
_PROBE = "datadrip-probe"


class SecretStore(Protocol):
    """Somewhere secrets are kept, by name."""

    backend: str  # "keyring" or "file"
    location: str  # for people: "the OS keyring (…)", "the encrypted file … (key: …)"

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool: ...


# --- the OS keyring ------------------------------------------------------------------------------

class KeyringStore:
    """The OS keyring through `keyring`, under the service name "datadrip"."""

    backend = "keyring"

    def __init__(self, keyring_backend: KeyringBackend) -> None:
        self._keyring = keyring_backend
        self.location = f"the OS keyring ({type(keyring_backend).__name__}, service {SERVICE!r})"

    def get(self, name: str) -> str | None:
        from keyring.errors import KeyringError

        try:
            return self._keyring.get_password(SERVICE, name)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("read", name, exc) from None

    def set(self, name: str, value: str) -> None:
        from keyring.errors import KeyringError

        try:
            self._keyring.set_password(SERVICE, name, value)
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("store", name, exc) from None

    def delete(self, name: str) -> bool:
        from keyring.errors import KeyringError, PasswordDeleteError

        if self.get(name) is None:
            return False
        try:
            self._keyring.delete_password(SERVICE, name)
        except PasswordDeleteError:
            return False
        except (KeyringError, RuntimeError, OSError) as exc:
            raise _keyring_failed("delete", name, exc) from None
        return True


def _keyring_failed(verb: str, name: str, exc: Exception) -> SecretStoreError:
    return SecretStoreError(f"the OS keyring could not {verb} {name}: {type(exc).__name__}",
                            hint='Unlock the keyring, or set [secrets] backend = "file" '
                                 "(DATADRIP_SECRETS_BACKEND=file) to use the encrypted file.")


def usable_keyring() -> tuple[KeyringBackend | None, str]:
    """keyring's chosen backend if it works here, else None and why not."""
    import keyring
    from keyring.backends import fail, null
    from keyring.errors import KeyringError

    try:
        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring | null.Keyring) or float(backend.priority) <= 0:
            return None, f"no OS keyring backend ({type(backend).__name__})"
        backend.get_password(SERVICE, _PROBE)  # SecretService without D-Bus fails only on use
    except (KeyringError, RuntimeError, OSError) as exc:  # what backends raise when unusable
        return None, f"the OS keyring does not answer ({type(exc).__name__})"
    return backend, ""


# --- the encrypted file --------------------------------------------------------------------------

def open_store(loaded: Loaded, *, env: Mapping[str, str] | None = None,
               announce: bool = True) -> tuple[SecretStore, str | None]:
    """The store `[secrets] backend` asks for, and a one-time notice when "auto" fell back to
    the file (None once it was given, or with announce=False for read-only uses)."""
    wanted = loaded.settings.secrets.backend
    folder = loaded.paths.data_dir
    if wanted == "file":
        return FileStore(folder, env), None
    backend, why = usable_keyring()
    if backend is not None:
        return KeyringStore(backend), None
    if wanted == "keyring":
        raise SecretStoreError(f'[secrets] backend is "keyring", but {why}',
                               hint='Unlock or install an OS keyring, or set [secrets] backend = '
                                    '"file" (DATADRIP_SECRETS_BACKEND=file).')
    store = FileStore(folder, env)
    return store, (_notice_once(store) if announce else None)


def _notice_once(store: FileStore) -> str | None:
    marker = store.folder / NOTICE_MARKER
    if marker.exists():
        return None
    notice = (f"No OS keyring here: secrets go to an encrypted file at {store.path} "
              f"(key: {store.key_source}; back it up). "
              f'Set [secrets] backend = "file" to choose this for good.')
    with suppress(OSError):  # not remembering only means saying it again next time
        ensure_folder(store.folder)
        write_new(marker, (notice + "\n").encode("utf-8"))
    return notice


def check_name(loaded: Loaded, name: str) -> str:
    """A known app secret's name (core's or an installed platform's), or a UsageError listing
    the known ones."""
    if name not in loaded.secret_env:
        # Echo only what looks like a name: a value passed by mistake must not reach a log.
        shown = repr(name) if re.fullmatch(r"[a-z_]{1,30}\.[a-z_]{1,30}", name) else "(not shown)"
        raise UsageError(f"unknown secret name {shown}",
                         hint=f"Known secrets: {', '.join(loaded.secret_env)}.")
    return name


def env_source(loaded: Loaded, name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The environment variable that sets this secret, if one does."""
    env = os.environ if env is None else env
    return next((var for var in loaded.secret_env[check_name(loaded, name)] if env.get(var)), None)


def resolve_secret(loaded: Loaded, key: str, *, env: Mapping[str, str] | None = None) -> str | None:
    """A secret's value: from its environment variables first, then the secret store."""
    env = os.environ if env is None else env
    if var := env_source(loaded, key, env):
        return env[var]
    store, _ = open_store(loaded, env=env, announce=False)
    return store.get(key)


def stored_names(loaded: Loaded, *, env: Mapping[str, str] | None = None) -> set[str]:
    """Which app secrets the store holds (values are read but not kept)."""
    store, _ = open_store(loaded, env=env, announce=False)
    return {name for name in loaded.secret_env if store.get(name) is not None}


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every known secret value replaced by "[redacted]"."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


# --- what `secret list` shows (set and delete, which are audited, are workbook/app_secrets.py) ---

def list_secrets(loaded: Loaded) -> tuple[str, list[dict[str, Any]]]:
    """Where the store is, and for each app secret whether it is set and by what (no values)."""
    store, _ = open_store(loaded, announce=False)
    rows = []
    for name, variables in loaded.secret_env.items():
        stored = store.get(name) is not None
        var = env_source(loaded, name)
        rows.append({"name": name, "set": stored or var is not None,
                     "source": f"env {var}" if var else STORE_SOURCE if stored else None,
                     "stored": stored, "env_vars": list(variables)})
    return store.location, rows
