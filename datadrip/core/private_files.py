"""Files and folders DataDrip makes: new folders 0700, new files 0600, every file written whole.

A folder the person made beforehand keeps its permissions; only the ones created here are private."""

from __future__ import annotations

import contextlib
import errno
import os
import re
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
    written, the link stays). A character device, a FIFO (/dev/null, a named pipe) or one of the
    process's own streams (/dev/stdout, /dev/fd/N) is written to directly, as a shell's `>>` does,
    never replaced. Anything else (a folder, a socket, a block device) is refused with an OSError."""
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or _is_stream(path)):
        _write_through(path, data)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file, character device or pipe", str(path))
    target = Path(os.path.realpath(path))
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


def _is_stream(path: Path) -> bool:
    """/dev/stdout, /dev/stderr, /dev/fd/N or /proc/<pid>/fd/N: an open file of a process (when
    stdout is redirected to a file, that file: written where the shell put it, not replaced)."""
    absolute = os.path.abspath(path)
    if absolute in ("/dev/stdout", "/dev/stderr"):
        return True
    return re.fullmatch(r"/proc/(self|\d+)/fd", os.path.realpath(os.path.dirname(absolute))) \
        is not None


def _write_through(target: Path, data: bytes) -> None:
    """Write to a device, pipe or stream as a shell's `>>` does (a pipe waits for its reader)."""
    handle = os.open(target, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOCTTY", 0))
    try:
        _write_all(handle, data)
    finally:
        os.close(handle)


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]
