"""`datadrip client add|list|show|edit|remove`: the businesses an agency runs ads for."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from support import assert_bad_input, workbook_state

CLIENT_KEYS = {"id": str, "name": str, "agency": str, "agency_id": str, "currency": str,
               "monthly_budget": (Decimal, type(None)), "report_recipients": list, "active": bool,
               "conversion_actions": list, "key_results": list, "breakdowns": (list, type(None)),
               "breakdowns_in_use": list, "breakdowns_from": str, "created_at": str, "ad_accounts": int}


def exact(run: Any) -> Any:
    """The JSON of a run with numbers as exact Decimals."""
    return json.loads(run.stdout, parse_float=Decimal)


def row_counts() -> dict[str, int]:
    from sqlmodel import func, select

    from datadrip.db.models import AdAccount, Client, Entity, Insight, MetricDaily, Report
    from datadrip.platforms.registry import load_settings
    from datadrip.workbook.session import open_session

    with open_session(load_settings()) as wb:
        return {model.__tablename__: int(wb.session.exec(select(func.count()).select_from(model)).one())
                for model in (Client, AdAccount, Entity, MetricDaily, Report, Insight)}


def assert_client_shape(record: dict[str, Any]) -> None:
    assert set(record) == set(CLIENT_KEYS)
    for key, kind in CLIENT_KEYS.items():
        assert isinstance(record[key], kind), (key, record[key])
    assert not isinstance(record["ad_accounts"], bool)
    assert all(isinstance(address, str) for address in record["report_recipients"])
    created = dt.datetime.fromisoformat(record["created_at"])
    assert created.utcoffset() == dt.timedelta(0)


def add_client(dd: Callable[..., Any], *args: str) -> dict[str, Any]:
    run = dd("client", "add", *args, "--json")
    assert run.exit_code == 0, run.stderr
    return dict(exact(run))


@pytest.fixture
def two_agencies(dd, agency) -> tuple[dict[str, Any], dict[str, Any]]:
    """'Spice Route Media' and 'Pixel Pundits', each with a client called 'Masala Mornings'."""
    other = dd("agency", "add", "Pixel Pundits", "--currency", "USD", "--json").json()
    first = add_client(dd, "Masala Mornings", "--agency", "Spice Route Media")
    second = add_client(dd, "Masala Mornings", "--agency", "Pixel Pundits")
    assert other["id"] == second["agency_id"]
    return first, second


# --- add ---------------------------------------------------------------------------------------


def test_client_add_prints_the_json_record_with_money_in_currency_units(dd, agency):
    run = dd("client", "add", "Masala Mornings", "--agency", "Spice Route Media",
             "--recipients", "owner@masala.example,chef@masala.example",
             "--monthly-budget", "150000.50", "--json")

    assert run.exit_code == 0, run.stderr
    assert '"monthly_budget": 150000.50' in run.stdout
    record = exact(run)
    assert_client_shape(record)
    assert record["name"] == "Masala Mornings"
    assert (record["agency"], record["agency_id"]) == ("Spice Route Media", agency["id"])
    assert (record["monthly_budget"], record["currency"]) == (Decimal("150000.50"), "INR")
    assert record["report_recipients"] == ["owner@masala.example", "chef@masala.example"]
    assert record["active"] is True
    assert record["ad_accounts"] == 0


def test_client_add_defaults_to_the_agency_currency_and_no_budget(dd):
    dd("agency", "add", "Berlin Bytes", "--currency", "EUR")

    record = add_client(dd, "Kaffee Klatsch")

    assert record["currency"] == "EUR"
    assert record["monthly_budget"] is None
    assert record["report_recipients"] == []


@pytest.mark.parametrize(("currency", "budget", "raw", "amount"), [
    ("INR", "1,50,000", "150000.00", Decimal("150000")),
    ("JPY", "2000000", "2000000", Decimal("2000000")),
    ("KWD", "10.125", "10.125", Decimal("10.125")),
    ("usd", "12000", "12000.00", Decimal("12000")),
])
def test_client_add_writes_the_budget_exactly_in_the_client_currency(dd, agency, currency, budget,
                                                                     raw, amount):
    run = dd("client", "add", "Masala Mornings", "--currency", currency, "--monthly-budget", budget,
             "--json")

    assert run.exit_code == 0, run.stderr
    assert f'"monthly_budget": {raw},' in run.stdout
    assert exact(run)["monthly_budget"] == amount
    assert exact(run)["currency"] == currency.upper()


def test_client_add_drops_duplicate_recipients_and_lowercases_domains(dd, agency):
    record = add_client(dd, "Masala Mornings", "--recipients",
                        " Owner@Masala.Example , owner@masala.example,,chef@masala.example")

    assert record["report_recipients"] == ["Owner@masala.example", "chef@masala.example"]


def test_client_add_without_json_says_so_on_stderr_and_shows_the_record(dd, agency):
    run = dd("client", "add", "Masala Mornings", "--monthly-budget", "150000")

    assert run.exit_code == 0, run.stderr
    assert "Added client 'Masala Mornings'." in run.stderr
    assert "150000.00" in run.stdout
    assert "\x1b" not in run.stdout


def test_client_add_with_the_only_agency_needs_no_agency_option(dd, agency):
    assert add_client(dd, "Masala Mornings")["agency_id"] == agency["id"]


def test_client_add_names_the_agency_by_id(dd, agency):
    dd("agency", "add", "Pixel Pundits")

    assert add_client(dd, "Masala Mornings", "--agency", agency["id"])["agency"] == "Spice Route Media"


def test_client_add_without_any_agency_says_to_create_one(dd):
    run = dd("client", "add", "Masala Mornings", "--json")

    assert_bad_input(run, "no agency")
    assert "agency add" in run.stderr
    assert dd("client", "list", "--json").json() == []


def test_client_add_with_two_agencies_needs_the_agency_option(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    before = workbook_state(dd)

    run = dd("client", "add", "Masala Mornings")

    assert_bad_input(run, "--agency", "Spice Route Media", "Pixel Pundits")
    assert workbook_state(dd) == before


def test_client_add_to_an_unknown_agency_is_bad_input(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("client", "add", "Masala Mornings", "--agency", "Nobody Media"),
                     "Nobody Media")
    assert workbook_state(dd) == before


@pytest.mark.parametrize("name", ["Masala Mornings", "masala mornings", " MASALA  MORNINGS "])
def test_client_add_refuses_a_duplicate_name_in_the_same_agency(dd, agency, name):
    add_client(dd, "Masala Mornings")
    before = workbook_state(dd)

    assert_bad_input(dd("client", "add", name), "already has a client")
    assert workbook_state(dd) == before


def test_client_add_allows_the_same_name_in_different_agencies(dd, two_agencies):
    first, second = two_agencies

    assert first["id"] != second["id"]
    assert {c["agency"] for c in dd("client", "list", "--json").json()} == {
        "Spice Route Media", "Pixel Pundits"}


@pytest.mark.parametrize(("args", "needle"), [
    (("--currency", "XYZ"), "currency"),
    (("--currency", "RUPEE"), "currency"),
    (("--recipients", "owner@masala.example,not-an-email"), "not-an-email"),
    (("--recipients", "owner@masala"), "owner@masala"),
    (("--recipients", "two words@masala.example"), "two words@masala.example"),
    (("--monthly-budget=-5",), "negative"),
    (("--monthly-budget", "1500.505"), "decimals"),
    (("--monthly-budget", "lots"), "not a number"),
    (("--monthly-budget", "NaN"), "not a number"),
    (("--currency", "JPY", "--monthly-budget", "1000.5"), "decimals"),
])
def test_client_add_rejects_bad_input_and_changes_nothing(dd, agency, args, needle):
    add_client(dd, "Existing Client")
    before = workbook_state(dd)

    run = dd("client", "add", "Masala Mornings", *args, "--json")

    assert_bad_input(run, needle)
    assert workbook_state(dd) == before


HOSTILE_NAMES = [("Evil\x1b[31mRed", "\\x1b at position 5"),
                 ("Mal\u202eicious", "\\u202e at position 4"),
                 ("Bell\x07", "\\x07"), ("Null\x00byte", "\\x00"), ("Iso\u2066late", "\\u2066"),
                 ("C1\x9bcontrol", "\\x9b"), ("Line\u2028sep", "\\u2028")]


@pytest.mark.parametrize(("name", "shown"), HOSTILE_NAMES)
def test_client_add_and_edit_refuse_control_characters_and_bidi_marks_in_names(dd, agency, name,
                                                                               shown):
    add_client(dd, "Existing Client")
    before = workbook_state(dd)

    added = dd("client", "add", name)
    renamed = dd("client", "edit", "Existing Client", "--name", name)

    for run in (added, renamed):
        error = assert_bad_input(run, "client name holds an invisible control character", shown)
        assert "\x1b" not in run.stderr and "\u202e" not in run.stderr  # shown escaped, not raw
        assert error.isprintable()
    assert workbook_state(dd) == before


def test_client_add_folds_tabs_and_line_breaks_in_a_name_into_spaces(dd, agency):
    run = dd("client", "add", "Masala\tMornings\n", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["name"] == "Masala Mornings"


@pytest.mark.parametrize(("name", "shown"), HOSTILE_NAMES[:2])
def test_agency_add_and_edit_refuse_control_characters_and_bidi_marks(dd, agency, name, shown):
    before = workbook_state(dd)

    for run in (dd("agency", "add", name), dd("agency", "edit", "Spice Route Media", "--name", name)):
        assert_bad_input(run, "agency name holds an invisible control character", shown)
    assert workbook_state(dd) == before


def test_client_recipients_and_user_emails_refuse_control_characters(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("client", "add", "Masala Mornings", "--recipients", "own\x1b[2Jer@masala.example"),
                     "e-mail address holds an invisible control character (\\x1b")
    assert_bad_input(dd("user", "add", "a\u202e@agency.example"), "\\u202e")
    assert workbook_state(dd) == before


def test_client_add_rejects_an_empty_name(dd, agency):
    assert_bad_input(dd("client", "add", "  "), "empty")
    assert dd("client", "list", "--json").json() == []


# --- list / show --------------------------------------------------------------------------------


def test_client_list_json_is_sorted_by_agency_then_name(dd, agency):
    dd("agency", "add", "Another Agency")
    add_client(dd, "zebra Cafe", "--agency", "Spice Route Media")
    add_client(dd, "Masala Mornings", "--agency", "Spice Route Media", "--monthly-budget", "99.90")
    add_client(dd, "Chai Corner", "--agency", "Another Agency")

    run = dd("client", "list", "--json")

    assert run.exit_code == 0, run.stderr
    rows = exact(run)
    for row in rows:
        assert_client_shape(row)
    assert [(r["agency"], r["name"]) for r in rows] == [
        ("Another Agency", "Chai Corner"), ("Spice Route Media", "Masala Mornings"),
        ("Spice Route Media", "zebra Cafe")]
    assert rows[1]["monthly_budget"] == Decimal("99.90")
    assert '"monthly_budget": 99.90,' in run.stdout


def test_client_list_filters_by_agency(dd, two_agencies):
    run = dd("client", "list", "--agency", "pixel pundits", "--json")

    assert run.exit_code == 0, run.stderr
    assert [c["id"] for c in run.json()] == [two_agencies[1]["id"]]


def test_client_list_of_an_unknown_agency_is_bad_input(dd, agency):
    assert_bad_input(dd("client", "list", "--agency", "Nobody Media", "--json"), "Nobody Media")


def test_client_list_counts_connected_ad_accounts(dd, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    give_client_data(client["id"])

    assert dd("client", "list", "--json").json()[0]["ad_accounts"] == 1
    assert dd("client", "show", "Masala Mornings", "--json").json()["ad_accounts"] == 1


def test_client_list_piped_is_tab_separated_without_ansi(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "150000.5",
               "--recipients", "a@masala.example,b@masala.example")
    dd("client", "add", "Chai Corner")
    dd("client", "edit", "Chai Corner", "--inactive")

    run = dd("client", "list")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        "Chai Corner\tSpice Route Media\tINR\t\t\t0\tno\n"
        "Masala Mornings\tSpice Route Media\tINR\t150000.50\ta@masala.example, b@masala.example\t0\tyes\n")
    assert "\x1b" not in run.stdout


def test_client_list_empty_prints_nothing_on_stdout(dd, agency):
    run = dd("client", "list")

    assert run.exit_code == 0
    assert run.stdout == ""
    assert "client add" in run.stderr


@pytest.mark.parametrize("ref", ["id", "Masala Mornings", "masala mornings", "MASALA MORNINGS"])
def test_client_show_finds_by_id_or_by_name_ignoring_case(dd, agency, ref):
    client = add_client(dd, "Masala Mornings", "--monthly-budget", "150000.50")
    add_client(dd, "Chai Corner")

    run = dd("client", "show", client["id"] if ref == "id" else ref, "--json")

    assert run.exit_code == 0, run.stderr
    record = exact(run)
    assert_client_shape(record)
    assert record == client


def test_client_show_without_json_prints_one_field_per_line(dd, agency):
    client = add_client(dd, "Masala Mornings", "--recipients", "owner@masala.example")

    run = dd("client", "show", "Masala Mornings")

    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("ID:") and client["id"] in line for line in lines)
    assert any(line.startswith("Recipients:") and "owner@masala.example" in line for line in lines)


def test_client_show_unknown_is_bad_input(dd, agency):
    assert_bad_input(dd("client", "show", "Nobody Cafe", "--json"), "Nobody Cafe")


def test_client_show_a_name_in_two_agencies_names_both_and_asks_for_agency(dd, two_agencies):
    run = dd("client", "show", "masala mornings", "--json")

    assert_bad_input(run, "Spice Route Media", "Pixel Pundits")
    assert "--agency" in run.stderr


def test_client_show_a_name_in_two_agencies_works_with_agency(dd, two_agencies):
    run = dd("client", "show", "Masala Mornings", "--agency", "Pixel Pundits", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["id"] == two_agencies[1]["id"]
    assert run.json()["agency"] == "Pixel Pundits"


def test_client_show_a_name_in_two_agencies_works_by_id(dd, two_agencies):
    run = dd("client", "show", two_agencies[0]["id"], "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["agency"] == "Spice Route Media"


def test_client_show_in_the_wrong_agency_is_bad_input(dd, agency):
    add_client(dd, "Masala Mornings")
    dd("agency", "add", "Pixel Pundits")

    assert_bad_input(dd("client", "show", "Masala Mornings", "--agency", "Pixel Pundits"),
                     "Masala Mornings")


# --- edit ---------------------------------------------------------------------------------------


def test_client_edit_changes_the_given_fields_only(dd, agency):
    client = add_client(dd, "Masala Mornings", "--monthly-budget", "150000",
                        "--recipients", "owner@masala.example")

    run = dd("client", "edit", "Masala Mornings", "--recipients",
             "a@masala.example,b@masala.example", "--json")

    assert run.exit_code == 0, run.stderr
    record = exact(run)
    assert_client_shape(record)
    assert record["report_recipients"] == ["a@masala.example", "b@masala.example"]
    assert {k: v for k, v in record.items() if k != "report_recipients"} == {
        k: v for k, v in client.items() if k != "report_recipients"}
    assert dd("client", "show", client["id"], "--json").json()["report_recipients"] == [
        "a@masala.example", "b@masala.example"]


def test_client_edit_sets_and_clears_the_monthly_budget(dd, agency):
    add_client(dd, "Masala Mornings")

    set_run = dd("client", "edit", "masala mornings", "--monthly-budget", "150000.50", "--json")
    assert set_run.exit_code == 0, set_run.stderr
    assert '"monthly_budget": 150000.50,' in set_run.stdout

    cleared = dd("client", "edit", "Masala Mornings", "--no-monthly-budget", "--json")
    assert cleared.exit_code == 0, cleared.stderr
    assert cleared.json()["monthly_budget"] is None


def test_client_edit_renames_and_may_change_only_the_case(dd, agency):
    client = add_client(dd, "Masala Mornings")

    renamed = dd("client", "edit", client["id"], "--name", "Masala Evenings", "--json")
    assert renamed.exit_code == 0, renamed.stderr
    assert renamed.json()["name"] == "Masala Evenings"

    recased = dd("client", "edit", "Masala Evenings", "--name", "MASALA EVENINGS", "--json")
    assert recased.exit_code == 0, recased.stderr
    assert recased.json()["name"] == "MASALA EVENINGS"


def test_client_edit_refuses_the_name_of_another_client_of_the_agency(dd, agency):
    add_client(dd, "Masala Mornings")
    add_client(dd, "Chai Corner")
    before = workbook_state(dd)

    assert_bad_input(dd("client", "edit", "Chai Corner", "--name", "masala mornings"),
                     "already has a client")
    assert workbook_state(dd) == before


def test_client_edit_inactive_then_active(dd, agency):
    add_client(dd, "Masala Mornings")

    off = dd("client", "edit", "Masala Mornings", "--inactive", "--json")
    assert off.exit_code == 0, off.stderr
    assert off.json()["active"] is False
    assert dd("client", "list", "--json").json()[0]["active"] is False

    on = dd("client", "edit", "Masala Mornings", "--active", "--json")
    assert on.exit_code == 0, on.stderr
    assert on.json()["active"] is True


def test_client_edit_conversion_actions_set_deduplicated_and_reset_to_the_default(dd, agency):
    added = dd("client", "add", "Masala Mornings", "--conversion-actions", "lead", "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json()["conversion_actions"] == ["lead"]

    edited = dd("client", "edit", "Masala Mornings", "--conversion-actions",
                " offsite_conversion.fb_pixel_purchase, lead,lead ", "--json")
    assert edited.exit_code == 0, edited.stderr
    assert edited.json()["conversion_actions"] == ["offsite_conversion.fb_pixel_purchase", "lead"]

    reset = dd("client", "edit", "Masala Mornings", "--conversion-actions", "", "--json")
    assert reset.exit_code == 0, reset.stderr
    assert reset.json()["conversion_actions"] == []


@pytest.mark.parametrize("bad", ["Purchase", "lead;drop", "offsite..purchase", "lead value"])
def test_client_edit_refuses_a_malformed_conversion_action(dd, agency, bad):
    add_client(dd, "Masala Mornings")
    before = workbook_state(dd)

    run = dd("client", "edit", "Masala Mornings", "--conversion-actions", bad)

    assert_bad_input(run, "is not a Meta action type")
    assert workbook_state(dd) == before


def test_client_edit_currency_keeps_the_budget(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "150000.50")

    run = dd("client", "edit", "Masala Mornings", "--currency", "usd", "--json")

    assert run.exit_code == 0, run.stderr
    assert '"monthly_budget": 150000.50,' in run.stdout
    assert (exact(run)["monthly_budget"], exact(run)["currency"]) == (Decimal("150000.50"), "USD")


def test_client_edit_currency_to_one_without_minor_units_keeps_a_whole_budget(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "150000")

    run = dd("client", "edit", "Masala Mornings", "--currency", "JPY", "--json")

    assert run.exit_code == 0, run.stderr
    assert '"monthly_budget": 150000,' in run.stdout
    assert exact(run)["currency"] == "JPY"


def test_client_edit_currency_refuses_a_budget_the_new_currency_cannot_hold(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "150000.50")
    before = workbook_state(dd)

    run = dd("client", "edit", "Masala Mornings", "--currency", "JPY")

    assert_bad_input(run, "decimals", "JPY")
    assert workbook_state(dd) == before


def test_client_edit_currency_and_budget_together(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "150000.50")

    run = dd("client", "edit", "Masala Mornings", "--currency", "JPY", "--monthly-budget", "2000000",
             "--json")

    assert run.exit_code == 0, run.stderr
    assert (exact(run)["monthly_budget"], exact(run)["currency"]) == (Decimal("2000000"), "JPY")


def test_client_edit_with_no_options_says_nothing_to_change(dd, agency):
    add_client(dd, "Masala Mornings")
    before = workbook_state(dd)

    assert_bad_input(dd("client", "edit", "Masala Mornings"), "nothing to change")
    assert workbook_state(dd) == before


def test_client_edit_to_the_same_values_says_nothing_to_change(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "100")
    before = workbook_state(dd)

    run = dd("client", "edit", "Masala Mornings", "--active", "--monthly-budget", "100.00")

    assert_bad_input(run, "nothing to change")
    assert workbook_state(dd) == before


def test_client_edit_refuses_monthly_budget_together_with_no_monthly_budget(dd, agency):
    add_client(dd, "Masala Mornings", "--monthly-budget", "100")
    before = workbook_state(dd)

    run = dd("client", "edit", "Masala Mornings", "--monthly-budget", "200", "--no-monthly-budget",
             "--recipients", "new@masala.example")

    assert_bad_input(run, "--monthly-budget", "--no-monthly-budget")
    assert workbook_state(dd) == before


@pytest.mark.parametrize(("args", "needle"), [
    (("--currency", "ZZZ"), "currency"),
    (("--recipients", "owner@masala.example, nope"), "nope"),
    (("--monthly-budget=-1",), "negative"),
    (("--monthly-budget", "10.001"), "decimals"),
    (("--monthly-budget", "ten"), "not a number"),
    (("--name", "   "), "empty"),
])
def test_client_edit_rejects_bad_input_and_changes_nothing(dd, agency, args, needle):
    add_client(dd, "Masala Mornings", "--monthly-budget", "100")
    before = workbook_state(dd)

    # a valid change alongside the bad one must not be saved either
    run = dd("client", "edit", "Masala Mornings", "--inactive", *args)

    assert_bad_input(run, needle)
    assert workbook_state(dd) == before


def test_client_edit_unknown_client_is_bad_input(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("client", "edit", "Nobody Cafe", "--inactive"), "Nobody Cafe")
    assert workbook_state(dd) == before


def test_client_edit_a_name_in_two_agencies_needs_agency(dd, two_agencies):
    before = workbook_state(dd)

    ambiguous = dd("client", "edit", "Masala Mornings", "--inactive")
    assert_bad_input(ambiguous, "Spice Route Media", "Pixel Pundits")
    assert workbook_state(dd) == before

    run = dd("client", "edit", "Masala Mornings", "--agency", "Spice Route Media", "--inactive",
             "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["id"] == two_agencies[0]["id"]
    assert {c["agency"]: c["active"] for c in dd("client", "list", "--json").json()} == {
        "Spice Route Media": False, "Pixel Pundits": True}


# --- remove -------------------------------------------------------------------------------------


def test_client_remove_without_data_does_not_ask(dd, agency):
    client = add_client(dd, "Masala Mornings")

    run = dd("client", "remove", "masala mornings", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"removed": {"id": client["id"], "name": "Masala Mornings"},
                          "with": {"ad_accounts": 0, "metric_rows": 0, "reports": 0, "insights": 0}}
    assert dd("client", "list", "--json").json() == []


def test_client_remove_without_json_says_what_was_removed_on_stderr(dd, agency):
    add_client(dd, "Masala Mornings")

    run = dd("client", "remove", "Masala Mornings")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Removed client 'Masala Mornings'." in run.stderr


def test_client_remove_with_data_and_no_terminal_needs_yes(dd, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    give_client_data(client["id"])
    before = workbook_state(dd)
    counts = row_counts()

    run = dd("client", "remove", "Masala Mornings")

    assert_bad_input(run, "Masala Mornings", "1 ad accounts", "1 metric rows", "1 reports",
                     "1 insights")
    assert "--yes" in run.stderr
    assert workbook_state(dd) == before
    assert row_counts() == counts


def test_client_remove_with_yes_removes_its_accounts_metrics_reports_and_insights(
        dd, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    other = add_client(dd, "Chai Corner")
    give_client_data(client["id"])
    give_client_data(other["id"])

    run = dd("client", "remove", "Masala Mornings", "--yes", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json()["with"] == {"ad_accounts": 1, "metric_rows": 1, "reports": 1, "insights": 1}
    assert [c["name"] for c in dd("client", "list", "--json").json()] == ["Chai Corner"]
    # the other client's data stays
    assert row_counts() == {"client": 1, "ad_account": 1, "entity": 1, "metric_daily": 1,
                            "report": 1, "insight": 1}


def test_client_remove_unknown_is_bad_input(dd, agency):
    add_client(dd, "Masala Mornings")
    before = workbook_state(dd)

    assert_bad_input(dd("client", "remove", "Nobody Cafe", "--yes"), "Nobody Cafe")
    assert workbook_state(dd) == before


def test_client_remove_a_name_in_two_agencies_needs_agency(dd, two_agencies):
    before = workbook_state(dd)

    assert_bad_input(dd("client", "remove", "Masala Mornings", "--yes"),
                     "Spice Route Media", "Pixel Pundits")
    assert workbook_state(dd) == before

    run = dd("client", "remove", "Masala Mornings", "--agency", "Pixel Pundits", "--yes")
    assert run.exit_code == 0, run.stderr
    assert [c["id"] for c in dd("client", "list", "--json").json()] == [two_agencies[0]["id"]]


def _remove_on_a_terminal(client: str, answer: str) -> tuple[int, str]:
    """`datadrip client remove CLIENT` with a terminal on stdin, answering the question."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "datadrip", "client", "remove", client],
                                stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        os.close(secondary)
        os.write(primary, answer.encode())
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
    return proc.returncode, err


