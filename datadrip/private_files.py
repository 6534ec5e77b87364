"""Files and folders DataDrip makes: new folders 0700, new files 0600, every file written whole.

A folder the person made beforehand keeps its permissions; only the ones created here are private."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_folder(folder: Path) -> None:
    """Create `folder` and whichever of its parents are missing, each 0700 (whatever the umask);
    folders that exist already are left as they are."""
    missing: list[Path] = []
    for part in (folder, *folder.parents):
        if part.exists():
            break
        missing.append(part)
    for part in reversed(missing):
        try:
            part.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made by another process meanwhile: theirs, left alone
            continue
        os.chmod(part, FOLDER_MODE)  # mkdir's mode is cut by the umask; never widened here
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))


def write_new(path: Path, data: bytes) -> None:
    """Write a new (or truncated) file readable by its owner only, whatever the umask."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(handle, FILE_MODE)
        _write_all(handle, data)
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomically(path: Path, data: bytes) -> None:
    """Put `data` at `path`, whole or not at all.

    A regular file (or a new one) is replaced by renaming a complete temporary file over it: a
    reader sees the old file or the new one, and a crash leaves no half-written file. Its
    permissions are kept; a new file is 0600. A symbolic link is followed (the file it points to is
    written, the link stays). A character device or a FIFO (/dev/stdout, /dev/null, a named pipe)
    is written to directly, never replaced. Anything else (a folder, a socket, a block device) is
    refused with an OSError."""
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        _write_through(target, data)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file, character device or pipe", str(path))
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".part")
    renamed = False
    try:
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(handle, stat.S_IMODE(mode))
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
        renamed = True
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _write_through(target: Path, data: bytes) -> None:
    """Write to a device or pipe as a shell's `>` does (a pipe waits for its reader)."""
    handle = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    try:
        _write_all(handle, data)
    finally:
        os.close(handle)


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]
