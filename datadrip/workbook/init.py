"""`datadrip init`: write the commented config file and create the workbook; safe to run twice."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from datadrip.core.config import Loaded, example_text
from datadrip.core.errors import ConfigError
from datadrip.core.private_files import make_folder, write_new
from datadrip.workbook.session import Upgrade, upgrade_workbook


@dataclass(frozen=True)
class InitResult:
    config_file: Path
    config_written: bool
    workbook: Upgrade


def initialise(loaded: Loaded) -> InitResult:
    written = write_config_once(loaded.paths.config_file, example_text())
    return InitResult(loaded.paths.config_file, written, upgrade_workbook(loaded))


def write_config_once(path: Path, text: str) -> bool:
    """Write `text` to a new file at `path`; an existing file is never touched."""
    if path.exists():
        return False
    try:
        make_folder(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write_new(temporary, text.encode("utf-8"))  # 0600: only its owner reads the settings
        try:
            os.link(temporary, path)  # fails if another process wrote the file meanwhile
        except FileExistsError:
            return False
        finally:
            temporary.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    return True
