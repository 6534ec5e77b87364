"""`datadrip user add|list|remove`: an agency's team members."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from support import assert_bad_input, workbook_state

USER_KEYS = {"id": str, "email": str, "role": str, "agency": str, "agency_id": str,
             "created_at": str}


def assert_user_shape(record: dict[str, Any]) -> None:
    assert set(record) == set(USER_KEYS)
    for key, kind in USER_KEYS.items():
        assert isinstance(record[key], kind), (key, record[key])
    created = dt.datetime.fromisoformat(record["created_at"])
    assert created.utcoffset() == dt.timedelta(0)


def add_user(dd: Callable[..., Any], *args: str) -> dict[str, Any]:
    run = dd("user", "add", *args, "--json")
    assert run.exit_code == 0, run.stderr
    return dict(run.json())


# --- add ---------------------------------------------------------------------------------------


def test_user_add_prints_the_json_record(dd, agency):
    run = dd("user", "add", "priya@spiceroute.example", "--agency", "Spice Route Media",
             "--role", "owner", "--json")

    assert run.exit_code == 0, run.stderr
    record = run.json()
    assert_user_shape(record)
    assert (record["email"], record["role"]) == ("priya@spiceroute.example", "owner")
    assert (record["agency"], record["agency_id"]) == ("Spice Route Media", agency["id"])


def test_user_add_defaults_to_member_of_the_only_agency(dd, agency):
    record = add_user(dd, "arjun@spiceroute.example")

    assert (record["role"], record["agency_id"]) == ("member", agency["id"])


def test_user_add_lowercases_the_domain_and_keeps_the_local_part(dd, agency):
    assert add_user(dd, " Priya@SpiceRoute.Example ")["email"] == "Priya@spiceroute.example"


def test_user_add_without_json_says_so_on_stderr(dd, agency):
    run = dd("user", "add", "priya@spiceroute.example", "--role", "owner")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Added priya@spiceroute.example to 'Spice Route Media' as owner." in run.stderr


def test_user_add_counts_in_the_agency(dd, agency):
    add_user(dd, "priya@spiceroute.example")
    add_user(dd, "arjun@spiceroute.example")

    assert dd("agency", "show", "Spice Route Media", "--json").json()["users"] == 2


@pytest.mark.parametrize("email", ["priya", "priya@", "@spiceroute.example", "priya@spiceroute",
                                   "pri ya@spiceroute.example", "priya@@spiceroute.example",
                                   "priya@spiceroute.example,arjun@spiceroute.example", ""])
def test_user_add_rejects_a_malformed_email_and_changes_nothing(dd, agency, email):
    add_user(dd, "existing@spiceroute.example")
    before = workbook_state(dd)

    run = dd("user", "add", email, "--json")

    assert_bad_input(run, "e-mail")
    assert workbook_state(dd) == before


@pytest.mark.parametrize("email", ["priya@spiceroute.example", "PRIYA@SPICEROUTE.EXAMPLE"])
def test_user_add_refuses_an_email_already_in_the_team(dd, agency, email):
    add_user(dd, "priya@spiceroute.example")
    before = workbook_state(dd)

    assert_bad_input(dd("user", "add", email, "--role", "owner"), "Spice Route Media")
    assert workbook_state(dd) == before


def test_user_add_refuses_an_email_already_in_another_agency(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    add_user(dd, "priya@spiceroute.example", "--agency", "Spice Route Media")
    before = workbook_state(dd)

    run = dd("user", "add", "priya@spiceroute.example", "--agency", "Pixel Pundits")

    assert_bad_input(run, "priya@spiceroute.example", "Spice Route Media")
    assert workbook_state(dd) == before


def test_user_add_without_any_agency_says_to_create_one(dd):
    run = dd("user", "add", "priya@spiceroute.example")

    assert_bad_input(run, "no agency")
    assert "agency add" in run.stderr
    assert dd("user", "list", "--json").json() == []


def test_user_add_with_two_agencies_needs_the_agency_option(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    before = workbook_state(dd)

    assert_bad_input(dd("user", "add", "priya@spiceroute.example"),
                     "--agency", "Spice Route Media", "Pixel Pundits")
    assert workbook_state(dd) == before


def test_user_add_to_an_unknown_agency_is_bad_input(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("user", "add", "priya@spiceroute.example", "--agency", "Nobody Media"),
                     "Nobody Media")
    assert workbook_state(dd) == before


def test_user_add_with_an_unknown_role_is_bad_input(dd, agency):
    before = workbook_state(dd)

    assert_bad_input(dd("user", "add", "priya@spiceroute.example", "--role", "admin"), "--role")
    assert workbook_state(dd) == before


# --- list ---------------------------------------------------------------------------------------


def test_user_list_json_is_sorted_by_agency_then_email(dd, agency):
    dd("agency", "add", "Another Agency")
    add_user(dd, "zara@spiceroute.example", "--agency", "Spice Route Media")
    add_user(dd, "arjun@spiceroute.example", "--agency", "Spice Route Media", "--role", "owner")
    add_user(dd, "dev@another.example", "--agency", "Another Agency")

    run = dd("user", "list", "--json")

    assert run.exit_code == 0, run.stderr
    rows = run.json()
    for row in rows:
        assert_user_shape(row)
    assert [(r["agency"], r["email"], r["role"]) for r in rows] == [
        ("Another Agency", "dev@another.example", "member"),
        ("Spice Route Media", "arjun@spiceroute.example", "owner"),
        ("Spice Route Media", "zara@spiceroute.example", "member")]


def test_user_list_filters_by_agency(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    add_user(dd, "priya@spiceroute.example", "--agency", "Spice Route Media")
    add_user(dd, "dev@pixel.example", "--agency", "Pixel Pundits")

    run = dd("user", "list", "--agency", "pixel pundits", "--json")

    assert run.exit_code == 0, run.stderr
    assert [u["email"] for u in run.json()] == ["dev@pixel.example"]


def test_user_list_of_an_unknown_agency_is_bad_input(dd, agency):
    assert_bad_input(dd("user", "list", "--agency", "Nobody Media"), "Nobody Media")


def test_user_list_piped_is_tab_separated_without_ansi(dd, agency):
    add_user(dd, "priya@spiceroute.example", "--role", "owner")
    add_user(dd, "arjun@spiceroute.example")

    run = dd("user", "list")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ("arjun@spiceroute.example\tmember\tSpice Route Media\n"
                          "priya@spiceroute.example\towner\tSpice Route Media\n")
    assert "\x1b" not in run.stdout


def test_user_list_empty_prints_nothing_on_stdout(dd, agency):
    run = dd("user", "list")

    assert run.exit_code == 0
    assert run.stdout == ""
    assert "user add" in run.stderr
    assert dd("user", "list", "--json").json() == []


# --- remove -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["priya@spiceroute.example", "PRIYA@SpiceRoute.example", "id"])
def test_user_remove_by_email_ignoring_case_or_by_id(dd, agency, ref):
    user = add_user(dd, "priya@spiceroute.example")
    add_user(dd, "arjun@spiceroute.example")

    run = dd("user", "remove", user["id"] if ref == "id" else ref, "--json")

    assert run.exit_code == 0, run.stderr
    assert run.json() == {"removed": {"id": user["id"], "email": "priya@spiceroute.example"}}
    assert [u["email"] for u in dd("user", "list", "--json").json()] == ["arjun@spiceroute.example"]


def test_user_remove_without_json_says_so_on_stderr(dd, agency):
    add_user(dd, "priya@spiceroute.example")

    run = dd("user", "remove", "priya@spiceroute.example")

    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Removed priya@spiceroute.example." in run.stderr


def test_user_remove_frees_the_email_for_another_agency(dd, agency):
    dd("agency", "add", "Pixel Pundits")
    add_user(dd, "priya@spiceroute.example", "--agency", "Spice Route Media")
    assert dd("user", "remove", "priya@spiceroute.example").exit_code == 0

    moved = add_user(dd, "priya@spiceroute.example", "--agency", "Pixel Pundits")

    assert moved["agency"] == "Pixel Pundits"


def test_user_remove_unknown_is_bad_input(dd, agency):
    add_user(dd, "priya@spiceroute.example")
    before = workbook_state(dd)

    assert_bad_input(dd("user", "remove", "nobody@spiceroute.example"), "nobody@spiceroute.example")
    assert workbook_state(dd) == before


# --- as a real process ----------------------------------------------------------------------------


def test_user_add_as_a_process_prints_json_on_stdout_only(dd_process, agency):
    run = dd_process("user", "add", "priya@spiceroute.example", "--role", "owner", "--json")

    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    assert_user_shape(json.loads(run.stdout))


def test_user_add_malformed_email_as_a_process_exits_2_with_one_error_line(dd_process, agency):
    run = dd_process("user", "add", "not-an-email", "--json")

    assert_bad_input(run, "not-an-email")
