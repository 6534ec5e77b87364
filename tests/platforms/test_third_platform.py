"""A third platform from outside DataDrip: the fixture distribution datadrip-acme
(tests/fixtures/acme_platform), installed as pip would leave it (the package beside a dist-info
declaring its `datadrip.platforms` entry point) on PYTHONPATH, and driven through the real CLI in
subprocesses against Acme Ads' API (acme_api.py) on 127.0.0.1. Nothing in DataDrip names Acme.
Then the same workbook with the plug-in gone: its account is listed as not installed and skipped."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import acme_api
import pytest
from support import Run, assert_bad_input

CLIENT = "Coyote Supplies"
MICROS = Decimal(1_000_000)


def install_fixture(site: Path) -> dict[str, Any]:
    """datadrip-acme as an installer leaves it in `site`: the package, and a dist-info with the
    name, version and entry points its pyproject.toml declares. Returns the [project] table."""
    project: dict[str, Any] = tomllib.loads((acme_api.FIXTURE / "pyproject.toml").read_text())["project"]
    shutil.copytree(acme_api.FIXTURE / "datadrip_acme", site / "datadrip_acme",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    entry_points = "".join(f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
                           for group, entries in project["entry-points"].items())
    (dist / "entry_points.txt").write_text(entry_points)
    return project


@dataclass
class AcmeHome:
    """A DataDrip home whose datadrip.toml points [acme] at the running API, with one agency and
    one client; `dd(…, installed=False)` runs DataDrip without the plug-in on its path."""

    api: acme_api.AcmeApi
    site: Path
    config: Path

    def dd(self, *args: str, input: str | None = None, installed: bool = True) -> Run:
        paths = [str(self.site)] if installed else []
        if os.environ.get("PYTHONPATH"):  # e.g. `make test-at`'s shifted clock
            paths.append(os.environ["PYTHONPATH"])
        done = subprocess.run([sys.executable, "-m", "datadrip", *args], input=input,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)})
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, input: str | None = None, installed: bool = True) -> Run:
        run = self.dd(*args, input=input, installed=installed)
        assert run.exit_code == 0, (args, run.stdout, run.stderr)
        assert "Traceback" not in run.stderr
        return run


@pytest.fixture
def acme(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AcmeHome]:
    site = tmp_path / "site"
    site.mkdir()
    install_fixture(site)
    monkeypatch.setenv("DATADRIP_SECRETS_BACKEND", "file")
    with acme_api.AcmeApi() as api:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "datadrip.toml"
        config.write_text(f'[acme]\napi_url = "{api.base_url}"\n')
        setup = AcmeHome(api, site, config)
        setup.ok("agency", "add", "Acme Agency", "--timezone", "UTC", "--currency", "EUR")
        setup.ok("client", "add", CLIENT)
        yield setup


def _window() -> tuple[dt.date, dt.date]:
    """Three weeks up to yesterday (UTC: the agency's and the accounts' zone), inside the days
    a first sync fetches."""
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=21), today - dt.timedelta(days=1)


def _kpis(board: dict[str, Any]) -> dict[str, Any]:
    return {kpi["metric"]: kpi["value"] for kpi in board["kpis"]}


def _dashboard(acme: AcmeHome, since: dt.date, until: dt.date, *, installed: bool = True) -> Any:
    run = acme.ok("dashboard", "--client", CLIENT, "--since", since.isoformat(), "--until",
                  until.isoformat(), "--json", installed=installed)
    return json.loads(run.stdout, parse_float=Decimal)


def test_third_platform_connects_syncs_and_reports_through_the_cli_then_is_skipped_when_uninstalled(
        acme: AcmeHome) -> None:
    listed = {p["name"]: p for p in json.loads(acme.ok("platform", "list", "--json").stdout)}
    assert {"meta", "google", "acme"} <= set(listed)
    assert (listed["acme"]["label"], listed["acme"]["package"], listed["acme"]["version"]) == \
        ("Acme Ads", "datadrip-acme", "0.1")

    connected = acme.ok("connect", "acme", CLIENT, "--token-stdin", "--account", "acme-123",
                        "--json", input=acme_api.TOKEN + "\n")
    assert acme_api.TOKEN not in connected.stdout + connected.stderr
    [account] = json.loads(connected.stdout)["accounts"]
    assert (account["platform"], account["account_id"], account["currency"]) == ("acme", "acme-123", "EUR")

    [checked] = json.loads(acme.ok("account", "check", "--json").stdout)
    assert (checked["account_id"], checked["status"], checked["warning"]) == ("acme-123", "active", None)
    assert acme.api.requests[-1] == ("/v1/me", f"Bearer {acme_api.TOKEN}")

    synced = acme.ok("sync")
    assert acme_api.TOKEN not in synced.stdout + synced.stderr
    reports = [auth for path, auth in acme.api.requests if path.endswith("/report")]
    assert reports and set(reports) == {f"Bearer {acme_api.TOKEN}"}

    since, until = _window()
    expected = acme_api.totals(since, until)
    board = _dashboard(acme, since, until)
    kpis = _kpis(board)
    assert kpis["spend"] == Decimal(expected["spend_micros"]) / MICROS
    assert kpis["clicks"] == expected["clicks"]
    assert kpis["conversions"] == expected["conversions"]
    assert kpis["conversion_value"] == Decimal(expected["conversion_value_micros"]) / MICROS
    assert [(c["platform"], c["spend"]) for c in board["channels"]] == [("acme", kpis["spend"])]
    assert {c["campaign"] for c in board["top_campaigns"]} == {"Spring Sale", "Brand"}

    built = acme.ok("report", "build", CLIENT, "--since", since.isoformat(), "--until",
                    until.isoformat(), "--format", "md")
    assert "Acme Ads" in built.stdout
    assert "acme-123" in built.stdout

    # The plug-in uninstalled. Its [acme] section is unknown now, and every command says so…
    stale = acme.dd("account", "list", installed=False)
    assert_bad_input(stale, "unknown section [acme]")
    assert "see 'datadrip platform list'" in stale.stderr
    # …until it is taken out; then the account stays, is shown as such, and sync passes it by.
    acme.config.write_text("")
    assert "acme" not in {p["name"] for p in json.loads(
        acme.ok("platform", "list", "--json", installed=False).stdout)}
    [listed_account] = json.loads(acme.ok("account", "list", "--json", installed=False).stdout)
    assert listed_account["account_id"] == "acme-123"
    assert "platform not installed" in json.dumps(listed_account)
    assert "platform not installed" in acme.ok("account", "list", installed=False).stdout
    requests_before = len(acme.api.requests)
    skipped = acme.ok("sync", installed=False)
    warnings = [line for line in skipped.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, skipped.stderr
    assert "acme-123" in warnings[0] and "not installed" in warnings[0]
    assert len(acme.api.requests) == requests_before
    assert _kpis(_dashboard(acme, since, until, installed=False)) == kpis


def test_third_platform_account_ids_are_checked_by_the_plugin(acme: AcmeHome) -> None:
    run = acme.dd("connect", "acme", CLIENT, "--token-stdin", "--account", "act_123",
                  input=acme_api.TOKEN)
    assert_bad_input(run, "Acme Ads account id")
    assert "acme-123" in run.stderr  # the hint shows the form
    assert acme.api.requests == []  # refused before any login


def test_third_platform_without_a_token_on_stdin_says_it_has_no_browser_login(acme: AcmeHome) -> None:
    run = acme.dd("connect", "acme", CLIENT, "--account", "acme-123")
    assert run.exit_code == 1, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith("error: Acme Ads has no browser login; nothing was stored")
    assert "--token-stdin" in run.stderr
    assert "Traceback" not in run.stderr
    assert acme.api.requests == []


def test_third_platform_refusing_the_token_stores_nothing(acme: AcmeHome) -> None:
    run = acme.dd("connect", "acme", CLIENT, "--token-stdin", "--account", "acme-123",
                  input="not-the-token")
    assert run.exit_code == 1, run.stderr
    assert run.stderr.startswith("error: Acme Ads refuses this API token; nothing was stored")
    assert "not-the-token" not in run.stderr
    assert acme.api.requests == [("/v1/me", "Bearer not-the-token")]
    assert json.loads(acme.ok("account", "list", "--json").stdout) == []
