"""`datadrip agency add|list|show|edit|remove`: the agencies in the workbook."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import assert_bad_input, workbook_state

AGENCY_KEYS = {"id": str, "name": str, "timezone": str, "currency": str, "locale": str,
               "plan": str, "branding": dict, "created_at": str, "clients": int, "users": int,
               "breakdowns": (list, type(None)), "breakdowns_in_use": list, "breakdowns_from": str}


def row_counts() -> dict[str, int]:
    from sqlmodel import func, select

    from datadrip.db.models import AdAccount, Agency, Client, Entity, Insight, MetricDaily, Report, User
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    with open_session(load_settings()) as wb:
        return {model.__tablename__: int(wb.session.exec(select(func.count()).select_from(model)).one())
                for model in (Agency, User, Client, AdAccount, Entity, MetricDaily, Report, Insight)}


def assert_agency_shape(record: dict[str, Any]) -> None:
    assert set(record) == set(AGENCY_KEYS)
    for key, kind in AGENCY_KEYS.items():
        assert isinstance(record[key], kind), (key, record[key])
    assert set(record["branding"]) == {"logo", "colour"}
    created = dt.datetime.fromisoformat(record["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=5)


# --- add ---------------------------------------------------------------------------------------


def test_agency_add_uses_the_defaults_and_prints_the_json_record(dd):
    run = dd("agency", "add", "Spice Route Media", "--json")

    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert_agency_shape(record)
    assert record["name"] == "Spice Route Media"
    assert (record["timezone"], record["currency"], record["locale"], record["plan"]) == (
        "Asia/Kolkata", "INR", "en_IN", "starter")
    assert record["branding"] == {"logo": None, "colour": None}
    assert (record["clients"], record["users"]) == (0, 0)


def test_agency_add_takes_timezone_currency_plan_locale_and_colour(dd):
    run = dd("agency", "add", "Berlin Bytes", "--timezone", "Europe/Berlin", "--currency", "eur",
             "--plan", "scale", "--locale", "de-DE", "--colour", "#1a73e8", "--json")

    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert (record["timezone"], record["currency"], record["locale"], record["plan"]) == (
        "Europe/Berlin", "EUR", "de_DE", "scale")
    assert record["branding"] == {"logo": None, "colour": "#1A73E8"}


def test_agency_add_takes_a_logo_file_as_an_absolute_path(dd, tmp_path):
    logo = tmp_path / "work" / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n")

    run = dd("agency", "add", "Spice Route Media", "--logo", "logo.png", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["branding"]["logo"] == str(logo.resolve())


def test_agency_add_tidies_whitespace_in_the_name(dd):
    run = dd("agency", "add", "  Spice   Route Media ", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["name"] == "Spice Route Media"


def test_agency_add_without_json_says_so_on_stderr_and_shows_the_record_on_stdout(dd):
    run = dd("agency", "add", "Spice Route Media")

    assert run.exit_code == 0, run.stderr
    assert "Added agency 'Spice Route Media'." in run.stderr
    assert "Name:" in run.stdout and "Spice Route Media" in run.stdout
    assert "Asia/Kolkata" in run.stdout
    assert "\x1b[" not in run.stdout


def test_agency_fixture_adds_exactly_one_agency(dd, agency):
    listed = dd("agency", "list", "--json")

    assert listed.exit_code == 0
    assert [a["name"] for a in listed.json()] == ["Spice Route Media"]
    assert listed.json()[0]["id"] == agency["id"]


@pytest.mark.parametrize("name", ["Spice Route Media", "spice route media", "SPICE ROUTE MEDIA",
                                  " Spice  Route Media "])
def test_agency_add_refuses_a_duplicate_name_even_differing_in_case(dd, agency, name):
    before = workbook_state(dd)

    run = dd("agency", "add", name, "--json")

    assert_bad_input(run, "already exists")
    assert workbook_state(dd) == before


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--timezone", "Mars/Olympus", "time zone"),
    ("--timezone", "asia/kolkata", "time zone"),
    ("--timezone", "IST", "time zone"),
    ("--currency", "XYZ", "currency"),
    ("--currency", "RUPEE", "currency"),
    ("--locale", "klingon", "locale"),
    ("--locale", "xx_YY", "locale"),
    ("--locale", "en_ZZ", "locale"),
    ("--colour", "blue", "colour"),
    ("--colour", "#12345", "colour"),
    ("--plan", "enterprise", "--plan"),
])
def test_agency_add_rejects_bad_input_and_changes_nothing(dd, option, value, needle):
    dd("agency", "add", "Existing Agency")
    before = workbook_state(dd)

    run = dd("agency", "add", "New Agency", option, value, "--json")

    assert_bad_input(run, needle)
    assert workbook_state(dd) == before


@pytest.mark.parametrize("logo", ["missing.png", "notes.txt"])
def test_agency_add_rejects_a_logo_that_is_not_an_image_file(dd, tmp_path, logo):
    (tmp_path / "work" / "notes.txt").write_text("not an image")

    run = dd("agency", "add", "Spice Route Media", "--logo", logo)

    assert_bad_input(run, "logo")
    assert dd("agency", "list", "--json").json() == []


@pytest.mark.parametrize("name", ["", "   "])
def test_agency_add_rejects_an_empty_name(dd, name):
    run = dd("agency", "add", name)

    assert_bad_input(run, "empty")
    assert dd("agency", "list", "--json").json() == []


# --- list / show --------------------------------------------------------------------------------


def test_agency_list_json_is_sorted_by_name_and_counts_clients_and_team(dd):
    dd("agency", "add", "zephyr Ads")
    dd("agency", "add", "Spice Route Media")
    assert dd("client", "add", "Masala Mornings", "--agency", "Spice Route Media").exit_code == 0
    assert dd("user", "add", "priya@spiceroute.example", "--agency", "Spice Route Media").exit_code == 0

    run = dd("agency", "list", "--json")

    assert run.exit_code == 0, run.stderr
    rows = run.json()
    assert [r["name"] for r in rows] == ["Spice Route Media", "zephyr Ads"]
    for row in rows:
        assert_agency_shape(row)
    assert (rows[0]["clients"], rows[0]["users"]) == (1, 1)
    assert (rows[1]["clients"], rows[1]["users"]) == (0, 0)


def test_agency_list_piped_is_tab_separated_without_ansi(dd, agency):
    dd("client", "add", "Masala Mornings")

    run = dd("agency", "list")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Spice Route Media\tAsia/Kolkata\tINR\tstarter\t1\t0\n"
    assert "\x1b" not in run.stdout


def test_agency_list_empty_prints_nothing_on_stdout_and_a_hint_on_stderr(dd):
    run = dd("agency", "list")

    assert run.exit_code == 0
    assert run.stdout == ""
    assert "agency add" in run.stderr
    assert dd("agency", "list", "--json").json() == []


@pytest.mark.parametrize("ref", ["Spice Route Media", "spice route MEDIA", "id"])
def test_agency_show_finds_by_name_ignoring_case_or_by_id(dd, agency, ref):
    run = dd("agency", "show", agency["id"] if ref == "id" else ref, "--json")

    assert run.exit_code == 0, run.stderr
    assert_agency_shape(run.json())
    assert run.json()["id"] == agency["id"]


def test_agency_show_without_json_prints_one_field_per_line(dd, agency):
    run = dd("agency", "show", "Spice Route Media")

    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("ID:") and agency["id"] in line for line in lines)
    assert any(line.startswith("Time zone:") and "Asia/Kolkata" in line for line in lines)
    assert "\x1b" not in run.stdout


def test_agency_show_unknown_is_bad_input(dd, agency):
    assert_bad_input(dd("agency", "show", "Nobody Media", "--json"), "Nobody Media")


# --- edit ---------------------------------------------------------------------------------------


def test_agency_edit_changes_the_given_fields_only(dd, agency):
    run = dd("agency", "edit", "Spice Route Media", "--plan", "growth", "--timezone",
             "Europe/London", "--colour", "#e4572e", "--json")

    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert_agency_shape(record)
    assert (record["plan"], record["timezone"], record["currency"]) == ("growth", "Europe/London", "INR")
    assert record["branding"]["colour"] == "#E4572E"
    assert dd("agency", "show", agency["id"], "--json").json()["plan"] == "growth"


def test_agency_edit_renames_and_keeps_the_id(dd, agency):
    run = dd("agency", "edit", "Spice Route Media", "--name", "Spice Route Studio", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["id"] == agency["id"]
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["Spice Route Studio"]


def test_agency_edit_may_change_only_the_case_of_its_own_name(dd, agency):
    run = dd("agency", "edit", "Spice Route Media", "--name", "SPICE ROUTE MEDIA", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["name"] == "SPICE ROUTE MEDIA"


def test_agency_edit_refuses_the_name_of_another_agency(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    before = workbook_state(dd)

    run = dd("agency", "edit", "Spice Route Media", "--name", "pixel pundits")

    assert_bad_input(run, "already exists")
    assert workbook_state(dd) == before


def test_agency_edit_with_no_options_says_nothing_to_change(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("agency", "edit", "Spice Route Media"), "nothing to change")
    assert workbook_state(dd) == before


def test_agency_edit_to_the_same_values_says_nothing_to_change(dd, agency):
    before = workbook_state(dd)

    run = dd("agency", "edit", "Spice Route Media", "--plan", "starter", "--currency", "INR")

    assert_bad_input(run, "nothing to change")
    assert workbook_state(dd) == before


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--timezone", "Nowhere/Land", "time zone"),
    ("--currency", "ABC", "currency"),
    ("--locale", "zz", "locale"),
    ("--colour", "#GGGGGG", "colour"),
    ("--plan", "free", "--plan"),
])
def test_agency_edit_rejects_bad_input_and_changes_nothing(dd, agency, option, value, needle):
    before = workbook_state(dd)

    # a valid change alongside the bad one must not be saved either
    run = dd("agency", "edit", "Spice Route Media", "--name", "Renamed", option, value)

    assert_bad_input(run, needle)
    assert workbook_state(dd) == before


def test_agency_edit_unknown_agency_is_bad_input(dd, agency):
    assert_bad_input(dd("agency", "edit", "Nobody Media", "--plan", "scale"), "Nobody Media")


def test_agency_edit_clears_the_colour_with_an_empty_value(dd, agency):
    dd("agency", "edit", "Spice Route Media", "--colour", "#E4572E")

    run = dd("agency", "edit", "Spice Route Media", "--colour", "", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["branding"]["colour"] is None


# --- remove -------------------------------------------------------------------------------------


def test_agency_remove_without_data_does_not_ask(dd, agency):
    run = dd("agency", "remove", "Spice Route Media", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"removed": {"id": agency["id"], "name": "Spice Route Media"},
                          "with": {"clients": 0, "users": 0, "ad_accounts": 0, "metric_rows": 0,
                                   "reports": 0, "insights": 0}}
    assert dd("agency", "list", "--json").json() == []


def test_agency_remove_without_json_says_what_was_removed_on_stderr(dd, agency):
    run = dd("agency", "remove", "spice route media")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Removed agency 'Spice Route Media'." in run.stderr


def _agency_with_data(dd: Callable[..., Any], give_client_data: Callable[[str], None]) -> str:
    client = dd("client", "add", "Masala Mornings", "--json").json()
    assert dd("user", "add", "priya@spiceroute.example", "--role", "owner").exit_code == 0
    give_client_data(client["id"])
    return str(client["id"])


def test_agency_remove_with_data_and_no_terminal_needs_yes(dd, agency, give_client_data):
    _agency_with_data(dd, give_client_data)
    before = workbook_state(dd)
    counts = row_counts()

    run = dd("agency", "remove", "Spice Route Media")

    assert_bad_input(run, "Spice Route Media", "1 clients", "1 users", "1 ad accounts",
                     "1 metric rows", "1 reports", "1 insights")
    assert "--yes" in run.stderr
    assert workbook_state(dd) == before
    assert row_counts() == counts


def test_agency_remove_with_yes_removes_clients_team_and_their_data(dd, agency, give_client_data):
    _agency_with_data(dd, give_client_data)
    dd("agency", "add", "Pixel Pundits")
    other = dd("client", "add", "Chai Corner", "--agency", "Pixel Pundits", "--json").json()
    dd("user", "add", "dev@pixel.example", "--agency", "Pixel Pundits")
    give_client_data(other["id"])

    run = dd("agency", "remove", "Spice Route Media", "--yes", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["with"] == {"clients": 1, "users": 1, "ad_accounts": 1, "metric_rows": 1,
                                  "reports": 1, "insights": 1}
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["Pixel Pundits"]
    assert [c["name"] for c in dd("client", "list", "--json").json()] == ["Chai Corner"]
    assert [u["email"] for u in dd("user", "list", "--json").json()] == ["dev@pixel.example"]
    # only the other agency's data is left
    assert row_counts() == {"agency": 1, "user": 1, "client": 1, "ad_account": 1, "entity": 1,
                            "metric_daily": 1, "report": 1, "insight": 1}


def test_agency_remove_unknown_is_bad_input(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("agency", "remove", "Nobody Media", "--yes"), "Nobody Media")
    assert workbook_state(dd) == before


# --- as a real process ----------------------------------------------------------------------------


def test_agency_add_as_a_process_prints_exact_json_on_stdout_only(dd_process):
    run = dd_process("agency", "add", "Spice Route Media", "--currency", "KWD", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    record = json.loads(run.stdout, parse_float=Decimal)
    assert_agency_shape(record)
    assert record["currency"] == "KWD"


def test_agency_add_duplicate_as_a_process_exits_2_with_one_error_line(dd_process):
    assert dd_process("agency", "add", "Spice Route Media").exit_code == 0

    run = dd_process("agency", "add", "spice route media", "--json")

    assert_bad_input(run, "already exists")
    listed = dd_process("agency", "list", "--json")
    assert [a["name"] for a in json.loads(listed.stdout)] == ["Spice Route Media"]


def test_agency_remove_with_data_as_a_process_without_terminal_needs_yes(
        dd, dd_process, agency, give_client_data):
    _agency_with_data(dd, give_client_data)

    run = dd_process("agency", "remove", "Spice Route Media", input="")

    assert_bad_input(run, "1 clients")
    assert "--yes" in run.stderr
    assert [a["name"] for a in dd("agency", "list", "--json").json()] == ["Spice Route Media"]
    assert dd_process("agency", "remove", "Spice Route Media", "--yes", input="").exit_code == 0
    assert row_counts()["metric_daily"] == 0


def test_agency_workbook_is_a_real_sqlite_file(dd, agency, workbook_path: Path):
    assert workbook_path.read_bytes()[:16] == b"SQLite format 3\x00"


# --- breakdowns ----------------------------------------------------------------------------------


def test_agency_breakdowns_apply_to_its_clients_that_choose_none(dd, agency, home):
    (home / "datadrip.toml").write_text('[sync]\nbreakdowns = "device"\n', encoding="utf-8")
    dd("client", "add", "Masala Mornings")
    dd("client", "add", "Peak Trail Outfitters", "--breakdowns", "placement")
    shown = dd("agency", "show", "Spice Route Media", "--json").json()
    assert (shown["breakdowns"], shown["breakdowns_in_use"], shown["breakdowns_from"]) == (
        None, ["device"], "[sync] breakdowns")

    run = dd("agency", "edit", "Spice Route Media", "--breakdowns", "country, age_gender,country",
             "--json")

    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert_agency_shape(record)
    assert (record["breakdowns"], record["breakdowns_in_use"], record["breakdowns_from"]) == (
        ["country", "age_gender"], ["country", "age_gender"], "agency")
    clients = {c["name"]: (c["breakdowns_in_use"], c["breakdowns_from"])
               for c in dd("client", "list", "--json").json()}
    assert clients == {"Masala Mornings": (["country", "age_gender"], "agency"),
                       "Peak Trail Outfitters": (["placement"], "client")}
    text = dd("client", "show", "Masala Mornings").stdout
    assert "Breakdowns synced:" in text and "country, age_gender" in text
    assert "Breakdowns from:   agency" in text


def test_agency_breakdowns_none_and_empty_clear_back_to_the_setting(dd, agency):
    def edit(value: str) -> Any:
        run = dd("agency", "edit", "Spice Route Media", "--breakdowns", value, "--json")
        assert run.exit_code == 0, run.stderr
        record = run.json()
        return record["breakdowns"], record["breakdowns_in_use"], record["breakdowns_from"]

    assert edit("device") == (["device"], ["device"], "agency")
    assert edit("none") == ([], [], "agency")  # no breakdowns, whatever [sync] says
    assert edit("") == (None, [], "[sync] breakdowns")
    added = dd("agency", "add", "Pixel Pundits", "--breakdowns", "placement", "--json").json()
    assert added["breakdowns_in_use"] == ["placement"]


def test_agency_breakdowns_changes_are_in_the_audit_log(dd, agency):
    dd("agency", "edit", "Spice Route Media", "--breakdowns", "age_gender")
    dd("agency", "edit", "Spice Route Media", "--breakdowns", "")

    edits = [e["details"] for e in dd("audit", "--json").json() if e["action"] == "agency.edit"]
    assert edits == [{"changes": {"breakdowns": [None, ["age_gender"]]}},
                     {"changes": {"breakdowns": [["age_gender"], None]}}]


@pytest.mark.parametrize("value", ["age_gender,planet", "age", "device;country"])
def test_agency_breakdowns_refuse_an_unknown_name_and_change_nothing(dd, agency, value):
    before = workbook_state(dd)

    run = dd("agency", "edit", "Spice Route Media", "--name", "Renamed", "--breakdowns", value)

    assert_bad_input(run, "--breakdowns", "age_gender, country, placement, device")
    assert workbook_state(dd) == before
    assert_bad_input(dd("agency", "add", "Pixel Pundits", "--breakdowns", value), "--breakdowns")
    assert workbook_state(dd) == before
