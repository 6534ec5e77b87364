"""Writes docs/cli.md from the commands' own --help; `--check` fails when the file is stale.

    python docs/cli_reference.py          # rewrite docs/cli.md
    python docs/cli_reference.py --check  # exit 1 if docs/cli.md differs (the tests run this)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from datadrip.cli import app, command_tree

TARGET = Path(__file__).with_name("cli.md")


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def reference() -> str:
    runner = CliRunner()
    parts = ["# DataDrip command reference\n",
             "Generated from `--help` by `python docs/cli_reference.py`; do not edit by hand.\n"]
    for path in command_paths(command_tree()):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        title = " ".join(("datadrip", *path))
        parts.append(f"## {title}\n\n```\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = reference()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print("docs/cli.md is stale: run python docs/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
