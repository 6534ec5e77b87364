"""The soak (benchmarks/soak.py) over six simulated days, Monday to Saturday: the daemon as real
processes whose clocks start at simulated moments and jump over every wait, with platform, SMTP
and model faults, a revoked login and SIGKILLs; every check of the 90-day soak, on a smaller
agency.

Six days are the fewest that keep every fault: the first and the last day are quiet, and the four
between them give each kind of bad SMTP day (busy, refusing, dropping, hanging) a day of its own.
With seed 7 they also draw every platform fault the week did (Meta rate limits of 5 minutes and an
hour, Google's 429 and its token endpoint's 503, 500s, slow answers, high usage, "reduce the
amount of data"), the model provider down for a day, the revoked Google login, and the 3 kills;
Monday's weekly report is among the 7 scheduled e-mails."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules["soak"] = importlib.util.module_from_spec(spec)  # its dataclasses need it
    spec.loader.exec_module(module)
    return module


def test_soak_six_days_with_kills_loses_nothing_and_sends_each_report_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    soak = _soak()
    code = soak.main(["--days", "6", "--kills", "3", "--clients", "1", "--seed", "7",
                      "--keep", str(tmp_path / "soak")])

    out = capsys.readouterr().out
    assert re.search(r"^  daemon runs \d+ .*kills 3/3", out, re.M), out
    assert re.search(r"^  integrity_check: ok; daemon crashes 0$", out, re.M), out
    assert re.search(r"^  data: rows checked [1-9]\d*, lost 0, doubled 0, different 0$", out, re.M), out
    assert re.search(r"^  e-mail: scheduled 7, .* duplicates 0, missing 0, .* unknown to the workbook 0$",
                     out, re.M), out
    assert re.search(r"^  failures: standing after a day \d+, not named by status 0, named twice 0, "
                     r"status exit 0 with failures 0;", out, re.M), out
    assert code == 0 and out.rstrip().endswith("no misses"), out
