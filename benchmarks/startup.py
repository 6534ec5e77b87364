"""Start-up time of whole `datadrip` processes, beside a bare Python.

Targets (2-core machine): `datadrip --help` under 120 ms, `datadrip client list --json` under
300 ms. Prints the median and the spread of N runs of each, in milliseconds.

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(command, env=env, check=True, capture_output=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    datadrip = shutil.which("datadrip", path=str(Path(sys.executable).parent)) or "datadrip"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATADRIP_HOME": home}
        # Measure what an installed DataDrip does: bytecode cached after the warm-up run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # A workbook with one agency and 50 clients, as a small agency would have.
        subprocess.run([datadrip, "agency", "add", "Bench Agency"], env=env, check=True,
                       capture_output=True)
        for n in range(50):
            subprocess.run([datadrip, "client", "add", f"Client {n:02}"], env=env, check=True,
                           capture_output=True)
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("datadrip --help", [datadrip, "--help"], 120.0),
            ("datadrip client list --json", [datadrip, "client", "list", "--json"], 300.0),
        ]
        print(f"{'command':<30} {'median ms':>10} {'min':>8} {'max':>8} {'target':>8}")
        for label, command, target in cases:
            samples = timed(command, env, runs)
            print(f"{label:<30} {statistics.median(samples):>10.1f} {min(samples):>8.1f} "
                  f"{max(samples):>8.1f} {target or '':>8}")


if __name__ == "__main__":
    main()