def test_client_remove_with_data_on_a_terminal_asks_and_keeps_it_on_no(dd, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    give_client_data(client["id"])

    code, err = _remove_on_a_terminal("Masala Mornings", "n\n")

    assert code != 0
    assert "Remove client 'Masala Mornings' with 1 ad accounts, 1 metric rows" in err
    assert [c["name"] for c in dd("client", "list", "--json").json()] == ["Masala Mornings"]
    assert row_counts()["metric_daily"] == 1


def test_client_remove_with_data_on_a_terminal_removes_it_on_yes(dd, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    give_client_data(client["id"])

    code, err = _remove_on_a_terminal("Masala Mornings", "y\n")

    assert code == 0, err
    assert dd("client", "list", "--json").json() == []
    assert row_counts()["metric_daily"] == 0


# --- as a real process ----------------------------------------------------------------------------


def test_client_add_as_a_process_prints_exact_json_on_stdout_only(dd_process, agency):
    run = dd_process("client", "add", "Masala Mornings", "--monthly-budget", "150000.50", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    assert '"monthly_budget": 150000.50,' in run.stdout
    assert exact(run)["monthly_budget"] == Decimal("150000.50")


def test_client_show_ambiguous_as_a_process_exits_2_with_one_error_line(dd_process, two_agencies):
    run = dd_process("client", "show", "Masala Mornings", "--json")

    assert_bad_input(run, "Spice Route Media", "Pixel Pundits")


def test_client_remove_with_data_as_a_process_without_terminal_needs_yes(
        dd, dd_process, agency, give_client_data):
    client = add_client(dd, "Masala Mornings")
    give_client_data(client["id"])

    run = dd_process("client", "remove", "Masala Mornings", input="")

    assert_bad_input(run, "1 ad accounts", "1 metric rows")
    assert row_counts()["metric_daily"] == 1
