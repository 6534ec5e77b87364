"""docs/cli.md is generated from --help and must not go stale."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_matches_help_text() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "cli_reference.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
