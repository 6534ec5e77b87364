"""The encrypted-file secret store: where secrets go when there is no usable OS keyring.

The file, `secrets.enc` in the data folder, is a small JSON envelope:
    {"format": "datadrip-secrets", "version": 1, "cipher": "AES-256-GCM",
     "key_id": "<16 hex>", "nonce": "<base64url>", "ciphertext": "<base64url>"}
The whole document {"secrets": {name: value}} is encrypted as one, so that not even the names
of what is stored can be read without the key, with a fresh random 12-byte nonce on every
write; the format, version and key id are the associated data, so none can be altered unseen.
The key id (a hash of the key, which says nothing about it) lets a wrong key be told apart
from a damaged file. Writes go to a temporary file (mode 0600) that replaces the old one
atomically, under a lock, so a crash or a concurrent write never leaves half a file.

The key is 32 random bytes written in base64 (standard or URL-safe, padding optional):
DATADRIP_SECRET_KEY when set, else `secret.key` beside the file, created with mode 0600 on the
first write. A key file that others may read is refused. Make a key for DATADRIP_SECRET_KEY
with `openssl rand -base64 32` (keep it in CI's secret settings, never in the workbook).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets as random
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datadrip.core.errors import SecretStoreError
from datadrip.core.private_files import make_folder

KEY_ENV = "DATADRIP_SECRET_KEY"
STORE_FILENAME = "secrets.enc"
KEY_FILENAME = "secret.key"
LOCK_FILENAME = "secrets.lock"
_FORMAT, _VERSION = "datadrip-secrets", 1
_KEY_TEXT = re.compile(r"[A-Za-z0-9_\-+/]{43}=?")


class FileStore:
    """Secrets in one AES-GCM encrypted file; see the module docstring for the format."""

    backend = "file"

    def __init__(self, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.path = folder / STORE_FILENAME
        self.key_file = folder / KEY_FILENAME
        self._env_key = (os.environ if env is None else env).get(KEY_ENV, "").strip()
        self.location = f"the encrypted file {self.path} (key: {self.key_source})"

    @property
    def key_source(self) -> str:
        return KEY_ENV if self._env_key else str(self.key_file)

    def get(self, name: str) -> str | None:
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        with self._locked():
            stored = self._read()
            stored[name] = value
            self._write(stored)

    def delete(self, name: str) -> bool:
        with self._locked():
            stored = self._read()
            if name not in stored:
                return False
            del stored[name]
            self._write(stored)
        return True

    # reading

    def _read(self) -> dict[str, str]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretStoreError(f"cannot read the secrets file {self.path}: {exc.strerror}") from None
        envelope = self._envelope(raw)
        key = self._key(create=False)
        if envelope["key_id"] != _key_id(key):
            raise SecretStoreError(
                f"cannot decrypt {self.path}: it was encrypted with a different key than "
                f"{self.key_source}",
                hint=f"Check {KEY_ENV} or the key file {self.key_file}: the file needs the key it "
                     f"was written with. Without that key, delete {self.path} and store the "
                     f"secrets again with 'datadrip secret set'.")
        try:
            plain = AESGCM(key).decrypt(envelope["nonce"], envelope["ciphertext"],
                                        _associated(envelope["key_id"]))
        except InvalidTag:
            raise self._damaged("it fails its integrity check") from None
        try:
            document = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self._damaged("its content is not a secrets document") from None
        stored = document.get("secrets") if isinstance(document, dict) else None
        if not isinstance(stored, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in stored.items()):
            raise self._damaged("its content is not a secrets document")
        return dict(stored)

    def _envelope(self, raw: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self._damaged("it is not a DataDrip secrets file") from None
        if not isinstance(envelope, dict) or envelope.get("format") != _FORMAT:
            raise self._damaged("it is not a DataDrip secrets file")
        if envelope.get("version") != _VERSION:
            raise SecretStoreError(f"{self.path} has version {envelope.get('version')!r}, which this "
                                   f"DataDrip cannot read", hint="Upgrade DataDrip.")
        try:
            nonce = _unb64(envelope["nonce"])
            ciphertext = _unb64(envelope["ciphertext"])
            key_id = str(envelope["key_id"])
        except (KeyError, TypeError, ValueError):
            raise self._damaged("a field is missing or malformed") from None
        if len(nonce) != 12:
            raise self._damaged("its nonce is malformed")
        return {"key_id": key_id, "nonce": nonce, "ciphertext": ciphertext}

    def _damaged(self, why: str) -> SecretStoreError:
        return SecretStoreError(f"the secrets file {self.path} is damaged: {why}",
                                hint="Restore it from a backup, or delete it and store the secrets "
                                     "again with 'datadrip secret set'.")

    # the key

    def _key(self, *, create: bool) -> bytes:
        if self._env_key:
            return _parse_key(self._env_key, KEY_ENV,
                              hint=f"Set {KEY_ENV} to 32 random bytes in base64: "
                                   f"openssl rand -base64 32")
        try:
            info = self.key_file.stat()
        except FileNotFoundError:
            if create:
                return self._create_key()
            raise SecretStoreError(
                f"the key file {self.key_file} is missing, so {self.path} cannot be read",
                hint=f"Restore {KEY_FILENAME} from a backup or set {KEY_ENV} to the key; without "
                     f"it, delete {self.path} and store the secrets again.") from None
        if os.name == "posix" and info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise SecretStoreError(
                f"the key file {self.key_file} may be read by others (mode {mode:04o}); refusing "
                f"to use it", hint=f"Run: chmod 600 {self.key_file}")
        try:
            text = self.key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            raise SecretStoreError(f"cannot read the key file {self.key_file}") from None
        return _parse_key(text.strip(), f"the key file {self.key_file}",
                          hint="Restore the key file from a backup.")

    def _create_key(self) -> bytes:
        key = random.token_bytes(32)
        ensure_folder(self.folder)
        temporary = self.key_file.with_name(f".{KEY_FILENAME}.{os.getpid()}.tmp")
        try:
            _write_private(temporary, base64.urlsafe_b64encode(key) + b"\n")
            os.link(temporary, self.key_file)  # never replaces a key another process just made
        except FileExistsError:
            return self._key(create=False)
        except OSError as exc:
            raise SecretStoreError(f"cannot create the key file {self.key_file}: {exc.strerror}",
                                   hint=f"Or set {KEY_ENV} to 32 random bytes in base64: "
                                        f"openssl rand -base64 32") from None
        finally:
            temporary.unlink(missing_ok=True)
        return key

    # writing

    def _write(self, stored: dict[str, str]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._key(create=True)
        key_id = _key_id(key)
        nonce = random.token_bytes(12)
        plain = json.dumps({"secrets": stored}, sort_keys=True).encode("utf-8")
        envelope = {"format": _FORMAT, "version": _VERSION, "cipher": "AES-256-GCM",
                    "key_id": key_id, "nonce": _b64(nonce),
                    "ciphertext": _b64(AESGCM(key).encrypt(nonce, plain, _associated(key_id)))}
        temporary = self.path.with_name(f".{STORE_FILENAME}.{os.getpid()}.tmp")
        try:
            _write_private(temporary, json.dumps(envelope, indent=1).encode("utf-8") + b"\n")
            os.replace(temporary, self.path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise SecretStoreError(f"cannot write the secrets file {self.path}: {exc.strerror}") \
                from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (read, change, write back), where the OS offers locks."""
        ensure_folder(self.folder)
        try:
            import fcntl
        except ImportError:  # Windows: os.replace still keeps every write whole
            yield
            return
        handle = os.open(self.folder / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)


def ensure_folder(folder: Path) -> None:
    try:
        make_folder(folder)
    except OSError as exc:
        raise SecretStoreError(f"cannot create the folder {folder}: {exc.strerror}") from None


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file that only its owner can read, whatever the umask."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(handle, 0o600)
        os.write(handle, data)
        os.fsync(handle)
    finally:
        os.close(handle)


def _parse_key(text: str, where: str, *, hint: str) -> bytes:
    if _KEY_TEXT.fullmatch(text):
        key = base64.urlsafe_b64decode(text.rstrip("=").replace("+", "-").replace("/", "_") + "=")
        if len(key) == 32:
            return key
    raise SecretStoreError(f"{where} is not a key: it must be 32 bytes in base64 (44 characters)",
                           hint=hint)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"datadrip key id\0" + key).hexdigest()[:16]


def _associated(key_id: str) -> bytes:
    return f"{_FORMAT}:{_VERSION}:{key_id}".encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not text")
    try:
        return base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None


# --- choosing, resolving, redacting --------------------------------------------------------------
