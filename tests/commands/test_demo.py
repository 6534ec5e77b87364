"""`datadrip demo`: a demo workbook, with a demo agency, clients and team, in a folder of its own."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import Run, assert_bad_input, isolated_environment, pinned_clock
from typer.testing import CliRunner

from datadrip.cli import app

AGENCY_KEYS = {"id", "name", "timezone", "currency", "locale", "plan", "branding", "created_at",
               "clients", "users", "breakdowns", "breakdowns_in_use", "breakdowns_from"}
CLIENT_KEYS = {"id", "name", "agency", "agency_id", "currency", "monthly_budget",
               "report_recipients", "active", "conversion_actions", "key_results", "breakdowns",
               "breakdowns_in_use", "breakdowns_from", "created_at",
               "ad_accounts"}
USER_KEYS = {"id", "email", "role", "agency", "agency_id", "created_at"}
DEMO_CLIENTS = [("Masala Mornings", "INR", Decimal("600000")),
                ("Peak Trail Outfitters", "USD", Decimal("24000")),
                ("Bloom Botanics", "INR", Decimal("1500000.50")),
                # The sandbox's story accounts: a shop, a lead-generation client, a yen budget.
                ("Kettle & Crumb", "USD", Decimal("24000")), ("Harbour Dental", "EUR", Decimal("5000")),
                ("Sakura Tea House", "JPY", None)]
DEMO_TEAM = [("priya@spiceroute.example", "owner"), ("arjun@spiceroute.example", "member")]


def exact(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def without_ids(data: Any) -> Any:
    """The content of a demo, without what differs between runs (ids and times)."""
    if isinstance(data, dict):
        return {k: without_ids(v) for k, v in data.items()
                if k not in {"id", "agency_id", "created_at", "home", "seconds"}}
    if isinstance(data, list):
        return [without_ids(item) for item in data]
    return data


def _demo_once(tmp_path_factory: pytest.TempPathFactory, *args: str) -> tuple[Path, Run]:
    """`datadrip demo --dir FOLDER ARGS…` in-process, once for the tests of this module that only
    read what it printed and made (a demo takes seconds: its sync polls Meta's report runs), with
    its own DATADRIP_HOME and working folder and none of the caller's DATADRIP_* environment, as
    the per-test `home` fixture gives."""
    base = tmp_path_factory.mktemp("demo-shared")
    with isolated_environment(base):
        result = CliRunner().invoke(app, ["demo", "--dir", str(base / "demo"), *args])
    return base / "demo", Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def demo_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Run]]:
    """One `datadrip demo --dir FOLDER` (its tables on stdout), shared by the tests that read it."""
    yield _demo_once(tmp_path_factory)


@pytest.fixture(scope="module")
def demo_json(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Run]]:
    """One `datadrip demo --dir FOLDER --json`, shared by the tests that read it, with the test
    process's clock pinned to PINNED_TODAY (the sandbox's stories end on its first day: its
    suggestions are then the same on any date)."""
    with pinned_clock():
        made = _demo_once(tmp_path_factory, "--json")
    yield made


def test_demo_creates_its_folder_with_config_and_workbook(demo_plain):
    folder, run = demo_plain

    assert run.exit_code == 0, run.stderr
    assert (folder / "datadrip.toml").is_file()
    assert (folder / "workbook.db").read_bytes()[:16] == b"SQLite format 3\x00"
    assert str(folder) in run.stderr


def test_demo_prints_the_agency_clients_and_team_as_plain_tables(demo_plain):
    _folder, run = demo_plain

    assert run.exit_code == 0, run.stderr
    assert "\x1b" not in run.stdout
    lines = run.stdout.splitlines()
    assert "Spice Route Media\tAsia/Kolkata\tINR\tgrowth" in lines
    assert "Masala Mornings\tINR\t600000.00\towner@masalamornings.example" in lines
    assert ("Peak Trail Outfitters\tUSD\t24000.00\tmarketing@peaktrail.example, "
            "ops@peaktrail.example") in lines
    assert "Bloom Botanics\tINR\t1500000.50\thello@bloombotanics.example" in lines
    assert "priya@spiceroute.example\towner" in lines
    assert "arjun@spiceroute.example\tmember" in lines


def test_demo_json_shape(demo_json):
    folder, run = demo_json

    assert run.exit_code == 0, run.stderr
    assert '"monthly_budget": 1500000.50,' in run.stdout
    result = exact(run.stdout)
    assert set(result) == {"home", "agencies", "clients", "team", "accounts", "synced", "dashboard",
                           "insights", "reports", "stories"}
    assert result["home"] == str(folder.resolve())
    board = result["dashboard"]  # the agency's last 7 days, in rupees, every sync fresh
    assert (board["agency"], board["currency"], board["period"]["name"]) == (
        "Spice Route Media", "INR", "last-7-days")
    assert [(c["client"], c["currency"], c["flags"]) for c in board["clients"]] == [
        ("Bloom Botanics", "INR", []), ("Harbour Dental", "EUR", []), ("Kettle & Crumb", "USD", []),
        ("Masala Mornings", "INR", []), ("Peak Trail Outfitters", "USD", []),
        ("Sakura Tea House", "JPY", [])]
    assert all(c["spend"] > 0 for c in board["clients"])
    [agency] = result["agencies"]
    assert set(agency) == AGENCY_KEYS
    assert (agency["name"], agency["plan"], agency["clients"], agency["users"]) == (
        "Spice Route Media", "growth", 6, 2)
    assert agency["branding"] == {"logo": None, "colour": "#E4572E"}
    assert all(set(client) == CLIENT_KEYS for client in result["clients"])
    assert [(c["name"], c["currency"], c["monthly_budget"]) for c in result["clients"]] == DEMO_CLIENTS
    assert all(c["agency_id"] == agency["id"] for c in result["clients"])
    assert all(set(user) == USER_KEYS for user in result["team"])
    assert [(u["email"], u["role"]) for u in result["team"]] == DEMO_TEAM


def test_demo_connects_every_client_to_the_sandbox_and_syncs_them(demo_json, dd, monkeypatch):
    folder, run = demo_json

    assert run.exit_code == 0, run.stderr
    result = exact(run.stdout)
    assert sorted((a["client"], a["platform"], a["account_id"]) for a in result["accounts"]) == [
        ("Bloom Botanics", "google", "2020000003"), ("Bloom Botanics", "meta", "act_1010000003"),
        ("Harbour Dental", "meta", "act_1010000006"),
        ("Kettle & Crumb", "google", "2020000005"), ("Kettle & Crumb", "meta", "act_1010000005"),
        ("Masala Mornings", "google", "2020000001"), ("Masala Mornings", "meta", "act_1010000001"),
        ("Peak Trail Outfitters", "google", "2020000002"),
        ("Peak Trail Outfitters", "meta", "act_1010000002"),
        ("Sakura Tea House", "meta", "act_1010000007")]
    assert {a["currency"] for a in result["accounts"]} == {"INR", "USD", "EUR", "JPY"}
    assert all(a["status"] == "succeeded" and a["rows"] > 0 for a in result["synced"])
    assert all(a["levels"] == ["campaign", "adset", "ad"] for a in result["synced"])
    # The demo folder is a working home: its workbook holds the rows, its logins are stored.
    monkeypatch.setenv("DATADRIP_HOME", str(folder))
    listed = dd("account", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert {a["status"] for a in json.loads(listed.stdout)} == {"active"}
    rows = sqlite3.connect(folder / "workbook.db").execute("SELECT COUNT(*) FROM metric_daily")
    assert rows.fetchone()[0] == sum(a["rows"] for a in result["synced"])
    assert "datadrip sandbox serve --port" not in run.stdout  # data only on stdout


def test_demo_sends_every_clients_daily_report_to_its_outbox_and_names_the_file_to_open(
        demo_json, demo_plain):
    folder, run = demo_json

    assert run.exit_code == 0, run.stderr
    reports = exact(run.stdout)["reports"]
    assert [(r["client"], r["kind"], r["status"]) for r in reports] == [
        ("Bloom Botanics", "daily", "sent"), ("Harbour Dental", "daily", "sent"),
        ("Kettle & Crumb", "daily", "sent"), ("Masala Mornings", "daily", "sent"),
        ("Peak Trail Outfitters", "daily", "sent"), ("Sakura Tea House", "daily", "sent")]
    emails = sorted((folder / "outbox").glob("*.eml"))
    assert sorted(r["eml_file"] for r in reports) == [str(path) for path in emails]
    for report in reports:
        page = Path(report["html_file"]).read_text(encoding="utf-8")
        assert Path(report["html_file"]).parent == folder / "reports"
        assert report["client"] in html.unescape(page) and "data:image/png;base64," in page
    plain_folder, told = demo_plain
    assert f"Masala Mornings: open {plain_folder / 'reports'}" in told.stderr


def test_demo_tells_how_to_sync_it_again(demo_plain):
    _folder, run = demo_plain

    assert run.exit_code == 0, run.stderr
    assert "Masala Mornings\tmeta\tact_1010000001\tINR\t" in run.stdout
    assert "Sync it again: datadrip sandbox serve --port " in run.stderr


def test_demo_twice_resets_rather_than_duplicates(dd, tmp_path, monkeypatch):
    folder = tmp_path / "demo"
    first = dd("demo", "--dir", str(folder), "--json")
    assert first.exit_code == 0, first.stderr

    second = dd("demo", "--dir", str(folder), "--json")

    assert second.exit_code == 0, second.stderr

    def unstamped(text: str) -> Any:
        result = without_ids(exact(text))
        for line in result["dashboard"]["clients"]:
            line.pop("last_synced")  # when each demo synced
        for report in result["reports"]:  # each send has its own Message-ID and .eml file
            assert report.pop("message_id") and report.pop("provider_id") and report.pop("eml_file")
            assert report.pop("report_id")
        return result

    assert unstamped(second.stdout) == unstamped(first.stdout)
    assert len(list((folder / "outbox").glob("*.eml"))) == 6  # the second demo started afresh
    monkeypatch.setenv("DATADRIP_HOME", str(folder))
    listed = dd("client", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 6


def test_demo_data_is_readable_with_its_folder_as_home(demo_json, dd_process):
    folder, made = demo_json
    assert made.exit_code == 0, made.stderr
    env = {"DATADRIP_HOME": str(folder)}

    clients = dd_process("client", "list", "--json", env=env)
    team = dd_process("user", "list", "--json", env=env)
    agencies = dd_process("agency", "list", "--json", env=env)

    assert clients.exit_code == team.exit_code == agencies.exit_code == 0, clients.stderr
    assert [(c["name"], c["currency"], c["monthly_budget"])
            for c in exact(clients.stdout)] == sorted(DEMO_CLIENTS)
    assert sorted((u["email"], u["role"]) for u in json.loads(team.stdout)) == sorted(DEMO_TEAM)
    assert [a["name"] for a in json.loads(agencies.stdout)] == ["Spice Route Media"]
    assert exact(clients.stdout) == sorted(exact(made.stdout)["clients"], key=lambda c: c["name"])


def test_demo_without_dir_uses_a_demo_folder_in_the_data_folder(dd, home):
    run = dd("demo", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["home"] == str((home / "demo").resolve())
    assert (home / "demo" / "workbook.db").is_file()
    assert dd("agency", "list", "--json").json() == []


def test_demo_in_an_empty_existing_folder_works_and_leaves_the_users_own_workbook_alone(dd, tmp_path):
    assert dd("agency", "add", "My Own Agency").exit_code == 0
    folder = tmp_path / "empty"
    folder.mkdir()

    run = dd("demo", "--dir", str(folder), "--json")

    assert run.exit_code == 0, run.stderr
    assert len(run.json()["clients"]) == 6
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["My Own Agency"]
    assert dd("client", "list", "--json").json() == []


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_demo_refuses_a_non_empty_folder_it_did_not_make(dd, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    (folder / "workbook.db").write_bytes(b"precious")
    before = _snapshot(folder)

    run = dd("demo", "--dir", str(folder), "--json")

    assert_bad_input(run, str(folder), "not a demo folder")
    assert _snapshot(folder) == before


def test_demo_refuses_a_real_datadrip_home(dd, home):
    assert dd("agency", "add", "My Own Agency").exit_code == 0
    before = _snapshot(home)

    run = dd("demo", "--dir", str(home))

    assert_bad_input(run, "not a demo folder")
    assert _snapshot(home) == before
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["My Own Agency"]


def test_demo_audit_names_the_demo_as_the_actor(demo_plain, dd, monkeypatch):
    folder, made = demo_plain
    assert made.exit_code == 0, made.stderr

    monkeypatch.setenv("DATADRIP_HOME", str(folder))
    run = dd("audit", "--json")

    assert run.exit_code == 0, run.stderr
    entries = json.loads(run.stdout)
    actions = [e["action"] for e in entries]
    setup = ["agency.add"] + ["client.add"] * 6 + ["user.add"] * 2 + ["fx.set"] + ["account.connect"] * 10
    assert actions[:len(setup)] == setup
    assert actions[len(setup):] and set(actions[len(setup):]) == {"insight.create"}
    assert {e["actor"] for e in entries} == {"demo"}


def test_demo_suggests_from_the_sandboxs_model_and_the_reports_show_them(demo_json):
    """The stories end on the sandbox's first day, today: a pinned one (demo_json's), so the
    findings are the same on any date (near a month's end a budget's pacing is a finding of its
    own)."""
    _folder, run = demo_json

    assert run.exit_code == 0, run.stderr
    result = exact(run.stdout)
    runs = {item["client"]: item for item in result["insights"]}
    assert set(runs) == {"Masala Mornings", "Peak Trail Outfitters", "Bloom Botanics", "Kettle & Crumb",
                         "Harbour Dental", "Sakura Tea House"}
    assert all(item["engine"] == "llm" and item["fallback"] is None for item in runs.values())
    masala = runs["Masala Mornings"]["created"]
    assert "campaign:120210001001" in {item["entity"] for item in masala}  # the CPA story
    assert all(item["entity"] is not None for item in masala)  # on track: no client-wide pacing one
    peak = [item for item in runs["Peak Trail Outfitters"]["created"] if item["entity"] is None]
    assert peak and "over" in peak[0]["claim"].lower()  # the overspend story, against the budget
    masala_report = next(r for r in result["reports"] if r["client"] == "Masala Mornings")
    html = Path(masala_report["html_file"]).read_text(encoding="utf-8")
    assert "Suggestions" in html and "Diwali Sale" in html


def test_demo_as_a_process_keeps_data_on_stdout_and_messages_on_stderr(dd_process, tmp_path):
    folder = tmp_path / "demo"

    run = dd_process("demo", "--dir", str(folder))

    assert run.exit_code == 0, run.stderr
    assert "Spice Route Media\tAsia/Kolkata\tINR\tgrowth" in run.stdout.splitlines()
    assert "Demo workbook in" not in run.stdout
    assert f"DATADRIP_HOME={folder}" in run.stderr


def test_demo_refusal_as_a_process_exits_2(dd_process, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")

    run = dd_process("demo", "--dir", str(folder), "--json")

    assert_bad_input(run, "not a demo folder")
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_demo_with_a_relative_dir_uses_the_working_folder(dd, tmp_path):
    run = dd("demo", "--dir", "demo", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["home"] == str((tmp_path / "work" / "demo").resolve())
    assert (tmp_path / "work" / "demo" / "workbook.db").is_file()


def test_demo_ignores_a_workbook_url_set_in_the_environment(dd, tmp_path, monkeypatch):
    own = tmp_path / "own.db"
    monkeypatch.setenv("DATADRIP_WORKBOOK_URL", str(own))
    assert dd("agency", "add", "My Own Agency").exit_code == 0

    run = dd("demo", "--dir", str(tmp_path / "demo"), "--json")

    assert run.exit_code == 0, run.stderr
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["My Own Agency"]
    assert dd("client", "list", "--json").json() == []
    assert (tmp_path / "demo" / "workbook.db").is_file()


def test_demo_refuses_a_dir_that_is_a_file(dd, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("my notes")

    run = dd("demo", "--dir", str(target))

    assert_bad_input(run, str(target))
    assert target.read_text() == "my notes"


def test_demo_shows_the_sandboxs_stories_a_shop_a_lead_generation_client_and_a_yen_budget(demo_json):
    folder, run = demo_json

    assert run.exit_code == 0, run.stderr
    result = exact(run.stdout)
    told = {(s["client"], s["platform"], s["account_id"], s["kind"]) for s in result["stories"]}
    assert {("Kettle & Crumb", "meta", "act_1010000005", "mixed_attribution"),
            ("Kettle & Crumb", "meta", "act_1010000005", "archived_spend"),
            ("Kettle & Crumb", "google", "2020000005", "archived_spend"),
            ("Bloom Botanics", "google", "2020000003", "pmax"),
            ("Peak Trail Outfitters", "meta", "act_1010000002", "budget_raise")} <= told
    pages = {r["client"]: Path(r["html_file"]).read_text(encoding="utf-8") for r in result["reports"]}
    assert "Leads" in pages["Harbour Dental"] and "Cost per lead" in pages["Harbour Dental"]
    assert "Purchases" in pages["Kettle & Crumb"] and "Adds to cart" in pages["Kettle & Crumb"]
    sakura = html.unescape(pages["Sakura Tea House"])
    assert "JP¥" in sakura and "the campaigns' own budgets" in sakura
    # The archived Meta campaign and the removed Google one are synced with what they spent.
    spent = sqlite3.connect(folder / "workbook.db").execute(
        "SELECT e.status, SUM(m.spend_micros) FROM metric_daily m JOIN entity e ON e.id = m.entity_id "
        "JOIN ad_account a ON a.id = m.account_id WHERE m.level = 'campaign' "
        "AND a.external_id IN ('act_1010000005', '2020000005') AND e.status IN ('archived', 'removed') "
        "GROUP BY 1 ORDER BY 1").fetchall()
    assert [status for status, _ in spent] == ["archived", "removed"]
    assert all(micros > 0 for _, micros in spent)


def test_demo_names_where_each_planted_story_lives(demo_plain):
    _folder, run = demo_plain

    assert run.exit_code == 0, run.stderr
    assert "Planted in the demo's data" in run.stderr
    assert "  Kettle & Crumb · Meta: Retargeting: archived after spending until " in run.stderr
    assert "  Kettle & Crumb · Google Ads: Retargeting: removed after spending until " in run.stderr
    assert "Sakura Tea House\tmeta\tact_1010000007\tJPY\t" in run.stdout
    assert "Harbour Dental\tmeta\tact_1010000006\tEUR\t" in run.stdout
